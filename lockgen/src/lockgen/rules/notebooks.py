"""Rule notebook: each notebook listed in `[tool.lockgen] notebooks` carries its member's locked pins."""

from __future__ import annotations

from lockgen.model.workspace import Workspace
from lockgen.plan.notebooks import notebooks, refreshed
from lockgen.rules import Violation


def rule_notebooks(ws: Workspace) -> list[Violation]:
    """Each listed notebook's `# /// script` header equals what `lockgen export` writes from the lock."""
    out = []
    for nb in notebooks(ws):
        if not ws.lock.by_name(nb.member):
            continue
        _, current, new = refreshed(ws, nb)
        if current != new:
            out.append(
                Violation(
                    "notebook",
                    nb.path,
                    f"its `# /// script` header does not match {nb.member}'s pins in uv.lock",
                    f"run `lockgen export --member {nb.member} --format pep723 --into {nb.path}` "
                    "(lockgen lock and bump do it for you)",
                    None,
                    nb.member,
                )
            )
    return out
