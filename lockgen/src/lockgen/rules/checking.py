"""`check` as a use case: every rule over a workspace value, plus uv's offline freshness check, as one report.

Every rule runs and is reported even when uv cannot answer: freshness that cannot be decided offline becomes a
warning that says why and how to decide it - never a silent online retry, never an error that hides the rest.
uv's check is started first and runs while the rules do (it takes about as long as they do).

uv's freshness check and the verdict cache are in lockgen.seams.checkfast (light: what `lockgen check` runs every time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lockgen.findings import Violation
from lockgen.rules.registry import run_notes, run_rules
from lockgen.seams.checkfast import Freshness, PendingFreshness

if TYPE_CHECKING:
    from lockgen.model.environments import Environment
    from lockgen.model.workspace import Workspace


@dataclass(frozen=True)
class CheckReport:
    """What `lockgen check` found."""

    environments: tuple[Environment, ...]
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]
    fresh: bool | None  # None: not decided (offline, or uv skipped)
    notes: tuple[Violation, ...] = ()  # findings that warn and never fail (a CUDA set no pinned nixpkgs has)

    def warning_lines(self) -> list[str]:
        """Every warning as one line (for --json)."""
        return [*self.warnings, *(f"{n.rule}: {n.file}: {n.message}" for n in self.notes)]

    @property
    def ok(self) -> bool:
        """No violation."""
        return not self.violations


def freshness(ws: Workspace, runner: Callable[..., Any] | None = None) -> Freshness:
    """`uv lock --check --offline`: (violations, warnings, fresh?)."""
    return PendingFreshness(ws.root, runner).result()


def run_check(ws: Workspace, use_uv: bool = True, runner: Callable[..., Any] | None = None) -> CheckReport:
    """Run every rule of lockgen.rules.registry (and, with `use_uv`, lock-fresh: uv's offline freshness check,
    started first and run alongside the rules)."""
    pending = PendingFreshness(ws.root, runner) if use_uv else None
    try:
        violations = run_rules(ws)
        notes = tuple(run_notes(ws))
        warnings = list(ws.window.warnings)
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise
    fresh: bool | None = None
    if pending is not None:
        stale, fresh_warnings, fresh = pending.result()
        violations += stale
        warnings += fresh_warnings
    return CheckReport(ws.environments, tuple(violations), tuple(warnings), fresh, notes)
