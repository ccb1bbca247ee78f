"""Selection strategies: pure functions of the student's pool outputs, and their registry.

``select(name, inputs, budget, generator=..., device=...)`` runs a registered strategy and
returns ``budget`` distinct pool ids; ``list_strategies()`` names them all, ``strategy_info(name)``
gives one's function and what it needs (``StrategyNeeds``, declared at registration), and
``benchmark_strategies()`` the offline benchmark's default grid. Strategies never run a model,
print, do I/O or touch the global RNG. The pure building blocks are public too:
``greedy_k_center`` (coreset, pcoreset), ``teacher_coverage`` (the first batch of a run with no
labels), ``badge_kmeanspp``, ``badge_farthest_first`` (``badge-reference``), ``typiclust_select``, the score
functions and ``class_balanced_quota``.
"""

import sys
import types

from . import _random  # noqa: F401  (registration)
from ._badge import badge_kmeanspp
from ._badge_reference import badge_farthest_first
from ._base import (
    SelectionInputs,
    StrategyInfo,
    StrategyNeeds,
    benchmark_strategies,
    check_budget,
    get_strategy,
    list_strategies,
    register_strategy,
    select,
    strategy_info,
)
from ._class_balanced import class_balanced_quota
from ._disagreement import teacher_student_kl
from ._kcenter import greedy_k_center
from ._teacher_coverage import teacher_coverage
from ._typiclust import kmeans, typicality, typiclust_select
from ._uncertainty import entropy_scores, least_confidence_scores, margin_scores

__all__ = [
    "SelectionInputs",
    "StrategyInfo",
    "StrategyNeeds",
    "badge_farthest_first",
    "badge_kmeanspp",
    "benchmark_strategies",
    "check_budget",
    "class_balanced_quota",
    "entropy_scores",
    "get_strategy",
    "greedy_k_center",
    "kmeans",
    "least_confidence_scores",
    "list_strategies",
    "margin_scores",
    "register_strategy",
    "select",
    "strategy_info",
    "teacher_coverage",
    "teacher_student_kl",
    "typicality",
    "typiclust_select",
]


class _CallableModule(types.ModuleType):
    """``activekd.select(name, ...)`` calls :func:`select`: the package and its main function share a name."""

    def __call__(self, *args, **kwargs):
        return select(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
