"""Writing a file the user named (`export --into`, `toolchain --write`) without surprises.

The target must be a regular file or not exist yet: a symlink, a character device (`/dev/null`), a FIFO, a socket
or a directory is refused, and so is a missing parent folder (named, never created). The new content is written to
a temporary file beside it, fsynced and renamed over it, so a reader sees the old file or the new one; the file
keeps its permission bits (a new one gets 0666 less the umask, 0644 under the usual 022, as `open()` would give).
Every refusal is a `LockgenError` of one line naming the file (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from lockgen.errors import LockgenError

_KINDS = (
    (stat.S_ISLNK, "a symbolic link (lockgen does not write through links: name the file it points to)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def check_target(path: Path, display: str | None = None) -> os.stat_result | None:
    """The target's stat when it is a regular file, None when it does not exist yet; LockgenError otherwise (a
    link, a device, a FIFO, a directory, or a parent folder that is missing)."""
    shown = display or str(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise LockgenError(f"{shown}: cannot be written: {e.strerror}") from None
    if st is not None:
        for test, kind in _KINDS:
            if test(st.st_mode):
                raise LockgenError(f"{shown}: is {kind}; lockgen writes only regular files")
        if not stat.S_ISREG(st.st_mode):
            raise LockgenError(f"{shown}: is not a regular file; lockgen writes only regular files")
        return st
    parent = path.parent
    if not parent.is_dir():
        what = "does not exist" if not parent.exists() else "is not a folder"
        raise LockgenError(f"{shown}: the folder {parent} {what} (lockgen does not create folders: create it first)")
    return None


def read_target(path: Path, display: str | None = None) -> bytes | None:
    """The current bytes of a target that `check_target` accepts (None when it does not exist): a FIFO or a device
    is refused before anything opens it, so nothing blocks or reads forever."""
    if check_target(path, display) is None:
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        raise LockgenError(f"{display or path}: cannot be read: {e.strerror}") from None


def current_umask() -> int:
    """The process umask (read without changing it where /proc allows; else set and restored at once)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_target(path: Path, data: bytes, display: str | None = None) -> None:
    """Replace `path` with `data` atomically (temporary file beside it, fsync, rename), keeping its permission
    bits; refuses what `check_target` refuses. LockgenError naming the file when the system refuses the write."""
    shown = display or str(path)
    st = check_target(path, display)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~current_umask()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise LockgenError(f"{shown}: cannot be written: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
