"""Where a run stands, read from its store alone: rounds trained, labels, a round waiting for labels, what to do next.

``activekd status`` prints it, ``activekd status --json`` gives it to scripts, and the exit status of
``run``/``resume``/``sync`` tells "waiting for labels" from "finished" by it. A round record holds a
trained round and the picks it made for the next one, so the states are:

- ``waiting-for-labels``: round ``r``'s picks are not all labeled (a person's turn);
- ``ready``: the next round has its labels (or the run was extended) and is not trained yet (a kill
  between storing round ``r``'s picks and training round ``r + 1`` leaves this: "round 1 picked, not
  trained"), or no round is trained yet; ``activekd resume`` goes on;
- ``finished``: every planned round is trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from activekd.layout import RunLayout

from ._mislabels import standing_flags
from ._oracle import ORACLES
from ._results import dumps
from ._store import RoundRecord, SessionStore
from ._unreadable import unreadable_count

STATES = ("waiting-for-labels", "ready", "finished")


@dataclass(frozen=True)
class Standing:
    """A run's state (one of :data:`STATES`), its counts, and the command that moves it on."""

    run: str
    state: str
    labels: int
    rounds_trained: int
    rounds_planned: int | None  # rounds 0..N are planned: N + 1 trainings
    last_round: int | None  # the last round trained
    pending_round: int | None  # the round whose picks await labels
    picks: int  # of the pending round (0 when none)
    missing: int  # picks of the pending round without a label
    next_round: int | None  # the round that trains next, when one is due
    summary: str  # one line: "round 1 picked, not trained", ...
    next: str  # what to do next
    next_file: str | None = None  # the file that step acts on (the batch CSV to fill in and pass to `activekd label`), else None
    rounds: tuple[dict, ...] = ()  # per recorded round: round, status, picks (a count) and RoundResult.headline()
    likely_mistakes: tuple[dict, ...] = ()  # the label check's flags standing now (LikelyMistake as dicts)
    unreadable: int | None = None  # images the dataset left out as unreadable (None: the run keeps no list, made before it did)
    unreadable_list: str | None = None  # the file that names them (:attr:`RunLayout.unreadable`)

    def to_json(self, **extra) -> str:
        """Strict JSON (no NaN) of every field, plus ``extra``."""
        return dumps(dict(asdict(self), rounds=list(self.rounds), likely_mistakes=list(self.likely_mistakes), **extra))


def standing(store: SessionStore, out: str | Path) -> Standing:
    """Where the run in ``out`` (whose open ``store`` this is) stands."""
    out, rounds = Path(out), store.rounds()
    config = _stored(store)
    planned = config.get("loop", {}).get("rounds")
    last = rounds[-1] if rounds else None
    pending = store.pending_round()
    labeled = {i for i, _ in store.labels()}
    missing = sum(p not in labeled for p in pending.picks) if pending else 0
    unreadable = unreadable_count(out)
    base = dict(run=str(out), labels=len(labeled), rounds_trained=len(rounds), rounds_planned=planned,
                last_round=None if last is None else last.round, pending_round=None if pending is None else pending.round,
                picks=len(pending.picks) if pending else 0, missing=missing, rounds=tuple(_summary(r) for r in rounds),
                likely_mistakes=tuple(f.to_dict() for f in standing_flags(store)), unreadable=unreadable,
                unreadable_list=None if unreadable is None else str(RunLayout(out).unreadable))
    if pending is not None:
        oracle = config.get("loop", {}).get("oracle")
        hint = getattr(ORACLES.get(oracle), "next_step", "") if oracle in ORACLES else ""
        batch = RunLayout(out).batch(pending.round)
        return Standing(**base, state="waiting-for-labels", next_round=None,
                        summary=f"waiting for labels: {missing} of round {pending.round}'s {len(pending.picks)} pick(s) unlabeled",
                        next=hint.format(run=out, batch=batch) or f"label the picks, then `activekd resume {out}`",
                        next_file=str(batch) if "{batch}" in hint else None)
    if last is not None and (planned is None or last.round >= planned) and not last.picks:
        return Standing(**base, state="finished", next_round=None, summary="finished",
                        next=f"nothing: the run is finished (`activekd resume {out} --rounds N` adds rounds)")
    r = 0 if last is None else last.round + 1
    summary = ("no round trained yet" if last is None else f"round {r} picked, not trained" if last.picks
               else f"round {r} not picked yet (the run was extended)")
    return Standing(**base, state="ready", next_round=r, summary=summary, next=f"`activekd resume {out}` trains round {r}")


def _summary(r: RoundRecord) -> dict:
    return dict(round=r.round, status=r.status, picks=len(r.picks), **r.result.headline())


def _stored(store: SessionStore) -> dict:
    config = store.config()
    return config if isinstance(config, dict) else {}
