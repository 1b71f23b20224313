"""CUDA detection for locked packages and members, from what the lock records.

Signals, strongest first:
- a local version label: `torch 2.10.0+cu128` -> CUDA 12.8;
- a CUDA runtime package and its version: `nvidia-cuda-runtime-cu12 12.8.90`, `nvidia-cuda-runtime 13.0.96`,
  `cuda-toolkit 13.0.3` -> 12.8 / 13.0 / 13.0 (never `nvidia-nvjitlink`, which resolves far newer than the runtime);
- a `-cuXX` name suffix (`nvidia-cudnn-cu13`, `cupy-cuda12x`): only the major.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lockgen.model.lockfile import Lock, LockedPackage
from lockgen.model.projection import member_packages
from lockgen.tables.versions import CudaVersion

RUNTIME_PACKAGES = frozenset(
    {
        "nvidia-cuda-runtime",
        "nvidia-cuda-runtime-cu11",
        "nvidia-cuda-runtime-cu12",
        "nvidia-cuda-runtime-cu13",
        "cuda-toolkit",
    }
)
TORCH = "torch"
_LOCAL_RE = re.compile(r"\+cu(\d{3,4})\b")
_SUFFIX_RES = (re.compile(r"-cu(\d{2,3})$"), re.compile(r"-cuda(\d{2})x?$"), re.compile(r"-cuda(\d{2})-"))


@dataclass(frozen=True)
class CudaEvidence:
    """One reason to believe a package is built for a CUDA version (or at least a CUDA major)."""

    package: str
    version: str | None
    major: int
    cuda: CudaVersion | None  # None when only the major is known
    how: str

    def __str__(self) -> str:
        what = f"CUDA {self.cuda}" if self.cuda else f"CUDA {self.major}.x"
        return f"{self.package} {self.version} ({what}, {self.how})"


def own_evidence(pkg: LockedPackage) -> tuple[CudaEvidence, ...]:
    """Evidence carried by the package itself: its local label, being a runtime package, or its name suffix."""
    out: list[CudaEvidence] = []
    version = pkg.version or ""
    m = _LOCAL_RE.search(version)
    if m:
        v = CudaVersion.parse("cu" + m.group(1))
        out.append(CudaEvidence(pkg.name, pkg.version, v.major, v, f"local version +{v.label}"))
    if pkg.name in RUNTIME_PACKAGES and version:
        try:
            v = CudaVersion.parse(version.split("+")[0])
        except ValueError:
            pass
        else:
            out.append(CudaEvidence(pkg.name, pkg.version, v.major, v, "CUDA runtime package"))
    for rx in _SUFFIX_RES:
        s = rx.search(pkg.name)
        if s:
            digits = s.group(1)
            major = int(digits[:2]) if len(digits) == 3 else int(digits)
            out.append(CudaEvidence(pkg.name, pkg.version, major, None, f"name suffix for CUDA {major}"))
            break
    return tuple(out)


def package_cuda(pkg: LockedPackage, installed: Mapping[str, LockedPackage]) -> tuple[CudaEvidence, ...]:
    """Evidence for `pkg`: its own, plus the runtime packages it depends on directly (as installed)."""
    out = list(own_evidence(pkg))
    for dep in pkg.dependencies:
        if dep.name in RUNTIME_PACKAGES and dep.name in installed:
            for ev in own_evidence(installed[dep.name]):
                if ev.cuda is not None:
                    out.append(
                        CudaEvidence(pkg.name, pkg.version, ev.major, ev.cuda, f"requires {dep.name} {ev.version}")
                    )
    return tuple(out)


# NVIDIA's CUDA library wheels (cu12 names carry a suffix, CUDA 13 names do not). nvidia-ml-py (NVML bindings,
# pulled in by nvitop, pynvml) and other nvidia-* tools are not CUDA builds.
_CUDA_LIB_RE = re.compile(
    r"^nvidia-(cuda-|cublas|cudnn|cufft|cufile|curand|cusolver|cusparse|nccl|nvjitlink|nvtx|nvshmem|npp|nvjpeg|"
    r"nvrtc|cutlass|nvcomp|cudss|nvimgcodec)"
)


def is_cuda_library(name: str) -> bool:
    """Whether `name` is one of NVIDIA's CUDA runtime/library wheels (not nvidia-ml-py and friends)."""
    return name in RUNTIME_PACKAGES or bool(_CUDA_LIB_RE.match(name))


