"""Transactions: a command that writes takes the workspace lock, snapshots every file it may touch, writes
atomically, and on any failure - uv failing or killed, SIGINT/SIGTERM, a failed check, a failed write -
restores every file byte for byte.

Faults can be injected through `Transaction.fault` (tests): it is called before every effect with the
effect's name, and may raise.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import signal
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType, TracebackType

from lockgen.errors import LockgenError


def lock_dir() -> Path:
    """A private directory for workspace locks: `$XDG_RUNTIME_DIR/lockgen`, else `~/.cache/lockgen/locks`, created
    with mode 0700 and refused when it is a symlink or belongs to another user (no planted link can redirect a
    lock file)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "lockgen" if runtime else Path(os.path.expanduser("~")) / ".cache" / "lockgen" / "locks"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(base)
    except OSError as e:
        raise LockgenError(f"cannot create the lock directory {base}: {e.strerror}") from None
    import stat

    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise LockgenError(f"refusing the lock directory {base}: not a directory owned by you")
    if st.st_mode & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(base, 0o700)
    return base


def lock_path(root: Path) -> Path:
    """The workspace lock: a file in lockgen's private lock directory named after the workspace's real path, so the
    workspace itself gains no file. It is removed when the command ends."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return lock_dir() / f"lockgen-{key}.lock"


class Interrupted(LockgenError):
    """SIGINT or SIGTERM arrived during a transaction."""

    exit_code = 130


class Busy(LockgenError):
    """Another lockgen holds the workspace lock."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Transaction:
    """`with Transaction(root, files) as tx:` ... `tx.write(path, bytes)`; restores everything on failure."""

    def __init__(self, root: Path, files: Iterable[Path], fault: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.files = [Path(f) for f in files]
        self.fault = fault or (lambda effect: None)
        self.snapshot: dict[Path, bytes | None] = {}
        self._lock_fd: int | None = None
        self._lock_file: Path = Path()
        self._old_handlers: dict[int, object] = {}
        self.committed = False
        self.restored: list[Path] = []

    # -- effects (each one a possible fault point) --
    def write(self, path: Path, data: bytes) -> None:
        """Atomically replace a snapshotted file."""
        path = Path(path)
        if path not in self.snapshot:
            raise LockgenError(f"internal: {path} was not snapshotted before writing")
        self.fault(f"write {path.name}")
        atomic_write(path, data)

    def effect(self, name: str) -> None:
        """Mark a fault point for an effect performed elsewhere (a uv run)."""
        self.fault(name)

    # -- lifecycle --
    def __enter__(self) -> Transaction:
        self._lock()
        try:
            for f in self.files:
                self.snapshot[f] = f.read_bytes() if f.exists() else None
            self._install_signals()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None:
                self.restore()
            else:
                self.committed = True
        finally:
            self._restore_signals()
            self._unlock()

    def restore(self) -> None:
        """Put every snapshotted file back as it was (deleting files that did not exist), ignoring signals."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for f, data in self.snapshot.items():
                current = f.read_bytes() if f.exists() else None
                if current == data:
                    continue
                if data is None:
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
                else:
                    atomic_write(f, data)
                self.restored.append(f)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _lock(self) -> None:
        path = lock_path(self.root)
        for _ in range(5):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise Busy(
                        f"another lockgen is changing this workspace (lock held on {path}); try again when it ends"
                    ) from None
                raise
            # the holder before us may have removed the file between our open and our flock: lock the live one
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd, self._lock_file = fd, path
                return
            os.close(fd)
        raise Busy(f"could not take the workspace lock {path}: it keeps changing")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock_file)  # removed while held: nobody is left waiting on a stale file
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _install_signals(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name}: every file was restored")

        for sig in (signal.SIGINT, signal.SIGTERM):
            # not the main thread: no handlers; restore still runs on exceptions
            with contextlib.suppress(ValueError):
                self._old_handlers[sig] = signal.signal(sig, handler)

    def _restore_signals(self) -> None:
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)  # type: ignore[arg-type]
        self._old_handlers.clear()
