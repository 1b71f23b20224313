"""`lockgen explain [FILE|-]`: what does this error mean, and what fixes it?

Reads an error, traceback or whole log (the last error in it), matches it against lockgen's error knowledge
(tables/data/errors.toml, renames.toml, and the team's own file named by `[tool.lockgen] knowledge` in the root
pyproject.toml) and answers with the category, the cause in plain words and the fix as exact commands (uv for the
workspace, pip for Colab). Inside a workspace the answer is made concrete with the lock and this machine (seams.host).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lockgen.ui import print_json

HELP = "explain an error or traceback: category, cause and the commands that fix it"
DESCRIPTION = """\
Reads an error (a file, or stdin with - or a pipe; a long log is fine: the last error in it is read, and its line
is named) and answers with its category (import errors, CUDA/GPU errors, build errors, runtime errors), the cause in
plain words, and the fix as exact commands: uv for this workspace, pip for Colab. Inside a workspace the answer names
the lock's CUDA and this machine's driver and GPUs; use --driver when the error came from another machine, --no-host
to leave this machine out. Every index URL, version and driver figure printed comes from lockgen's tables or the
lock; when facts are missing it says what to run to get them. A team's own knowledge file (same format as
tables/data/errors.toml) is named in the root pyproject.toml: [tool.lockgen] knowledge = "path.toml".
An error lockgen does not know is reported as not recognised, with what was checked.
exit codes: 0 recognised, 1 not recognised, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `explain` command."""
    p = sub.add_parser(
        "explain", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("file", nargs="?", default=None, help="a file holding the error (default or -: stdin)")
    p.add_argument("--member", help="the member the error comes from (default: the one installed, if any)")
    p.add_argument("--driver", help="the NVIDIA driver of the machine where the error happened (default: this one's)")
    p.add_argument("--no-host", action="store_true", help="do not read this machine (the error came from elsewhere)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def read_input(file: str | None) -> str:
    """The error text from FILE, or stdin; InputError when there is nothing to read."""
    from lockgen.errors import InputError

    if file not in (None, "-"):
        try:
            text = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise InputError(file, None, f"cannot be read: {e.strerror}") from None
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("stdin", None, "no error text: give a FILE, or pipe the error into `lockgen explain -`")
        text = sys.stdin.read()
    if not text.strip():
        raise InputError(file or "stdin", None, "is empty: paste the error or traceback")
    return text


def build_context(root: Path | None, member: str | None, driver: str | None, use_host: bool) -> tuple[Any, list[str]]:
    """The ExplainContext for the workspace at `root` (None outside one) and this machine; plus notes for stderr."""
    from lockgen.errors import InputError, LockgenError
    from lockgen.ops.explain import ExplainContext, MemberFacts
    from lockgen.tables.knowledge import load_knowledge
    from lockgen.tables.versions import DriverVersion

    knowledge = load_knowledge()
    notes: list[str] = []
    drv = None
    if driver is not None:
        try:
            drv = DriverVersion.parse(driver)
        except ValueError as e:
            raise InputError("--driver", None, str(e)) from None
    host = None
    if use_host:
        from lockgen.seams.host import probe_host

        host = probe_host()
    members: list[Any] = []
    fleet = None
    if root is not None:
        try:
            from lockgen.model.cudadetect import member_cuda_from
            from lockgen.model.workspace import load_workspace

            ws = load_workspace(root, knowledge)
            fleet = ws.fleet
            for name in sorted(ws.members):
                if not ws.lock.by_name(name):
                    continue
                installed = ws.installed(name)
                mc = member_cuda_from(name, installed)
                cuda = mc.cuda or (max(mc.versions) if mc.versions else None)
                if cuda is None and name != member:
                    continue
                packages = {n: p.version for n, p in installed.items() if p.version}
                members.append(MemberFacts(name, cuda, mc.torch, packages))
        except LockgenError as e:
            notes.append(f"workspace not used: {e}")
    focus = None
    if member is not None:
        from lockgen.seams.host import normalize

        focus = normalize(member)
        if members and focus not in {m.name for m in members}:
            raise InputError(
                "--member", None, f"{member!r} is not a member with a lock entry ({', '.join(m.name for m in members)})"
            )
    elif host is not None:
        installed_members = [m.name for m in members if m.name in host.distributions]
        if len(installed_members) == 1:
            focus = installed_members[0]
    members.sort(key=lambda m: m.name != focus)
    ctx = ExplainContext(
        knowledge=knowledge,
        members=tuple(members),
        focus=focus,
        fleet=fleet,
        host=host,
        driver=drv or (host.driver if host is not None else None),
    )
    return ctx, notes


KNOWLEDGE_KEY = "tool.lockgen.knowledge"


def load_catalog_for(root: Path | None) -> Any:
    """The built-in error knowledge, merged with the file `[tool.lockgen] knowledge` names in the root pyproject.toml
    (a path relative to the root). InputError (exit 2) naming the file and key when that file is missing or malformed.
    The key is read here, not by lockgen.model.fleet, which ignores keys it does not know."""
    import tomllib

    from lockgen.errors import InputError
    from lockgen.ops.explain import KnowledgeFileError, load_catalog, load_user_catalog

    base = load_catalog()
    if root is None:
        return base
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return base  # the workspace loader reports a broken pyproject.toml
    table = data.get("tool", {}).get("lockgen", {}) if isinstance(data.get("tool"), dict) else {}
    if not isinstance(table, dict) or "knowledge" not in table:
        return base
    value = table["knowledge"]
    if not isinstance(value, str) or not value.strip():
        raise InputError("pyproject.toml", KNOWLEDGE_KEY, f"expected a path to a TOML file, got {value!r}")
    path = root / value
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "not a UTF-8 text file"
        raise InputError("pyproject.toml", KNOWLEDGE_KEY, f"{value!r} cannot be read: {reason}") from None
    try:
        return load_user_catalog(value, text, base)
    except KnowledgeFileError as e:
        raise InputError(e.file, e.key, e.message) from None


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen explain`."""
    from lockgen.ops.explain import explain

    text = read_input(args.file)
    root = getattr(args, "root", None)
    catalog = load_catalog_for(root)
    ctx, notes = build_context(root, args.member, args.driver, not args.no_host)
    for n in notes:
        print(f"lockgen: {n}", file=sys.stderr)
    result = explain(text, catalog=catalog, ctx=ctx)
    if args.json:
        print_json(result.to_json())
        return 0 if result.recognised else 1
    out = sys.stdout
    if result.error_line is not None and (result.errors_in_input > 1 or result.lines_in_input > 50):
        print(
            f"read: the last of {result.errors_in_input} error lines, line {result.error_line} of "
            f"{result.lines_in_input}"
            + (f" ({result.clipped_lines} long lines clipped)" if result.clipped_lines else ""),
            file=out,
        )
    if not result.recognised:
        print("not recognised: no class of lockgen's error knowledge matches this text.", file=out)
        if result.last_error:
            print(f"last error line: {result.last_error}", file=out)
        print("checked:", file=out)
        for c in result.checked:
            print(f"  - {c}", file=out)
        print(
            "lockgen does not guess. `lockgen doctor` checks this machine against the lock; the knowledge lives in "
            "lockgen/src/lockgen/tables/data/errors.toml, and a team adds its own with "
            '[tool.lockgen] knowledge = "path.toml".',
            file=out,
        )
        return 1
    print(f"{'partly recognised' if result.partial else 'recognised'}: {result.title}", file=out)
    print(f"category: {result.category} - {result.category_title}", file=out)
    print(f"  (decision tree: {result.branch})", file=out)
    print(f"cause: {result.cause}", file=out)
    for d in result.details:
        print(f"here: {d}", file=out)
    print("fix (uv, this workspace):", file=out)
    for f in result.fix_uv:
        print(f"  - {f}", file=out)
    print("fix (pip, e.g. Colab):", file=out)
    for f in result.fix_pip:
        print(f"  - {f}", file=out)
    if result.facts_needed:
        print("to make the fix concrete, run:", file=out)
        for f in result.facts_needed:
            print(f"  - {f}", file=out)
    print(f'matched: "{result.evidence}"', file=out)
    print(f"source: {result.source}", file=out)
    print(f"knowledge: {result.knowledge_file}", file=out)
    if result.also:
        print(f"also matched (less specific): {', '.join(result.also)}", file=out)
    return 0
