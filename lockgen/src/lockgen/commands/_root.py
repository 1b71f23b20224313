"""The workspace root a command works on (cli.py puts it on `args.root`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lockgen.errors import LockgenError


def require_root(args: argparse.Namespace) -> Path:
    """The workspace root for commands that need one; a clear error when there is none."""
    root: Path | None = args.root
    if root is None:
        raise LockgenError(
            "no uv workspace found here or above (a pyproject.toml with [tool.uv.workspace]); use -C DIR"
        )
    return root
