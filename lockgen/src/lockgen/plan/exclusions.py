"""The two kinds of exclusion lockgen writes for uv, as named values (lockgen.plan.hooks produces them)."""

from __future__ import annotations

from typing import NamedTuple


class PreExclusion(NamedTuple):
    """A constraint written before resolving: `package` held by `constraint` (`vllm<0.12.0`), and why."""

    package: str
    constraint: str
    reason: str


class Excluded(NamedTuple):
    """A version of `package` excluded after a resolve (`5` stands for the series 5.*: `!=5.*`), and why."""

    package: str
    version: str
    reason: str
