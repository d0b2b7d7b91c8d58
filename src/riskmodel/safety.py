"""Defences against hostile or broken input: safe file names from ids, paths kept inside
their folder, bounded free text and bounded echoes of user input.

Every output path that contains a value read from the data (a customer id) is built
with :func:`safe_name` and checked with :func:`ensure_inside`, so an id such as
``../../x``, an absolute path, a NUL byte or a right-to-left override cannot write
outside its folder or spoof a file name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
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


# ------------------------------------------------------------------ faults
_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere (--out)",
    errno.EDQUOT: "the disk quota is exhausted: free some space or write elsewhere (--out)",
    errno.EROFS: "the file system is read-only: write elsewhere (--out)",
    errno.EACCES: "permission denied: write to a folder you may write to (--out) or fix its permissions",
    errno.EPERM: "operation not permitted: write to a folder you may write to (--out) or fix its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path (--out)",
    errno.EISDIR: "the path is a folder, not a file: give a file name (--out)",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "a file is in the way: remove it or choose another path",
    errno.ENAMETOOLONG: "the file name is too long: choose a shorter path",
}


def describe_failure(err: BaseException) -> str:
    """One line: what failed and what to do (no traceback), for any exception."""
    if isinstance(err, OSError) and err.errno is not None:
        where = f" ({str(err.filename)[:200]})" if err.filename else ""
        advice = _ADVICE.get(err.errno, "check the path and the disk")
        return f"{err.strerror or type(err).__name__}{where}: {advice}"
    if isinstance(err, MemoryError):
        return "out of memory: score in smaller chunks (scoring.chunk_size) or on a larger machine"
    text = " ".join(str(err).split())[:300]
    return (f"unexpected {type(err).__name__}: {text or 'no message'} "
            "(run again with --verbose for the traceback, and report it)")


class OutputError(RiskModelError, OSError):
    """An output location cannot be written (checked before expensive work)."""


def preflight_output(path: Path | str, need_bytes: int = 0) -> Path:
    """Check, before any work, that ``path``'s folder can be created and written and has room.

    Creates the folder, writes and removes a probe file, and compares the free
    space with ``need_bytes`` (an estimate).  OutputError (one line) otherwise.
    """
    target = Path(path)
    folder = target.parent
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".riskmodel-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(folder).free
    except OSError as err:
        raise OutputError(f"cannot write {target}: {describe_failure(err)}") from None
    if need_bytes and free < need_bytes:
        raise OutputError(f"cannot write {target}: {free / 1e6:,.1f} MB free in {folder}, about "
                          f"{need_bytes / 1e6:,.1f} MB needed; free some space or write elsewhere (--out)")
    return target


def preflight_listen(host: str, port: int) -> None:
    """Check, before the model is loaded, that the service can listen on ``host:port``; OutputError (one
    line) when the port is taken, the address is not this machine's or cannot be resolved."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is fine
            sock.bind(address)
    except OSError as err:  # socket.gaierror included
        why = {errno.EADDRINUSE: "the port is in use: stop what uses it or choose another --port",
               errno.EADDRNOTAVAIL: "the address is not one of this machine's: choose another --host",
               errno.EACCES: "permission denied: ports below 1024 need privileges, choose another --port"}
        reason = why.get(err.errno or 0) or f"{err.strerror or err}: check --host and --port"
        raise OutputError(f"cannot listen on {host}:{port}: {reason}") from None


# ------------------------------------------------------------------ tracking store
class TrackingStoreError(RiskModelError):
    """The MLflow store cannot be used (locked, read-only, corrupt, unreachable): found before training."""


def redact_uri(uri: str) -> str:
    """A URI without its credentials (``user:password@`` and query tokens), safe for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URI in it replaced by ``***``."""
    import re

    return re.sub(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@", r"\1***@", text)


def check_tracking_store(uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one line) when the MLflow store cannot take a run, before minutes of training.

    SQLite stores: opened read-write with a short busy timeout, integrity-checked
    and write-locked for an instant; HTTP servers: ``/health`` within the timeout.
    File stores and other schemes are left to MLflow.
    """
    import sqlite3
    import urllib.request

    shown = redact_uri(uri)
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.exists():
            preflight_output(path)
            return
        try:
            con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout_s)
        except sqlite3.Error as err:
            raise TrackingStoreError(f"MLflow store {path} cannot be opened for writing ({err}): check its "
                                     "permissions or set tracking.uri to another store") from None
        try:
            row = con.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {str(row[0] if row else 'no answer')[:100]}")
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
        except sqlite3.OperationalError as err:
            text = str(err)
            if "locked" in text or "busy" in text:
                raise TrackingStoreError(f"MLflow store {path} is locked by another process (waited {timeout_s:g} s): "
                                         "wait for the other run to finish, then retry") from None
            if "readonly" in text or "read-only" in text:
                raise TrackingStoreError(f"MLflow store {path} is read-only: fix its permissions or set "
                                         "tracking.uri to a writable store") from None
            raise TrackingStoreError(f"MLflow store {path} cannot be used ({text[:150]}): restore it from a "
                                     "backup or move it away and train again") from None
        except sqlite3.DatabaseError as err:
            raise TrackingStoreError(f"MLflow store {path} is corrupt ({str(err)[:150]}): restore it from a "
                                     "backup or move it away and train again") from None
        finally:
            con.close()
        return
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):  # noqa: S310 - http(s) only
                return
        except Exception as err:  # noqa: BLE001 - any failure means the server cannot take the run
            raise TrackingStoreError(f"MLflow tracking server {shown} is unreachable ({type(err).__name__}): "
                                     "start it or set MLFLOW_TRACKING_URI / tracking.uri") from None
