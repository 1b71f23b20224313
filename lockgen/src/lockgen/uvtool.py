"""The one seam through which lockgen finds and runs uv."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
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
    heartbeat: Callable[[float], None] | None = None,
    heartbeat_every: float = 5.0,
) -> UvResult:
    """Run `uv ARGS` in `cwd`.

    With `on_line`, uv's stderr lines are streamed to it (progress) while being collected, and `heartbeat`
    is called with the elapsed seconds whenever uv has been silent for `heartbeat_every` seconds.
    """
    argv = (find_uv(), *args)
    full_env = {**os.environ, **(env or {})}
    if on_line is None:
        full_env.setdefault("UV_NO_PROGRESS", "1")
    try:
        if on_line is None:
            proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
            return UvResult(argv, proc.returncode, proc.stdout, proc.stderr)
        return _stream(argv, cwd, full_env, on_line, heartbeat, heartbeat_every)
    except FileNotFoundError:
        raise UvError(f"uv was not found at {argv[0]}: install it or set $UV") from None


def _stream(
    argv: tuple[str, ...],
    cwd: Path,
    env: Mapping[str, str],
    on_line: Callable[[str], None],
    heartbeat: Callable[[float], None] | None,
    every: float,
) -> UvResult:
    # uv runs in its own process group, so that an interrupted lockgen can end it and anything it started
    # (otherwise a surviving grandchild keeps the pipes open and lockgen waits for it)
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as p:
        assert p.stderr is not None and p.stdout is not None
        stdout = p.stdout
        out_chunks: list[str] = []
        reader = threading.Thread(target=lambda: out_chunks.append(stdout.read()), daemon=True)
        reader.start()
        t0 = last = time.monotonic()
        done = threading.Event()

        def beat() -> None:
            nonlocal last
            while not done.wait(0.5):
                if heartbeat is not None and time.monotonic() - last >= every:
                    heartbeat(time.monotonic() - t0)
                    last = time.monotonic()

        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        err_lines: list[str] = []
        try:
            for line in p.stderr:
                last = time.monotonic()
                err_lines.append(line)
                on_line(line.rstrip("\n"))
            rc = p.wait()
        except BaseException:  # interrupted (SIGINT/SIGTERM -> exception): never leave uv running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            raise
        finally:
            done.set()
        reader.join()
    return UvResult(argv, rc, "".join(out_chunks), "".join(err_lines))
