"""`lockgen doctor`'s logic: is this machine right for this lock? Pure: a HostReport and a Workspace in, a
checklist out, each failure with the exact command that fixes it.

Checks: GPUs found; the driver is new enough for each target member's CUDA; every GPU's architecture is
supported by that CUDA and by the torch build; the installed torch is a CUDA build of the locked CUDA; the
installed versions equal the locked ones (drift); nvcc's CUDA matches torch's (source builds); libcuda.so.1
resolves; the environment's Python is the workspace's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from packaging.version import InvalidVersion, Version

from lockgen.errors import InputError
from lockgen.seams.host import HostGpu, HostReport, normalize
from lockgen.tables.knowledge import Gpu, Knowledge
from lockgen.tables.torch_arch import ArchTable, arch_entries, arch_supported, load_arch_table
from lockgen.tables.versions import CudaVersion, parse_cc

if TYPE_CHECKING:
    from lockgen.model.fleet import Fleet
    from lockgen.model.workspace import Workspace

Status = Literal["ok", "fail", "warn", "skip"]
PYTORCH_INDEX = "https://download.pytorch.org/whl"
DRIFT_SHOWN = 8
# Shown first in drift lists: the CUDA-linked family and the libraries the members are about.
KEY_PACKAGES = frozenset(
    {
        "torch",
        "torchvision",
        "torchaudio",
        "triton",
        "xformers",
        "flash-attn",
        "vllm",
        "flashinfer-python",
        "bitsandbytes",
        "transformers",
        "trl",
        "peft",
        "accelerate",
        "unsloth",
        "unsloth-zoo",
    }
)
PIP_SHOWN = 12


@dataclass(frozen=True)
class Check:
    """One line of the checklist. `fix` is the exact command (uv, in the workspace); `alt_fix` the same without uv."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    alt_fix: str | None = None

    @property
    def ok(self) -> bool:
        """False only for failures; warnings and skipped checks do not fail doctor."""
        return self.status != "fail"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix,
            "alt_fix": self.alt_fix,
        }


@dataclass(frozen=True)
class Target:
    """A workspace member the machine is checked against, with what its lock says."""

    member: str
    cuda: CudaVersion | None
    torch: str | None
    packages: Mapping[str, str] = field(default_factory=dict)  # locked name -> version (registry packages)
    workspace_packages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Diagnosis:
    """The checklist and what it was checked against."""

    targets: tuple[Target, ...]
    selection: str
    checks: tuple[Check, ...]

    @property
    def exit_code(self) -> int:
        """1 when any check failed, else 0."""
        return 1 if any(not c.ok for c in self.checks) else 0


def _archs_text(archs: tuple[str, ...]) -> str:
    return ", ".join(archs)


def _cc_range(ccs: frozenset[str]) -> str:
    ordered = sorted(ccs, key=parse_cc)
    return f"{ordered[0]}-{ordered[-1]}" if ordered else "none"


# ---- targets ---------------------------------------------------------------------------------------------------


def _target(ws: Workspace, member: str) -> Target:
    from lockgen.model.cudadetect import member_cuda_from

    installed = ws.installed(member)
    mc = member_cuda_from(member, installed)
    cuda = mc.cuda or (max(mc.versions) if mc.versions else None)
    packages = {n: p.version for n, p in installed.items() if p.version and not p.is_workspace}
    ws_packages = frozenset(n for n, p in installed.items() if p.is_workspace)
    return Target(member, cuda, mc.torch, packages, ws_packages)


def select_targets(host: HostReport, ws: Workspace, member: str | None) -> tuple[tuple[Target, ...], str, bool]:
    """The members to check: `member`, else the CUDA members installed in the environment, else every CUDA member.
    Returns (targets, how they were chosen, whether drift is meaningful)."""
    if member is not None:
        name = normalize(member)
        if name not in ws.members:
            known = ", ".join(sorted(ws.members)) or "none"
            raise InputError("pyproject.toml", "--member", f"{member!r} is not a workspace member (members: {known})")
        return (_target(ws, name),), f"{name} (--member)", True
    targets = [t for t in (_target(ws, m) for m in sorted(ws.members) if ws.lock.by_name(m)) if t.cuda is not None]
    installed = [t for t in targets if t.member in host.distributions]
    if installed:
        names = ", ".join(t.member for t in installed)
        return tuple(installed), f"{names} (installed in {host.environment})", True
    names = ", ".join(t.member for t in targets) or "none"
    return tuple(targets), f"no CUDA member is installed in {host.environment}; host checked against {names}", False


