"""`lockgen bump PKG`: move PKG's family forward as one transaction."""

from __future__ import annotations

import argparse
from typing import Any

from lockgen.ui import print_json

HELP = "move a package and its family (the pins built against it) forward, strictly pinned"
DESCRIPTION = """\
The family of PKG - PKG, everything in the lock built against it, and its own CUDA-linked dependencies
(for torch: torchvision, triton, xformers, vllm, unsloth, ...) - is relaxed in the members' pyprojects,
re-resolved with `uv lock --upgrade-package` for each, and pinned again with ==. Without --to: the newest
the fleet's CUDA window allows. Same transaction guarantees as `lockgen lock`.
exit codes: 0 done, 1 no solution or check failed, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `bump` command."""
    p = sub.add_parser("bump", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("package", metavar="PKG", help="the package to move, e.g. torch")
    p.add_argument("--to", metavar="VERSION", help="the version to move to (default: the newest the fleet allows)")
    p.add_argument("--member", metavar="M", help="only this member (default: every member that installs PKG)")
    p.add_argument(
        "--dry-run", action="store_true", help="resolve in a temporary copy and print the plan; write nothing"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen bump`."""
    from lockgen.ops.resolve import Request

    check_arguments(args.package, args.to)
    return execute(args, Request("bump", package=args.package, to=args.to, member=args.member))


def check_arguments(package: str, to: str | None) -> None:
    """PKG must be a package name and --to a PEP 440 version: refused (exit 2) before any uv run."""
    import re

    from packaging.version import InvalidVersion, Version

    from lockgen.errors import InputError

    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", package, re.ASCII):
        raise InputError("lockgen bump", "PKG", f"{package!r} is not a package name (e.g. torch)")
    if to is not None:
        try:
            Version(to)
        except InvalidVersion:
            raise InputError("lockgen bump", "--to", f"{to!r} is not a version (e.g. 2.10.0)") from None


def execute(args: argparse.Namespace, request: Any) -> int:
    """Shared by lock and bump: run (or dry-run) the transaction and report."""
    from lockgen.commands._root import require_root
    from lockgen.ops.resolve import dry_run, relock
    from lockgen.ui import Reporter

    root = require_root(args)
    reporter = Reporter()
    outcome = dry_run(root, request, reporter=reporter) if args.dry_run else relock(root, request, reporter=reporter)
    if args.json:
        doc = outcome.to_json() | {"dry_run": bool(args.dry_run)}
        print_json(doc)
        return 0
    print(f"{'plan (dry run, nothing written)' if args.dry_run else 'done'}: {outcome.uv_runs} uv run(s)")
    for w in outcome.warnings:
        print(f"warning: {w}")
    for m in outcome.members:
        if m.cuda_before is None and m.cuda_after is None and not m.changes:
            continue  # a CPU-only member that did not move
        cuda = m.cuda_before if m.cuda_before == m.cuda_after else f"{m.cuda_before} -> {m.cuda_after}"
        print(f"{m.member}: CUDA {cuda}")
        shown = [c for c in m.changes if not _is_runtime_wheel(c[0])]
        if not m.changes:
            print("  (no change)")
        for name, old, new in shown:
            print(f"  {name}: {old or '-'} -> {new or '-'}")
        if len(shown) < len(m.changes):
            print(f"  and {len(m.changes) - len(shown)} CUDA runtime wheel(s) (nvidia-*, cuda-*) with them")
    for _, constraint, reason in outcome.excluded:
        print(f"steered: {constraint} ({reason}): lockgen kept uv away from these builds")
    if not args.dry_run:
        print("changed: " + (", ".join(outcome.changed_files) or "nothing"))
    return 0


def _is_runtime_wheel(name: str) -> bool:
    return name.startswith(("nvidia-", "cuda-"))
