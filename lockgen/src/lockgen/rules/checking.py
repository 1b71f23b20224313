"""`check` as a use case: every rule over a workspace value, plus uv's offline freshness check, as one report.

Every rule runs and is reported even when uv cannot answer: freshness that cannot be decided offline becomes a
warning that says why and how to decide it - never a silent online retry, never an error that hides the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lockgen.model.environments import Environment
from lockgen.model.workspace import Workspace
from lockgen.rules import Violation, lock_fresh_violations
from lockgen.rules.registry import run_notes, run_rules


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


def freshness(
    ws: Workspace, runner: Callable[..., Any] | None = None
) -> tuple[list[Violation], list[str], bool | None]:
    """`uv lock --check --offline`: (violations, warnings, fresh?)."""
    from lockgen.errors import UvError
    from lockgen.seams.uvtool import classify_uv_failure, run_uv

    try:
        res = (runner or run_uv)(["lock", "--check", "--offline"], cwd=ws.root)
    except UvError as e:
        return [], [f"lock freshness not checked: {e}"], None
    fresh = lock_fresh_violations(res.returncode, res.stderr)
    if fresh is not None:
        return fresh, [], not fresh
    failure = classify_uv_failure(res.stderr, res.returncode)
    why = str(failure)
    return (
        [],
        [
            f"lock freshness not decided offline ({why}); decide it online with `uv lock --check` "
            "(or `lockgen check` once uv's cache has the packages)"
        ],
        None,
    )


def run_check(ws: Workspace, use_uv: bool = True, runner: Callable[..., Any] | None = None) -> CheckReport:
    """Run every rule of lockgen.rules.registry (and, with `use_uv`, lock-fresh: uv's offline freshness check)."""
    violations = run_rules(ws)
    notes = tuple(run_notes(ws))
    warnings = list(ws.window.warnings)
    fresh: bool | None = None
    if use_uv:
        stale, fresh_warnings, fresh = freshness(ws, runner)
        violations += stale
        warnings += fresh_warnings
    return CheckReport(ws.environments, tuple(violations), tuple(warnings), fresh, notes)
