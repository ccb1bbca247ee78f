"""Stopping advice: should a person label another round? A pure function of a run's rounds.

With test accuracy: the slope of the recent accuracy-against-labels curve (gradient-based stopping,
Laws & Schütze, "Stopping Criteria for Active Learning of Named Entity Recognition", COLING 2008:
stop when the learning curve's gradient approaches zero). Without test labels: stabilising
predictions (Bloodgood & Vijay-Shanker, "A Method for Stopping Active Learning Based on Stabilizing
Predictions and the Need for User-Adjustable Stopping", CoNLL 2009): stop once consecutive rounds'
students agree on the unlabeled pool for the last few rounds, and the student's agreement with the
teacher has stopped moving.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

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

TEACHER_DRIFT = 1.0 - AGREEMENT_STOP
"""Largest change of the student–teacher agreement between consecutive rounds that still counts as stable. A
student whose predictions change on at most 1 − ``AGREEMENT_STOP`` of the pool cannot move its agreement with a
fixed teacher by more; a larger move means the teacher (a few-shot head refitted every round) still moves."""


def stopping_advice(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"decision": "continue" | "stop", "reason": str, "criterion": str, "value": float | None}`` for a run's rounds.

    ``rounds`` are ``results.json`` rounds (any order; those without ``num_labeled`` are ignored). The accuracy slope
    decides when the last rounds carry ``student_acc``; otherwise ``pool_agreement`` (with ``teacher_agreement`` when
    there is a teacher). ``value`` is the slope (points per 100 labels) or the smallest recent pool agreement.
    """
    done = sorted((r for r in rounds if r.get("num_labeled") is not None), key=lambda r: r["round"])
    if not done:
        return _advice("continue", "no round has been trained yet", "none")
    if any(r.get("student_acc") is not None for r in done):
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


def _slope_advice(done: list[dict]) -> dict[str, Any]:
    pts = [(float(r["num_labeled"]), float(r["student_acc"])) for r in done if r.get("student_acc") is not None][-ADVICE_WINDOW:]
    if len(pts) < ADVICE_WINDOW:
        return _advice("continue", f"only {len(pts)} round(s) with test accuracy; the slope needs {ADVICE_WINDOW}", "accuracy-slope")
    if pts[0][0] == pts[-1][0]:
        return _advice("continue", f"no labels were added over the last {ADVICE_WINDOW} rounds", "accuracy-slope")
    s = slope_per_100(pts)
    span = f"{pts[0][0]:.0f}–{pts[-1][0]:.0f} labels, {100 * pts[0][1]:.1f}% → {100 * pts[-1][1]:.1f}%"
    if s < SLOPE_STOP:
        return _advice("stop", f"accuracy gains {s:+.2f} points per 100 labels over the last {ADVICE_WINDOW} rounds ({span}), "
                               f"below {SLOPE_STOP:g} point per 100 labels", "accuracy-slope", s)
    return _advice("continue", f"accuracy still gains {s:+.2f} points per 100 labels over the last {ADVICE_WINDOW} rounds ({span}; "
                               f"stop below {SLOPE_STOP:g})", "accuracy-slope", s)


def _agreement_advice(done: list[dict]) -> dict[str, Any]:
    recent = done[-ADVICE_WINDOW:]
    pool = [r.get("pool_agreement") for r in recent]
    if len(recent) < ADVICE_WINDOW or any(p is None for p in pool):
        have = sum(r.get("pool_agreement") is not None for r in done)
        return _advice("continue", f"no test accuracy, and {have} round(s) with pool agreement; stabilising predictions needs "
                                   f"{ADVICE_WINDOW} consecutive rounds", "pool-agreement")
    shown = ", ".join(f"{100 * p:.1f}%" for p in pool)
    low = min(pool)
    if low < AGREEMENT_STOP:
        return _advice("continue", f"predictions on the unlabeled pool still change: agreement with the previous round {shown} "
                                   f"(stop when each ≥ {100 * AGREEMENT_STOP:g}%)", "pool-agreement", low)
    teacher = [r.get("teacher_agreement") for r in recent]
    if all(t is not None for t in teacher):
        drift = max(abs(b - a) for a, b in pairwise(teacher))
        if drift > TEACHER_DRIFT:
            return _advice("continue", f"pool agreement {shown} is stable, but the student–teacher agreement still moves "
                                       f"({', '.join(f'{100 * t:.1f}%' for t in teacher)})", "pool-agreement", low)
    return _advice("stop", f"predictions on the unlabeled pool have stabilised: agreement with the previous round {shown} over the "
                           f"last {ADVICE_WINDOW} rounds (each ≥ {100 * AGREEMENT_STOP:g}%)", "pool-agreement", low)
