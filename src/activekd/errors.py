"""activekd's own errors: one base class for every mistake a user can make.

The command line prints an :class:`ActiveKDError` as one line and exits 2; any other exception is a
bug, shown with its traceback. Every class derives from ``ValueError`` too (and the id lookups from
``KeyError``), so code that caught those keeps working.
"""

from __future__ import annotations


class ActiveKDError(ValueError):
    """A user's mistake or a refused request, told in one line; nothing was changed."""


class ConfigError(ActiveKDError):
    """An option value that cannot work (out of range, not finite, an impossible combination)."""


class DataError(ActiveKDError):
    """A dataset that cannot be read or used (missing files, bad CSV, too few images)."""


class TeacherError(ActiveKDError):
    """A teacher that cannot be built or asked (bad spec, file, weights)."""


class StudentError(ActiveKDError):
    """A student that cannot be built (unknown model, bad size)."""


class InputError(ActiveKDError):
    """Arrays handed to a library function that break its contract (shapes, ranges, budgets)."""


class UnknownIdError(ActiveKDError, KeyError):
    """A sample id the dataset, teacher or cache does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
