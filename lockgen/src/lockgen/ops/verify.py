"""`lockgen verify`: install each member from the lock into a throwaway venv and prove that it runs.

For each member: `uv sync --frozen --package M` into a temporary venv (UV_PROJECT_ENVIRONMENT; uv's cache keeps it
fast, `--offline` needs no network when the cache has the wheels), then the probes of lockgen/verify_probe.py run
with that venv's Python: every top-level module of the member's direct dependencies imports; torch's CUDA equals
the lock's; transformers sees torch; a tokenizer round trip (and vLLM's own tokenizer loading) where transformers is
present; then the member's smoke command when it declares one (`[tool.lockgen] verify-smoke`). Each probe is ok,
needs-gpu (expected on a CPU host) or broken (the error's last line, and ops.explain's reading when it has one).
The venvs are removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lockgen.errors import InputError, LockgenError
from lockgen.model.workspace import Workspace
from lockgen.seams.uvtool import UvResult, run_uv
from lockgen.ui import Reporter

OK, NEEDS_GPU, BROKEN, SKIPPED = "ok", "needs-gpu", "broken", "skipped"
SMOKE_KEY = "tool.lockgen.verify-smoke"
PROBE_SCRIPT = Path(__file__).with_name("verify_probe.py")
# Failures that mean "there is no GPU here", not "this environment is broken" (besides lockgen.ops.explain's classes).
NO_GPU_MARKERS = (
    "NEEDS-GPU:",
    "libcuda.so",
    "Found no NVIDIA driver",
    "No CUDA GPUs are available",
    "NVIDIA driver on your system is too old",
    "NVML Shared Library Not Found",
    "nvidia-smi",
    "CUDA driver initialization failed",
    "no CUDA-capable device",
    "only works on NVIDIA GPUs",  # Unsloth 2025.x on a host without a GPU
    "cannot find any torch accelerator",  # Unsloth, later wording
)
NO_GPU_CLASSES = ("cuda_unavailable_no_driver",)
# Packages whose presence makes a member worth verifying even without CUDA evidence.
ML_PACKAGES = frozenset({"torch", "transformers", "tokenizers", "vllm", "jax", "tensorflow"})


@dataclass(frozen=True)
class ProbeResult:
    """One probe: what it checked, how it went, and for a failure the error's last line and lockgen's reading."""

    probe: str
    status: str
    detail: str = ""
    error: str | None = None  # the last line of the error
    reading: str | None = None  # lockgen.ops.explain's reading of the error, when it recognises it

    def to_json(self) -> dict[str, Any]:
        """A plain dict for --json."""
        return asdict(self)


@dataclass(frozen=True)
class MemberResult:
    """Everything verify found for one member."""

    member: str
    probes: tuple[ProbeResult, ...]
    install_seconds: float
    probe_seconds: float
    installed: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def broken(self) -> tuple[ProbeResult, ...]:
        """The probes that failed for a reason other than a missing GPU."""
        return tuple(p for p in self.probes if p.status == BROKEN)

    def counts(self) -> dict[str, int]:
        """How many probes ended in each status."""
        out: dict[str, int] = {}
        for p in self.probes:
            out[p.status] = out.get(p.status, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """A plain dict for --json."""
        return {
            "member": self.member,
            "installed": self.installed,
            "install_seconds": round(self.install_seconds, 1),
            "probe_seconds": round(self.probe_seconds, 1),
            "counts": self.counts(),
            "probes": [p.to_json() for p in self.probes],
            "notes": list(self.notes),
        }


# -- what to verify --


def default_members(ws: Workspace) -> list[str]:
    """Members with CUDA-linked or ML packages (lockgen itself, CPU-only tooling, is left out)."""
    from lockgen.model.cudadetect import is_cuda_linked

    out = []
    for m in ws.members:
        if not ws.lock.by_name(m):
            continue
        installed = ws.installed(m)
        if any(n in ML_PACKAGES for n in installed) or any(is_cuda_linked(p, installed) for p in installed.values()):
            out.append(m)
    return out


def direct_dists(ws: Workspace, member: str) -> list[str]:
    """The member's direct dependencies that its locked environment installs (markers applied by the projection)."""
    from lockgen.plan.edit import requirement_names

    installed = ws.installed(member)
    return sorted(n for n in requirement_names(ws.members[member].data) if n in installed)


def smoke_command(ws: Workspace, member: str) -> list[str] | None:
    """`[tool.lockgen] verify-smoke` of the member's pyproject: the command (a list of strings; `{work}` is a work
    directory shared by the members of one verify run, in workspace order), or None. InputError when malformed."""
    m = ws.members[member]
    value = m.data.get("tool", {}).get("lockgen", {}).get("verify-smoke")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a for a in value):
        raise InputError(
            m.pyproject_file,
            SMOKE_KEY,
            'expected a command as a list of strings, e.g. ["train-smoke", "--out", "{work}"]',
        )
    return list(value)


