"""`lockgen matrix` as a use case: per NVIDIA driver, what `lockgen lock` would resolve to, as a JSON-ready document
(its fields: docs/json.md).

The project is copied once, under the workspace lock, to a base staging copy (lockgen.seams.stage); each row copies the
base to its own directory, sets the driver (and GPUs) there and runs the lock steps (`resolve.relock_here`) in it:
its own pyprojects and uv.lock, one uv cache shared by every row (uv's cache is built for concurrent use:
docs.astral.sh/uv/concepts/cache/#cache-safety). Rows run in at most `jobs` forked worker processes at once
(lockgen's own part of a row is Python: threads would share one core); they come back in driver order whatever
order they finish in.

Nothing stays behind: every staging copy lives under one temporary directory that is removed at the end. A failing
row is a result (its copy is removed at once). An interrupt (Ctrl-C, SIGTERM, SIGHUP) stops the workers - each ends
its uv (lockgen.seams.uvtool), and a worker that dies takes its uv with it (PR_SET_PDEATHSIG) - reaps them, and removes
the directory before lockgen exits.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lockgen.errors import LockgenError
from lockgen.seams.txn import Interrupted, atomic_write
from lockgen.seams.uvtool import UvResult
from lockgen.ui import JSON_SCHEMA, Reporter

Row = dict[str, Any]  # one row of `matrix --json` (docs/json.md)
OnRow = Callable[[int, Row, float], None]  # (rows finished so far, the row, its seconds)

PREPARE_AHEAD = 6  # while uv's cache is revalidated, up to this many times --jobs rows copy and plan ahead
KILL_AFTER = 5.0  # seconds a stopped worker gets to end its uv and remove its copy before SIGKILL


class MatrixInterrupted(Interrupted):
    """SIGINT, SIGTERM or SIGHUP arrived while matrix rows were running."""


def default_jobs() -> int:
    """How many rows run at once by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_drivers(knowledge: Any, first_branch: int = 535) -> list[str]:
    """One driver per branch that lockgen's tables name as a CUDA toolkit driver, from `first_branch` on."""
    branches = sorted({r.toolkit_driver.branch for r in knowledge.releases if r.toolkit_driver})
    return [str(b) for b in branches if b >= first_branch]


def headline(ws: Any, member: str) -> list[str]:
    """What a row shows for a member: torch, then the member's own CUDA-linked dependencies (vllm; unsloth ...)."""
    from lockgen.model.cudadetect import is_cuda_linked
    from lockgen.plan.edit import requirement_names

    installed = ws.installed(member)
    direct = sorted(
        n
        for n in requirement_names(ws.members[member].data)
        if n in installed and is_cuda_linked(installed[n], installed)
    )
    return ["torch", *[n for n in direct if n != "torch"]]


def row_window(ws: Any, driver: str, gpus: Sequence[str] | None) -> Any:
    """The CUDA window the fleet would have with `driver` (and `gpus`), everything else as the project says."""
    from lockgen.model.fleet import fleet_from_config
    from lockgen.model.window import cuda_window

    table = {**ws.lockgen_config, "driver": driver, **({"gpus": list(gpus)} if gpus else {})}
    return cuda_window(fleet_from_config(table, ws.knowledge), ws.knowledge)


def new_row(driver: str, window: Any) -> Row:
    """A row before its resolution: the driver and its window, nothing resolved."""
    return {
        "driver": driver,
        "window": str(window),
        "window_cuda": [str(v) for v in window.allowed],
        "status": "ok",
        "kind": None,
        "error": None,
        "members": {},
        "environments": [],
        "runs": None,
    }


def fail_row(row: Row, kind: str, message: str) -> Row:
    """Mark `row` failed with `kind` and the first line of `message`."""
    row["kind"] = kind
    row["status"] = "outside-window" if kind == "outside-window" else "failed"
    row["error"] = message.splitlines()[0].removeprefix("no solution: ") if message else kind
    return row


def kind_of(e: Exception) -> str:
    """The `kind` of a failed row: no-solution, network, build, offline, empty-window, check, error."""
    from lockgen.ops.resolve import CheckFailed, EmptyWindow, ResolutionFailed

    explicit = getattr(e, "kind", None)
    if explicit:
        return str(explicit)
    if isinstance(e, ResolutionFailed):
        return "no-solution"
    if isinstance(e, EmptyWindow):
        return "empty-window"
    if isinstance(e, CheckFailed):
        return "check"
    return "error"