# ---- the checks ------------------------------------------------------------------------------------------------


def check_gpus(host: HostReport, require_gpu: bool) -> Check:
    """Whether the driver reports GPUs, and through which source."""
    if host.gpus:
        listed = "; ".join(f"{g.index}: {g.name}" + (f" ({g.cc})" if g.cc else "") for g in host.gpus)
        drv = f", driver {host.driver}" if host.driver else ""
        return Check("gpu", "ok", f"{len(host.gpus)} GPU(s) via {host.gpu_source}{drv}: {listed}")
    tried = "; ".join(host.notes) or "no source answered"
    if host.driver is not None:
        return Check(
            "gpu",
            "fail" if require_gpu else "warn",
            f"driver {host.driver} is loaded but no GPU is listed ({tried})",
            "check that the GPU is visible (CUDA_VISIBLE_DEVICES, container --gpus all)",
        )
    return Check(
        "gpu",
        "fail" if require_gpu else "warn",
        f"no NVIDIA GPU or driver found ({tried}); GPU checks are skipped, the rest is checked",
        "run on a GPU machine (in a container: --gpus all with the NVIDIA Container Toolkit)" if require_gpu else None,
    )


def check_driver(host: HostReport, target: Target, knowledge: Knowledge, fleet: Fleet | None) -> Check:
    """The driver is new enough for the target's CUDA (under the fleet's policy)."""
    name = f"driver[{target.member}]"
    if target.cuda is None:
        return Check(name, "skip", f"{target.member} has no CUDA-linked packages")
    policy = fleet.policy if fleet else "toolkit"
    need = knowledge.required_driver(target.cuda, policy)
    what = f"{target.member} is locked to CUDA {target.cuda}"
    if need is None:
        return Check(name, "warn", f"{what}, whose minimum driver lockgen does not know (tables/data/cuda.toml)")
    if host.driver is None:
        if host.libcuda.driver_cuda:
            drv_cuda = CudaVersion.parse(host.libcuda.driver_cuda)
            ok = drv_cuda >= target.cuda
            return Check(
                name,
                "ok" if ok else "fail",
                f"libcuda says the driver runs CUDA <= {drv_cuda}; {what}",
                None if ok else f"upgrade the NVIDIA driver to >= {need}",
            )
        return Check(name, "skip", f"no NVIDIA driver on this machine; {what}, which needs driver >= {need}")
    best = knowledge.max_cuda_for_driver(host.driver, policy)
    supports = (
        f"driver {host.driver} supports CUDA <= {best}"
        if best
        else f"driver {host.driver} runs no CUDA in lockgen's tables"
    )
    if knowledge.driver_runs(host.driver, target.cuda, policy):
        return Check(name, "ok", f"{supports}; {what} (needs >= {need})")
    detail = f"{supports}; {what}, which needs driver >= {need} ({policy} policy)"
    if fleet is None:
        fix = f"upgrade the NVIDIA driver to >= {need}, or install a torch built for CUDA <= {best}"
    elif knowledge.driver_runs(fleet.driver, target.cuda, policy):
        detail += f"; the fleet's driver is {fleet.driver}, so this machine is below the fleet"
        fix = f"upgrade this machine's NVIDIA driver to >= {need} (the fleet promises {fleet.driver})"
    else:
        fix = (
            f"upgrade the NVIDIA driver to >= {need}, or lower the fleet's driver to {host.driver.branch}: set "
            f'driver = "{host.driver}" in [tool.lockgen] of pyproject.toml and run `lockgen lock`'
        )
    return Check(name, "fail", detail, fix)


def _torch_archs(host: HostReport, target: Target | None, table: ArchTable) -> tuple[tuple[str, ...], str] | None:
    """The architectures of the torch that runs here: torch's own list (--deep), else the table for the installed
    torch, else the table for the locked torch."""
    if host.torch is not None and host.torch.arch_list:
        return host.torch.arch_list, f"torch {host.torch.version} (torch.cuda.get_arch_list())"
    if host.torch is not None and host.torch.cuda:
        row = table.lookup(host.torch.version, CudaVersion.parse(host.torch.cuda))
        if row:
            return row.archs, f"torch {host.torch.version} (lockgen's table, conf {row.conf})"
    if target is not None and target.torch and target.cuda:
        row = table.lookup(target.torch, target.cuda)
        if row:
            return row.archs, f"locked torch {target.torch} for CUDA {target.cuda} (lockgen's table, conf {row.conf})"
    return None


