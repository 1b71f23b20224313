"""The CUDA window: the CUDA versions every machine of the fleet can run. A pure function of the tables."""

from __future__ import annotations

from dataclasses import dataclass

from lockgen.model.fleet import Fleet, FleetGpu
from lockgen.tables.knowledge import Knowledge
from lockgen.tables.versions import CudaVersion

MINOR_POLICY_WARNING = (
    "policy 'minor' relies on NVIDIA's minor-version compatibility: CUDA {versions} run on driver {driver} "
    "with a limited feature set. What can break: PTX that a newer toolkit generated cannot be JIT-compiled by "
    "this driver (cudaErrorUnsupportedPtxVersion) - a wheel that ships only PTX for a GPU, or compiles kernels "
    "at run time (Triton, nvrtc), needs the toolkit's own driver - and APIs newer than the driver are missing. "
    "Use policy 'toolkit' (the default) unless you have tested this."
)


@dataclass(frozen=True)
class Exclusion:
    """Why one CUDA version is outside the window: the driver, or a GPU, or missing knowledge."""

    cuda: CudaVersion
    reason: str  # "driver" | "gpu" | "unknown"
    detail: str


@dataclass(frozen=True)
class Window:
    """The CUDA versions allowed for a fleet, and why the others are not."""

    fleet: Fleet
    allowed: tuple[CudaVersion, ...]
    excluded: tuple[Exclusion, ...]
    warnings: tuple[str, ...] = ()

    def allows(self, version: CudaVersion) -> bool:
        """Whether `version` lies inside the window."""
        return version in self.allowed

    @property
    def newest(self) -> CudaVersion | None:
        """The newest allowed CUDA, or None for an empty window."""
        return max(self.allowed) if self.allowed else None

    @property
    def oldest(self) -> CudaVersion | None:
        """The oldest allowed CUDA, or None for an empty window."""
        return min(self.allowed) if self.allowed else None

    def why_excluded(self, version: CudaVersion) -> str | None:
        """A sentence naming the driver or GPU that excludes `version`; None when it is allowed."""
        if self.allows(version):
            return None
        reasons = [e.detail for e in self.excluded if e.cuda == version]
        if not reasons:
            return f"CUDA {version} is not in lockgen's tables (known releases are listed in tables/data/cuda.toml)"
        return "; ".join(reasons)

    def __str__(self) -> str:
        if not self.allowed:
            return "empty"
        return f"{self.oldest}-{self.newest}"


def cuda_window(fleet: Fleet, knowledge: Knowledge) -> Window:
    """Compute the window: CUDA versions the fleet's driver runs (per its policy) whose code runs on every fleet GPU
    (`Knowledge.driver_runs`, `Knowledge.cuda_targets`: the one place each question is answered)."""
    allowed: list[CudaVersion] = []
    excluded: list[Exclusion] = []
    for release in knowledge.releases:
        v = release.version
        reasons: list[Exclusion] = []
        runs = knowledge.driver_runs(fleet.driver, v, fleet.policy)
        if runs is None:
            reasons.append(Exclusion(v, "unknown", f"NVIDIA's minimum driver for CUDA {v} is not known to lockgen"))
        elif not runs:
            need = knowledge.required_driver(v, fleet.policy)
            what = "family floor" if fleet.policy == "minor" else "toolkit driver"
            reasons.append(
                Exclusion(v, "driver", f"CUDA {v} needs driver >= {need} ({what}); the fleet has {fleet.driver}")
            )
        for gpu in fleet.gpus:
            if not knowledge.cuda_targets(v, gpu.cc):
                reasons.append(Exclusion(v, "gpu", f"CUDA {v} cannot target {gpu} (compute capability {gpu.cc})"))
        if reasons:
            excluded.extend(reasons)
        else:
            allowed.append(v)
    warnings: tuple[str, ...] = ()
    if fleet.policy == "minor":
        beyond = [v for v in allowed if not knowledge.driver_runs(fleet.driver, v, "toolkit")]
        if beyond:
            warnings = (MINOR_POLICY_WARNING.format(versions=", ".join(map(str, beyond)), driver=fleet.driver),)
    return Window(fleet=fleet, allowed=tuple(allowed), excluded=tuple(excluded), warnings=warnings)


def window_with_gpu(fleet: Fleet, gpu: FleetGpu, knowledge: Knowledge) -> Window:
    """The window of `fleet` with one more GPU (doctor's and explain's "add it to the fleet and the window becomes")."""
    return cuda_window(Fleet(fleet.driver, (*fleet.gpus, gpu), fleet.policy), knowledge)
