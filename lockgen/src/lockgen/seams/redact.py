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

_AUTHORITY_END = re.compile(r"[/\s\"'<>]")


def _mask(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:****" if colon else "****"


def redact_text(text: str) -> str:
    """`text` with the credentials of every URL in it masked as uv masks them. The userinfo of `scheme://userinfo@`
    runs to the last "@" before the first "/", quote or white space (so a password with an unescaped "@" is masked
    whole). Linear in the text: each "://" is found once and each authority scanned once (no regular expression
    that could backtrack over an adversarial line)."""
    if "@" not in text or "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    i = text.find("://")
    while i != -1:
        start = i + 3
        m = _AUTHORITY_END.search(text, start)
        end = m.start() if m else len(text)
        at = text.rfind("@", start, end)
        if at != -1:
            out += [text[pos:start], _mask(text[start:at]), "@"]
            pos = at + 1
        i = text.find("://", end - 1 if end > start else start)
    out.append(text[pos:])
    return "".join(out)


def redact_url(url: str) -> str:
    """One URL with its credentials masked (`https://user:secret@host/x` -> `https://user:****@host/x`)."""
    return redact_text(url)


def strip_credentials(url: str) -> str:
    """The URL without its user and password - what uv writes into uv.lock for an index that has them."""
    i = url.find("://")
    if i == -1:
        return url
    m = _AUTHORITY_END.search(url, i + 3)
    at = url.rfind("@", i + 3, m.start() if m else len(url))
    return url if at == -1 else url[: i + 3] + url[at + 1 :]


class RedactingStream:
    """A text stream that redacts credentials in what is written and turns failures into lockgen's errors:
    a closed pipe is `OutputClosed` (stop quietly), any other failure `OutputError` (one line, exit 2)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        """Write `text`, redacted."""
        self._guard(self._inner.write, redact_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each line, redacted."""
        for line in lines:
            self.write(line)

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
