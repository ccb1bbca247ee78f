"""Stopping advice: should a person label another round? A pure function of a run's rounds.

With test accuracy: the slope of the recent accuracy-against-labels curve (gradient-based stopping,
Laws & Schütze, "Stopping Criteria for Active Learning of Named Entity Recognition", COLING 2008:
stop when the learning curve's gradient approaches zero). Without test labels: stabilising
predictions (Bloodgood & Vijay-Shanker, "A Method for Stopping Active Learning Based on Stabilizing
Predictions and the Need for User-Adjustable Stopping", CoNLL 2009): stop once consecutive rounds'
students agree on the unlabeled pool for the last few rounds, and the student's agreement with the
teacher has stopped moving.

A test set measures accuracy with an uncertainty: on 80 images one image is 1.25 points, and the 95% interval of an 80%
accuracy spans about ±8.7 points. The slope's advice states that interval (Wilson's, on the round's test images) and
lets no change inside it decide: within it, "stop" only where the test set is large enough to have seen a gain at the
stopping threshold, else "undecided".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from activekd.round_result import RoundResult, as_round

ADVICE_WINDOW = 3
"""Rounds looked back on (k). Bloodgood & Vijay-Shanker (2009) average their agreement over the last three
models; one window for both criteria keeps one knob. Three rounds of a small budget span few labels, so the
slope of a noisy curve is itself noisy: read a "stop" at small budgets together with the curve."""

SLOPE_STOP = 1.0
"""Stop when the accuracy gained per 100 more labels, fitted over the last ``ADVICE_WINDOW`` rounds, is below this
(percentage points). Laws & Schütze (2008) stop when the gradient approaches zero; one point per hundred labels
is below the seed-to-seed spread of the demo's students (82.01 / 83.08 / 82.15 % over three seeds in the
README), so more labels would buy less than the noise of retraining."""

AGREEMENT_STOP = 0.99
"""Stop when each of the last ``ADVICE_WINDOW`` rounds' students predicts the same class as the previous round's on
at least this fraction of the unlabeled pool. Bloodgood & Vijay-Shanker (2009) stop at Cohen's kappa ≥ 0.99
between consecutive models on a stop set; for ten balanced classes raw agreement 0.99 is kappa ≈ 0.989."""

Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95% interval."""

TEACHER_DRIFT = 1.0 - AGREEMENT_STOP
"""Largest change of the student–teacher agreement between consecutive rounds that still counts as stable. A
student whose predictions change on at most 1 − ``AGREEMENT_STOP`` of the pool cannot move its agreement with a
fixed teacher by more; a larger move means the teacher (a few-shot head refitted every round) still moves."""


def stopping_advice(rounds: Sequence[RoundResult | Mapping[str, Any]]) -> dict[str, Any]:
    """``{"decision": "continue" | "stop" | "undecided", "reason": str, "criterion": str, "value": float | None}`` for a run's rounds.

    ``rounds``: :class:`RoundResult` or ``results.json`` rounds (any order; those without a label count are ignored). The
    accuracy slope decides when the last rounds carry the student's test accuracy; otherwise the pool agreement (with the
    teacher agreement when there is a teacher). ``value`` is the slope (points per 100 labels) or the smallest recent
    pool agreement. When the test set's size is known (:func:`count_test_images`), the reason states its 95% Wilson interval, and a change within that interval
    never decides: "undecided" where the test set is too small to see a gain at the stopping threshold.
    """
    done = sorted((r for r in map(as_round, rounds) if r.num_labeled is not None), key=lambda r: r.round)
    if not done:
        return _advice("continue", "no round has been trained yet", "none")
    if any(r.test.student is not None for r in done):
        return _slope_advice(done)
    return _agreement_advice(done)


def _advice(decision: str, reason: str, criterion: str, value: float | None = None) -> dict[str, Any]:
    return {"decision": decision, "reason": reason, "criterion": criterion, "value": value}