def ships_cuda_build(pkg: LockedPackage, installed: Mapping[str, LockedPackage]) -> bool:
    """Whether the locked build of `pkg` is CUDA-specific - what `strict-pin` demands `==` for. Evidence: a local
    `+cuXYZ` version, a CUDA runtime or library package itself, a `-cu12`/`-cuda12x` name, a direct dependency on
    NVIDIA's CUDA library wheels (torch, cupy), or a row in lockgen's build table (xformers, vllm, flash-attn,
    bitsandbytes). A package that only imports torch (accelerate, peft) is not: its wheel is the same for every CUDA."""
    if pkg.source.kind not in ("registry", "url", "path"):
        return False
    if own_evidence(pkg) or is_cuda_library(pkg.name):
        return True
    if any(is_cuda_library(d.name) and d.name in installed for d in pkg.dependencies):
        return True
    if pkg.version:
        from lockgen.seams.elfscan import lookup_build

        if lookup_build(pkg.name, pkg.version.split("+")[0]) is not None:
            return True
    return False


def is_cuda_linked(pkg: LockedPackage, installed: Mapping[str, LockedPackage]) -> bool:
    """torch, anything with CUDA evidence, and anything that depends directly on torch or on an nvidia runtime."""
    if pkg.name == TORCH or own_evidence(pkg):
        return True
    for dep in pkg.dependencies:
        if dep.name not in installed:
            continue
        if dep.name == TORCH or is_cuda_library(dep.name):
            return True
    return False


def _suffix_base(name: str) -> str:
    for rx in _SUFFIX_RES:
        m = rx.search(name)
        if m:
            return name[: m.start()]
    return name


@dataclass(frozen=True)
class MemberCuda:
    """The CUDA a member resolves to, with the evidence; `versions` has more than one entry when it is mixed."""

    member: str
    versions: tuple[CudaVersion, ...]
    majors: tuple[int, ...]
    torch: str | None
    evidence: tuple[CudaEvidence, ...]

    @property
    def cuda(self) -> CudaVersion | None:
        """The CUDA the environment needs: its newest build's when every build shares one major (builds of one
        major share libcudart.so.N; the newest decides the driver), else None (CPU-only, majors only, or mixed)."""
        return max(self.versions) if self.versions and self.consistent else None

    @property
    def consistent(self) -> bool:
        """Every CUDA build of the environment is for one CUDA major (12.8 torch beside a 12.9 vLLM build is one
        major; a CUDA 12 library beside a CUDA 13 torch is not: they need different libcudart SONAMEs)."""
        majors = set(self.majors) | {v.major for v in self.versions}
        return len(majors) <= 1


def member_cuda_from(member: str, installed: Mapping[str, LockedPackage]) -> MemberCuda:
    """Summarise the CUDA of an already projected member."""
    evidence: list[CudaEvidence] = []
    for pkg in installed.values():
        evidence.extend(own_evidence(pkg))
    versions = tuple(sorted({e.cuda for e in evidence if e.cuda is not None}))
    # A package family installed in builds for several majors (nvidia-cutlass-dsl-libs-cu12 and -cu13, both
    # pulled in by nvidia-cutlass-dsl[cu13]) lets its consumer pick one at run time: when one of the builds
    # matches the runtime's major, the others are not evidence of a mismatch.
    runtime_majors = {v.major for v in versions}
    by_base: dict[str, set[int]] = {}
    for e in evidence:
        if e.cuda is None:
            by_base.setdefault(_suffix_base(e.package), set()).add(e.major)

    # With no runtime at all (a CPU torch on aarch64), such a family is alternatives, not evidence of one CUDA.
    def alternatives(e: CudaEvidence) -> bool:
        majors = by_base.get(_suffix_base(e.package), set())
        if runtime_majors & majors:
            return e.major not in runtime_majors
        return not runtime_majors and len(majors) > 1

    evidence = [e for e in evidence if e.cuda is not None or not alternatives(e)]
    majors = tuple(sorted({e.major for e in evidence}))
    torch = installed[TORCH].version if TORCH in installed else None
    return MemberCuda(member, versions, majors, torch, tuple(evidence))


def member_cuda(lock: Lock, member: str) -> MemberCuda:
    """The CUDA `member` resolves to in `lock`."""
    return member_cuda_from(member, member_packages(lock, member))
