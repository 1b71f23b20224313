"""Errors that carry what a user needs to act: the file, the key, and what is wrong."""

from __future__ import annotations

# C0 and C1 controls and the Unicode line/paragraph separators: everything str.splitlines() breaks a line at
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a TOML key, say) escaped, so an error stays one line."""
    import re  # (here, not at the top: every command imports this module, `lockgen check` before anything else)

    return re.sub(_CONTROL, lambda m: repr(m.group())[1:-1], text)


class LockgenError(Exception):
    """Base class of every error lockgen reports to users without a traceback."""

    exit_code = 2


class InputError(LockgenError):
    """A file lockgen reads is missing or malformed; names the file and the key path."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(one_line(f"{where}: {message}"))


class UvError(LockgenError):
    """uv could not be found or failed in a way that is not a finding about the workspace."""


class OutputClosed(Exception):
    """The reader of lockgen's standard output went away (`lockgen check | head -1`): stop quietly."""


class OutputError(LockgenError):
    """Standard output cannot be written (`lockgen check > /dev/full`)."""
