"""Selection strategies: pure functions of the student's pool outputs, and their registry."""

from ._base import SelectionInputs, check_budget, get_strategy, list_strategies, register_strategy, select
from . import _random, _uncertainty  # noqa: F401  (registration)

__all__ = ["SelectionInputs", "check_budget", "get_strategy", "list_strategies", "register_strategy", "select"]
