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

    def step(self, message: str) -> None:
        """Announce a step ("resolving with uv ...")."""
        if not self.quiet:
            print(f"lockgen: {message}", file=self.stream, flush=True)

    def detail(self, line: str) -> None:
        """Pass through a line of a running tool's output (uv's progress), indented."""
        if not self.quiet and line.strip():
            elapsed = time.monotonic() - self._t0
            print(f"  [{elapsed:5.1f}s] {line.strip()}", file=self.stream, flush=True)
