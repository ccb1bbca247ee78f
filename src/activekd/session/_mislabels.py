"""Likely label mistakes of a run: the evidence stored at pick time, the flags of each round, the flags standing now.

Evidence: when a round picks images, each pick's class probabilities under the student that picked it (the
round's head mix) and under the teacher are stored beside the pick (``suggestions[id]["label_check"]``, classes
with p >= 0.005, 4 decimals), before any label exists: out-of-sample for both. A label without such evidence
(an initial label: ``--shots``/``--initial all``; a pick of an older run) is checked on the teacher alone, the
round's teacher (out-of-sample for a fixed teacher; a few-shot teacher was fitted on the label). Round 0 of
``--shots 0`` picks with the teacher alone, so its picks carry the teacher's evidence only.

After each round trains, :func:`round_flags` applies :func:`activekd.mislabels.flag_mislabels` to every label the
round trained on; the flags are stored with the round (``RoundResult.likely_mistakes``). :func:`standing_flags` gives the last
round's flags whose label still stands (a corrected label is no longer listed).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from activekd.layout import RunLayout
from activekd.mislabels import THRESHOLD, flag_mislabels
from activekd.round_result import LikelyMistake, RoundResult

from ._batch import with_pick_data
from ._store import SessionStore
from ._thumbnails import PICKS_SHOWN, write_thumbnails

log = logging.getLogger(__name__)

EVIDENCE_KEY = "label_check"
MODELS = ("student", "teacher")
MIN_PROB = 0.005
"""Probabilities below this are not stored (read back as 0: far below the threshold)."""


def sparse_probs(probs: Tensor) -> list[dict[str, float]]:
    """Each row of ``probs`` ``[k, C]`` as ``{class index: p}`` over the classes with ``p >= MIN_PROB``."""
    out = []
    for row in probs.double().cpu():
        keep = torch.nonzero(row >= MIN_PROB)[:, 0].tolist()
        out.append({str(c): round(float(row[c]), 4) for c in keep})
    return out


def with_evidence(ids: Sequence[str], student_probs: Tensor | None, teacher_logits: Tensor | None,
                  suggestions: dict[str, dict]) -> dict[str, dict]:
    """``suggestions`` with each pick's evidence added: ``student_probs`` ``[k, C]`` (the picking student's, or None) and
    ``teacher_logits`` ``[k, C]`` (or None), rows in ``ids`` order."""
    parts = {"student": None if student_probs is None else sparse_probs(student_probs),
             "teacher": None if teacher_logits is None else sparse_probs(torch.softmax(teacher_logits.double(), dim=1))}
    evidence = [{m: rows[n] for m, rows in parts.items() if rows is not None} for n in range(len(ids))]
    return with_pick_data(suggestions, ids, EVIDENCE_KEY, evidence)


def stored_evidence(store: SessionStore) -> dict[str, dict]:
    """``{id: {"student": {...}, "teacher": {...}}}`` of every pick whose evidence was stored."""
    out: dict[str, dict] = {}
    for rec in store.rounds():
        for sid in rec.picks:
            e = rec.suggestions.get(sid, {}).get(EVIDENCE_KEY)
            if isinstance(e, dict):
                out[sid] = e
    return out


def round_flags(store: SessionStore, labeled: Sequence[tuple[str, int]], teacher_logits: Tensor | None, class_names: Sequence[str],
                threshold: float = THRESHOLD) -> list[LikelyMistake]:
    """The likely mistakes among ``labeled`` (``(id, label)`` a round trained on). ``teacher_logits`` ``[m, C]``: the round's
    teacher on those images (in ``labeled`` order), the evidence of labels that have none stored."""
    stored = stored_evidence(store)
    seeds = [] if teacher_logits is None else sparse_probs(torch.softmax(teacher_logits.double(), dim=1))
    evidence = [stored.get(sid) or ({"teacher": seeds[n]} if seeds else {}) for n, (sid, _) in enumerate(labeled)]
    p = torch.tensor([[_p(e.get(m), y) for m in MODELS] for e, (_, y) in zip(evidence, labeled)], dtype=torch.float64)
    flagged = flag_mislabels(p.reshape(len(labeled), len(MODELS)), threshold)
    return [_flag(sid, y, e, class_names) for (sid, y), e, f in zip(labeled, evidence, flagged.tolist()) if f]


def _p(probs: dict | None, y: int) -> float:
    return math.nan if probs is None else float(probs.get(str(y), 0.0))


def _top(probs: dict | None, class_names: Sequence[str]) -> tuple[str, float] | None:
    if not probs:
        return None
    c, v = max(probs.items(), key=lambda kv: kv[1])
    return class_names[int(c)], float(v)


def _flag(sid: str, y: int, e: dict, class_names: Sequence[str]) -> LikelyMistake:
    return LikelyMistake(sid, class_names[y], y, _top(e.get("teacher"), class_names), _top(e.get("student"), class_names),
                         None if e.get("teacher") is None else _p(e["teacher"], y),
                         None if e.get("student") is None else _p(e["student"], y),
                         "+".join(m for m in ("student", "teacher") if e.get(m) is not None))


def standing_in(store: SessionStore, result: RoundResult) -> list[LikelyMistake]:
    """The flags round ``result`` recorded whose label is still the one flagged."""
    current = dict(store.labels())
    return [f for f in result.likely_mistakes or () if current.get(f.id) == f.label_index]


def standing_flags(store: SessionStore) -> list[LikelyMistake]:
    """The last trained round's flags whose label is still the one flagged (none for rounds from before flags existed)."""
    rounds = [r.result for r in store.rounds() if r.result.likely_mistakes is not None]
    return standing_in(store, rounds[-1]) if rounds else []


def check_labels(out: Path, dataset, store: SessionStore, labeled: Sequence[tuple[str, int]], teacher_logits: Tensor | None,
                 picks: Sequence[str]) -> tuple[tuple[LikelyMistake, ...], dict[str, str]]:
    """A round's label check and pictures for the report: the likely mistakes (each with its thumbnail) and ``{id: file}``
    thumbnails of the first :data:`PICKS_SHOWN` picks."""
    flags = round_flags(store, labeled, teacher_logits, dataset.class_names)
    if flags:
        log.info("%d likely label mistake(s) among %d labels: `activekd label %s --review` lists them", len(flags), len(labeled), out)
    thumbs = write_thumbnails(out, dataset, [f.id for f in flags] + list(picks[:PICKS_SHOWN]))
    return tuple(dataclasses.replace(f, thumbnail=thumbs[f.id]) for f in flags), {sid: thumbs[sid] for sid in picks[:PICKS_SHOWN]}


def write_review_file(session, path: Path | None = None) -> tuple[int, Path]:
    """``activekd label RUN --review``: the likely mistakes standing now, as a CSV of the batch's format (default
    ``RUN/to_label/review.csv``) and its Label Studio tasks beside it; returns ``(how many, the CSV's path)``."""
    from ._batch import write_review

    path = Path(path) if path is not None else RunLayout(session.out).review
    flags = standing_flags(session.store)
    write_review(session.out, session.dataset, flags, path, session.config.labelstudio.document_root)
    return len(flags), path
