"""Defences against hostile or broken input: safe file names from ids, paths kept inside
their folder, bounded free text and bounded echoes of user input.

Every output path that contains a value read from the data (a customer id) is built
with :func:`safe_name` and checked with :func:`ensure_inside`, so an id such as
``../../x``, an absolute path, a NUL byte or a right-to-left override cannot write
outside its folder or spoof a file name.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from riskmodel.exceptions import RiskModelError

_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: longest encoded id kept in a file name (the rest is replaced by the hash suffix)
MAX_NAME_CHARS = 80
#: a free-text cell longer than this is cut in documents (memo notes)
MAX_FREE_TEXT_CHARS = 2_000
TRUNCATION_MARKER = " […truncated: {n:,} more characters]"


class UnsafePathError(RiskModelError, ValueError):
    """An output path built from data would leave its folder."""


def _printable(text: str) -> str:
    """``text`` without control, format (bidi overrides, zero-width), surrogate or unassigned characters."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")


def safe_name(raw: object, max_chars: int = MAX_NAME_CHARS) -> str:
    """A file-name-safe, collision-free encoding of an id.

    Characters in ``[A-Za-z0-9_-]`` are kept; every other printable character is
    percent-encoded (its UTF-8 bytes as ``%XX``); control and bidi characters are
    dropped.  When anything was changed or cut, a hash of the raw id is appended
    (``~`` + 10 hex digits) so two different ids never share a file.  A plain id
    such as ``C000123`` is returned unchanged.
    """
    text = str(raw)
    encoded = "".join(ch if ch in _SAFE_CHARS else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "replace"))
                      for ch in _printable(text))
    if encoded == text and 0 < len(text) <= max_chars:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{encoded[:max_chars]}~{digest}"


def ensure_inside(folder: Path | str, path: Path | str) -> Path:
    """``path`` if it resolves inside ``folder``; UnsafePathError otherwise."""
    base = Path(folder).resolve()
    target = Path(path).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"refusing to write {str(path)[:200]!r}: it resolves outside {base}")
    return Path(path)


def clip_text(text: str, limit: int = MAX_FREE_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters with a visible marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(n=len(text) - limit)


def preview(value: object, limit: int = 40) -> str:
    """A short, printable ``repr`` of user input for error messages (never the whole input)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails is still described
        text = f"<{type(value).__name__}>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"
