"""`lockgen matrix --html FILE`: the matrix document (docs/json.md) as one self-contained HTML page.

Drivers down, environments across; each cell says in words what its colour shows (ok, outside the window, fails,
verify broken), with the environment's CUDA, torch and headline packages. A legend, and the fleet and lock the
matrix came from. No scripts, no style sheets, fonts or images from elsewhere: the page opens offline, in a CI
artifact viewer, or attached to an issue. Every value from the document is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

# status -> (colour, symbol, label, meaning): the colour is never the only carrier, the label is in every cell
STATUSES: dict[str, tuple[str, str, str, str]] = {
    "ok": ("#c9efd2", "\u2713", "ok", "resolved inside the window"),
    "verified": ("#9fdfb0", "\u2713", "ok, verified", "inside the window, and `lockgen verify` passed"),
    "outside": ("#ffe2a8", "\u26a0", "outside the window", "resolved to a CUDA the driver or GPUs cannot run"),
    "broken": ("#f5c0e4", "\u2717", "verify broken", "installs, but a `lockgen verify` probe failed"),
    "fails": ("#f6c6c6", "\u2717", "fails", "no lock for this driver; the cell says why"),
    "none": ("#e8e8e8", "\u2013", "no CUDA", "CPU only, or not an environment of this row's lock"),
}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.3rem; margin: 0 0 .4rem 0; }
dl.source { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: .5rem 0 1rem 0; }
dl.source dt { font-weight: 600; } dl.source dd { margin: 0; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; }
th, td { border: 1px solid #9a9a9a; padding: .35rem .5rem; vertical-align: top; text-align: left; }
thead th { background: #f2f2f2; }
td .status { font-weight: 600; display: block; }
td .pkgs { font-family: ui-monospace, monospace; font-size: .85rem; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; }
ul.legend li span.swatch { display: inline-block; width: 1rem; height: 1rem; border: 1px solid #777;
  vertical-align: middle; margin-right: .3rem; }
""" + "".join(f"td.{k} {{ background: {c}; }}\n" for k, (c, _, _, _) in STATUSES.items())


def environment_columns(doc: Mapping[str, Any]) -> list[str]:
    """The environments across: every environment any row shows, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in doc.get("rows", []):
        for cell in row.get("environments", []):
            seen.setdefault(cell["environment"], None)
    return list(seen)


def cell_status(row: Mapping[str, Any], cell: Mapping[str, Any] | None) -> str:
    """The status of one environment in one row (a key of STATUSES)."""
    if row.get("error") and row.get("kind") != "outside-window":
        return "fails"
    if cell is None:
        return "none"
    if cell.get("in_window") is False:
        return "outside"
    verdict = cell.get("verify")
    if verdict:
        return "broken" if str(verdict).startswith("broken") else "verified"
    return "ok"


def _cell_text(status: str, cell: Mapping[str, Any]) -> str:
    _, symbol, label, _ = STATUSES[status]
    lines = [f'<span class="status">{symbol} {escape(label)}</span>']
    cuda = cell.get("cuda")
    lines.append(f"CUDA {escape(cuda)}" if cuda else "CUDA -")
    pkgs = cell.get("packages") or {}
    if pkgs:
        lines.append('<span class="pkgs">' + ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in pkgs.items()))
        lines[-1] += "</span>"
    if cell.get("verify"):
        lines.append(f"verify: {escape(str(cell['verify']))}")
    return "<br>".join(lines)


def _row_html(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    driver = escape(str(row["driver"]))
    head = f'<th scope="row">{driver}</th><td>{escape(str(row.get("window") or "-"))}</td>'
    if row.get("error") and row.get("kind") != "outside-window":
        symbol = STATUSES["fails"][1]
        text = f'<span class="status">{symbol} fails ({escape(str(row.get("kind")))})</span>{escape(row["error"])}'
        span = max(1, len(columns))
        return (
            f'<tr>{head}<td class="fails" colspan="{span}" data-driver="{driver}" data-environment="*" '
            f'data-status="fails">{text}</td></tr>'
        )
    cells = {c["environment"]: c for c in row.get("environments", [])}
    out = []
    for env in columns:
        cell = cells.get(env)
        status = cell_status(row, cell)
        if cell is None:
            body = f'<span class="status">{STATUSES["none"][1]} {STATUSES["none"][2]}</span>'
        else:
            body = _cell_text(status, cell)
        out.append(
            f'<td class="{status}" data-driver="{driver}" data-environment="{escape(env)}" data-status="{status}">'
            f"{body}</td>"
        )
    note = ""
    if row.get("error"):
        note = f'<tr class="note"><td></td><td colspan="{len(columns) + 1}">{escape(row["error"])}</td></tr>'
    return f"<tr>{head}{''.join(out)}</tr>{note}"


def render_matrix(doc: Mapping[str, Any]) -> str:
    """The page for a `matrix --json` document."""
    columns = environment_columns(doc)
    fleet = doc.get("fleet") or {}
    lock = doc.get("lock") or {}
    gpus = ", ".join(f"{g[0]} ({g[1]})" for g in fleet.get("gpus", [])) or "-"
    source = [
        ("project", doc.get("project") or "-"),
        ("fleet", f"driver {fleet.get('driver', '-')}, GPUs {gpus}, policy {fleet.get('policy', '-')}"),
        ("rows use GPUs", ", ".join(doc["gpus"]) if doc.get("gpus") else "the fleet's"),
        ("lock", f"{lock.get('file', 'uv.lock')} sha256 {lock.get('sha256') or '-'}"),
        ("exclude-newer", lock.get("exclude_newer") or "-"),
        ("verify", "yes: each row's lock installed and probed" if doc.get("verify") else "no (run with --verify)"),
        ("rows", f"{len(doc.get('rows', []))}, {doc.get('failed', 0)} failed"),
    ]
    legend = "".join(
        f'<li data-status="{k}"><span class="swatch" style="background:{c}"></span>{s} {escape(label)}: '
        f"{escape(meaning)}</li>"
        for k, (c, s, label, meaning) in STATUSES.items()
    )
    header = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns) or '<th scope="col">environments</th>'
    body = "\n".join(_row_html(r, columns) for r in doc.get("rows", []))
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in source)
    title = f"lockgen matrix: {doc.get('project') or 'project'}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p>What <code>lockgen lock</code> would resolve each environment to if the fleet had each driver (real uv, temporary
copies; the project was not changed).</p>
<dl class="source">{dl}</dl>
<ul class="legend">{legend}</ul>
<table>
<caption>drivers (down) x environments (across): status, CUDA, torch and CUDA-linked packages</caption>
<thead><tr><th scope="col">driver</th><th scope="col">window</th>{header}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
