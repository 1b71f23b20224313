"""`lockgen check`: is the committed lock strict, single-CUDA, inside the fleet's window, hashed and fresh?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "verify the lock against the fleet (offline, fast); exit 1 on violations"
DESCRIPTION = """\
Checks, without changing anything:
  strict-pin   every CUDA-linked direct dependency of each member is pinned with ==
  one-cuda     each member resolves to one CUDA version across its CUDA-linked packages
  cuda-window  that CUDA lies inside the fleet's window (driver and GPUs in [tool.lockgen])
  build-cuda   compiled packages (data/builds.toml) are built for torch's CUDA major and the fleet's driver
  index, hash  every locked artifact has a hash and comes from PyPI or a declared index
  toolchain    nix/toolchain.json agrees with the lock and the pinned nixpkgs inputs (a CUDA set no input has
               is a warning: the lock is kept, `nix develop` for that member says what to add)
  notebook     notebooks listed in [tool.lockgen] notebooks carry the member's locked pins
  lock-fresh   uv.lock matches the pyprojects (`uv lock --check --offline`; skip with --no-uv)
exit codes: 0 clean, 1 violations, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `check` command."""
    p = sub.add_parser(
        "check", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-uv", action="store_true", help="skip the lock-freshness check (no uv run)")
    p.set_defaults(func=run)


def check_workspace(ws: Any, use_uv: bool = True) -> tuple[list[Any], list[Any]]:
    """Run every rule (and uv's freshness check); return (member summaries, violations)."""
    from lockgen.cudadetect import member_cuda_from
    from lockgen.errors import UvError
    from lockgen.rules import lock_fresh_violations, run_rules
    from lockgen.toolchain_rule import extra_rules

    violations = run_rules(ws) + [v for rule in extra_rules() for v in rule(ws)]
    if use_uv:
        from lockgen.uvtool import run_uv

        res = run_uv(["lock", "--check", "--offline"], cwd=ws.root)
        fresh = lock_fresh_violations(res.returncode, res.stderr)
        if fresh is None:
            # offline failed for another reason (an empty cache, say): ask uv again, online
            res = run_uv(["lock", "--check"], cwd=ws.root)
            fresh = lock_fresh_violations(res.returncode, res.stderr)
        if fresh is None:
            detail = " | ".join(res.stderr.strip().splitlines()[-3:]) or f"exit code {res.returncode}"
            raise UvError(f"`{' '.join(res.argv[1:])}` failed: {detail}")
        violations += fresh
    summaries = []
    for name in ws.members:
        if ws.lock.by_name(name):
            summaries.append(member_cuda_from(name, ws.installed(name)))
    return summaries, violations


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen check`."""
    from lockgen.cli import require_root
    from lockgen.workspace import load_workspace

    ws = load_workspace(require_root(args))
    summaries, violations = check_workspace(ws, use_uv=not args.no_uv)
    window = ws.window
    from lockgen.toolchain_rule import extra_warnings

    nix_warnings = [w for check in extra_warnings() for w in check(ws)]
    if args.json:
        doc = {
            "ok": not violations,
            "fleet": {
                "driver": str(ws.fleet.driver),
                "gpus": [[g.label, g.cc] for g in ws.fleet.gpus],
                "policy": ws.fleet.policy,
            },
            "window": [str(v) for v in window.allowed],
            "warnings": list(window.warnings) + [f"{w.rule}: {w.file}: {w.message}" for w in nix_warnings],
            "members": [
                {
                    "member": s.member,
                    "cuda": str(s.cuda) if s.cuda else None,
                    "cuda_versions": [str(v) for v in s.versions],
                    "torch": s.torch,
                    "in_window": bool(s.cuda and window.allows(s.cuda)),
                }
                for s in summaries
            ],
            "violations": [v.to_json() for v in violations],
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 1 if violations else 0
    out = sys.stdout
    print(f"fleet: {ws.fleet.describe()}", file=out)
    print(f"window: CUDA {', '.join(map(str, window.allowed)) or '(empty)'}", file=out)
    for w in window.warnings:
        print(f"warning: {w}", file=out)
    for w in nix_warnings:
        where = w.file + (f" [{w.member}]" if w.member else "")
        print(f"warning[{w.rule}] {where}: {w.message}\n    fix: {w.fix}", file=out)
    for s in summaries:
        if not s.versions and not s.majors:
            print(f"{s.member}: no CUDA-linked packages", file=out)
            continue
        cuda = str(s.cuda) if s.cuda else "mixed " + "/".join(map(str, s.versions))
        where = "inside" if s.cuda and window.allows(s.cuda) else "OUTSIDE"
        print(f"{s.member}: CUDA {cuda} (torch {s.torch}) - {where} the window {window}", file=out)
    for v in violations:
        where = f"{v.file}" + (f" [{v.member}]" if v.member else "") + (f" {v.package}" if v.package else "")
        print(f"error[{v.rule}] {where}: {v.message}\n    fix: {v.fix}", file=out)
    print(
        f"{len(violations)} violation(s)" if violations else "ok: lock is strict, single-CUDA and inside the window",
        file=out,
    )
    return 1 if violations else 0
