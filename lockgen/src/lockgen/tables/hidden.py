"""tables/data/hidden.toml as frozen values: requirements the metadata hides, and what follows torch's version.

`parse_hidden` is pure (a parsed mapping in, values out); `load_hidden` reads the packaged file once. What lockgen does
with the rows is in lockgen.plan.hidden (steering) and lockgen.rules.hidden (the check).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lockgen.errors import InputError

DATA_FILE = "lockgen/tables/data/hidden.toml"
SCHEMA = "lockgen-hidden/1"
STEER_SIDES = ("package", "needs")


@dataclass(frozen=True)
class HiddenRow:
    """Versions `versions` of `package` need `needs` (None: they are broken); `steer` says which side moves."""

    package: str
    versions: SpecifierSet
    needs: Requirement | None
    steer: str
    why: str
    source: str

    def covers(self, version: str) -> bool:
        """Whether `version` of `package` is one the row is about."""
        return contains(self.versions, version)

    def describe(self) -> str:
        """`vllm <=0.11.0 needs transformers<5` (or `... is broken`)."""
        head = f"{self.package} {self.versions}".strip()
        return f"{head} needs {self.needs}" if self.needs else f"{head} is broken"


@dataclass(frozen=True)
class Follower:
    """A package whose compatibility follows torch's version, and why."""

    package: str
    why: str


@dataclass(frozen=True)
class HiddenTable:
    """The parsed tables/data/hidden.toml."""

    rows: tuple[HiddenRow, ...]
    follows_torch: tuple[Follower, ...]


def contains(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version.split("+")[0]), prereleases=True)
    except InvalidVersion:
        return False


def parse_hidden(data: Mapping[str, Any], file: str = DATA_FILE) -> HiddenTable:
    """Build the table from parsed TOML; InputError naming the key when a row is malformed."""
    if data.get("schema") != SCHEMA:
        raise InputError(file, "schema", f"expected {SCHEMA!r}, found {data.get('schema')!r}")
    rows = []
    for i, raw in enumerate(data.get("requirement", [])):
        key = f"requirement[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError(file, key, "expected a table")
        for k in ("package", "why", "source"):
            if not isinstance(raw.get(k), str) or not raw.get(k):
                raise InputError(file, f"{key}.{k}", "expected a non-empty string")
        try:
            versions = SpecifierSet(str(raw.get("versions", "")))
        except InvalidSpecifier as e:
            raise InputError(file, f"{key}.versions", f"not a version specifier: {e}") from None
        needs = None
        if "needs" in raw:
            try:
                needs = Requirement(str(raw["needs"]))
            except InvalidRequirement as e:
                raise InputError(file, f"{key}.needs", f"not a requirement: {e}") from None
        steer = raw.get("steer", "package")
        if steer not in STEER_SIDES:
            raise InputError(file, f"{key}.steer", f"expected one of {', '.join(STEER_SIDES)}, found {steer!r}")
        if needs is None and steer == "needs":
            raise InputError(file, f"{key}.steer", "a row without `needs` can only steer its own package")
        rows.append(HiddenRow(canonicalize_name(raw["package"]), versions, needs, steer, raw["why"], raw["source"]))
    follows = []
    for i, raw in enumerate(data.get("follows-torch", [])):
        key = f"follows-torch[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("package"), str) or not raw.get("why"):
            raise InputError(file, key, "expected a table with `package` and `why`")
        follows.append(Follower(canonicalize_name(raw["package"]), str(raw["why"])))
    return HiddenTable(tuple(rows), tuple(follows))


@cache
def load_hidden() -> HiddenTable:
    """The packaged tables/data/hidden.toml (read once)."""
    text = resources.files("lockgen").joinpath("tables/data/hidden.toml").read_text(encoding="utf-8")
    try:
        return parse_hidden(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise InputError(DATA_FILE, None, f"not valid TOML: {e}") from None


def follows_torch(table: HiddenTable | None = None) -> frozenset[str]:
    """The packages that move when torch moves (tables/data/hidden.toml [[follows-torch]])."""
    return frozenset(f.package for f in (table or load_hidden()).follows_torch)