def gpu_lookup(knowledge: Knowledge, name: str) -> Gpu | None:
    """The table's GPU for a name as the driver reports it ("Tesla V100-SXM2-16GB", "NVIDIA H100 80GB HBM3"): an
    exact name or alias, else the name with trailing words (memory size, form factor) dropped one by one."""
    found = knowledge.gpu(name)
    if found is not None:
        return found
    words = name.replace("-", " ").split()
    for n in range(len(words) - 1, 0, -1):
        found = knowledge.gpu(" ".join(words[:n]))
        if found is not None:
            return found
    return None


def _gpu_cc(gpu: HostGpu, knowledge: Knowledge) -> tuple[str | None, str]:
    known = gpu_lookup(knowledge, gpu.name)
    cc = gpu.cc or (known.cc if known else None)
    arch = known.arch if known else ""
    return cc, arch


def _fleet_label(gpu: HostGpu, knowledge: Knowledge, cc: str) -> str:
    known = gpu_lookup(knowledge, gpu.name)
    return known.name if known else cc


def check_arch(
    host: HostReport, target: Target, knowledge: Knowledge, fleet: Fleet | None, table: ArchTable
) -> list[Check]:
    """Each GPU's architecture is supported by the target's CUDA and by its torch build."""
    out: list[Check] = []
    release = knowledge.release(target.cuda) if target.cuda else None
    archs = _torch_archs(host, target, table)
    for gpu in host.gpus:
        name = f"arch[{target.member}:gpu{gpu.index}]"
        cc, arch = _gpu_cc(gpu, knowledge)
        label = f"GPU {gpu.index} {gpu.name}"
        if cc is None:
            out.append(
                Check(
                    name,
                    "warn",
                    f"{label}: compute capability unknown (not in tables/data/cuda.toml); "
                    'add it to the fleet as its compute capability, e.g. "8.9"',
                )
            )
            continue
        desc = f"{label} (compute capability {cc}{', ' + arch if arch else ''})"
        if release is not None and not knowledge.cuda_targets(release.version, cc):
            fix = _arch_fix(gpu, cc, knowledge, fleet, target)
            out.append(
                Check(
                    name,
                    "fail",
                    f"{desc} cannot run CUDA {target.cuda} code: CUDA {target.cuda} targets "
                    f"{_cc_range(release.ccs)}; {target.member} is locked to CUDA {target.cuda}",
                    fix,
                )
            )
            continue
        if archs is not None:
            ok, how = arch_supported(cc, archs[0])
            if not ok:
                out.append(
                    Check(
                        name,
                        "fail",
                        f"{desc} has no kernels in {archs[1]}: built for {_archs_text(archs[0])}",
                        _arch_fix(gpu, cc, knowledge, fleet, target, archs[0]),
                    )
                )
                continue
            out.append(Check(name, "ok", f"{desc}: CUDA {target.cuda} and {archs[1]} run on it ({how})"))
        else:
            out.append(
                Check(
                    name,
                    "ok",
                    f"{desc}: CUDA {target.cuda} targets it (torch's architecture list unknown; "
                    "`lockgen doctor --deep` asks torch)",
                )
            )
    return out


def _arch_fix(
    gpu: HostGpu,
    cc: str,
    knowledge: Knowledge,
    fleet: Fleet | None,
    target: Target,
    archs: tuple[str, ...] | None = None,
) -> str:
    entries = arch_entries(archs) if archs else ()
    newest = max((e.cc for e in entries), default=None)
    if newest is not None and parse_cc(cc) > newest:
        return (
            "this GPU is newer than the build: move to a newer torch/CUDA with `lockgen bump torch` "
            f'(and add "{_fleet_label(gpu, knowledge, cc)}" to gpus in [tool.lockgen])'
        )
    label = _fleet_label(gpu, knowledge, cc)
    if fleet is None:
        return f"install a torch build whose CUDA supports compute capability {cc}"
    from lockgen.model.fleet import FleetGpu
    from lockgen.model.window import window_with_gpu

    window = window_with_gpu(fleet, FleetGpu(label, cc), knowledge)
    then = (
        f"the window then allows CUDA {window}"
        if window.allowed
        else "no CUDA in lockgen's tables serves it and the fleet"
    )
    return (
        f'add "{label}" to gpus in [tool.lockgen] of pyproject.toml and run `lockgen lock` ({then}), '
        f"or run {target.member} on a GPU that CUDA {target.cuda} supports"
    )


