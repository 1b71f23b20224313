"""Progress and messages for people, on stderr; machines read stdout (--json)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Reporter:
    """Shows progress of long steps on stderr. Quiet reporters (tests, --json) keep the same hooks and print nothing."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
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
