"""Requirements the metadata hides (tables/data/hidden.toml): flag them in a lock, and steer uv around them.

A row says "versions S of package A need B in R" (transformers >= 5 needs torch >= 2.5) although A's metadata does
not say so; a row without `needs` marks versions of A as broken outright. lockgen applies them the way it applies
build exclusions (lockgen.plan.steering):

- before resolving (`pre_exclude`): broken rows, as constraints uv understands (`A<S` for `S = >=X` ...);
- after resolving (`steer`): a locked pair that matches a row excludes the version series of the side the row
  names (`transformers!=5.*`) and uv runs again (lockgen.ops.resolve bounds the rounds and prints each step);
- the check (lockgen.rules.hidden) reports every locked pair that matches a row, with the row's source.

The rows themselves (and what follows torch's version) are read in lockgen.tables.hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockgen.model.workspace import Workspace
from lockgen.plan.exclusions import Excluded, PreExclusion, merged
from lockgen.tables.hidden import HiddenRow, HiddenTable, contains, load_hidden

MAX_SERIES = 64  # version series one exclusion may name (a bound far from the locked version: only that series)


@dataclass(frozen=True)
class PairMatch:
    """A locked pair (or a locked broken version) that matches a row, in one member."""

    member: str
    row: HiddenRow
    version: str  # the locked version of row.package
    needs_version: str | None  # the locked version of the needed package (None for a broken row)

    def describe(self) -> str:
        """`vllm 0.8.5.post1 with transformers 5.17.0: vllm <=0.11.0 needs transformers<5`."""
        if self.row.needs is None:
            return f"{self.row.package} {self.version}: {self.row.describe()}"
        return (
            f"{self.row.package} {self.version} with {canonicalize_name(self.row.needs.name)} {self.needs_version}: "
            f"{self.row.describe()}"
        )


def pair_matches(member: str, installed: Mapping[str, Any], rows: tuple[HiddenRow, ...]) -> list[PairMatch]:
    """The rows one member's projection (name -> LockedPackage) matches."""
    out = []
    for row in rows:
        pkg = installed.get(row.package)
        if pkg is None or not pkg.version or not row.covers(pkg.version):
            continue
        if row.needs is None:
            out.append(PairMatch(member, row, pkg.version, None))
            continue
        other = installed.get(canonicalize_name(row.needs.name))
        if other is None or not other.version:
            continue  # the needed package is not installed: nothing to break
        if not contains(row.needs.specifier, other.version):
            out.append(PairMatch(member, row, pkg.version, other.version))
    return out


def matches(ws: Workspace, table: HiddenTable | None = None) -> list[PairMatch]:
    """Every locked pair of every member that matches a row."""
    rows = (table or load_hidden()).rows
    out = []
    for member in ws.members:
        if not ws.lock.by_name(member):
            continue
        out += pair_matches(member, ws.installed(member), rows)
    return out


# -- before resolving: broken versions as constraints --


def complement(spec: SpecifierSet) -> str | None:
    """One specifier meaning "not in `spec`" (`>=5` -> `<5`), or None when PEP 440 cannot say it in one."""
    specs = list(spec)
    if len(specs) != 1:
        return None
    s: Specifier = specs[0]
    flip = {">=": "<", ">": "<=", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
    op = flip.get(s.operator)
    return f"{op}{s.version}" if op else None


def pre_exclude(ws: Workspace, table: HiddenTable | None = None) -> list[PreExclusion]:
    """Constraints for rows without `needs` (broken versions), for lockgen.ops.resolve."""
    out = []
    for row in (table or load_hidden()).rows:
        if row.needs is not None:
            continue
        comp = complement(row.versions)
        if comp:
            reason = f"{row.describe()}: {row.why} (tables/data/hidden.toml)"
            out.append(PreExclusion(row.package, f"{row.package}{comp}", reason))
    return out


# -- after resolving: exclude the series of the side that moves --


def _series(v: Version, precision: int) -> tuple[int, ...]:
    rel = tuple(v.release) + (0,) * precision
    return rel[:precision]


def _bound(spec: SpecifierSet) -> Version | None:
    for s in spec:
        if s.operator in (">=", ">", "<", "<=", "==", "~="):
            try:
                return Version(s.version.rstrip(".*").rstrip("."))
            except InvalidVersion:
                return None
    return None


def excluded_series(version: str, bad: SpecifierSet, bad_is_complement: bool) -> list[str]:
    """The version series (`5`, `0.19`, `0.20` ...) to exclude so that uv leaves the bad set, from the locked
    `version` towards the bound of `bad`, at the bound's precision. `bad_is_complement`: the bad set is every
    version `bad` does NOT contain (the needed side). Always includes the locked version's own series."""
    try:
        v = Version(version.split("+")[0])
    except InvalidVersion:
        return [version]
    bound = _bound(bad)
    precision = max(1, len(bound.release)) if bound is not None else len(v.release)
    own = _series(v, precision)
    out = [own]
    if bound is not None and precision >= 1:
        b = _series(bound, precision)
        if b[:-1] == own[:-1] and abs(b[-1] - own[-1]) <= MAX_SERIES:
            lo, hi = sorted((b[-1], own[-1]))
            for last in range(lo, hi + 1):
                s = (*own[:-1], last)
                inside = bad.contains(Version(".".join(map(str, s))), prereleases=True)
                if (not inside if bad_is_complement else inside) and s not in out:
                    out.append(s)
    return sorted(".".join(map(str, s)) for s in out)


def exclusions(match: PairMatch) -> list[Excluded]:
    """The versions or series that steer uv away from one matched pair."""
    row = match.row
    reason = f"{match.member}: {match.describe()} - {row.why} (tables/data/hidden.toml)"
    name: str
    if row.steer == "needs" and row.needs is not None and match.needs_version:
        name, version = canonicalize_name(row.needs.name), match.needs_version
        series = excluded_series(version, row.needs.specifier, bad_is_complement=True)
    else:
        name, version = row.package, match.version
        series = excluded_series(version, row.versions, bad_is_complement=False)
    # the exact version too: lockgen.ops.resolve frees the torch family of the members that hold it
    return [Excluded(name, s, reason, match.member) for s in dict.fromkeys([*series, version.split("+")[0]])]


def steer(ws: Workspace, table: HiddenTable | None = None) -> list[Excluded]:
    """What to exclude after a resolution (versions or series), deduplicated; each names the member that needs it
    ("" when several do: lockgen.ops.resolve writes it for the whole workspace)."""
    return merged(e for m in matches(ws, table) for e in exclusions(m))
