"""Command line: `lockgen COMMAND`. A thin shell: parse arguments, call a command module, map errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from lockgen import __version__
from lockgen.errors import LockgenError, OutputClosed
from lockgen.seams.redact import RedactingStream, silence

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`'s writer

# Each module in lockgen.commands exposes register(subparsers); missing ones are skipped.
COMMANDS = (
    "check",
    "lock",
    "bump",
    "matrix",
    "verify",
    "envs",
    "doctor",
    "explain",
    "export",
    "toolchain",
    "wheelcuda",
    "completion",
)

DESCRIPTION = """\
Keep a uv workspace's CUDA-linked pins inside the CUDA window of your GPU fleet.

The fleet ([tool.lockgen] in the root pyproject.toml: the oldest NVIDIA driver and the GPUs) decides
which CUDA versions may be used (the window); lockgen checks that every member of the workspace is locked
to one CUDA inside it, and moves the pins forward as one transaction.

exit codes: 0 ok, 1 findings (violations), 2 bad input or usage
"""


def _global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """The options every command takes, before or after its name (`lockgen -v check` = `lockgen check -v`). On the
    subcommands their default is SUPPRESS, so an option given before the command name is not reset after it."""

    def d(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "-C",
        "--directory",
        dest="directory",
        type=Path,
        default=d(None),
        help="project root (default: the nearest directory with uv.lock, or a uv workspace/project pyproject.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=d(False), help="show tracebacks of unexpected errors"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=d(False), help="print results and errors only (no progress)"
    )
    parser.add_argument(
        "--no-progress", dest="no_progress", action="store_true", default=d(False), help="no progress lines on stderr"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=d("auto"),
        help="colour the text output (default auto: on a terminal, unless NO_COLOR is set)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available command registered."""
    parser = argparse.ArgumentParser(
        prog="lockgen", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"lockgen {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lockgen.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"lockgen.commands.{name}":
                continue
            raise
        module.register(sub)
    for command in sub.choices.values():
        _global_options(command, top=False)
    if "completion" in sub.choices:  # the completion script lists every command: it gets this builder, not an import
        sub.choices["completion"].set_defaults(build_parser=build_parser)
    return parser


def _root(directory: Path | None) -> Path | None:
    """The workspace root: -C DIR as given (resolved to its workspace), else found from the current directory."""
    from lockgen.model.workspace import find_root

    if directory is not None:
        if not directory.is_dir():
            raise LockgenError(f"-C {directory}: not a directory")
        return find_root(directory)
    try:
        return find_root(Path.cwd())
    except LockgenError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run lockgen; return its exit code.

    Everything lockgen prints goes through `RedactingStream` (credentials in URLs shown as uv shows them). A reader
    that goes away (`lockgen check | head -1`) ends the run quietly; output that cannot be written (`> /dev/full`)
    and other failed writes are one line naming the file, exit 2 - never a traceback."""
    from lockgen.ui import SETTINGS, Settings

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(out), RedactingStream(err)
    try:
        return _main(argv)
    except OutputClosed:
        return _quiet_exit(out)
    finally:
        sys.stdout, sys.stderr = out, err
        SETTINGS.__dict__.update(Settings().__dict__)  # a run's -q/--color do not outlive it (in-process callers)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit:  # --help, --version, a usage error: argparse has printed what it had to say
            sys.stdout.flush()
            raise
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_INPUT
        from lockgen.ui import SETTINGS

        SETTINGS.quiet, SETTINGS.progress, SETTINGS.color = args.quiet, not args.no_progress, args.color
        args.root = _root(args.directory)
        if args.root is not None:
            from lockgen.seams.txn import pending, recover

            if pending(args.root):
                said = recover(args.root)
                if said:
                    print(f"lockgen: recovered: {said}", file=sys.stderr)
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe or a full device is seen here, not at interpreter exit
        return code
    except OutputClosed:
        raise
    except LockgenError as e:
        print(f"lockgen: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("lockgen: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the system refused a read or write (disk full, permission, read-only): not a bug
        if args is not None and args.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"lockgen: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as e:  # a bug: say so, show the traceback only with -v
        if args is not None and args.verbose:
            raise
        print(f"lockgen: internal error: {type(e).__name__}: {e} (run with -v for the traceback)", file=sys.stderr)
        return 3


def _quiet_exit(stream: object) -> int:
    """The reader of stdout went away: stop without a word (the way Python's documentation recommends,
    docs.python.org/3/library/signal.html#note-on-sigpipe: point stdout at /dev/null so the final flush is quiet)."""
    silence(stream)
    return EXIT_PIPE
