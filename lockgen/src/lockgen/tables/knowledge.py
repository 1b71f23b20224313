"""CUDA/driver/GPU knowledge: the data tables in tables/data/cuda.toml as frozen values, and lookups over them.

`parse_knowledge` is pure (a parsed mapping in, values out); `load_knowledge` reads the packaged file once.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from lockgen.tables.versions import CudaVersion, DriverVersion, parse_cc

Policy = Literal["toolkit", "minor"]
POLICIES: tuple[str, ...] = ("toolkit", "minor")
DATA_FILE = "lockgen/tables/data/cuda.toml"


@dataclass(frozen=True)
class CudaRelease:
    """One CUDA toolkit release line (major.minor) and what it needs and supports."""

    version: CudaVersion
    toolkit_driver: DriverVersion | None  # None where NVIDIA's figure is unknown (conf U)
    ccs: frozenset[str]
    nix_attr: str
    conf: str
    source: str


@dataclass(frozen=True)
class Gpu:
    """A GPU model and its compute capability."""

    name: str
    aliases: tuple[str, ...]
    cc: str
    arch: str
    conf: str
    source: str


@dataclass(frozen=True)
class Knowledge:
    """All tables, with the lookups the window, the rules and the commands need."""

    releases: tuple[CudaRelease, ...]
    family_floors: tuple[tuple[int, DriverVersion], ...]
    gpus: tuple[Gpu, ...]
    sources: tuple[tuple[str, str], ...] = ()

    def release(self, version: CudaVersion) -> CudaRelease | None:
        """The release line for `version`, or None when the tables do not know it."""
        for r in self.releases:
            if r.version == version:
                return r
        return None

    def family_floor(self, major: int) -> DriverVersion | None:
        """The minor-version-compatibility floor of a CUDA major family (e.g. 13 -> 580.65.06)."""
        for m, d in self.family_floors:
            if m == major:
                return d
        return None

    def required_driver(self, version: CudaVersion, policy: Policy = "toolkit") -> DriverVersion | None:
        """The oldest driver that runs `version` under `policy`; None when unknown.

        "toolkit": the driver of the release's GA toolkit (NVIDIA's Table 3). "minor": the floor of its major family
        (minor-version compatibility, Table 2), which covers every minor of the family, listed or not."""
        if policy == "minor":
            return self.family_floor(version.major)
        release = self.release(version)
        return release.toolkit_driver if release is not None else None

    def driver_runs(self, driver: DriverVersion, cuda: CudaVersion, policy: Policy = "toolkit") -> bool | None:
        """Whether `driver` runs CUDA `cuda` under `policy`; None when lockgen does not know the minimum driver.

        The one answer to "does this driver run this CUDA": the window, steering, doctor, explain and the toolchain
        guard all ask here."""
        need = self.required_driver(cuda, policy)
        return None if need is None else driver.satisfies(need)

    def max_cuda_for_driver(self, driver: DriverVersion, policy: Policy = "toolkit") -> CudaVersion | None:
        """The newest CUDA in the tables that `driver` runs under `policy` (GPUs not considered)."""
        ok = [r.version for r in self.releases if self.driver_runs(driver, r.version, policy)]
        return max(ok) if ok else None

    def cuda_targets(self, cuda: CudaVersion, cc: str) -> bool | None:
        """Whether code that CUDA `cuda` builds runs on a GPU of compute capability `cc`; None when the tables do not
        know `cuda`. The one answer to "does CUDA X run on this GPU": the window, doctor and explain ask here.

        True when the toolkit targets `cc` itself or an older minor of the same major: a cubin for sm_XY runs on
        X.Z with Z >= Y (CUDA binary compatibility; tables/data/cuda.toml [sources] binary_compat). So CUDA 12.8,
        which targets 12.0, runs on GB10 (12.1) (spark_torch)."""
        release = self.release(cuda)
        if release is None:
            return None
        return any(cubin_runs_on(built, cc) for built in release.ccs)

    def cudas_for_cc(self, cc: str) -> tuple[CudaVersion, ...]:
        """Every CUDA in the tables whose code runs on compute capability `cc` (`cuda_targets`), oldest first."""
        return tuple(r.version for r in self.releases if self.cuda_targets(r.version, cc))

    @property
    def known_ccs(self) -> frozenset[str]:
        """Every compute capability some GPU row or toolkit row names."""
        out: set[str] = {g.cc for g in self.gpus}
        for r in self.releases:
            out |= r.ccs
        return frozenset(out)

    def gpu(self, name_or_cc: str) -> Gpu | None:
        """Find a GPU by name or alias (case and spacing ignored; "NVIDIA " prefix ignored)."""
        key = _norm(name_or_cc)
        for g in self.gpus:
            if key == _norm(g.name) or any(key == _norm(a) for a in g.aliases):
                return g
        return None

    def suggest_gpu(self, name: str) -> str | None:
        """The closest known GPU name to a misspelt one, for "did you mean" messages."""
        names = {_norm(n): n for g in self.gpus for n in (g.name, *g.aliases)}
        close = difflib.get_close_matches(_norm(name), list(names), n=1, cutoff=0.5)
        return names[close[0]] if close else None

    def source_text(self, key_list: str) -> str:
        """Expand source keys ("rn_table3; ccs: cmake_8031") into their citations."""
        table = dict(self.sources)
        out = key_list
        for k, v in table.items():
            out = out.replace(k, v)
        return out


def cubin_runs_on(built: str, cc: str) -> bool:
    """CUDA binary compatibility: a cubin built for compute capability `built` (sm_XY, "X.Y") runs on a GPU of compute
    capability `cc` (X.Z) when the majors are equal and Z >= Y; never on an older minor or another major. Source:
    NVIDIA's compatibility guides ("A cubin generated for a certain compute capability is supported to run on any GPU
    with the same major revision and same or higher minor revision"; tables/data/cuda.toml [sources] binary_compat).

    An architecture-specific target ("X.Ya", sm_90a, sm_100a) runs on X.Y only; a family-specific one ("X.Yf", CUDA
    12.9+) follows the plain rule (cuda.toml [sources] arch_specific)."""
    if built.endswith("a"):
        return parse_cc(built[:-1]) == parse_cc(cc)
    b, c = parse_cc(built.removesuffix("f")), parse_cc(cc)
    return b[0] == c[0] and b[1] <= c[1]


def _norm(s: str) -> str:
    s = " ".join(str(s).lower().replace("-", " ").replace("_", " ").split())
    for prefix in ("nvidia ", "tesla "):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    return s


def parse_knowledge(data: Mapping[str, Any], file: str = DATA_FILE) -> Knowledge:
    """Build Knowledge from the parsed data file; raise ValueError naming the row on a bad entry."""
    releases = []
    for i, row in enumerate(data.get("cuda", [])):
        try:
            drv = row.get("toolkit_driver") or ""
            releases.append(
                CudaRelease(
                    version=CudaVersion.parse(row["version"]),
                    toolkit_driver=DriverVersion.parse(drv) if drv and row.get("conf") != "U" else None,
                    ccs=frozenset(row["ccs"]),
                    nix_attr=row["nix_attr"],
                    conf=row["conf"],
                    source=row["source"],
                )
            )
            for cc in row["ccs"]:
                parse_cc(cc)
        except (KeyError, ValueError) as e:
            raise ValueError(f"{file}: cuda[{i}]: {e}") from e
    floors = []
    for major, row in data.get("family_floor", {}).items():
        floors.append((int(major), DriverVersion.parse(row["driver"])))
    gpus = []
    for i, row in enumerate(data.get("gpu", [])):
        try:
            parse_cc(row["cc"])
            gpus.append(
                Gpu(row["name"], tuple(row.get("aliases", ())), row["cc"], row["arch"], row["conf"], row["source"])
            )
        except (KeyError, ValueError) as e:
            raise ValueError(f"{file}: gpu[{i}]: {e}") from e
    return Knowledge(
        releases=tuple(sorted(releases, key=lambda r: r.version)),
        family_floors=tuple(sorted(floors)),
        gpus=tuple(gpus),
        sources=tuple(data.get("sources", {}).items()),
    )


@cache
def load_knowledge() -> Knowledge:
    """Read the packaged tables (once per process)."""
    text = resources.files("lockgen").joinpath("tables/data/cuda.toml").read_text(encoding="utf-8")
    return parse_knowledge(tomllib.loads(text))
