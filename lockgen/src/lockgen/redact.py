"""Credentials never leave lockgen in what it prints: URLs are shown the way uv shows them.

uv (crates/uv-redacted, `DisplaySafeUrl`) prints `https://user:****@host` for a user and password,
`https://****@host` for a user (a token) alone and `https://:****@host` for a password alone. `redact_url` and
`redact_text` do the same; `RedactingStream` applies `redact_text` to everything written through it, so every line
lockgen prints - text or --json, its own or uv's passed through - is redacted in one place.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any, TextIO

from lockgen.errors import OutputClosed, OutputError

# scheme://userinfo@ - the userinfo stops at the first "/", "@" or white space, so this is linear in the text
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s\"'<>]+)@")


def _mask(m: re.Match[str]) -> str:
    user, colon, _ = m.group("userinfo").partition(":")
    if colon:
        return f"{m.group('scheme')}{user}:****@"
    return f"{m.group('scheme')}****@"


def redact_text(text: str) -> str:
    """`text` with the credentials of every URL in it masked as uv masks them."""
    if "@" not in text:
        return text
    return _USERINFO.sub(_mask, text)


def redact_url(url: str) -> str:
    """One URL with its credentials masked (`https://user:secret@host/x` -> `https://user:****@host/x`)."""
    return redact_text(url)


def strip_credentials(url: str) -> str:
    """The URL without its user and password - what uv writes into uv.lock for an index that has them."""
    return _USERINFO.sub(lambda m: m.group("scheme"), url, count=1)


class RedactingStream:
    """A text stream that redacts credentials in what is written and turns failures into lockgen's errors:
    a closed pipe is `OutputClosed` (stop quietly), any other failure `OutputError` (one line, exit 2)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        """Write `text`, redacted."""
        self._guard(self._inner.write, redact_text(text))
        return len(text)

    def flush(self) -> None:
        """Flush the wrapped stream."""
        self._guard(self._inner.flush)

    def _guard(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except BrokenPipeError:
            silence(self._inner)
            raise OutputClosed() from None
        except OSError as e:
            if e.errno == errno.EPIPE:
                silence(self._inner)
                raise OutputClosed() from None
            silence(self._inner)
            name = getattr(self._inner, "name", None)
            where = "standard output" if name in ("<stdout>", 1) else "standard error" if name == "<stderr>" else name
            raise OutputError(f"{where or 'output'}: cannot write: {e.strerror or e}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def silence(stream: object) -> None:
    """Point a real file stream's descriptor at /dev/null and drop what it still buffers, so Python's flush at exit
    finds nothing to complain about. Streams without a descriptor (a test's capture) are left alone."""
    fileno = getattr(stream, "fileno", None)
    try:
        fd = fileno() if fileno is not None else None
    except (OSError, ValueError, AttributeError):
        return
    if fd is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
