"""An oracle for the corpus tests that shares no code with lockgen.

It reads a ``uv.lock`` with :mod:`tomllib`, collects the CUDA evidence each package carries on each Linux
platform, and says whether every CUDA found runs on a fleet's driver and GPUs. It deliberately imports nothing
from ``lockgen`` (a test checks that), so a bug in lockgen's own tables or lock model cannot hide here.

Evidence (per package version in the lock):

- a local version ``+cuXYZ`` (``2.8.0+cu128``, ``0.26.0+cu129``, ``2.8.3+cu128torch2.11``, or in a later
  segment or after another tag: ``3.0.0+20260318.cu130torch2100``, ``0.21.6+torch2100cu128``): CUDA X.Y;
  ``+cu12torch2.5...`` (major only) counts as the oldest release of that major (12.0);
- the version of a CUDA runtime package: ``nvidia-cuda-runtime-cu11`` / ``-cu12`` (``12.8.90`` -> 12.8),
  ``nvidia-cuda-runtime`` (CUDA 13 naming, ``13.0.96`` -> 13.0) and ``cuda-toolkit`` (``12.8.1`` -> 12.8).

Platforms (per package version) come from its wheel tags: ``manylinux*``/``musllinux*``/``linux_*`` ending in
``x86_64`` or ``aarch64``, and ``any`` for both; a package without wheels (sdist, git, directory) could be built on
either, so it counts for both. Markers are not evaluated: a version the lock holds with a Linux wheel counts.

A CUDA release is named by major.minor (a ``+cu128`` tag carries nothing finer), and its minimum driver is the one
NVIDIA lists for that release's GA build (Table 3 below), the conservative "toolkit driver" reading.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LINUX_PLATFORMS = ("x86_64", "aarch64")

# NVIDIA CUDA Toolkit Release Notes, Table 3 "CUDA Toolkit and Corresponding Driver Versions", column
# "Toolkit Driver Version, Linux x86_64", GA row of each release:
#   https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#id7
#   (per release: https://docs.nvidia.com/cuda/archive/<X.Y.Z>/cuda-toolkit-release-notes/index.html)
# Typed from the table, not copied from lockgen's data files.
MIN_DRIVER_LINUX: dict[tuple[int, int], str] = {
    (11, 0): "450.51.05",  # CUDA 11.0.2 GA (11.0.1 RC said 450.36.06)
    (11, 1): "455.23",
    (11, 2): "460.27.03",
    (11, 3): "465.19.01",
    (11, 4): "470.42.01",
    (11, 5): "495.29.05",
    (11, 6): "510.39.01",
    (11, 7): "515.43.04",
    (11, 8): "520.61.05",
    (12, 0): "525.60.13",
    (12, 1): "530.30.02",
    (12, 2): "535.54.03",
    (12, 3): "545.23.06",
    (12, 4): "550.54.14",
    (12, 5): "555.42.02",
    (12, 6): "560.28.03",
    (12, 8): "570.26",
    (12, 9): "575.51.03",
    (13, 0): "580.65.06",
    (13, 1): "590.44.01",
}

# The oldest CUDA whose nvcc targets a GPU (compute capability), only for the GPUs the corpus fleets name.
# A100 = sm_80 (CUDA 11.0 added Ampere), H100 = sm_90 (CUDA 11.8 added Hopper): NVIDIA Ampere and Hopper
# tuning guides, https://docs.nvidia.com/cuda/ampere-tuning-guide/ and https://docs.nvidia.com/cuda/hopper-tuning-guide/
# (CUDA 13.0 drops only sm_50..sm_70, so no newer CUDA leaves these GPUs out.)
MIN_CUDA_FOR_GPU: dict[str, tuple[int, int]] = {"A100": (11, 0), "H100": (11, 8)}

RUNTIME_PACKAGES = ("nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime", "cuda-toolkit")

_LOCAL_CUDA = re.compile(r"cu(\d{2,3})(?!\d)")


@dataclass(frozen=True, order=True)
class Cuda:
    """A CUDA release as major.minor; ``minor is None`` when only the major is known (``+cu12``)."""

    major: int
    minor: int | None = None

    def __str__(self) -> str:
        return f"{self.major}" if self.minor is None else f"{self.major}.{self.minor}"

    @property
    def release(self) -> tuple[int, int]:
        """The release whose driver floor applies: the major's first release when the minor is unknown."""
        if self.minor is not None:
            return (self.major, self.minor)
        known = [release for release in MIN_DRIVER_LINUX if release[0] == self.major]
        return min(known) if known else (self.major, 0)


@dataclass(frozen=True)
class Evidence:
    """One package version that names a CUDA on a platform."""

    package: str
    version: str
    cuda: Cuda
    how: str  # "local version" or "runtime version"


@dataclass(frozen=True)
class Verdict:
    """The oracle's answer for one lock and one fleet."""

    inside: bool
    offending: tuple[str, ...] = ()  # "12.8 (linux x86_64: torch 2.8.0+cu128, ...)"
    cudas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # platform -> CUDA versions found

    @property
    def word(self) -> str:
        return "inside" if self.inside else "outside"


