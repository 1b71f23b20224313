"""The argument parser: every command module's `register(subparsers)`, and the options all commands take."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from lockgen import __version__

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
    return parser
