"""Fleet -> uv constraints: caps on the CUDA runtime packages that keep uv's resolver inside the window.

PyPI's CUDA wheels declare their runtime as a dependency (`nvidia-cuda-runtime-cu12==12.8.90` up to torch
2.10, `cuda-toolkit[cudart]==13.0.2` / `nvidia-cuda-runtime==13.0.96` from torch 2.11). Bounding those
packages makes uv pick the newest torch/vllm/unsloth whose CUDA fits. A generation the window does not reach
at all is excluded with `<0` (no release satisfies it). Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lockgen.model.window import Window
from lockgen.tables.versions import CudaVersion


@dataclass(frozen=True)
class RuntimeGeneration:
    """A runtime package name and the CUDA majors its versions cover (its version is the CUDA version)."""

    name: str
    first_major: int
    last_major: int | None  # None: still current


RUNTIME_GENERATIONS = (
    RuntimeGeneration("nvidia-cuda-runtime-cu11", 11, 11),
    RuntimeGeneration("nvidia-cuda-runtime-cu12", 12, 12),
    RuntimeGeneration("nvidia-cuda-runtime", 13, None),
    RuntimeGeneration("cuda-toolkit", 12, None),
)
EXCLUDED = "<0"


def runtime_constraints(window: Window) -> tuple[str, ...]:
    """One constraint per runtime generation that keeps its CUDA inside [window.oldest, window.newest]."""
    out: list[str] = []
    lo, hi = window.oldest, window.newest
    for gen in RUNTIME_GENERATIONS:
        last = gen.last_major if gen.last_major is not None else 10**6
        if lo is None or hi is None or hi.major < gen.first_major or lo.major > last:
            out.append(f"{gen.name}{EXCLUDED}")
            continue
        parts = []
        if lo > CudaVersion(gen.first_major, 0):
            parts.append(f">={lo}")
        if hi.major <= last:
            parts.append(f"<{hi.major}.{hi.minor + 1}")
        if parts:
            out.append(gen.name + ",".join(parts))
    return tuple(out)


def exclusion_constraints(excluded: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """`name!=v1.*,!=v2.*` per package, for builds lockgen steers uv away from (sorted, deterministic).

    The `.*` also excludes the version's dev, pre and post releases (`xformers 0.0.35.dev1147` is the same
    CUDA 12 build as 0.0.35; without it uv picks that pre-release next)."""
    by_name: dict[str, set[str]] = {}
    for name, version in excluded:
        by_name.setdefault(name, set()).add(version.split("+")[0])
    return tuple(f"{n}" + ",".join(f"!={v}.*" for v in sorted(vs)) for n, vs in sorted(by_name.items()))
