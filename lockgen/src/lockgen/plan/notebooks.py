"""Notebooks whose PEP 723 header lockgen keeps equal to a member's lock: `[tool.lockgen] notebooks`.

    [tool.lockgen]
    notebooks = [{ path = "notebooks/train_smoke.py", member = "train" }]

`lockgen lock`/`bump` rewrite these headers inside their transaction; `lockgen check` flags a stale one
(lockgen.rules.notebooks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from lockgen.errors import InputError
from lockgen.model.lockfile import normalize
from lockgen.model.workspace import Workspace
from lockgen.plan.export import pep723_text


@dataclass(frozen=True)
class Notebook:
    """A notebook and the member whose pins its header carries."""

    path: str  # relative to the workspace root
    member: str


def notebooks(ws: Workspace) -> tuple[Notebook, ...]:
    """The notebooks `[tool.lockgen] notebooks` names (InputError naming the key when malformed)."""
    raw = ws.lockgen_config.get("notebooks", [])
    key = "tool.lockgen.notebooks"
    if not isinstance(raw, list):
        raise InputError("pyproject.toml", key, 'expected a list like [{ path = "nb.py", member = "train" }]')
    out = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("path"), str)
            or not isinstance(item.get("member"), str)
        ):
            raise InputError("pyproject.toml", f"{key}[{i}]", "expected a table with `path` and `member` strings")
        member = normalize(item["member"])
        if member not in ws.members:
            raise InputError("pyproject.toml", f"{key}[{i}].member", f"no member {item['member']!r}")
        check_path(ws.root, item["path"], f"{key}[{i}].path")
        out.append(Notebook(item["path"], member))
    return tuple(out)


def check_path(root: Path, rel: str, key: str) -> None:
    """A notebook lockgen may rewrite: inside the project after resolving symlinks, and itself a regular file or
    not there yet - never a symlink (lockgen would replace the link), a FIFO or a device. InputError naming the
    key otherwise."""
    import os
    import stat

    from lockgen.model.schema import inside

    inside(root, rel, "pyproject.toml", key)
    try:
        mode = os.lstat(root / rel).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError("pyproject.toml", key, f"{rel!r} cannot be read: {e.strerror}") from None
    if stat.S_ISLNK(mode):
        raise InputError(
            "pyproject.toml",
            key,
            f"{rel!r} is a symbolic link: name the notebook itself (lockgen never replaces links)",
        )
    if not stat.S_ISREG(mode):
        raise InputError("pyproject.toml", key, f"{rel!r} is not a regular file")


class Refreshed(NamedTuple):
    """A notebook's file, its text now, and its text with the header the lock gives."""

    path: Path
    current: str
    new: str


def refreshed(ws: Workspace, nb: Notebook) -> Refreshed:
    """The notebook's text now and with the header the lock gives."""
    path = ws.root / nb.path
    try:
        current = path.read_bytes().decode("utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(nb.path, None, f"cannot be read: {e}") from None
    return Refreshed(path, current, pep723_text(ws, nb.member, current, nb.path))
