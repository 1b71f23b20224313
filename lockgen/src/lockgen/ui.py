"""Progress and messages for people, on stderr; machines read stdout (--json).

The global options (`-q`, `--no-progress`, `--color`) set `SETTINGS` once, in lockgen.cli; every Reporter and every
styled line follows them. JSON documents go out through `print_json`, which puts `"schema": 1` first (the version
of lockgen's JSON shapes, raised when a field changes meaning or goes away; new fields do not raise it).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:  # (`lockgen check` imports this module on its fast path: nothing it does not need)
    from typing import Any, TextIO

JSON_SCHEMA = 1


class Settings:
    """What the global options asked for (a plain class: dataclasses costs more to import than check's work)."""

    def __init__(self, quiet: bool = False, progress: bool = True, color: str = "auto") -> None:
        self.quiet = quiet  # -q: no progress, no notes; results and errors only
        self.progress = progress  # --no-progress: no step lines or uv passthrough
        self.color = color  # --color auto|always|never; NO_COLOR turns auto off

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Settings(quiet={self.quiet!r}, progress={self.progress!r}, color={self.color!r})"


SETTINGS = Settings()

_CODES = {"error": "31", "warning": "33", "ok": "32", "bold": "1"}


def use_color(stream: TextIO | None = None) -> bool:
    """Colour when asked (`always`), or on a terminal when neither `never` nor NO_COLOR (no-color.org) says no."""
    if SETTINGS.color == "always":
        return True
    if SETTINGS.color == "never" or os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def style(text: str, kind: str, stream: TextIO | None = None) -> str:
    """`text` in the colour for `kind` (error, warning, ok, bold) when colour is on."""
    code = _CODES.get(kind)
    return f"\033[{code}m{text}\033[0m" if code and use_color(stream) else text


def print_json(doc: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout, `"schema": 1` first."""
    import json  # (here: `lockgen check` imports this module on its fast path, text output needs no json)

    if isinstance(doc, dict):
        doc = {"schema": JSON_SCHEMA, **{k: v for k, v in doc.items() if k != "schema"}}
    json.dump(doc, stream or sys.stdout, indent=2)
    print(file=stream or sys.stdout)


class Reporter:
    """Shows progress of long steps on stderr. Quiet reporters (tests, --json) keep the same hooks and print nothing."""

    def __init__(self, stream: TextIO | None = None, quiet: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        # quiet=None: as the global options say (-q or --no-progress); True keeps it silent whatever they say
        self.quiet = (SETTINGS.quiet or not SETTINGS.progress) if quiet is None else quiet
        self._t0 = time.monotonic()
        self._changes = 0

    def step(self, message: str) -> None:
        """Announce a step ("resolving with uv ...")."""
        if not self.quiet:
            print(f"lockgen: {message}", file=self.stream, flush=True)

    def detail(self, line: str) -> None:
        """Pass through a line of a running tool's output (uv's progress), indented. uv's per-package change
        lines ("Updated torch v2.14.1 -> v2.10.0") are counted, not echoed: the plan shows what matters."""
        line = line.strip()
        if self.quiet or not line:
            return
        if line.split(" ", 1)[0] in ("Added", "Removed", "Updated", "Downgraded"):
            self._changes += 1
            return
        elapsed = time.monotonic() - self._t0
        print(f"  [{elapsed:5.1f}s] {line}", file=self.stream, flush=True)

    def heartbeat(self, seconds: float) -> None:
        """Say that a silent tool is still working."""
        if not self.quiet:
            print(
                f"  [{time.monotonic() - self._t0:5.1f}s] uv is still resolving ({seconds:.0f}s) ...",
                file=self.stream,
                flush=True,
            )
