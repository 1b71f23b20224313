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
        """The oldest driver that runs `version` under `policy`; None when unknown."""
        release = self.release(version)
        if release is None:
            return None
        if policy == "minor":
            return self.family_floor(version.major)
        return release.toolkit_driver

    def max_cuda_for_driver(self, driver: DriverVersion, policy: Policy = "toolkit") -> CudaVersion | None:
        """The newest CUDA that `driver` runs under `policy` (GPUs not considered)."""
        ok = [
            r.version for r in self.releases if (d := self.required_driver(r.version, policy)) and driver.satisfies(d)
        ]
        return max(ok) if ok else None

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
