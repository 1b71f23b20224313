"""`lockgen matrix`: what each member would resolve to on other drivers/GPUs, computed with real uv in a
temporary copy (the workspace is never touched)."""

from __future__ import annotations

import argparse
from typing import Any

from lockgen.ui import print_json

HELP = "show what each member would resolve to per NVIDIA driver branch (real uv, temporary copies)"
DESCRIPTION = """\
For each driver (default: every driver branch in lockgen's tables from 535 on), copies the workspace to a
temporary directory, sets the fleet's driver (and --gpus, if given), and runs the same resolution as
`lockgen lock` there. Prints per member: torch, the member's headline packages (vllm, unsloth) and CUDA.
Answers "what would we get on the old inference fleet?" before anyone changes the fleet.
"""


def headline(ws: Any, member: str) -> list[str]:
    """What a row shows for a member: torch, then the member's own CUDA-linked dependencies (vllm; unsloth ...)."""
    from lockgen.model.cudadetect import is_cuda_linked
    from lockgen.plan.edit import requirement_names

    installed = ws.installed(member)
    direct = sorted(
        n
        for n in requirement_names(ws.members[member].data)
        if n in installed and is_cuda_linked(installed[n], installed)
    )
    return ["torch", *[n for n in direct if n != "torch"]]


def register(sub: Any) -> None:
    """Add the `matrix` command."""
    p = sub.add_parser(
        "matrix", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--drivers", nargs="+", metavar="DRIVER", help="drivers or branches, e.g. 535 570.124.06 580")
    p.add_argument("--gpus", nargs="+", metavar="GPU", help="GPU names or compute capabilities (default: the fleet's)")
    p.add_argument("--json", action="store_true", help="print rows as JSON on stdout")
    p.add_argument("--verify", action="store_true", help="also install each row's lock and run `lockgen verify`")
    p.set_defaults(func=run)


def default_drivers(knowledge: Any, first_branch: int = 535) -> list[str]:
    """One driver per branch that lockgen's tables name as a CUDA toolkit driver, from `first_branch` on."""
    branches = sorted({r.toolkit_driver.branch for r in knowledge.releases if r.toolkit_driver})
    return [str(b) for b in branches if b >= first_branch]


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen matrix`."""
    import tempfile
    from pathlib import Path

    import tomlkit

    from lockgen.commands._root import require_root
    from lockgen.errors import LockgenError
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.resolve import Request, relock_here, stage_copy
    from lockgen.plan.hooks import pre_exclude, steer
    from lockgen.ui import Reporter

    root = require_root(args)
    ws = load_workspace(root)
    drivers = args.drivers or default_drivers(ws.knowledge)
    from lockgen.errors import InputError
    from lockgen.model.fleet import check_driver

    for d in drivers:
        try:
            check_driver(d, ws.knowledge, "lockgen matrix", "--drivers")
        except InputError as e:
            raise LockgenError(f"--drivers {d}: {e.message}") from None
    if args.gpus:  # a typo is bad input (exit 2), not one "no solution" row per driver
        from lockgen.errors import InputError
        from lockgen.model.fleet import fleet_from_config

        try:
            fleet_from_config({"driver": drivers[0] if drivers else "580", "gpus": list(args.gpus)}, ws.knowledge)
        except InputError as e:
            raise LockgenError(f"--gpus: {e.message}") from None
    reporter = Reporter()
    rows: list[dict[str, Any]] = []
    from lockgen.seams.txn import WorkspaceLock

    base_dir = tempfile.TemporaryDirectory(prefix="lockgen-matrix-base-")
    with WorkspaceLock(root):  # one consistent snapshot of the project, never a half-applied one
        base = stage_copy(root, Path(base_dir.name))
    for i, driver in enumerate(drivers, 1):
        reporter.step(f"[{i}/{len(drivers)}] driver {driver}")
        with tempfile.TemporaryDirectory(prefix="lockgen-matrix-") as tmp:
            stage = stage_copy(base, Path(tmp))
            doc = tomlkit.parse((stage / "pyproject.toml").read_text(encoding="utf-8"))
            doc.setdefault("tool", {}).setdefault("lockgen", {})["driver"] = driver
            if args.gpus:
                doc["tool"]["lockgen"]["gpus"] = list(args.gpus)
            (stage / "pyproject.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
            row: dict[str, Any] = {"driver": driver, "window": None, "members": {}, "error": None, "kind": None}
            try:
                window = load_workspace(stage).window
                row["window"] = str(window)
                relock_here(
                    stage,
                    Request("lock"),
                    reporter=Reporter(quiet=True),
                    pre_exclude=pre_exclude,
                    steer=steer,
                    finalize=False,
                )
                final = load_workspace(stage)
                outside = []
                for env in final.environments:
                    if not env.has_cuda:
                        continue
                    view = env.platforms[0]
                    mc = view.cuda
                    installed = view.installed
                    info: dict[str, Any] = {"cuda": str(mc.cuda) if mc.cuda else None}
                    if env.project in final.members and env.label == env.project:
                        info |= {h: installed[h].version for h in headline(final, env.project) if h in installed}
                    elif "torch" in installed:
                        info["torch"] = installed["torch"].version
                    row["members"][env.label] = info
                    for v in env.platforms:
                        bad = [str(c) for c in v.cuda.versions if not window.allows(c)]
                        if bad or (v.cuda.majors and not v.cuda.consistent):
                            outside.append(f"{env.label} (linux {v.platform}): CUDA {', '.join(bad) or 'mixed'}")
                if outside:
                    row["kind"] = "outside-window"
                    row["error"] = "resolved outside its own window " + str(window) + ": " + "; ".join(outside)
                if args.verify:  # lockgen verify on the row's lock: "runs on this host"
                    from lockgen.ops.verify import matrix_verdicts

                    row["runs"] = matrix_verdicts(stage, reporter)
            except LockgenError as e:
                row["kind"] = getattr(e, "kind", None) or _kind_of(e)
                row["error"] = str(e).splitlines()[0].removeprefix("no solution: ")
            rows.append(row)
            reporter.step(_line(row))
    base_dir.cleanup()
    failed = [r for r in rows if r["error"]]
    if args.json:
        print_json({"schema": 1, "gpus": args.gpus, "rows": rows, "failed": len(failed)})
        return 1 if failed else 0
    print(f"{'driver':>10}  {'window':<10}  environment: CUDA, packages")
    for row in rows:
        print(_line(row))
    if failed:
        print(f"{len(failed)} of {len(rows)} row(s) failed")
    return 1 if failed else 0


def _kind_of(e: Exception) -> str:
    from lockgen.ops.resolve import CheckFailed, EmptyWindow, ResolutionFailed

    if isinstance(e, ResolutionFailed):
        return "no-solution"
    if isinstance(e, EmptyWindow):
        return "empty-window"
    if isinstance(e, CheckFailed):
        return "check"
    return "error"


def _line(row: dict[str, Any]) -> str:
    head = f"{row['driver']:>10}  {row['window'] or '-':<10}  "
    if row["error"]:
        return head + f"FAILED ({row['kind']}): {row['error']}"
    parts = []
    for m, info in row["members"].items():
        pkgs = ", ".join(f"{k} {v}" for k, v in info.items() if k != "cuda")
        runs = f" runs: {row['runs'][m]}" if m in row.get("runs", {}) else ""
        parts.append(f"{m}: CUDA {info['cuda']} ({pkgs}){runs}")
    return head + "; ".join(parts)
