"""Where the project is: the root lockgen works on, found from a directory. Light (os) on purpose: every command
asks it first, `lockgen check` before anything else is imported (lockgen.seams.uvstart)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:
    from pathlib import Path


def locked_root(start: str) -> str | None:
    """The nearest directory at or above `start` holding both a pyproject.toml and a uv.lock (uv writes the lock at
    the workspace root), or None. `find_root`'s first rule, with os.path only."""
    d = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(d, "pyproject.toml")) and os.path.isfile(os.path.join(d, "uv.lock")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def find_root(start: Path) -> Path:
    """The project root for `start`: the nearest directory at or above it holding a pyproject.toml and uv.lock
    (uv writes the lock at the workspace root); else the nearest pyproject.toml declaring a uv workspace or
    [tool.lockgen]; else the nearest one with a [project] table (a single project not locked yet)."""
    from pathlib import Path

    start = start.resolve()
    locked = locked_root(str(start))
    if locked is not None:
        return Path(locked)
    import tomllib
    from collections.abc import Mapping

    from lockgen.errors import InputError

    found: dict[str, Path] = {}
    for d in (start, *start.parents):
        f = d / "pyproject.toml"
        if not f.is_file():
            continue
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            found.setdefault("workspace", d)  # let load_workspace report the malformed file
            continue
        tool = data.get("tool", {}) if isinstance(data.get("tool", {}), Mapping) else {}
        uv = tool.get("uv", {}) if isinstance(tool.get("uv", {}), Mapping) else {}
        if "lockgen" in tool or "workspace" in uv:
            found.setdefault("workspace", d)
        elif isinstance(data.get("project"), Mapping):
            found.setdefault("project", d)
    if found:
        return found.get("workspace") or found["project"]
    raise InputError(str(start), None, "no pyproject.toml (a uv project or workspace) here or above; use -C DIR")


# lockgen.seams.txn's journal (there because every command looks for it first, before importing txn)
JOURNAL_DIR = ".lockgen"
JOURNAL = "journal.json"


def pending(root: str | Path) -> bool:
    """Whether an interrupted transaction left a journal."""
    return os.path.isfile(os.path.join(root, JOURNAL_DIR, JOURNAL))