def check_fleet_gpus(host: HostReport, knowledge: Knowledge, fleet: Fleet) -> list[Check]:
    """GPUs of this machine that the fleet does not list (lockgen check cannot guard them)."""
    out = []
    fleet_ccs = {g.cc for g in fleet.gpus}
    for gpu in host.gpus:
        cc, _ = _gpu_cc(gpu, knowledge)
        if cc is not None and cc not in fleet_ccs:
            label = _fleet_label(gpu, knowledge, cc)
            out.append(
                Check(
                    f"fleet[gpu{gpu.index}]",
                    "warn",
                    f"GPU {gpu.index} {gpu.name} ({cc}) is not in the fleet ({', '.join(map(str, fleet.gpus))})",
                    f'add "{label}" to gpus in [tool.lockgen] of pyproject.toml and run `lockgen lock`',
                )
            )
    if host.driver is not None and not host.driver.satisfies(fleet.driver):
        out.append(
            Check(
                "fleet[driver]",
                "warn",
                f"this machine's driver {host.driver} is older than the fleet's {fleet.driver}",
                f'upgrade the driver to >= {fleet.driver}, or set driver = "{host.driver}" in [tool.lockgen] '
                "and run `lockgen lock`",
            )
        )
    return out


def _pip_torch(version: str | None, cuda: CudaVersion | None) -> str:
    pin = f"torch=={version.split('+')[0]}" if version else "torch"
    return f"pip install {pin} --index-url {PYTORCH_INDEX}/{cuda.label}" if cuda else f"pip install {pin}"


def check_torch(host: HostReport, target: Target | None) -> Check:
    """The installed torch is a CUDA build, of the target's CUDA."""
    name = f"torch[{target.member}]" if target else "torch"
    t = host.torch
    if t is None:
        return Check(name, "skip", f"torch is not installed in {host.environment}")
    member = target.member if target else None
    fix = f"uv sync --frozen --package {member} --reinstall-package torch" if member else None
    if t.cuda is None:
        return Check(
            name,
            "fail",
            f"torch {t.version} in {host.environment} is a CPU-only build (torch.version.cuda "
            f"is None){f'; {member} is locked to CUDA {target.cuda}' if target else ''}",
            fix or _pip_torch(t.version, None),
            _pip_torch(target.torch if target else t.version, target.cuda if target else None),
        )
    built = CudaVersion.parse(t.cuda)
    if target is not None and target.cuda is not None and built != target.cuda:
        return Check(
            name,
            "fail",
            f"torch {t.version} is built for CUDA {built}; {target.member} is locked to CUDA "
            f"{target.cuda} (torch {target.torch})",
            fix,
            _pip_torch(target.torch, target.cuda),
        )
    return Check(name, "ok", f"torch {t.version} built for CUDA {built}")


def check_deep(host: HostReport) -> Check | None:
    """What importing torch said (--deep): CUDA works on every GPU, or the error, explained by lockgen.ops.explain."""
    deep = host.deep
    if deep is None:
        return None
    if host.torch is None:
        return Check("deep", "skip", f"--deep: torch is not installed in {host.environment}")
    if deep.ok and (deep.cuda_available or not host.gpus):
        devices = "; ".join(f"{n} ({c})" for n, c in deep.devices) or "no GPU"
        archs = " ".join(deep.arch_list) or "none"
        return Check("deep", "ok", f"torch imports and ran a kernel on {devices}; its architectures: {archs}")
    said = " | ".join(deep.messages) or "no message"
    from lockgen.ops.explain import explain

    e = explain(said)
    if e.recognised:
        return Check(
            "deep",
            "fail",
            f"torch cannot use the GPU: {said[:400]}; lockgen explain: {e.cause}",
            e.fix_uv[0] if e.fix_uv else None,
            e.fix_pip[0] if e.fix_pip else None,
        )
    return Check(
        "deep",
        "fail",
        f"torch cannot use the GPU: {said[:400]}",
        "pass the message to `lockgen explain -` for the cause and fix",
    )


