"""`lockgen toolchain`: the Nix toolchain file (nix/toolchain.json), and the host-driver guard the dev shells run."""

from __future__ import annotations

import argparse
from typing import Any

from lockgen.ui import print_json

HELP = "show, check or write nix/toolchain.json (the CUDA toolkit per member that flake.nix provides)"
DESCRIPTION = """\
nix/toolchain.json tells flake.nix which nixpkgs CUDA set (cudaPackages_X_Y) each member's dev shell gets,
from which pinned nixpkgs input (flake.lock; the main `nixpkgs` first, then the newest input that has it), the
Python, and the locked wheels `nix build .#<member>-image` installs. lockgen derives it from uv.lock and
flake.lock, so moving CUDA needs no edit in Nix. A set no pinned input has is a warning, not an error: the file
records it and `nix develop .#<member>` stops with the same message, saying what input to add.

  lockgen toolchain            show what the lock needs; exit 1 when nix/toolchain.json disagrees
  lockgen toolchain --write    write nix/toolchain.json (atomically)
  lockgen toolchain guard --member train
                               compare this host's NVIDIA driver with what the member's CUDA needs
                               (the dev shells run this on entry)
exit codes: 0 ok, 1 findings (file out of date; driver too old or absent), 2 bad input
"""
GUARD_HELP = "check this host's NVIDIA driver against a member's CUDA (run by the Nix dev shells on entry)"


