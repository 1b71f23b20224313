"""`lockgen doctor`: is this machine right for this lock?

Reads the host through lockgen.seams.host (NVML, nvidia-smi, /proc; libcuda; nvcc; the environment's installed
distributions; torch's files) and compares it with the lock (lockgen.ops.diagnose). Imports only the standard library,
`packaging` and lockgen's own modules, so `PYTHONPATH=lockgen/src python3 -m lockgen doctor` runs on a bare GPU
machine; `python3 -m lockgen.commands.doctor` works even where lockgen.cli cannot be imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from lockgen.ui import print_json

HELP = "check this machine (driver, GPUs, installed packages, nvcc) against the lock"
DESCRIPTION = """\
Checks, without changing anything:
  gpu       the driver reports GPUs (NVML, nvidia-smi, then /proc/driver/nvidia)
  driver    the driver is new enough for each member's CUDA (fleet policy)
  arch      each GPU's architecture is supported by that CUDA and by the torch build
  fleet     this machine's GPUs and driver are in the fleet ([tool.lockgen])
  torch     the installed torch is a CUDA build of the locked CUDA
  drift     installed versions equal uv.lock's for the installed member (or --member)
  nvcc      nvcc's CUDA matches torch's, for extensions built from source
  libcuda   libcuda.so.1 loads
  python    the environment's Python is .python-version's
Without a GPU it says so and checks the rest. Without a workspace it checks against the installed torch.
exit codes: 0 no failures (warnings allowed), 1 failures, 2 bad input
"""

MARK = {"ok": "ok  ", "fail": "FAIL", "warn": "warn", "skip": "skip"}


def register(sub: Any) -> None:
    """Add the `doctor` command."""
    p = sub.add_parser(
        "doctor", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """doctor's options (shared by the subcommand and the standalone entry point)."""
    p.add_argument("--member", help="check against this member (default: the member installed in the environment)")
    p.add_argument(
        "--env",
        type=Path,
        default=None,
        help="the Python environment to inspect: a venv directory or a site-packages directory "
        "(default: $VIRTUAL_ENV, else this interpreter's)",
    )
    p.add_argument("--deep", action="store_true", help="also import torch (slow) to ask for its architectures and CUDA")
    p.add_argument("--require-gpu", action="store_true", help="fail when no GPU is found (default: warn)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def environment_of(
    env: Path | None, environ: dict[str, str] | os._Environ[str]
) -> tuple[list[Path] | None, str | None, str | None]:
    """(site-packages dirs, description, python) of the environment to inspect; all None for this interpreter."""
    from lockgen.seams.host import venv_site_packages

    if env is None:
        venv = environ.get("VIRTUAL_ENV")
        if venv and Path(venv).resolve() != Path(sys.prefix).resolve() and Path(venv).is_dir():
            env = Path(venv)
        else:
            return None, None, None
    if not env.is_dir():
        from lockgen.errors import InputError

        raise InputError(str(env), None, "--env: not a directory (give a venv or a site-packages directory)")
    python = env / "bin" / "python"
    return venv_site_packages(env), str(env), str(python) if python.exists() else None


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen doctor`."""
    from lockgen.ops.diagnose import diagnose
    from lockgen.seams.host import probe_host
    from lockgen.tables.knowledge import load_knowledge

    knowledge = load_knowledge()
    ws = None
    root = getattr(args, "root", None)
    if root is not None:
        from lockgen.model.workspace import load_workspace

        ws = load_workspace(root, knowledge)
    site, where, python = environment_of(args.env, os.environ)
    host = probe_host(site_packages=site, environment=where, deep=args.deep, python=python)
    result = diagnose(host, ws, knowledge, args.member, require_gpu=args.require_gpu)
    if args.json:
        doc = {
            "ok": result.exit_code == 0,
            "root": str(ws.root) if ws else None,
            "selection": result.selection,
            "targets": [
                {"member": t.member, "cuda": str(t.cuda) if t.cuda else None, "torch": t.torch} for t in result.targets
            ],
            "host": host.to_json(),
            "checks": [c.to_json() for c in result.checks],
        }
        print_json(doc)
        return result.exit_code
    out = sys.stdout
    print(f"lockgen doctor: {ws.root if ws else 'no uv workspace'}; checking {result.selection}", file=out)
    width = max(len(c.name) for c in result.checks)
    for c in result.checks:
        print(f"  {MARK[c.status]}  {c.name:<{width}}  {c.detail}", file=out)
        if c.fix and c.status in ("fail", "warn"):
            print(f"  {'':4}  {'':<{width}}  fix: {c.fix}", file=out)
        if c.alt_fix and c.status == "fail":
            print(f"  {'':4}  {'':<{width}}  without uv (e.g. Colab): {c.alt_fix}", file=out)
    counts = {s: sum(1 for c in result.checks if c.status == s) for s in MARK}
    print(
        f"{counts['fail']} failed, {counts['warn']} warning(s), {counts['ok']} ok, {counts['skip']} skipped", file=out
    )
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`python -m lockgen.commands.doctor`), for machines where lockgen.cli cannot load."""
    from lockgen.errors import LockgenError
    from lockgen.model.workspace import find_root

    p = argparse.ArgumentParser(
        prog="lockgen-doctor", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-C", "--directory", type=Path, default=None, help="workspace root (default: found from cwd)")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        try:
            args.root = find_root(args.directory or Path.cwd())
        except LockgenError:
            if args.directory is not None:
                raise
            args.root = None
        return run(args)
    except LockgenError as e:
        print(f"lockgen: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
