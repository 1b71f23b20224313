"""The two kinds of exclusion lockgen writes for uv, as named values (lockgen.plan.hooks produces them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class PreExclusion(NamedTuple):
    """A constraint written before resolving: `package` held by `constraint` (`vllm<0.12.0`), and why."""

    package: str
    constraint: str
    reason: str


class Excluded(NamedTuple):
    """A version of `package` excluded after a resolve (`5` stands for the series 5.*: `!=5.*`), and why; `member`:
    the one member whose lock needed it ("" when several did, or nobody knows: it concerns the whole workspace)."""

    package: str
    version: str
    reason: str
    member: str = ""


def merged(excluded: Iterable[Excluded]) -> list[Excluded]:
    """One exclusion per (package, version), sorted: the first reason, and the member only when every finding came
    from that one member (found for two members, an exclusion concerns the workspace)."""
    out: dict[tuple[str, str], Excluded] = {}
    for e in sorted(excluded):
        key = (e.package, e.version)
        seen = out.get(key)
        if seen is None:
            out[key] = e
        elif seen.member != e.member:
            out[key] = seen._replace(member="")
    return sorted(out.values())