def register(sub: Any) -> None:
    """Add the `toolchain` command and its `guard` subcommand."""
    p = sub.add_parser(
        "toolchain", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # SUPPRESS keeps a global --json (if the main parser has one) from being overwritten by this default.
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object on stdout")
    p.add_argument("--write", action="store_true", help="write nix/toolchain.json from uv.lock")
    p.set_defaults(func=run)
    inner = p.add_subparsers(dest="toolchain_command", metavar="SUBCOMMAND")
    g = inner.add_parser("guard", help=GUARD_HELP, description=GUARD_HELP)
    g.add_argument("--member", required=True, help="the workspace member whose shell this is (e.g. train)")
    g.add_argument("--cuda", help="the member's CUDA version (default: read nix/toolchain.json)")
    g.add_argument("--driver", help="pretend the host driver is this version (default: ask the host)")
    g.add_argument(
        "--policy",
        choices=("toolkit", "minor"),
        help="driver policy (default: nix/toolchain.json's driver_policy, else toolkit)",
    )
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object on stdout")
    g.set_defaults(func=run_guard)


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def run(args: argparse.Namespace) -> int:
    """`lockgen toolchain [--write] [--json]`."""
    from lockgen.commands._root import require_root
    from lockgen.errors import InputError
    from lockgen.model.workspace import load_workspace
    from lockgen.plan.toolchain import TOOLCHAIN_FILE, flake_inputs, read_json_file, render_toolchain, toolchain_for
    from lockgen.rules.toolchain import compare_toolchain, toolchain_warnings_for

    root = require_root(args)
    ws = load_workspace(root)
    expected = toolchain_for(ws)
    path = root / TOOLCHAIN_FILE
    inputs = flake_inputs(root)
    wrote = False
    if args.write:
        current = None
        if path.is_file():
            try:
                current = read_json_file(path, TOOLCHAIN_FILE)
            except InputError:
                current = None
        if current != expected:
            from lockgen.model.schema import inside
            from lockgen.seams.safefile import write_target

            # inside the project (no link out of it), a regular file or new, its folder present; mode kept
            from lockgen.seams.txn import WorkspaceLock

            folder = inside(root, path.parent.relative_to(root).as_posix(), "lockgen toolchain --write", TOOLCHAIN_FILE)
            with WorkspaceLock(root):  # never beside a lock/bump that is changing the project
                write_target(folder / path.name, render_toolchain(expected).encode("utf-8"), TOOLCHAIN_FILE)
            wrote = True
    actual: Any = None
    if path.is_file():
        try:
            actual = read_json_file(path, TOOLCHAIN_FILE)
        except InputError as e:
            actual = {"_unreadable": e.message}
    violations = compare_toolchain(expected, actual) if actual is not None else []
    warnings = toolchain_warnings_for(actual if actual is not None else expected, inputs)
    missing = actual is None
    if _json(args):
        doc = {
            "ok": not violations and not missing,
            "file": TOOLCHAIN_FILE,
            "exists": not missing,
            "wrote": wrote,
            "inputs": [
                {"name": p.name, "rev": p.rev, "known": p.row is not None, "cuda_sets": sorted(p.row.cuda_sets)}
                if p.row
                else {"name": p.name, "rev": p.rev, "known": False, "cuda_sets": []}
                for p in inputs or ()
            ],
            "toolchain": expected,
            "violations": [v.to_json() for v in violations],
            "warnings": [v.to_json() for v in warnings],
        }
        print_json(doc)
        return 0 if doc["ok"] else 1
    print(f"python: {expected['python']} (from .python-version); driver policy: {expected['driver_policy']}")
    for p in inputs or ():
        print(f"nixpkgs input {p.describe()}" + (f": {', '.join(sorted(p.row.cuda_sets))}" if p.row else ""))
    shells = [*expected["members"].items(), ("default shell", expected["default"])]
    for name, entry in shells:
        if entry is None:
            print(f"{name}: no CUDA toolkit (no member uses CUDA)")
        else:
            source = f"from input {entry['input']}" if entry["input"] else "from NO pinned input (see the warning)"
            print(f"{name}: CUDA {entry['cuda']} -> nixpkgs {entry['nix_attr']} {source}")
    if wrote:
        print(f"wrote {TOOLCHAIN_FILE}")
    for w in warnings:
        where = w.file + (f" [{w.member}]" if w.member else "")
        print(f"warning[{w.rule}] {where}: {w.message}\n    fix: {w.fix}")
    if missing:
        print(f"error[toolchain] {TOOLCHAIN_FILE}: missing\n    fix: run `lockgen toolchain --write`")
        return 1
    for v in violations:
        where = v.file + (f" [{v.member}]" if v.member else "")
        print(f"error[{v.rule}] {where}: {v.message}\n    fix: {v.fix}")
    if not violations:
        print(f"ok: {TOOLCHAIN_FILE} matches uv.lock" + (" and the pinned nixpkgs inputs" if inputs else ""))
    return 1 if violations else 0


def read_host_driver() -> Any:
    """The host's NVIDIA driver through seams.host (the one seam for what the machine says); None when absent."""
    from lockgen.errors import LockgenError
    from lockgen.tables.versions import DriverVersion

    try:
        from lockgen.seams import host
    except ImportError:
        raise LockgenError("this lockgen has no host probe (lockgen.seams.host); pass --driver VERSION") from None
    value = host.driver_version()
    if value is None or isinstance(value, DriverVersion):
        return value
    try:
        return DriverVersion.parse(str(value))
    except ValueError:
        return None


def _member_cuda_from_files(args: argparse.Namespace, member: str) -> tuple[str, str | None]:
    """(cuda, policy) for `member` from nix/toolchain.json, falling back to uv.lock."""
    from lockgen.commands._root import require_root
    from lockgen.errors import InputError
    from lockgen.plan.toolchain import TOOLCHAIN_FILE, read_json_file

    root = require_root(args)
    path = root / TOOLCHAIN_FILE
    if path.is_file():
        data = read_json_file(path, TOOLCHAIN_FILE)
        entry = data.get("members", {}).get(member) if isinstance(data, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("cuda"), str):
            return entry["cuda"], data.get("driver_policy")
    from lockgen.model.cudadetect import member_cuda
    from lockgen.model.workspace import load_workspace

    ws = load_workspace(root)
    if member not in ws.members:
        raise InputError(
            "pyproject.toml",
            "tool.uv.workspace.members",
            f"no member called {member!r} (members: {', '.join(sorted(ws.members))})",
        )
    mc = member_cuda(ws.lock, member)
    if mc.cuda is None:
        raise InputError("uv.lock", member, "has no single CUDA version; nothing to check the driver against")
    return str(mc.cuda), ws.fleet.policy


def run_guard(args: argparse.Namespace) -> int:
    """`lockgen toolchain guard --member M [--cuda X] [--driver V] [--policy P]`: exit 0 when the driver fits."""
    from lockgen.errors import InputError
    from lockgen.ops.toolchain import guard_verdict
    from lockgen.tables.knowledge import load_knowledge
    from lockgen.tables.versions import CudaVersion

    member = args.member
    policy = args.policy
    if args.cuda:
        cuda_text = args.cuda
    else:
        cuda_text, file_policy = _member_cuda_from_files(args, member)
        policy = policy or file_policy
    policy = policy if policy in ("toolkit", "minor") else "toolkit"
    try:
        cuda = CudaVersion.parse(cuda_text)
    except ValueError as e:
        raise InputError("--cuda", None, str(e)) from None
    if args.driver:
        from lockgen.model.fleet import check_driver

        # the same rules as the fleet's driver: "12.4" is a CUDA version, "999.99" no driver lockgen can place
        driver = check_driver(args.driver, load_knowledge(), "lockgen toolchain guard", "--driver")
    else:
        driver = read_host_driver()
    verdict = guard_verdict(member, cuda, driver, load_knowledge(), policy)
    if _json(args):
        print_json(
            {
                "ok": verdict.ok,
                "level": verdict.level,
                "member": member,
                "cuda": str(cuda),
                "driver": str(driver) if driver else None,
                "required": str(verdict.required) if verdict.required else None,
                "policy": policy,
                "message": verdict.message,
            }
        )
    else:
        prefix = "lockgen: " if verdict.ok else "lockgen: WARNING: "
        print(prefix + verdict.message)
    return 0 if verdict.ok else 1