def parse_driver(driver: str) -> tuple[int, ...]:
    """``"535.54.03"`` -> ``(535, 54, 3)``."""
    return tuple(int(part) for part in driver.split("."))


def cuda_of_local(version: str) -> Cuda | None:
    """The CUDA a local version names: ``2.8.0+cu128`` -> 12.8, ``2.8.3+cu12torch2.5`` -> 12, else None.

    The tag may sit anywhere in the local version: ``3.0.0+20260318.cu128torch2100...``, ``0.21.6+torch2100cu128``.
    """
    if "+" not in version:
        return None
    m = _LOCAL_CUDA.search(version.split("+", 1)[1])
    if not m:  # "+cpu", "+rocm6.4", "+29d31c0" (hex has no "u") ...
        return None
    digits = m.group(1)
    if len(digits) == 2:  # "cu12": the major only
        return Cuda(int(digits))
    return Cuda(int(digits[:-1]), int(digits[-1]))  # "cu128" -> 12.8, "cu118" -> 11.8, "cu92" -> 9.2


def cuda_of_runtime(name: str, version: str) -> Cuda | None:
    """The CUDA a runtime package's version names: ``nvidia-cuda-runtime-cu12 12.8.90`` -> 12.8."""
    if name not in RUNTIME_PACKAGES:
        return None
    parts = version.split("+", 1)[0].split(".")
    return Cuda(int(parts[0]), int(parts[1]))


def _wheel_filename(wheel: dict, source: dict) -> str:
    for key in ("filename", "url", "path"):
        if key in wheel:
            return str(wheel[key]).rsplit("/", 1)[-1]
    for key in ("url", "path"):
        if key in source:
            return str(source[key]).rsplit("/", 1)[-1]
    return ""


def wheel_platforms(filename: str) -> set[str]:
    """The Linux platforms one wheel file installs on (``any`` -> both)."""
    if not filename.endswith(".whl"):
        return set(LINUX_PLATFORMS)
    tags = filename[: -len(".whl")].split("-")[-1].split(".")
    found: set[str] = set()
    for tag in tags:
        if tag == "any":
            found.update(LINUX_PLATFORMS)
        elif tag.startswith(("manylinux", "musllinux", "linux")):
            found.update(p for p in LINUX_PLATFORMS if tag.endswith(p))
    return found


def package_platforms(package: dict) -> set[str]:
    """The Linux platforms a locked package version can be installed on, read from its wheel tags."""
    wheels = package.get("wheels", [])
    if not wheels:
        return set(LINUX_PLATFORMS)
    found: set[str] = set()
    for wheel in wheels:
        found |= wheel_platforms(_wheel_filename(wheel, package.get("source", {})))
    return found


def evidence(lock: dict) -> dict[str, list[Evidence]]:
    """Linux platform -> every piece of CUDA evidence in the lock for it."""
    out: dict[str, list[Evidence]] = {p: [] for p in LINUX_PLATFORMS}
    for package in lock.get("package", []):
        name, version = package["name"], package.get("version", "")
        found = []
        local = cuda_of_local(version)
        if local is not None:
            found.append(Evidence(name, version, local, "local version"))
        runtime = cuda_of_runtime(name, version)
        if runtime is not None:
            found.append(Evidence(name, version, runtime, "runtime version"))
        if not found:
            continue
        for platform in package_platforms(package):
            out[platform].extend(found)
    return out


def runs_on(cuda: Cuda, driver: str, gpus: list[str]) -> bool:
    """Does this CUDA run on the driver and target every GPU? Unknown releases are outside (no floor known)."""
    floor = MIN_DRIVER_LINUX.get(cuda.release)
    if floor is None or parse_driver(driver) < parse_driver(floor):
        return False
    return all(cuda.release >= MIN_CUDA_FOR_GPU[gpu] for gpu in gpus)


def verdict(lock: dict, driver: str, gpus: list[str]) -> Verdict:
    """ "inside" when every CUDA found for Linux runs on the fleet, else "outside" with the offending CUDAs."""
    found = evidence(lock)
    offending: dict[Cuda, list[str]] = {}
    for platform, items in found.items():
        for item in items:
            if not runs_on(item.cuda, driver, gpus):
                offending.setdefault(item.cuda, []).append(f"{platform}: {item.package} {item.version}")
    cudas = {p: tuple(str(c) for c in sorted({i.cuda for i in items})) for p, items in found.items()}
    lines = tuple(
        f"{cuda} ({', '.join(sorted(set(where))[:3])}{', ...' if len(set(where)) > 3 else ''})"
        for cuda, where in sorted(offending.items())
    )
    return Verdict(inside=not offending, offending=lines, cudas=cudas)


def load_lock(path: Path) -> dict:
    """Parse a uv.lock file."""
    with path.open("rb") as f:
        return tomllib.load(f)
