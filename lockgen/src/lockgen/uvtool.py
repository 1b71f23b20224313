"""The one seam through which lockgen finds and runs uv."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lockgen.errors import UvError


@dataclass(frozen=True)
class UvResult:
    """What one uv run returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def find_uv() -> str:
    """uv's binary: `$UV`, then the `uv` package's binary (what the lock installs), then PATH."""
    env = os.environ.get("UV")
    if env:
        return env
    try:
        import uv  # type: ignore[import-not-found]

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise UvError("uv was not found: install it (`pip install uv`), or set $UV to its path")


def run_uv(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> UvResult:
    """Run `uv ARGS` in `cwd`. With `on_line`, stream uv's stderr lines to it (progress) while collecting them."""
    argv = (find_uv(), *args)
    full_env = {**os.environ, **(env or {})}
    if on_line is None:
        full_env.setdefault("UV_NO_PROGRESS", "1")
    try:
        if on_line is None:
            proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
            return UvResult(argv, proc.returncode, proc.stdout, proc.stderr)
        with subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as p:
            err_lines = []
            assert p.stderr is not None and p.stdout is not None
            for line in p.stderr:
                err_lines.append(line)
                on_line(line.rstrip("\n"))
            out = p.stdout.read()
            rc = p.wait()
        return UvResult(argv, rc, out, "".join(err_lines))
    except FileNotFoundError:
        raise UvError(f"uv was not found at {argv[0]}: install it or set $UV") from None
