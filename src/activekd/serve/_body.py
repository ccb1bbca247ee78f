"""A request body as JSON, within limits: at most :data:`MAX_BODY_BYTES` bytes, UTF-8, nested at most
:data:`~activekd._parsers.MAX_NESTING` (64) levels deep.

Flask refuses a body whose ``Content-Length`` is larger with 413 before reading it; a streamed (chunked)
body is read one byte past the limit at most, and refused the same way. The text is decoded and parsed
by the parsers every activekd input goes through (``activekd._parsers``), so a body of 100,000 ``[`` is
a 400 at once, never a ``RecursionError``. Label Studio's payloads are a few kilobytes and about 8 levels
deep.
"""

from __future__ import annotations

from typing import Any

from activekd._parsers import MAX_NESTING, decode_utf8, parse_json
from activekd.errors import ActiveKDError

from ._protocol import PayloadError

MAX_BODY_BYTES = 1024 * 1024
"""The largest request body the backend reads (1 MiB); a larger one is answered 413."""

TOO_LARGE = f"the body is larger than the backend's limit of {MAX_BODY_BYTES} bytes"

__all__ = ["MAX_BODY_BYTES", "MAX_NESTING", "TOO_LARGE", "parse_body"]


class _BodyError(ActiveKDError):
    """A body the parsers refuse (not UTF-8, not JSON, too deep): answered 400."""


def parse_body(raw: bytes, what: str) -> Any:
    """``raw`` (UTF-8 JSON) decoded; ``PayloadError`` 413 over :data:`MAX_BODY_BYTES`, 400 for a body that is not UTF-8
    JSON or is nested deeper than :data:`MAX_NESTING` levels."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadError(413, f"{what}: {TOO_LARGE}")
    source = f"{what}: the body"
    try:
        return parse_json(decode_utf8(raw, source, _BodyError), source, _BodyError)
    except _BodyError as e:
        raise PayloadError(400, str(e)) from None
