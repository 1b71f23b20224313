"""`lockgen sync MEMBER` and `lockgen run MEMBER -- CMD ...`: each member in its own environment.

train and serve conflict (different torch builds), so one `.venv` cannot hold both: `uv sync --package serve` after
`--package train` swaps 145 packages and leaves serve's CUDA 13 torch beside train's CUDA 12 xformers. These commands
give every member its own environment, `.venv-<member>` at the project root (what the Nix dev shells use too), and
run uv with `UV_PROJECT_ENVIRONMENT` pointing there - installing exactly the lock (`--frozen`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HELP_SYNC = "install one member from the lock into its own environment (.venv-MEMBER)"
HELP_RUN = "run a command in a member's own environment (installs it from the lock first)"
DESCRIPTION = """\
Each member gets its own environment, .venv-MEMBER at the project root (the root project keeps .venv):
  lockgen sync train                       uv sync --frozen --package train, into .venv-train
  lockgen run train -- train-lora ...      uv run --frozen --package train train-lora ..., in .venv-train
so train and serve never share (and break) one environment. {extra}
exit codes: uv's (or the command's); 2 for an unknown member
"""
EXTRA_SYNC = "Arguments after `--` go to `uv sync` (e.g. `lockgen sync train -- --no-dev`)."
EXTRA_RUN = "Arguments after `--` are the command and its own arguments."


def register(sub: Any) -> None:
    """Add the `sync` and `run` commands."""
    raw = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("sync", help=HELP_SYNC, description=DESCRIPTION.format(extra=EXTRA_SYNC), formatter_class=raw)
    s.add_argument("member", metavar="MEMBER", help="the member to install (e.g. train)")
    optional(
        s.add_argument("uv_args", nargs=argparse.REMAINDER, metavar="-- UV_ARGS", help="more arguments for `uv sync`")
    )
    s.set_defaults(func=run_sync)
    r = sub.add_parser("run", help=HELP_RUN, description=DESCRIPTION.format(extra=EXTRA_RUN), formatter_class=raw)
    r.add_argument("member", metavar="MEMBER", help="the member whose environment runs the command")
    # not `command`: the top-level parser keeps the subcommand's name there (error messages say "lockgen run")
    optional(
        r.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command and its arguments")
    )
    r.set_defaults(func=run_run)


def optional(action: argparse.Action) -> None:
    """A REMAINDER positional may be empty: argparse would name it as "required" beside a missing MEMBER."""
    action.required = False


def environment_dir(root: Path, member: str, path: str) -> Path:
    """Where a member's environment lives: `.venv-<member>` (the root project: `.venv`)."""
    return root / (".venv" if path == "." else f".venv-{member}")


def _member(args: argparse.Namespace) -> tuple[Path, str, Path]:
    from lockgen.commands._root import require_root
    from lockgen.errors import InputError
    from lockgen.model.lockfile import normalize
    from lockgen.model.workspace import load_workspace

    root = require_root(args)
    ws = load_workspace(root)
    name = normalize(args.member)
    known = sorted(m for m in ws.members if ws.lock.by_name(m))
    if name not in known:
        raise InputError(
            "lockgen " + args.command, "MEMBER", f"no member {args.member!r} (members: {', '.join(known)})"
        )
    return root, name, environment_dir(root, name, ws.members[name].path)


def _uv(argv: list[str], root: Path, env_dir: Path) -> int:
    from lockgen.seams.uvtool import find_uv

    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # an outer `uv run`'s venv is not ours
    env["UV_PROJECT_ENVIRONMENT"] = str(env_dir)
    sys.stdout.flush()
    return subprocess.run([find_uv(), *argv], cwd=root, env=env, check=False).returncode


def _rest(items: list[str]) -> list[str]:
    return items[1:] if items[:1] == ["--"] else items


def run_sync(args: argparse.Namespace) -> int:
    """Entry point of `lockgen sync`."""
    root, member, env_dir = _member(args)
    return _uv(["sync", "--frozen", "--package", member, *_rest(args.uv_args)], root, env_dir)


def run_run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen run`."""
    from lockgen.errors import InputError

    root, member, env_dir = _member(args)
    command = _rest(args.cmd)
    if not command:
        raise InputError("lockgen run", "CMD", "no command given: `lockgen run MEMBER -- CMD [ARGS ...]`")
    return _uv(["run", "--frozen", "--package", member, *command], root, env_dir)
