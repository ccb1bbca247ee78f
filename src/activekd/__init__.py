"""activekd: train a small deployable classifier with few human labels.

A vision-language teacher distils into a dual-head student (DHO, Kang et al. 2025,
arXiv 2505.07675) while active learning (PCoreSet, Kang et al. 2025, arXiv 2506.00910)
picks which images a person labels next.

The main entry points, imported on first use (``import activekd`` itself loads no torch)::

    config = activekd.from_options(dataset="fashion-mnist", strategy="pcoreset", rounds=1)
    with activekd.ActiveSession.open(config, "runs/mine") as session:   # or ActiveSession.resume(out)
        results = session.run()
    picks = activekd.select("pcoreset", probs=p, labeled_probs=q, budget=10)   # NumPy or torch
    student = activekd.create_student("resnet18", num_classes=10)
    predictor = activekd.load_predictor("runs/mine")                          # or an exported file
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ActiveSession": "activekd.session", "SessionStore": "activekd.session", "LabelReport": "activekd.session",
    "RunConfig": "activekd.config", "from_options": "activekd.config",
    "SelectionInputs": "activekd.select", "list_strategies": "activekd.select",
    "create_student": "activekd.students", "list_students": "activekd.students",
    "create_teacher": "activekd.teachers", "TeacherConfig": "activekd.teachers", "TeacherContext": "activekd.teachers",
    "create_dataset": "activekd.data", "train_student": "activekd.train", "TrainConfig": "activekd.train",
    "load_predictor": "activekd.export", "export_student": "activekd.export",
    "ActiveKDError": "activekd.errors",
}
__all__ = ["__version__", "select", *_EXPORTS]


def __getattr__(name: str):
    """``activekd.NAME`` for the entry points above, imported on first use."""
    if name == "select":  # the subpackage, callable as its main function
        return importlib.import_module("activekd.select")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'activekd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