def lock_cuda(ws: Workspace, member: str) -> str | None:
    """The CUDA version (major.minor) the lock gives the member's torch, or None."""
    from lockgen.model.cudadetect import member_cuda_from

    mc = member_cuda_from(member, ws.installed(member))
    return str(mc.cuda) if mc.cuda else None


# -- reading failures --


def last_line(text: str) -> str:
    """The last non-empty line of an error or output (the exception line of a traceback)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def classify(error_text: str) -> tuple[str, str | None]:
    """(status, ops.explain's reading) for a failed probe, judged by the failure itself - the error's last line -
    not by what was logged before it (vLLM warns about a missing driver and then fails for another reason):
    needs-gpu when that line says there is no GPU or driver, else broken."""
    from lockgen.ops.explain import explain

    last = last_line(error_text)
    try:
        ex = explain(last)
    except LockgenError:
        ex = None
    reading = None
    if ex is not None and ex.recognised:
        reading = ex.cause or ex.title
    if any(m in last for m in NO_GPU_MARKERS) or (ex is not None and ex.category in NO_GPU_CLASSES):
        return NEEDS_GPU, reading
    return BROKEN, reading


def result_from_line(raw: Mapping[str, Any]) -> ProbeResult:
    """A ProbeResult from one JSON line of verify_probe.py."""
    status, error = str(raw.get("status", BROKEN)), str(raw.get("error") or "")
    if status == OK:
        return ProbeResult(str(raw.get("probe")), OK, str(raw.get("detail") or ""))
    status, reading = classify(error)
    line = last_line(error)
    if "NEEDS-GPU: " in line:
        line = line.split("NEEDS-GPU: ", 1)[1]
    detail = "expected on a CPU host" if status == NEEDS_GPU else ""
    return ProbeResult(str(raw.get("probe")), status, detail, line, reading)


# -- running --

Runner = Callable[..., UvResult]


def install(
    ws: Workspace,
    member: str,
    venv: Path,
    offline: bool,
    reporter: Reporter,
    runner: Runner = run_uv,
    install_project: bool = True,
) -> UvResult:
    """`uv sync --frozen --package M` into `venv` (the lock decides everything; nothing is resolved).
    `install_project=False` installs only the member's dependencies (a staged copy without the members' sources)."""
    args = ["sync", "--frozen", "--package", member, "--no-progress"]
    if offline:
        args.append("--offline")
    if not install_project:
        args.append("--no-install-workspace")
    return runner(args, cwd=ws.root, env={"UV_PROJECT_ENVIRONMENT": str(venv)})


def venv_python(venv: Path) -> Path:
    """The venv's interpreter."""
    return venv / "bin" / "python"