def slope_per_100(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of accuracy (fractions) against labels, in percentage points per 100 labels."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        raise ValueError("the points share one label count")
    return 100 * 100 * sum((x - mx) * (y - my) for x, y in points) / sxx


def wilson_interval(accuracy: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion: ``accuracy`` measured on ``n`` test images (Wilson, "Probable
    Inference, the Law of Succession, and Statistical Inference", JASA 1927). Unlike p ± z·√(p(1-p)/n) it stays inside
    [0, 1] and does not collapse to a point at 0% or 100%."""
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def count_test_images(r: RoundResult | Mapping[str, Any]) -> int | None:
    """How many test images a round's student accuracy was measured on: its confusion matrix's total, when the matrix's
    diagonal reproduces that accuracy (to half an image); None when unknown (older files, a matrix of another mix)."""
    r = as_round(r)
    conf, acc = r.per_class.confusion, r.test.student
    try:
        n, hits = sum(map(sum, conf)), sum(row[i] for i, row in enumerate(conf))
    except (TypeError, IndexError):
        return None
    return int(n) if n > 0 and acc is not None and abs(hits / n - float(acc)) <= 0.5 / n else None


def _slope_advice(done: list[RoundResult]) -> dict[str, Any]:
    window = [r for r in done if r.test.student is not None][-ADVICE_WINDOW:]
    pts = [(float(r.num_labeled), r.test.student) for r in window]
    if len(pts) < ADVICE_WINDOW:
        return _advice("continue", f"only {len(pts)} round(s) with test accuracy; the slope needs {ADVICE_WINDOW}", "accuracy-slope")
    if pts[0][0] == pts[-1][0]:
        return _advice("continue", f"no labels were added over the last {ADVICE_WINDOW} rounds", "accuracy-slope")
    s = slope_per_100(pts)
    span = f"{pts[0][0]:.0f}–{pts[-1][0]:.0f} labels, {100 * pts[0][1]:.1f}% → {100 * pts[-1][1]:.1f}%"
    n = count_test_images(window[-1])
    if n is not None:
        return _judged_advice(pts, s, span, n)
    unknown = "; the test set's size is not recorded, so its uncertainty is not judged"
    if s < SLOPE_STOP:
        return _advice("stop", f"accuracy gains {s:+.2f} points per 100 labels over the last {ADVICE_WINDOW} rounds ({span}), "
                               f"below {SLOPE_STOP:g} point per 100 labels{unknown}", "accuracy-slope", s)
    return _advice("continue", f"accuracy still gains {s:+.2f} points per 100 labels over the last {ADVICE_WINDOW} rounds ({span}; "
                               f"stop below {SLOPE_STOP:g}){unknown}", "accuracy-slope", s)


def _judged_advice(pts: list[tuple[float, float]], s: float, span: str, n: int) -> dict[str, Any]:
    """The slope's advice, said only where the test set can see it.

    ``±u``: half the 95% Wilson interval of the last accuracy on ``n`` test images. The fitted change over the window
    (``s`` × labels spanned) decides when it is beyond ``±u``; within it, "stop" needs a test set that would have seen a
    gain at the stopping threshold (``SLOPE_STOP`` × labels spanned ``> u``); otherwise the advice is "undecided"."""
    lo, hi = wilson_interval(pts[-1][1], n)
    u, labels = 100 * (hi - lo) / 2, pts[-1][0] - pts[0][0]
    change, at_threshold = s * labels / 100, SLOPE_STOP * labels / 100
    test = (f"test accuracy {100 * pts[-1][1]:.1f}% has a 95% interval of {100 * lo:.1f}–{100 * hi:.1f}% (±{u:.1f} points) "
            f"on {n} test images, one image = {100 / n:.3g} points")
    gains = f"accuracy gains {s:+.2f} points per 100 labels over the last {ADVICE_WINDOW} rounds ({span}; {change:+.1f} points)"
    if abs(change) > u:
        if s < SLOPE_STOP:
            return _advice("stop", f"{gains}, below {SLOPE_STOP:g} point per 100 labels; {test}", "accuracy-slope", s)
        return _advice("continue", f"{gains.replace('accuracy gains', 'accuracy still gains')}, beyond the test set's uncertainty "
                                   f"(stop below {SLOPE_STOP:g}); {test}", "accuracy-slope", s)
    if at_threshold > u:
        return _advice("stop", f"{gains}, below {SLOPE_STOP:g} point per 100 labels: no change beyond the test set's uncertainty, "
                               f"which a gain of {at_threshold:.1f} points would have passed; {test}", "accuracy-slope", s)
    return _advice("undecided", f"{gains}: within the test set's uncertainty, so the test set cannot tell stop from continue "
                                f"(a gain of {SLOPE_STOP:g} point per 100 labels, {at_threshold:.1f} points here, would not show "
                                f"either); {test}. Label more test images, or judge after more rounds", "accuracy-slope", s)


def _agreement_advice(done: list[RoundResult]) -> dict[str, Any]:
    recent = done[-ADVICE_WINDOW:]
    pool = [r.agreement.pool for r in recent]
    if len(recent) < ADVICE_WINDOW or any(p is None for p in pool):
        have = sum(r.agreement.pool is not None for r in done)
        return _advice("continue", f"no test accuracy, and {have} round(s) with pool agreement; stabilising predictions needs "
                                   f"{ADVICE_WINDOW} consecutive rounds", "pool-agreement")
    shown = ", ".join(f"{100 * p:.1f}%" for p in pool)
    low = min(pool)
    if low < AGREEMENT_STOP:
        return _advice("continue", f"predictions on the unlabeled pool still change: agreement with the previous round {shown} "
                                   f"(stop when each ≥ {100 * AGREEMENT_STOP:g}%)", "pool-agreement", low)
    teacher = [r.agreement.teacher for r in recent]
    if all(t is not None for t in teacher):
        drift = max(abs(b - a) for a, b in pairwise(teacher))
        if drift > TEACHER_DRIFT:
            return _advice("continue", f"pool agreement {shown} is stable, but the student–teacher agreement still moves "
                                       f"({', '.join(f'{100 * t:.1f}%' for t in teacher)})", "pool-agreement", low)
    return _advice("stop", f"predictions on the unlabeled pool have stabilised: agreement with the previous round {shown} over the "
                           f"last {ADVICE_WINDOW} rounds (each ≥ {100 * AGREEMENT_STOP:g}%)", "pool-agreement", low)
