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


def lock_path(root: Path) -> Path:
    """The workspace lock: a file in the temporary directory named after the workspace's real path, so the
    workspace itself gains no file (a failed command leaves every file as it was)."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"lockgen-{key}.lock"


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
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Busy(
                    f"another lockgen is changing this workspace (lock held on {path}); try again when it ends"
                ) from None
            raise
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
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