class Slots:
    """At most N rows resolving at once, across worker processes: a pipe holding one byte per free slot (the idea of
    GNU make's jobserver). A worker takes a slot before its first uv run and gives it back when its row ends; a
    worker that prepares its row (copy, plan) while uv's cache is revalidated holds none."""

    def __init__(self, n: int) -> None:
        self.r, self.w = os.pipe()
        os.write(self.w, b"+" * n)
        self.held = False  # per process: a forked worker starts without one

    def take(self) -> None:
        """Wait for a free slot (once per row)."""
        if not self.held:
            os.read(self.r, 1)
            self.held = True

    def give_back(self) -> None:
        """Free the slot this process holds, if any."""
        if self.held:
            os.write(self.w, b"+")
            self.held = False

    def close(self) -> None:
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


def cache_first(
    args: Sequence[str], cwd: Path, ready: Path | None = None, slots: Slots | None = None, **kwargs: Any
) -> UvResult:
    """A row's uv: `uv lock` from uv's cache first (`--offline`: no revalidation request per index page), online
    when that fails for a reason other than a plain "no solution" (a page or a file the cache lacks, a network or
    build failure, which must be told online). With `ready`, waits until that file exists: the matrix's one
    revalidation of the cache (`start_refresh`) has ended - when it failed (the file says so), every run is online,
    as `lock` runs it; with `slots`, until a slot is free."""
    from lockgen.seams.uvtool import classify_uv_failure, run_uv

    while ready is not None and not ready.exists():
        time.sleep(0.02)
    if slots is not None:
        slots.take()
    fresh = ready is None or ready.read_text(encoding="utf-8") == "revalidated"
    if fresh and args and args[0] == "lock" and "--offline" not in args:
        res = run_uv([*args, "--offline"], cwd, **kwargs)
        if res.returncode == 0 or classify_uv_failure(res.stderr, res.returncode).kind == "no-solution":
            return res
    return run_uv(args, cwd, **kwargs)


REFRESH = ("lock", "--dry-run", "--refresh")  # every index page and file the project's resolution reads, revalidated


