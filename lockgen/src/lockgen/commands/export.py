"""`lockgen export`: one member's locked environment as a PEP 723 header, a Colab pip cell, requirements.txt or
pylock.toml. pep723 and colab come from lockgen.ops.export (pure); requirements and pylock from `uv export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "write a member's exact locked pins as a PEP 723 script header, Colab pip lines, requirements or pylock"
DESCRIPTION = """\
Formats:
  pep723        the `# /// script` block of a script or marimo notebook: requires-python and the exact pins of
                everything `uv sync --package MEMBER` installs (platform markers where x86_64 and aarch64
                differ), plus [[tool.uv.index]]/[tool.uv.sources] for pins from another index. With --into, only
                the block of that file is written or updated (inserted at the top when missing); every other byte
                stays as it was. Requirements in the block on packages outside the lock (marimo) are kept.
  colab         a notebook cell: `%pip install --no-deps` with the x86_64 pins (Colab has no uv)
  requirements  `uv export --format requirements.txt` (with hashes)
  pylock        `uv export --format pylock.toml` (PEP 751)
Workspace projects (the member itself) are left out: they install from the checkout.
--check compares instead of writing: exit 1 when --into's file is not what export would write.
exit codes: 0 ok (or up to date), 1 out of date (--check), 2 bad input
"""
FORMATS = ("pep723", "colab", "requirements", "pylock")
UV_FORMATS = {"requirements": "requirements.txt", "pylock": "pylock.toml"}


def register(sub: Any) -> None:
    """Add the `export` command."""
    p = sub.add_parser(
        "export", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--member", required=True, help="the workspace member (e.g. train)")
    p.add_argument("--format", required=True, choices=FORMATS, dest="format")
    p.add_argument(
        "-o",
        "--output-file",
        "--into",
        dest="into",
        type=Path,
        help="file to write (pep723: the notebook whose header is updated); -o/--output-file as uv export says",
    )
    p.add_argument("--check", action="store_true", help="with --into: change nothing, exit 1 when out of date")
    p.set_defaults(func=run)


def render(ws: Any, member: str, fmt: str, current: str | None, file: str = "notebook") -> str:
    """The exported text: for pep723 with `current` (the file's text, named `file` in errors), the whole updated
    file."""
    from lockgen.ops.export import member_export, render_colab, update_script_block

    if fmt == "colab":
        return render_colab(ws.lock, member)
    if fmt == "pep723":
        names = index_names(ws.pyproject)
        export = member_export(ws.lock, member, names)
        if current is None:
            from lockgen.ops.export import comment_block, render_script_toml

            return comment_block(render_script_toml(export))
        return update_script_block(current, export, file)
    return uv_export(ws.root, member, UV_FORMATS[fmt])


def index_names(pyproject: Any) -> dict[str, str]:
    """URL -> name of the root pyproject's `[[tool.uv.index]]` entries."""
    out = {}
    for ix in pyproject.get("tool", {}).get("uv", {}).get("index", []) or []:
        if isinstance(ix, dict) and "url" in ix and "name" in ix:
            out[str(ix["url"]).rstrip("/")] = str(ix["name"])
    return out


def uv_export(root: Path, member: str, uv_format: str) -> str:
    """`uv export --frozen --package MEMBER --format F --no-emit-workspace` (the lock as is, never re-resolved)."""
    from lockgen.errors import UvError
    from lockgen.seams.uvtool import run_uv

    res = run_uv(["export", "--frozen", "--package", member, "--format", uv_format, "--no-emit-workspace"], cwd=root)
    if res.returncode != 0:
        detail = " | ".join(res.stderr.strip().splitlines()[-3:]) or f"exit code {res.returncode}"
        raise UvError(f"`uv {' '.join(res.argv[1:])}` failed: {detail}")
    return res.stdout


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen export`."""
    from lockgen.cli import require_root
    from lockgen.errors import InputError
    from lockgen.model.lockfile import normalize
    from lockgen.model.workspace import load_workspace
    from lockgen.seams.safefile import read_target, write_target
    from lockgen.ui import Reporter

    ws = load_workspace(require_root(args))
    member = normalize(args.member)
    if member not in ws.members or not ws.lock.by_name(member):
        known = ", ".join(sorted(m for m in ws.members if ws.lock.by_name(m)))
        raise InputError("pyproject.toml", "tool.uv.workspace.members", f"no member {args.member!r} (members: {known})")
    if args.check and args.into is None:
        raise InputError("lockgen export", "--check", "needs --into FILE (the file to compare)")
    reporter = Reporter()
    current = None
    # --into must be a regular file or new (no link, device, FIFO; its folder must exist): checked before reading
    old = read_target(args.into) if args.into is not None else None
    if args.into is not None and args.format == "pep723":
        try:
            current = old.decode("utf-8") if old is not None else ""  # CRLF kept as is
        except UnicodeDecodeError as e:
            raise InputError(str(args.into), None, f"cannot be read: {e}") from None
    text = render(ws, member, args.format, current, str(args.into))
    if current:
        from lockgen.ops.export import classify_requirements, find_script_block, member_export

        block = find_script_block(current, str(args.into))
        if block is not None:
            export = member_export(ws.lock, member, index_names(ws.pyproject))
            _, dropped = classify_requirements(block.toml, export, str(args.into))
            if dropped:
                names = sorted({d.split(";")[0].strip() for d in dropped})
                shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
                reporter.step(
                    f"{args.into}: removing {shown}: no longer in the lock (a requirement of your own stays when "
                    "listed in the block's [tool.lockgen.export] extra)"
                )
    if args.into is None:
        sys.stdout.write(text)
        return 0
    new = text.encode("utf-8")
    if old == new:
        reporter.step(f"{args.into}: up to date with uv.lock ({member}, {args.format})")
        return 0
    if args.check:
        print(
            f"{args.into}: out of date with uv.lock: run `lockgen export --member {member} --format "
            f"{args.format} --into {args.into}`",
            file=sys.stdout,
        )
        return 1
    write_target(args.into, new)
    reporter.step(f"{args.into}: wrote the {args.format} export of {member}")
    return 0