def run_probes(
    python: Path, spec: Mapping[str, Any], reporter: Reporter, member: str, timeout: float
) -> list[ProbeResult]:
    """Run verify_probe.py with `python`, streaming one result per line (printed as they come)."""
    results: list[ProbeResult] = []
    seen_done = False
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    with (
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            [str(python), str(PROBE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            start_new_session=True,
        ) as p,
    ):
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write(json.dumps(spec))
        p.stdin.close()
        deadline = time.monotonic() + timeout
        # a probe that hangs (an import waiting on a device) prints nothing: the watchdog ends it at the deadline
        watchdog = threading.Timer(timeout, _kill_group, (p,))
        watchdog.daemon = True
        watchdog.start()
        for line in p.stdout:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue  # a library printed to stdout
            if raw.get("probe") == "done":
                seen_done = True
                continue
            r = result_from_line(raw)
            results.append(r)
            reporter.step(f"{member}: {_line(r)}")
            if time.monotonic() > deadline:
                _kill_group(p)
                break
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(p)
            p.wait()
        watchdog.cancel()
        err.seek(0)
        stderr = err.read()
    if not seen_done:
        timed_out = time.monotonic() >= deadline
        why = (
            f"the probes did not finish within {timeout:.0f} s (--timeout)"
            if timed_out
            else f"the probe process ended early (exit code {p.returncode})"
        )
        tail = last_line(stderr) or why
        status, reading = classify(stderr)
        results.append(ProbeResult("probe process", status, why, tail, reading))
        reporter.step(f"{member}: {_line(results[-1])}")
    return results


def _kill_group(p: subprocess.Popen[str]) -> None:
    """End a probe process and anything it started (it runs in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)


def run_smoke(
    venv: Path, command: Sequence[str], work: Path, member: str, reporter: Reporter, timeout: float
) -> ProbeResult:
    """The member's smoke command inside its venv: exit 0 ok, 2 skipped (it could not start: a usage error, e.g. no
    model from an earlier member), anything else broken."""
    argv = [a.replace("{work}", str(work)) for a in command]
    beside = venv / "bin" / argv[0]
    if beside.exists():
        argv[0] = str(beside)
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    name = f"smoke: {' '.join(command)}"
    reporter.step(f"{member}: running {name}")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except FileNotFoundError:
        return ProbeResult(name, BROKEN, "", f"{command[0]}: not found in the venv or on PATH")
    except subprocess.TimeoutExpired:
        return ProbeResult(name, BROKEN, "", f"did not finish within {timeout:.0f} s")
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return ProbeResult(name, OK, last_line(proc.stdout) or last_line(out))
    if proc.returncode == 2:
        return ProbeResult(name, SKIPPED, last_line(out))
    status, reading = classify(out)
    return ProbeResult(name, status, f"exit code {proc.returncode}", last_line(out), reading)


def verify_member(
    ws: Workspace,
    member: str,
    reporter: Reporter,
    work: Path,
    offline: bool = False,
    smoke: bool = True,
    timeout: float = 900.0,
    runner: Runner = run_uv,
    install_project: bool = True,
) -> MemberResult:
    """Install one member into a throwaway venv, probe it, remove the venv."""
    with tempfile.TemporaryDirectory(prefix=f"lockgen-verify-{member}-") as tmp:
        venv = Path(tmp) / "venv"
        reporter.step(f"{member}: installing from the lock (uv sync --frozen --package {member})")
        t0 = time.monotonic()
        res = install(ws, member, venv, offline, reporter, runner, install_project)
        t_install = time.monotonic() - t0
        if res.returncode != 0:
            tail = last_line(res.stderr) or f"uv exit code {res.returncode}"
            hint = " (uv's cache lacks a wheel: run without --offline once)" if offline else ""
            probe = ProbeResult("install", BROKEN, f"uv sync --frozen --package {member}", tail + hint)
            reporter.step(f"{member}: {_line(probe)}")
            return MemberResult(member, (probe,), t_install, 0.0, installed=False)
        reporter.step(f"{member}: installed in {t_install:.1f}s; probing")
        spec = {"dists": direct_dists(ws, member), "torch_cuda": lock_cuda(ws, member)}
        t1 = time.monotonic()
        probes = run_probes(venv_python(venv), spec, reporter, member, timeout)
        command = smoke_command(ws, member) if smoke else None
        if command:
            probes.append(run_smoke(venv, command, work, member, reporter, timeout))
            reporter.step(f"{member}: {_line(probes[-1])}")
        return MemberResult(member, tuple(probes), t_install, time.monotonic() - t1)


def verify(
    ws: Workspace,
    members: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    offline: bool = False,
    smoke: bool = True,
    timeout: float = 900.0,
    runner: Runner = run_uv,
    install_project: bool = True,
) -> list[MemberResult]:
    """Verify `members` (default: every member with CUDA-linked or ML packages), in workspace order."""
    reporter = reporter or Reporter(quiet=True)
    if members:
        unknown = [m for m in members if m not in ws.members]
        if unknown:
            raise LockgenError(
                f"not a member of this workspace: {', '.join(unknown)} (members: {', '.join(ws.members)})"
            )
        missing = [m for m in members if not ws.lock.by_name(m)]
        if missing:
            raise LockgenError(f"uv.lock has no entry for {', '.join(missing)}: run `uv lock` or `lockgen lock` first")
        chosen = [m for m in ws.members if m in members]
    else:
        chosen = default_members(ws)
    if not chosen:
        return []
    work = Path(tempfile.mkdtemp(prefix="lockgen-verify-work-"))
    try:
        return [verify_member(ws, m, reporter, work, offline, smoke, timeout, runner, install_project) for m in chosen]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _line(r: ProbeResult) -> str:
    text = f"{r.status:<9} {r.probe}"
    if r.detail:
        text += f": {r.detail}"
    if r.error:
        text += f" - {r.error}"
    return text


def format_report(results: Sequence[MemberResult]) -> list[str]:
    """The human summary: per member, each probe that is not ok (ok probes only counted), then the counts."""
    out = []
    for r in results:
        counts = r.counts()
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        out.append(f"{r.member}: {summary} (install {r.install_seconds:.1f}s, probes {r.probe_seconds:.1f}s)")
        for p in r.probes:
            if p.status == OK:
                continue
            out.append(f"  {_line(p)}")
            if p.reading:
                out.append(f"    lockgen explain: {p.reading}")
    return out


def matrix_verdicts(root: Path, reporter: Reporter | None = None, offline: bool = False) -> dict[str, str]:
    """For `lockgen matrix --verify`: member -> "ok", "ok (no GPU here)" or "broken: PROBE - ERROR", for the staged
    copy at `root` (its members' sources are not staged: their dependencies are installed, the smokes skipped)."""
    from lockgen.model.workspace import load_workspace

    out = {}
    for r in verify(load_workspace(root), reporter=reporter, offline=offline, smoke=False, install_project=False):
        if r.broken:
            first = r.broken[0]
            more = f" (+{len(r.broken) - 1} more)" if len(r.broken) > 1 else ""
            out[r.member] = f"broken: {first.probe} - {first.error}{more}"
        else:
            gpu = any(p.status == NEEDS_GPU for p in r.probes)
            out[r.member] = "ok (no GPU here)" if gpu else "ok"
    return out