def start_refresh(base: Path) -> subprocess.Popen[bytes]:
    """Start the matrix's one revalidation of uv's cache (`uv lock --dry-run --refresh` in the base copy: nothing is
    written), so that rows resolving from the cache see the index as `lock` would. Its stdout pipe closes when it
    ends (a selector can wait on it); it runs in its own session and dies with lockgen (PR_SET_PDEATHSIG)."""
    from lockgen.seams.uvtool import _die_with_parent, find_uv

    return subprocess.Popen(
        [find_uv(), *REFRESH],
        cwd=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _end_process(proc: subprocess.Popen[bytes]) -> None:
    """Kill a helper process and everything in its session, and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def own_files(ws: Any, base: Path) -> frozenset[str]:
    """The files of the staged project that a row changes: its uv.lock and the workspace's pyprojects."""
    files = [base / "uv.lock", base / "pyproject.toml", *(base / m.pyproject_file for m in ws.members.values())]
    return frozenset(str(f) for f in files)


def skeleton_copy(root: Path, ws: Any, dest: Path) -> Path:
    """uv.lock and the workspace's pyprojects alone, copied to `dest`: enough for uv to revalidate the cache for a
    project whose metadata is static, while the full staging copy is being made."""
    for rel in dict.fromkeys(["pyproject.toml", "uv.lock", *(m.pyproject_file for m in ws.members.values())]):
        src = root / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def row_copy(base_dir: Path, base: Path, dest: Path, copied: frozenset[str] = frozenset()) -> Path:
    """A row's own copy of the base staging copy, the shared `.git` and symbolic links included, without a git run:
    the files in `copied` (`own_files`) are copied, every other file is a hard link to the base's (a fifth of the
    time of copying them all). Nothing a row writes reaches the base or another row: lockgen and uv replace files by
    rename (txn.atomic_write; uv writes uv.lock to a new file), never in place. Returns the project root in the copy."""

    def link_or_copy(src: str, dst: str) -> None:
        if src not in copied:
            try:
                os.link(src, dst)
                return
            except OSError:  # a file system without hard links: copy
                pass
        shutil.copy2(src, dst)

    shutil.copytree(base_dir, dest, symlinks=True, copy_function=link_or_copy)
    return dest / base.relative_to(base_dir)


def compute_row(
    base_dir: Path,
    base: Path,
    driver: str,
    gpus: Sequence[str] | None,
    window: Any,
    verify: bool,
    dest: Path,
    reporter: Reporter | None = None,
    runner: Callable[..., UvResult] | None = None,
    copied: frozenset[str] = frozenset(),
) -> Row:
    """One row: copy the base staging copy (`base_dir`, the project at `base` in it) to `dest`, set the driver (and
    GPUs), lock there, read the result. The copy is removed before this returns, whatever happens."""
    import tomlkit

    from lockgen.model.workspace import load_workspace
    from lockgen.ops.resolve import Request, relock_here
    from lockgen.plan.hooks import pre_exclude, steer

    row = new_row(driver, window)
    try:
        stage = row_copy(base_dir, base, dest, copied)
        doc = tomlkit.parse((stage / "pyproject.toml").read_text(encoding="utf-8"))
        doc.setdefault("tool", {}).setdefault("lockgen", {})["driver"] = driver
        if gpus:
            doc["tool"]["lockgen"]["gpus"] = list(gpus)
        atomic_write(stage / "pyproject.toml", tomlkit.dumps(doc).encode("utf-8"))
        try:
            quiet = Reporter(quiet=True)
            relock_here(
                stage,
                Request("lock"),
                quiet,
                runner or cache_first,
                pre_exclude=pre_exclude,
                steer=steer,
                finalize=False,
            )
            final = load_workspace(stage)
            _read_environments(row, final, window)
            if verify:  # lockgen verify on the row's lock: "runs on this host"
                from lockgen.ops.verify import matrix_verdicts

                row["runs"] = matrix_verdicts(stage, reporter or Reporter(quiet=True))
                for cell in row["environments"]:
                    if cell["environment"] == cell["project"]:
                        cell["verify"] = row["runs"].get(cell["project"])
        except Interrupted:
            raise
        except LockgenError as e:
            fail_row(row, kind_of(e), str(e))
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    return row


def _read_environments(row: Row, final: Any, window: Any) -> None:
    """Fill `members` and `environments` from the row's lock; an environment outside its own window fails the row."""
    outside = []
    for env in final.environments:
        if not env.has_cuda:
            continue
        installed = env.platforms[0].installed
        mc = env.platforms[0].cuda
        info: dict[str, str | None] = {"cuda": str(mc.cuda) if mc.cuda else None}
        if env.project in final.members and env.label == env.project:
            info |= {h: installed[h].version for h in headline(final, env.project) if h in installed}
        elif "torch" in installed:
            info["torch"] = installed["torch"].version
        row["members"][env.label] = info
        bad_here = []
        for v in env.platforms:
            bad = [str(c) for c in v.cuda.versions if not window.allows(c)]
            if bad or (v.cuda.majors and not v.cuda.consistent):
                bad_here.append(f"{env.label} (linux {v.platform}): CUDA {', '.join(bad) or 'mixed'}")
        outside += bad_here
        row["environments"].append(
            {
                "environment": env.label,
                "project": env.project,
                "cuda": info["cuda"],
                "torch": info.get("torch"),
                "packages": {k: v for k, v in info.items() if k != "cuda"},
                "in_window": not bad_here,
                "verify": None,
            }
        )
    if outside:
        fail_row(row, "outside-window", f"resolved outside its own window {window}: " + "; ".join(outside))


def run_matrix(
    root: Path,
    drivers: Sequence[str],
    gpus: Sequence[str] | None = None,
    verify: bool = False,
    jobs: int | None = None,
    on_row: OnRow | None = None,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """The matrix document for `drivers` (docs/json.md): rows in driver order, `on_row` called in this process as
    each row finishes. At most `jobs` rows at once (default: the CPUs); `jobs=1` runs them here, one after another."""
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.resolve import empty_window_message, stage_copy
    from lockgen.seams.txn import WorkspaceLock

    jobs = jobs or default_jobs()
    ws = load_workspace(root)
    windows = [row_window(ws, d, gpus) for d in drivers]
    rows: list[Row | None] = [None] * len(drivers)
    done = 0

    def finished(i: int, row: Row, seconds: float) -> None:
        nonlocal done
        rows[i], done = row, done + 1
        if on_row is not None:
            on_row(done, row, seconds)

    todo = []
    for i, (d, w) in enumerate(zip(drivers, windows, strict=True)):
        if w.allowed:
            todo.append(i)
        else:  # what `lock` says at once (resolve.EmptyWindow): no copy, no uv
            finished(i, fail_row(new_row(d, w), "empty-window", empty_window_message(w)), 0.0)
    lock_bytes = (root / "uv.lock").read_bytes() if (root / "uv.lock").is_file() else b""
    with _interrupts_raise(), tempfile.TemporaryDirectory(prefix="lockgen-matrix-") as tmp:
        top = Path(tmp)
        if todo:
            # uv's cache is revalidated from a skeleton of the project while the project is copied
            t_refresh = time.monotonic()
            refresh = start_refresh(skeleton_copy(root, ws, top / "skeleton"))
            slots = Slots(jobs)
            try:
                with WorkspaceLock(root):  # one consistent snapshot of the project, never a half-applied one
                    base = stage_copy(root, top / "base", ws)  # lean when uv builds nothing
                    lock_bytes = (base / "uv.lock").read_bytes() if (base / "uv.lock").is_file() else b""
                if refresh.poll() not in (None, 0):  # the skeleton was not enough (built metadata, path sources)
                    _end_process(refresh)
                    refresh = start_refresh(base)
            except BaseException:
                _end_process(refresh)
                slots.close()
                raise
            copied = own_files(ws, base)
            ready = top / "cache-revalidated"

            def revalidated(rc: int) -> None:
                atomic_write(ready, b"revalidated" if rc == 0 else b"failed")
                if reporter is not None:
                    said = "revalidated" if rc == 0 else "could not be revalidated: every row resolves online"
                    reporter.step(f"uv's cache: {said} ({time.monotonic() - t_refresh:.1f}s)")

            def one(i: int, here: bool) -> Row:
                runner = functools.partial(cache_first, ready=ready, slots=None if here else slots)
                return compute_row(
                    top / "base", base, drivers[i], gpus, windows[i], verify, top / f"row-{i}",
                    reporter if here else None, runner, copied,
                )  # fmt: skip

            try:
                if jobs == 1 or len(todo) == 1 or not hasattr(os, "fork"):
                    refresh.communicate()
                    revalidated(refresh.returncode)
                    for i in todo:
                        t0 = time.monotonic()
                        finished(i, one(i, True), time.monotonic() - t0)
                else:  # rows copy and plan while the cache is revalidated; their first uv waits for it
                    work = _in_workers(lambda i: one(i, False), todo, jobs, refresh, revalidated, slots)
                    with contextlib.closing(work) as results:
                        for i, result, seconds in results:
                            finished(i, result, seconds)
            finally:
                _end_process(refresh)
                slots.close()
    out = [r for r in rows if r is not None]
    return {
        "schema": JSON_SCHEMA,
        "project": root.name,
        "fleet": {
            "driver": str(ws.fleet.driver),
            "gpus": [[g.label, g.cc] for g in ws.fleet.gpus],
            "policy": ws.fleet.policy,
        },
        "lock": {
            "file": "uv.lock",
            "sha256": hashlib.sha256(lock_bytes).hexdigest() if lock_bytes else None,
            "exclude_newer": _str_or_none(ws.uv_config.get("exclude-newer")),
        },
        "gpus": list(gpus) if gpus else None,
        "verify": verify,
        "rows": out,
        "failed": sum(1 for r in out if r["error"]),
    }


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# -- worker processes --


def _in_workers(
    fn: Callable[[int], Row],
    items: Sequence[int],
    jobs: int,
    side: subprocess.Popen[bytes] | None = None,
    side_done: Callable[[int], None] | None = None,
    slots: Slots | None = None,
) -> Generator[tuple[int, Row, float], None, None]:
    """(item, fn(item), seconds) for every item, each computed in a forked worker process, yielded as they finish;
    `side_done(returncode)` is called here when the `side` process ends. At most `jobs` workers at once; with
    `slots` (which bound the rows resolving to `jobs` themselves), up to PREPARE_AHEAD times as many, so that rows copy
    and plan while the side process (the cache revalidation) runs. On any exception here (an interrupt) every worker
    is stopped and reaped first."""
    limit = jobs if slots is None else jobs * PREPARE_AHEAD
    pending = list(items)
    running: dict[int, tuple[int, int, float, bytearray]] = {}  # pid -> (item, read fd, start, data)
    sel = selectors.DefaultSelector()
    if side is not None and side.stdout is not None:
        sel.register(side.stdout, selectors.EVENT_READ, None)
    try:
        while pending or running:
            while pending and len(running) < limit:
                item = pending.pop(0)
                pid, fd = _fork_worker(fn, item, slots)
                running[pid] = (item, fd, time.monotonic(), bytearray())
                sel.register(fd, selectors.EVENT_READ, pid)
            for key, _ in sel.select():
                pid = key.data
                if pid is None and side is not None and side.stdout is not None:  # the side process
                    if not side.stdout.read1(1 << 16):  # type: ignore[attr-defined]
                        sel.unregister(side.stdout)
                        if side_done is not None:
                            side_done(side.wait())
                    continue
                item, fd, t0, data = running[pid]
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    data += chunk
                    continue
                sel.unregister(fd)
                os.close(fd)
                del running[pid]
                _, status = os.waitpid(pid, 0)
                yield item, _result(bytes(data), status), time.monotonic() - t0
    finally:
        sel.close()
        if running:
            _stop_workers(running)


def _result(data: bytes, status: int) -> Row:
    """What a worker sent back; a worker that died without a word, or hit a bug, is an error."""
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = {}
    if "row" in payload:
        return dict(payload["row"])
    if payload.get("interrupted"):
        raise MatrixInterrupted("interrupted: a matrix worker was stopped")
    if "bug" in payload:
        raise LockgenError(f"internal error in a matrix row: {payload['bug']}")
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.waitstatus_to_exitcode(status)}"
    raise LockgenError(f"a matrix worker died ({how}) before it returned its row")


def _fork_worker(fn: Callable[[int], Row], item: int, slots: Slots | None = None) -> tuple[int, int]:
    """Start a worker computing fn(item); (its pid, the fd its JSON answer arrives on). The worker gives its slot
    back when its row ends."""
    r, w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 0
        try:
            os.close(r)
            _worker_signals()
            try:
                payload: dict[str, Any] = {"row": fn(item)}
            except (KeyboardInterrupt, Interrupted):
                payload, code = {"interrupted": True}, 130
            except BaseException as e:  # a bug in a row: the parent says so
                payload, code = {"bug": f"{type(e).__name__}: {e}"}, 3
            if slots is not None:
                slots.give_back()
            data = json.dumps(payload).encode("utf-8")
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _worker_signals() -> None:
    """In a worker: the first SIGINT/SIGTERM/SIGHUP raises KeyboardInterrupt (its uv is ended and its copy removed
    on the way out), later ones are ignored so that clean-up runs to its end; the worker gets SIGTERM when lockgen
    itself dies."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # lockgen died before the line above: stop at once
        raise SystemExit(130)


def _stop_workers(running: dict[int, tuple[int, int, float, bytearray]]) -> None:
    """SIGTERM every worker, give them KILL_AFTER seconds to end their uv and remove their copies, SIGKILL the rest
    (their uv dies with them), reap them all. Signals are ignored meanwhile, so a second Ctrl-C cannot cut it short."""
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):
            old[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        for pid, (_, fd, _, _) in running.items():
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER
        left = set(running)
        while left:
            for pid in list(left):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        if time.monotonic() < deadline:
                            continue
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                left.discard(pid)
            if left:
                time.sleep(0.02)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _interrupts_raise() -> Iterator[None]:
    """While rows run, SIGINT, SIGTERM and SIGHUP raise MatrixInterrupted here (SIGTERM would otherwise end lockgen
    without removing the staging copies); outside the main thread nothing is installed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise MatrixInterrupted(
            f"interrupted by {signal.Signals(signum).name}: the rows were stopped and their staging copies removed"
        )

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
