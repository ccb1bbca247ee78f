"""The session's error classes: each is a user's mistake or a refused request, told in one line."""

from __future__ import annotations

from activekd.errors import ActiveKDError


class SessionError(ActiveKDError):
    """A run that cannot start or continue; nothing was changed."""


class StoreError(SessionError):
    """A store (or run folder) that is refused, or a write it refuses; nothing was written."""


class AnswerError(SessionError):
    """A person's answers (a label file or a Label Studio batch) that cannot be applied; nothing was written."""
