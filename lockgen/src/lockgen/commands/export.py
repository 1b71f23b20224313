"""`lockgen export`: one member's locked environment as a PEP 723 header, a Colab install cell, an .ipynb (marimo's
exporter plus the install cell), requirements.txt or pylock.toml. pep723 and colab come from lockgen.plan.export and
lockgen.plan.colab (pure); the notebook's own requirements are pinned with `uv lock --script`, requirements and pylock
come from `uv export`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

HELP = "write a member's exact locked pins as a PEP 723 header, a Colab install cell, an .ipynb, requirements or pylock"
DESCRIPTION = """\
Formats:
  pep723        the `# /// script` block of a script or marimo notebook: requires-python, the exact pins of
                everything `uv sync --package MEMBER` installs, each gated by the lock's environments
                (sys_platform == 'linux' and platform_machine == ...: uv refuses `environments` in a script),
                [tool.uv] exclude-newer (the lock's), constraint-/override-dependencies (the workspace's) and
                [[tool.uv.index]]/[tool.uv.sources] for pins from another index. With -o, only the block of that
                file is written or updated (inserted at the top when missing); every other byte stays as it was.
                Your own requirements in the block (marimo, ipython) are kept, and what they add beyond the lock
                is resolved once with uv (PyPI) and pinned exactly in [tool.lockgen.export] extra-pins; it is
                resolved again when they change or with --resolve-extras.
  colab         a Python cell for Colab: checks the kernel's Python, clears the variables through which Colab
                pins its own packages for uv, installs the x86_64 pins with `uv pip install --no-deps` (pip when
                there is no uv), says what it replaced and uninstalls preinstalled packages built for another
                version of a pinned one (torchaudio for another torch). The lock is first checked against the
                fleet (--fleet, default: the Colab preset): exit 1 when its CUDA or Python cannot run there.
  ipynb         --notebook NB (a marimo notebook) converted by marimo's own exporter (`uv tool run --from
                marimo==V marimo export ipynb`, V from the notebook's pins) with the install cell first
  requirements  `uv export --format requirements.txt` (with hashes)
  pylock        `uv export --format pylock.toml` (PEP 751)
Workspace projects (the member itself) are left out: they install from the checkout.
--fleet colab|FILE: check the lock against that fleet first (FILE: a TOML [fleet] table with driver, gpus,
policy; the preset's facts and sources are in lockgen/tables/data/colab.toml).
--check compares instead of writing: exit 1 when -o's file is not what export would write.
exit codes: 0 ok (or up to date), 1 out of date (--check) or the lock cannot run on the fleet, 2 bad input
"""
FORMATS = ("pep723", "colab", "ipynb", "requirements", "pylock")
UV_FORMATS = {"requirements": "requirements.txt", "pylock": "pylock.toml"}
MARIMO = "0.25.2"  # marimo's exporter when the notebook pins no marimo (its `__generated_with`)
NBFORMAT = "5.10.4"  # marimo's ipynb exporter needs nbformat


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
        metavar="FILE",
        help="file to write (pep723: the notebook whose header is updated); -o/--output-file as uv export says",
    )
    p.add_argument("--check", action="store_true", help="with -o: change nothing, exit 1 when out of date")
    p.add_argument("--fleet", help="check the lock against this fleet first: `colab` or a TOML file (colab's default)")
    p.add_argument("--notebook", type=Path, help="ipynb: the marimo notebook to convert")
    p.add_argument(
        "--resolve-extras",
        action="store_true",
        help="pep723: resolve the block's own requirements (marimo...) again with uv and pin what they add",
    )
    p.set_defaults(func=run)


def render(
    ws: Any,
    member: str,
    fmt: str,
    current: str | None,
    file: str = "notebook",
    extra_pins: Any = None,
    fleet: Any = None,
) -> str:
    """The exported text: for pep723 with `current` (the file's text, named `file` in errors), the whole updated
    file. Pure for pep723 and colab (`extra_pins`: a fresh resolution, else the block's recorded ones)."""
    from lockgen.plan.export import pep723_text, render_colab

    if fmt == "colab":
        return render_colab(ws.lock, member, fleet=fleet)
    if fmt == "pep723":
        return pep723_text(ws, member, current, file, extra_pins)
    return uv_export(ws.root, member, UV_FORMATS[fmt])


def resolve_extra_pins(ws: Any, export: Any, extras: Any, file: str) -> tuple[str, ...]:
    """What the block's own requirements add beyond the member's lock, pinned: `uv lock --script` on a copy of the
    block (the member's pins, the user's requirements, the lock's exclude-newer and constraints), then `uv export
    --script`; every package the member does not lock, with uv's marker. Needs PyPI; UvError saying so otherwise."""
    import tempfile

    import tomlkit

    from lockgen.errors import UvError
    from lockgen.model.lockfile import normalize
    from lockgen.plan.export import comment_block, gate_requirement, render_script_toml
    from lockgen.seams.uvtool import run_uv

    seed = tomlkit.dumps({"dependencies": [gate_requirement(e, export.gate) for e in extras]}) if extras else None
    block = comment_block(render_script_toml(export, seed, file, extra_pins=()))
    locked = export.names() | {normalize(export.member)}
    with tempfile.TemporaryDirectory(prefix="lockgen-extras-") as tmp:
        script = Path(tmp) / "extras.py"
        script.write_text(block, encoding="utf-8")
        out = None
        for argv in (
            ["lock", "--script", str(script)],
            ["export", "--script", str(script), "--format", "requirements.txt", "--no-hashes", "--no-header",
             "--no-annotate"],
        ):  # fmt: skip
            res = run_uv(argv, cwd=Path(tmp))
            if res.returncode != 0:
                detail = " | ".join(res.stderr.strip().splitlines()[-3:]) or f"exit code {res.returncode}"
                raise UvError(
                    f"{file}: pinning the notebook's own requirements ({', '.join(extras)}) needs uv and PyPI: "
                    f"`uv {argv[0]} --script` failed: {detail}"
                )
            out = res.stdout
    pins = []
    for line in (out or "").splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "-")):
            continue
        name = normalize(re.split(r"[=<>!~ ;@\[]", text, maxsplit=1)[0])
        if name not in locked:
            pins.append(text)
    return tuple(pins)


def _needs_resolving(current: str, export: Any, file: str) -> tuple[tuple[str, ...], bool]:
    """(the block's own requirements, whether what they add must be resolved again): yes when they differ from
    the recorded ones, or one of them is pinned neither by the lock nor by the recorded extra-pins."""
    import tomllib

    from lockgen.plan.export import _requirement_name, classify_requirements, find_script_block, recorded_extra_pins

    block = find_script_block(current, file)
    if block is None:
        return (), False
    extras, _ = classify_requirements(block.toml, export, file)
    if not extras:
        return (), False
    table = tomllib.loads(block.toml).get("tool", {}).get("lockgen", {}).get("export", {})
    recorded = [str(x) for x in table.get("extra", [])] if isinstance(table, dict) else []
    covered = export.names() | {_requirement_name(p) for p in recorded_extra_pins(block.toml, file)}
    stale = list(extras) != recorded or any(_requirement_name(e) not in covered for e in extras)
    return extras, stale


def render_ipynb(ws: Any, member: str, notebook: Path, spec: Any) -> str:
    """The marimo notebook as .ipynb (marimo's exporter, on a copy whose header lockgen refreshed), with a first
    cell that installs the header's pins (the member's lock and the notebook's own requirements)."""
    import json
    import tempfile

    from lockgen.errors import InputError, UvError
    from lockgen.plan.colab import DEFAULT_CLEAR, install_cell
    from lockgen.plan.export import member_export_of, script_pins
    from lockgen.seams.uvtool import run_uv

    shown = str(notebook)
    try:
        text = notebook.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(shown, None, f"cannot be read: {e}") from None
    export = member_export_of(ws, member)
    fresh = render(ws, member, "pep723", text, shown)
    pins = list(script_pins(fresh, shown) or ())
    marimo = next((m.group(1) for p in pins if (m := re.match(r"^marimo==([^ ;]+)", p))), MARIMO)
    with tempfile.TemporaryDirectory(prefix="lockgen-ipynb-") as tmp:
        src, out = Path(tmp) / notebook.name, Path(tmp) / "out.ipynb"
        src.write_text(fresh, encoding="utf-8")
        argv = ["tool", "run", "--from", f"marimo=={marimo}", "--with", f"nbformat=={NBFORMAT}", "marimo", "export",
                "ipynb", "--sort", "top-down", "--no-sandbox", str(src), "-o", str(out)]  # fmt: skip
        res = run_uv(argv, cwd=Path(tmp))
        if res.returncode != 0 or not out.is_file():
            detail = " | ".join(res.stderr.strip().splitlines()[-3:]) or f"exit code {res.returncode}"
            raise UvError(f"{shown}: marimo {marimo}'s ipynb exporter failed (uv tool run needs PyPI): {detail}")
        nb = json.loads(out.read_text(encoding="utf-8"))
    title = [
        f"lockgen export --member {member} --format ipynb: the exact pins of {notebook.name}'s header (uv.lock's "
        f"{member} member and the notebook's own requirements); regenerate, do not edit.",
    ]
    cell_text = install_cell(
        title, pins, [ix.url for ix in export.indexes], ws.lock.requires_python, spec.clear if spec else DEFAULT_CLEAR
    )
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = "lockgen-install"
    cell["source"] = cell_text.splitlines(keepends=True)
    nb.setdefault("cells", []).insert(0, cell)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


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
    from lockgen.commands._root import require_root
    from lockgen.errors import InputError
    from lockgen.model.lockfile import normalize
    from lockgen.model.workspace import load_workspace
    from lockgen.plan.export import member_export_of
    from lockgen.seams.safefile import read_target, write_target
    from lockgen.ui import Reporter

    ws = load_workspace(require_root(args))
    member = normalize(args.member)
    if member not in ws.members or not ws.lock.by_name(member):
        known = ", ".join(sorted(m for m in ws.members if ws.lock.by_name(m)))
        raise InputError("pyproject.toml", "tool.uv.workspace.members", f"no member {args.member!r} (members: {known})")
    if args.check and args.into is None:
        raise InputError("lockgen export", "--check", "needs -o FILE (the file to compare)")
    if args.format == "ipynb" and args.notebook is None:
        raise InputError("lockgen export", "--notebook", "--format ipynb needs --notebook NB.py (a marimo notebook)")
    reporter = Reporter()
    current = None
    # -o must be a regular file or new (no link, device, FIFO; its folder must exist): checked before reading
    old = read_target(args.into) if args.into is not None else None
    if args.into is not None and args.format == "pep723":
        try:
            current = old.decode("utf-8") if old is not None else ""  # CRLF kept as is
        except UnicodeDecodeError as e:
            raise InputError(str(args.into), None, f"cannot be read: {e}") from None
    spec = None
    fleet_name = args.fleet or ("colab" if args.format == "colab" else None)
    if fleet_name:
        from lockgen.plan.colab import check_member, load_fleet

        spec = load_fleet(fleet_name, ws.knowledge)
        problems, notes = check_member(ws, member, spec)
        for note in notes:
            reporter.step(f"{spec.name}: {note}")
        if problems:
            for problem in problems:
                print(f"lockgen export: {spec.name}: {problem}", file=sys.stderr)
            print(
                f"lockgen export: {member}'s lock cannot run on {spec.name} ({spec.fleet.describe()}; {spec.file}): "
                f"re-lock {member} for that fleet (set [tool.lockgen] driver/gpus/policy as in {spec.file}, then "
                "`lockgen lock`), or use another member",
                file=sys.stderr,
            )
            return 1
    extra_pins = None
    if current and not args.check:
        export = member_export_of(ws, member)
        extras, stale = _needs_resolving(current, export, str(args.into))
        if extras and (stale or args.resolve_extras):
            reporter.step(f"{args.into}: pinning what {', '.join(extras)} add beyond the lock (uv lock --script)")
            extra_pins = resolve_extra_pins(ws, export, extras, str(args.into))
    if args.format == "ipynb":
        text = render_ipynb(ws, member, args.notebook, spec)
    else:
        text = render(ws, member, args.format, current, str(args.into), extra_pins, spec)
    if current:
        from lockgen.plan.export import classify_requirements, find_script_block

        block = find_script_block(current, str(args.into))
        if block is not None:
            _, dropped = classify_requirements(block.toml, member_export_of(ws, member), str(args.into))
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
            f"{args.format} -o {args.into}`",
            file=sys.stdout,
        )
        return 1
    write_target(args.into, new)
    reporter.step(f"{args.into}: wrote the {args.format} export of {member}")
    return 0
