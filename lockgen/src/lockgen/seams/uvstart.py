"""Starting uv's offline freshness check the moment lockgen starts, so that it runs while lockgen does its own work.

`lockgen check` costs about as much as `uv lock --check --offline` plus Python's start when the two overlap: the
command line is pre-read here (os and sys only, before argparse or any lockgen module is imported), uv is spawned in
the project root, and lockgen.seams.checkfast later takes the running process instead of starting its own. A pre-read
that guessed wrong (an argparse abbreviation, a usage error) costs nothing: a start nobody takes is ended by
`discard`. Part of the uv seam (lockgen.seams.uvtool); only the process entry point (`lockgen.cli.main` without argv)
uses it, so an in-process caller (tests that replace uvtool.find_uv or run_uv) never meets a uv it did not ask for.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:
    from collections.abc import Sequence

CHECK_ARGS = ("lock", "--check", "--offline")  # lockgen.seams.checkfast.CHECK_ARGS (not imported: this runs first)
_VALUED = ("-C", "--directory", "--color")  # the global options that take a value


class Started:
    """A uv process started early: its stderr is read, and it is waited for, only when someone takes it."""

    def __init__(self, argv: tuple[str, ...], cwd: str, pid: int, err_fd: int) -> None:
        self.argv, self.cwd, self.pid, self._err = argv, cwd, pid, err_fd

    def wait(self) -> tuple[int, str]:
        """(returncode, stderr) once uv has finished."""
        chunks = []
        while True:
            block = os.read(self._err, 65536)
            if not block:
                break
            chunks.append(block)
        os.close(self._err)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")

    def end(self) -> None:
        """Stop it and reap it (nobody took it)."""
        import contextlib
        import signal

        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self._err)
            os.waitpid(self.pid, 0)


_started: list[Started] = []


_FLAGS = ("-v", "--verbose", "-q", "--quiet", "--no-progress")  # the global options that take none


def command_of(argv: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """(command, -C directory, the arguments after the command) of a lockgen command line, read the way argparse
    reads the plain spellings. The command is None when anything before it is not a plain global option (an
    abbreviation argparse would expand, --help, --version): then nobody should guess."""
    directory: str | None = None
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUED:
            if i + 1 >= len(argv):
                return None, None, []
            if tok != "--color":
                directory = argv[i + 1]
            i += 2
            continue
        if tok.startswith("--directory="):
            directory = tok.split("=", 1)[1]
        elif tok.startswith("-C") and len(tok) > 2:
            directory = tok[2:]
        elif tok.startswith("--color=") or tok in _FLAGS:
            pass
        elif tok.startswith("-"):
            return None, None, []
        else:
            rest = list(argv[i + 1 :])
            for j, arg in enumerate(rest):  # a -C after the command name counts too
                if arg == "--":
                    break
                if arg in ("-C", "--directory") and j + 1 < len(rest):
                    directory = rest[j + 1]
                elif arg.startswith("--directory="):
                    directory = arg.split("=", 1)[1]
                elif arg.startswith("-C") and len(arg) > 2:
                    directory = arg[2:]
            return tok, directory, rest
        i += 1
    return None, directory, []


def uv_binary() -> str | None:
    """The uv lockgen.seams.uvtool.find_uv would use, when it can be told without importing anything: `$UV`, or the uv
    of this Python's environment (`sys.prefix/bin/uv`, where the `uv` package puts it and looks first)."""
    env = os.environ.get("UV")
    if env:
        return env if os.path.isabs(env) and os.access(env, os.X_OK) else None
    candidate = os.path.join(sys.prefix, "bin", "uv")
    return candidate if os.access(candidate, os.X_OK) else None


def prestart(argv: Sequence[str]) -> None:
    """Start `uv lock --check --offline` in the project root when `argv` is a plain `lockgen check` that will run it
    (no --no-uv, no --help); otherwise do nothing. Never raises: the normal path starts uv itself."""
    try:
        command, directory, rest = command_of(argv)
        if command != "check" or any(_skips_uv(a) for a in rest):
            return
        from lockgen.seams.locate import JOURNAL, JOURNAL_DIR, locked_root

        root = locked_root(directory or os.getcwd())
        uv = uv_binary()
        if root is None or uv is None or os.path.isfile(os.path.join(root, JOURNAL_DIR, JOURNAL)):
            return  # (an interrupted transaction is rolled back first: uv must see the files after that)
        _started.append(_spawn((uv, *CHECK_ARGS), root))
    except Exception:  # an early start is an optimisation, never a failure
        return


def _skips_uv(arg: str) -> bool:
    """--no-uv or --help, as argparse reads them (it accepts unambiguous prefixes: `--no-u`, `--he`)."""
    return arg == "-h" or (len(arg) > 3 and ("--no-uv".startswith(arg) or "--help".startswith(arg)))


def _spawn(argv: tuple[str, ...], cwd: str) -> Started:
    """uv in `cwd` (its --directory: posix_spawn has no chdir), stdout to /dev/null, stderr to a pipe."""
    env = dict(os.environ)
    env.setdefault("UV_NO_PROGRESS", "1")
    r, w = os.pipe()
    try:
        actions = [
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, w, 2),
        ]
        full = (argv[0], "--directory", cwd, *argv[1:])
        pid = os.posix_spawn(argv[0], full, env, file_actions=actions)
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    os.close(w)
    return Started(argv[1:], os.path.realpath(cwd), pid, r)


def take(args: Sequence[str], cwd: str) -> Started | None:
    """The early start of `uv ARGS` in `cwd`, if there is one (it is then the caller's to wait for)."""
    real = os.path.realpath(cwd)
    for s in _started:
        if s.argv == tuple(args) and s.cwd == real:
            _started.remove(s)
            return s
    return None


def discard() -> None:
    """End every early start nobody took."""
    while _started:
        _started.pop().end()
