"""`lockgen matrix`: what each member would resolve to on other drivers/GPUs, computed with real uv in temporary
copies (the workspace is never touched); the rows run in parallel (lockgen.ops.matrix)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lockgen.ui import print_json

HELP = "show what each member would resolve to per NVIDIA driver branch (real uv, temporary copies)"
DESCRIPTION = """\
For each driver (default: every driver branch in lockgen's tables from 535 on), copies the workspace to a
temporary directory, sets the fleet's driver (and --gpus, if given), and runs the same resolution as
`lockgen lock` there. Prints per member: torch, the member's headline packages (vllm, unsloth) and CUDA.
Answers "what would we get on the old inference fleet?" before anyone changes the fleet.

Rows run in parallel (--jobs, default: the number of CPUs), each in its own copy with its own uv.lock and uv's
shared cache; the table lists them in driver order, progress on stderr as they finish. Ctrl-C stops every row
and removes every copy. --html writes the table as one self-contained HTML file (no scripts, styles or fonts
from elsewhere). The --json fields are described in docs/json.md.
exit codes: 0 every row resolved, 1 a row failed, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `matrix` command."""
    p = sub.add_parser(
        "matrix", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--drivers", nargs="+", metavar="DRIVER", help="drivers or branches, e.g. 535 570.124.06 580")
    p.add_argument("--gpus", nargs="+", metavar="GPU", help="GPU names or compute capabilities (default: the fleet's)")
    p.add_argument("--json", action="store_true", help="print the matrix as JSON on stdout (fields: docs/json.md)")
    p.add_argument("--verify", action="store_true", help="also install each row's lock and run `lockgen verify`")
    p.add_argument("--jobs", "-j", metavar="N", help="rows at once (default: the number of CPUs; 1: one after another)")
    p.add_argument("--html", metavar="FILE", type=Path, help="also write the matrix as a self-contained HTML page")
    p.set_defaults(func=run)


def _jobs(text: str | None) -> int | None:
    from lockgen.errors import LockgenError

    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise LockgenError(f"--jobs {text}: expected a whole number of rows at once, at least 1")
    return n


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen matrix`."""
    from lockgen.commands._root import require_root
    from lockgen.errors import InputError, LockgenError
    from lockgen.model.fleet import check_driver, fleet_from_config
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.matrix import default_drivers, default_jobs, run_matrix
    from lockgen.seams.safefile import check_target
    from lockgen.ui import Reporter

    root = require_root(args)
    jobs = _jobs(args.jobs) or default_jobs()
    if args.html is not None:  # a bad target is refused before minutes of uv, not after
        check_target(args.html, f"--html {args.html}")
    ws = load_workspace(root)
    drivers = args.drivers or default_drivers(ws.knowledge)
    for d in drivers:
        try:
            check_driver(d, ws.knowledge, "lockgen matrix", "--drivers")
        except InputError as e:
            raise LockgenError(f"--drivers {d}: {e.message}") from None
    if args.gpus:  # a typo is bad input (exit 2), not one "no solution" row per driver
        try:
            fleet_from_config({"driver": drivers[0] if drivers else "580", "gpus": list(args.gpus)}, ws.knowledge)
        except InputError as e:
            raise LockgenError(f"--gpus: {e.message}") from None
    reporter = Reporter()
    jobs = min(jobs, max(1, len(drivers)))
    reporter.step(f"{len(drivers)} driver(s), {jobs} at a time")

    def progress(done: int, row: dict[str, Any], seconds: float) -> None:
        what = "ok" if not row["error"] else f"FAILED ({row['kind']})"  # the details are in the table
        reporter.step(f"[{done}/{len(drivers)}] driver {row['driver']} ({seconds:.1f}s): {what}")

    doc = run_matrix(root, drivers, args.gpus, args.verify, jobs, on_row=progress, reporter=reporter)
    rows = doc["rows"]
    if args.html is not None:
        from lockgen.ops.report_html import render_matrix
        from lockgen.seams.safefile import write_target

        write_target(args.html, render_matrix(doc).encode("utf-8"), f"--html {args.html}")
        reporter.step(f"wrote {args.html}")
    failed = doc["failed"]
    if args.json:
        print_json(doc)
        return 1 if failed else 0
    print(f"{'driver':>10}  {'window':<10}  environment: CUDA, packages")
    for row in rows:
        print(_line(row))
    if failed:
        print(f"{failed} of {len(rows)} row(s) failed")
    return 1 if failed else 0


def _line(row: dict[str, Any]) -> str:
    return f"{row['driver']:>10}  {row['window'] or '-':<10}  " + _body(row)


def _body(row: dict[str, Any]) -> str:
    if row["error"]:
        return f"FAILED ({row['kind']}): {row['error']}"
    parts = []
    runs = row.get("runs") or {}
    for m, info in row["members"].items():
        pkgs = ", ".join(f"{k} {v}" for k, v in info.items() if k != "cuda")
        verdict = f" runs: {runs[m]}" if m in runs else ""
        parts.append(f"{m}: CUDA {info['cuda']} ({pkgs}){verdict}")
    return "; ".join(parts)
