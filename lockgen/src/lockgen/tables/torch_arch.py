"""tables/data/torch_arch.toml as frozen values: the GPU architectures compiled into PyTorch's wheels, and whether a
build with a given architecture list runs on a compute capability (`arch_supported`)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from lockgen.tables.knowledge import cubin_runs_on
from lockgen.tables.versions import CudaVersion, parse_cc


@dataclass(frozen=True)
class ArchRow:
    """The architectures of one family of torch wheels."""

    cudas: tuple[CudaVersion, ...]
    torch: SpecifierSet
    archs: tuple[str, ...]  # "7.5", "12.0+PTX"
    conf: str
    source: str


@dataclass(frozen=True)
class ArchTable:
    """All rows; `lookup` finds the row for one torch build."""

    rows: tuple[ArchRow, ...]

    def lookup(self, torch_version: str, cuda: CudaVersion) -> ArchRow | None:
        """The row for torch `torch_version` built for `cuda`, or None when the table does not cover it."""
        try:
            v = Version(Version(torch_version).public)
        except InvalidVersion:
            return None
        for row in self.rows:
            if cuda in row.cudas and row.torch.contains(v, prereleases=True):
                return row
        return None


def parse_arch_table(data: Mapping[str, Any], file: str = "lockgen/tables/data/torch_arch.toml") -> ArchTable:
    """Build the table from the parsed data file; ValueError naming the row when malformed."""
    rows = []
    for i, row in enumerate(data.get("build", [])):
        try:
            archs = tuple(str(a) for a in row["archs"])
            for a in archs:
                parse_cc(a.removesuffix("+PTX"))
            rows.append(
                ArchRow(
                    tuple(CudaVersion.parse(c) for c in row["cuda"]),
                    SpecifierSet(row["torch"]),
                    archs,
                    row["conf"],
                    row["source"],
                )
            )
        except (KeyError, ValueError, InvalidSpecifier) as e:
            raise ValueError(f"{file}: build[{i}]: {e}") from e
    return ArchTable(tuple(rows))


@cache
def load_arch_table() -> ArchTable:
    """Read the packaged torch architecture table (once per process)."""
    text = resources.files("lockgen").joinpath("tables/data/torch_arch.toml").read_text(encoding="utf-8")
    return parse_arch_table(tomllib.loads(text))


class ArchEntry(NamedTuple):
    """One architecture of a build: its compute capability, whether it is PTX (JIT-compiled by the driver) rather
    than a cubin, and whether it is architecture-specific (sm_90a: runs on 9.0 only)."""

    cc: tuple[int, int]
    ptx: bool
    specific: bool = False

    def runs_on(self, cc: str) -> bool:
        """Whether this code runs on compute capability `cc`: a cubin by binary compatibility (`cubin_runs_on`), PTX on
        its own or any newer architecture - an architecture-specific one on its own only."""
        target = f"{self.cc[0]}.{self.cc[1]}" + ("a" if self.specific else "")
        if not self.ptx:
            return cubin_runs_on(target, cc)
        return self.cc == parse_cc(cc) if self.specific else self.cc <= parse_cc(cc)


def arch_entries(archs: tuple[str, ...]) -> tuple[ArchEntry, ...]:
    """Normalise "7.5", "12.0+PTX", "sm_75", "compute_120", "sm_90a", "sm_100f" into entries."""
    out: list[ArchEntry] = []
    for a in archs:
        a = a.strip()
        if a.startswith(("sm_", "compute_")):
            tail = a.split("_", 1)[1]
            digits = "".join(ch for ch in tail if ch.isdigit())
            if len(digits) < 2:
                continue
            cc = (int(digits[:-1]), int(digits[-1]))
            out.append(ArchEntry(cc, a.startswith("compute_"), tail.endswith("a")))
            continue
        ptx = a.endswith("+PTX")
        try:
            cc = parse_cc(a.removesuffix("+PTX"))
        except ValueError:
            continue
        out.append(ArchEntry(cc, False))
        if ptx:
            out.append(ArchEntry(cc, True))
    return tuple(out)


class ArchSupport(NamedTuple):
    """Whether a build runs on a compute capability, and how (`sm_86 kernels`, `PTX for compute_90, JIT-compiled`)."""

    runs: bool
    how: str


def arch_supported(cc: str, archs: tuple[str, ...]) -> ArchSupport:
    """Whether a build with `archs` runs on compute capability `cc`, and how: a cubin of the same major and a minor
    at most cc's (CUDA binary compatibility), or PTX of an older-or-equal architecture that the driver JIT-compiles
    (`ArchEntry.runs_on`)."""
    entries = arch_entries(archs)
    cubins = [e.cc for e in entries if not e.ptx and e.runs_on(cc)]
    if cubins:
        best = max(cubins)
        return ArchSupport(True, f"sm_{best[0]}{best[1]} kernels")
    ptxs = [e.cc for e in entries if e.ptx and e.runs_on(cc)]
    if ptxs:
        best = max(ptxs)
        return ArchSupport(True, f"PTX for compute_{best[0]}{best[1]}, JIT-compiled by the driver")
    return ArchSupport(False, "")