def check_drift(host: HostReport, target: Target) -> Check:
    """The installed versions equal the locked ones."""
    name = f"drift[{target.member}]"
    missing: list[str] = []
    differ: list[str] = []
    pins: list[str] = []
    for pkg, locked in sorted(target.packages.items(), key=lambda kv: (kv[0] not in KEY_PACKAGES, kv[0])):
        have = host.distributions.get(pkg)
        if have is None:
            missing.append(f"{pkg} (locked {locked})")
            pins.append(f"{pkg}=={locked}")
        elif not _same_version(have, locked):
            differ.append(f"{pkg} {have} (locked {locked})")
            pins.append(f"{pkg}=={locked}")
    if not missing and not differ:
        return Check(name, "ok", f"{len(target.packages)} installed packages match uv.lock")
    parts = differ + [f"missing {m}" for m in missing]
    shown = "; ".join(parts[:DRIFT_SHOWN]) + (
        f"; and {len(parts) - DRIFT_SHOWN} more" if len(parts) > DRIFT_SHOWN else ""
    )
    detail = f"{len(differ)} differ from uv.lock, {len(missing)} missing in {host.environment}: {shown}"
    alt = (
        ("pip install " + " ".join(pins))
        if len(pins) <= PIP_SHOWN
        else (
            "pip install -r requirements.txt, with requirements.txt written where uv exists: "
            f"uv export --frozen --package {target.member} --no-hashes -o requirements.txt"
        )
    )
    return Check(name, "fail", detail, f"uv sync --frozen --package {target.member}", alt)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def check_nvcc(host: HostReport, target: Target | None, lock_cuda: CudaVersion | None = None) -> Check:
    """nvcc's CUDA matches torch's (else the lock's), for extensions built from source (torch.utils.cpp_extension)."""
    lock_cuda = target.cuda if target is not None and target.cuda is not None else lock_cuda
    torch_cuda = CudaVersion.parse(host.torch.cuda) if host.torch and host.torch.cuda else lock_cuda
    member = target.member if target else None
    shell = f"nix develop .#{member or '<member>'}" if lock_cuda is not None else None
    if host.nvcc is None:
        hint = f" (`{shell}` provides CUDA {torch_cuda}'s nvcc)" if shell and torch_cuda else ""
        return Check(
            "nvcc",
            "skip",
            "no nvcc in CUDA_HOME or on PATH; only needed to build CUDA extensions from "
            f"source (flash-attn, ...){hint}",
        )
    where = f"nvcc {host.nvcc.cuda or '?'} ({host.nvcc.path}, via {host.nvcc.via})"
    if host.nvcc.cuda is None:
        return Check("nvcc", "warn", f"{where}: its CUDA release could not be read")
    if torch_cuda is None:
        return Check("nvcc", "ok", f"{where}; no CUDA torch to compare with")
    nv = CudaVersion.parse(host.nvcc.cuda)
    whose = "torch" if host.torch and host.torch.cuda else (f"{member}'s lock" if member else "the lock")
    fix = (
        f"`{shell}` (the flake's CUDA {torch_cuda} toolchain), or export CUDA_HOME=/usr/local/cuda-{torch_cuda}"
        if shell
        else f"export CUDA_HOME=/usr/local/cuda-{torch_cuda} (a CUDA {torch_cuda} toolkit)"
    )
    if nv.major != torch_cuda.major:
        return Check(
            "nvcc",
            "fail",
            f"{where} but {whose} uses CUDA {torch_cuda}: torch.utils.cpp_extension refuses a "
            "different CUDA major, so source builds (flash-attn, ...) fail",
            fix,
        )
    if nv != torch_cuda:
        return Check(
            "nvcc",
            "warn",
            f"{where} but {whose} uses CUDA {torch_cuda}: a minor mismatch builds with a "
            "warning; use the same CUDA to be safe",
            fix,
        )
    return Check("nvcc", "ok", f"{where} matches {whose} (CUDA {torch_cuda})")


