"""The one seam through which lockgen finds and runs uv."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
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
    """uv's binary: `$UV`, then the `uv` package's binary (what the lock installs: in this environment's bin folder,
    where the package looks first, without importing it), then PATH."""
    env = os.environ.get("UV")
    if env:
        return env
    here = os.path.join(sys.prefix, "bin", "uv")
    if os.access(here, os.X_OK):
        return here
    try:
        import uv

        return str(uv.find_uv_bin())
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
            proc = subprocess.run(
                argv, cwd=cwd, env=full_env, capture_output=True, text=True, check=False, preexec_fn=_die_with_parent
            )
            return UvResult(argv, proc.returncode, proc.stdout, proc.stderr)
        return _stream(argv, cwd, full_env, on_line, heartbeat, heartbeat_every)
    except FileNotFoundError:
        raise UvError(f"uv was not found at {argv[0]}: install it or set $UV") from None


class RunningUv:
    """A uv run started by `start_uv`: `result()` waits for it, `cancel()` stops it."""

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[str]) -> None:
        self.argv, self._proc = argv, proc

    def result(self) -> UvResult:
        """What uv returned, once it has finished."""
        out, err = self._proc.communicate()
        return UvResult(self.argv, self._proc.returncode, out, err)

    def cancel(self) -> None:
        """Stop uv and reap it."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.communicate()


def start_uv(args: Sequence[str], cwd: str | Path, env: Mapping[str, str] | None = None) -> RunningUv:
    """Start `uv ARGS` in `cwd` and return at once (what `run_uv` does without waiting); UvError when uv is not
    there. For short read-only runs (`uv lock --check`) that lockgen overlaps with its own work."""
    argv = (find_uv(), *args)
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("UV_NO_PROGRESS", "1")
    try:
        proc = _popen(argv, cwd, full_env, own_session=False)
    except FileNotFoundError:
        raise UvError(f"uv was not found at {argv[0]}: install it or set $UV") from None
    return RunningUv(argv, proc)


def _popen(argv: Sequence[str], cwd: str | Path, env: Mapping[str, str], own_session: bool) -> subprocess.Popen[str]:
    """uv with its output piped as text, killed when lockgen dies; `own_session`: in its own process group, so that
    an interrupted lockgen can end it and anything it started."""
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_session,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL uv when lockgen dies (even by SIGKILL), so a killed lockgen
    never leaves a uv rewriting uv.lock behind it. Elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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
    with _popen(argv, cwd, env, own_session=True) as p:
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


@dataclass(frozen=True)
class UvFailure:
    """What kind of failure a non-zero uv run was, read from uv's own words.

    kind: "no-solution" (the resolver proved there is none), "network" (an index, a git host or a download could
    not be reached), "build" (a build backend failed while uv read a package's metadata), "offline" (--offline
    and the cache lacks something), "other"."""

    kind: str
    summary: str  # one line for people: what failed, naming the host or package when uv did
    host: str | None = None
    package: str | None = None
    detail: str = ""  # uv's most telling line (for places that do not print uv's whole message)

    def __str__(self) -> str:
        return f"{self.summary}: {self.detail}" if self.detail and self.detail not in self.summary else self.summary


_HOST_RE = re.compile(r"(?:https?|git\+https?|ssh)://(?:[^/@\s`'\"]+@)?([A-Za-z0-9.-]+(?::\d+)?)")
_BUILD_PKG_RE = re.compile(
    r"(?:Failed to (?:build|download and build)|Failed to prepare distributions|"
    r"Failed to (?:generate|resolve) (?:package )?metadata for)\s*:?\s*`([^`@= ]+)"
)
_NETWORK = (
    "dns error",
    "failed to lookup address",
    "network unreachable",
    "connection refused",
    "connection reset",
    "tcp connect error",
    "error sending request",
    "request failed after",
    "could not connect",
    "operation timed out",
    "failed to fetch",
    "failed to download",
    "git operation failed",
    "failed to clone",
    "name or service not known",
    "could not resolve host",
    "temporary failure in name resolution",
)
_OFFLINE = (
    "network was disabled",
    "network connectivity is disabled",
    "because --offline",
    "not found in the cache",
    "not in the cache",
)
_BUILD = (
    "failed to build",
    "build backend",
    "failed to prepare distributions",
    "build failure",
    "failed to generate package metadata",
    "the build backend returned an error",
)


def classify_uv_failure(stderr: str, returncode: int = 1) -> UvFailure:
    """Tell a non-zero uv run apart: no solution, network, build failure, offline cache miss, or other."""
    text = stderr or ""
    low = text.lower()
    last = _last_error_line(text) or f"uv exited with {returncode}"
    if any(k in low for k in _OFFLINE):
        return UvFailure("offline", "uv ran offline and its cache lacks what it needed", detail=last)
    if "no solution found" in low or "we can conclude that" in low or "unsatisfiable" in low:
        return UvFailure("no-solution", "uv found no solution", detail=last)
    if any(k in low for k in _BUILD):
        m = _BUILD_PKG_RE.search(text)
        pkg = m.group(1) if m else None
        return UvFailure(
            "build", f"building {pkg} failed" if pkg else "a build backend failed", package=pkg, detail=last
        )
    if any(k in low for k in _NETWORK):
        m = _HOST_RE.search(text)
        host = m.group(1) if m else None
        where = f"{host} could not be reached" if host else "a host could not be reached"
        return UvFailure("network", where, host=host, detail=last)
    return UvFailure("other", f"uv exited with code {returncode}", detail=last)


def _last_error_line(text: str) -> str:
    """uv's most telling line: the last `Caused by:` cause, else the first `error:` line, else the last line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    if lines[-1].startswith(("fatal:", "error:")) and len(lines) > 1:
        return lines[-1]
    causes = [ln for ln in lines if ln.startswith(("Caused by:", "cause:"))]
    if causes:
        return causes[-1].split(":", 1)[1].strip()
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[0].removeprefix("error:").strip()
    return lines[-1]
