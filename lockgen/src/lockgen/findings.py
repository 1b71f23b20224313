"""A finding of a rule: the value every rule returns and `check` prints. Its own small module so that reading a
cached verdict (lockgen check's fast path) needs no rule's imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Violation:
    """One finding: which rule, which file (and package/member), what is wrong, and what to do."""

    rule: str
    file: str
    message: str
    fix: str
    package: str | None = None
    member: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """A plain dict for --json output."""
        return asdict(self)