def check_libcuda(host: HostReport) -> Check:
    """libcuda.so.1 (the user-space driver) resolves through the dynamic loader."""
    lib = host.libcuda
    if lib.loadable:
        says = f"; it runs CUDA <= {lib.driver_cuda}" if lib.driver_cuda else ""
        return Check("libcuda", "ok", f"libcuda.so.1 loads ({lib.path or 'path unknown'}){says}")
    if host.driver is None and not host.gpus:
        return Check("libcuda", "skip", "libcuda.so.1 does not load; expected without an NVIDIA driver")
    nix = [p for p in lib.found_in if "/run/opengl-driver/" in p]
    if nix or lib.found_in:
        d = (nix or list(lib.found_in))[0].rsplit("/", 1)[0]
        fix = f"export LD_LIBRARY_PATH={d}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
        where = f"; a copy exists in {d}, which the loader does not search"
    else:
        fix = (
            f"install the NVIDIA user-space driver matching the kernel module {host.driver} (in a container: "
            "--gpus all with the NVIDIA Container Toolkit)"
        )
        where = ""
    return Check("libcuda", "fail", f"libcuda.so.1 does not load ({lib.error or 'unknown error'}){where}", fix)


def check_python(host: HostReport, ws: Workspace) -> Check | None:
    """The inspected environment's Python matches .python-version."""
    if not ws.python_version or not host.python:
        return None
    want = ".".join(ws.python_version.split(".")[:2])
    if host.python != want:
        return Check(
            "python",
            "warn",
            f"{host.environment} runs Python {host.python}; the workspace uses {want} "
            "(.python-version): the locked wheels are for that Python",
            f"uv sync --frozen --python {want}",
        )
    return Check("python", "ok", f"Python {host.python} as in .python-version")


# ---- entry -----------------------------------------------------------------------------------------------------


def diagnose(
    host: HostReport,
    ws: Workspace | None,
    knowledge: Knowledge,
    member: str | None = None,
    *,
    require_gpu: bool = False,
    table: ArchTable | None = None,
) -> Diagnosis:
    """The checklist for this machine against the workspace's lock (or, outside a workspace, against the
    installed torch). Raises InputError for an unknown `member`."""
    table = table if table is not None else load_arch_table()
    checks: list[Check] = [check_gpus(host, require_gpu)]
    if ws is None:
        targets: tuple[Target, ...] = ()
        selection = "not in a uv workspace: checked against the installed torch"
        drift = False
    else:
        targets, selection, drift = select_targets(host, ws, member)
    fleet = ws.fleet if ws is not None else None
    if not targets and host.torch is not None and host.torch.cuda:
        # no lock to compare with: the installed torch is the target
        t = Target("installed torch", CudaVersion.parse(host.torch.cuda), host.torch.version)
        checks.append(check_driver(host, t, knowledge, None))
        checks += check_arch(host, t, knowledge, None, table)
    for t in targets:
        checks.append(check_driver(host, t, knowledge, fleet))
        checks += check_arch(host, t, knowledge, fleet, table)
    if fleet is not None:
        checks += check_fleet_gpus(host, knowledge, fleet)
    if drift:
        for t in targets:
            checks.append(check_torch(host, t))
            checks.append(check_drift(host, t))
    else:
        checks.append(check_torch(host, None))
        if ws is not None and targets:
            # each member in its own environment (`lockgen sync`, .venv-MEMBER), as the README says: installing one
            # into this (the root project's) environment is what mixes train and serve
            names = " or ".join(f"`lockgen sync {t.member}`" for t in targets)
            envs = " or ".join(f"`lockgen doctor --env .venv-{t.member}`" for t in targets)
            checks.append(
                Check(
                    "drift",
                    "warn",
                    f"no workspace member is installed in {host.environment}, so nothing to compare with uv.lock",
                    f"check a member's own environment: {envs} (install it first with {names})",
                )
            )
    lock_cudas = {t.cuda for t in targets if t.cuda is not None}
    lock_cuda = next(iter(lock_cudas)) if len(lock_cudas) == 1 else None
    checks.append(check_nvcc(host, targets[0] if len(targets) == 1 else None, lock_cuda))
    checks.append(check_libcuda(host))
    deep = check_deep(host)
    if deep is not None:
        checks.append(deep)
    if ws is not None:
        py = check_python(host, ws)
        if py is not None:
            checks.append(py)
    return Diagnosis(targets, selection, tuple(checks))
