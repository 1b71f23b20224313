"""Command line: `lockgen COMMAND`. A thin shell: parse arguments, call a command module, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lockgen.commands.parser import build_parser
from lockgen.errors import LockgenError, OutputClosed
from lockgen.seams.redact import RedactingStream, silence

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`'s writer


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
