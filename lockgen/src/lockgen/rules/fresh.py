"""Rule lock-fresh: uv.lock matches the pyprojects (`uv lock --check --offline`). The one rule that runs uv, so
lockgen.rules.checking runs it (`--no-uv` skips it); it never goes online."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lockgen.model.workspace import Workspace
from lockgen.rules import Violation


class Freshness(NamedTuple):
    """What `uv lock --check --offline` said: a stale-lock violation, warnings, and whether the lock is fresh."""

    violations: list[Violation]
    warnings: list[str]
    fresh: bool | None  # None: not decided offline


def freshness(ws: Workspace, runner: Callable[..., Any] | None = None) -> Freshness:
    """Run `uv lock --check --offline` and read its answer."""
    from lockgen.errors import UvError
    from lockgen.seams.uvtool import classify_uv_failure, run_uv

    try:
        res = (runner or run_uv)(["lock", "--check", "--offline"], cwd=ws.root)
    except UvError as e:
        return Freshness([], [f"lock freshness not checked: {e}"], None)
    fresh = lock_fresh_violations(res.returncode, res.stderr)
    if fresh is not None:
        return Freshness(fresh, [], not fresh)
    failure = classify_uv_failure(res.stderr, res.returncode)
    why = str(failure)
    return Freshness(
        [],
        [
            f"lock freshness not decided offline ({why}); decide it online with `uv lock --check` "
            "(or `lockgen check` once uv's cache has the packages)"
        ],
        None,
    )


def lock_fresh_violations(returncode: int, stderr: str) -> list[Violation] | None:
    """(e) Interpret `uv lock --check`: [] when fresh, a violation when stale, None when uv failed otherwise."""
    if returncode == 0:
        return []
    text = stderr.lower()
    if "needs to be updated" in text or "lockfile" in text and "out of date" in text:
        return [
            Violation(
                "lock-fresh",
                "uv.lock",
                "uv.lock does not match the pyprojects (`uv lock --check` failed): " + _last_line(stderr),
                "run `lockgen lock` (or `uv lock`) and commit uv.lock",
            )
        ]
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
