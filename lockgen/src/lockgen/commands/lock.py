"""`lockgen lock`: apply the fleet, resolve with uv, re-pin strictly, write the toolchain, check."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "re-lock inside the fleet's CUDA window (members that no longer fit move) and pin strictly"
DESCRIPTION = """\
One transaction: writes the fleet's CUDA window as caps on the CUDA runtime packages in
[tool.uv] constraint-dependencies (entries lockgen owns, listed in [tool.lockgen] managed-constraints)
and excludes builds the fleet's driver cannot run; keeps every pin that still fits, frees the torch
family (with what follows torch's version: transformers, peft, ... tables/data/hidden.toml) of members the
fleet no longer admits; runs `uv lock`; steers uv away from builds whose CUDA disagrees with torch and
from locked pairs that match a requirement the metadata hides (tables/data/hidden.toml) - an exclusion one
member needs goes into that member's dependencies ([tool.lockgen] managed-requirements) when [tool.uv]
conflicts keeps it apart from the other members that install the package; pins with == what uv chose;
writes nix/toolchain.json and the notebook headers listed in [tool.lockgen] notebooks; runs the check.
On any failure - uv fails or is killed, Ctrl-C, the check fails, a write fails - every file is restored
byte for byte. A member's own floor ([tool.lockgen] ranges) that the fleet cannot run is named.
exit codes: 0 done, 1 no solution or check failed, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `lock` command."""
    p = sub.add_parser("lock", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--dry-run", action="store_true", help="resolve in a temporary copy and print the plan; write nothing"
    )
    p.add_argument(
        "--exclude-newer", metavar="TIMESTAMP", help="resolve as of this time (default: keep the current one)"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen lock`."""
    from lockgen.commands.bump import execute
    from lockgen.ops.resolve import Request

    return execute(args, Request("lock", exclude_newer=args.exclude_newer))
