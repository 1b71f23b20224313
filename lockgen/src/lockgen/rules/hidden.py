"""Rule hidden-req: a locked pair that installs but does not run (a requirement the metadata hides)."""

from __future__ import annotations

from lockgen.model.workspace import Workspace
from lockgen.plan.hidden import matches
from lockgen.rules import Violation


def rule_hidden_req(ws: Workspace) -> list[Violation]:
    """(issue 11) A locked pair that installs but does not run: a requirement the metadata hides."""
    out = []
    for m in matches(ws):
        row = m.row
        out.append(
            Violation(
                "hidden-req",
                "uv.lock",
                f"{m.describe()} ({row.why}); source: {row.source}",
                "run `lockgen lock` (it steers uv away from known-bad pairs) or pin a pair the row allows",
                row.package,
                m.member,
            )
        )
    return out
