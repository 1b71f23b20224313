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
from typing import Any

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

    exit_code = 1


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

    def __init__(
        self,
        root: Path,
        files: Iterable[Path],
        fault: Callable[[str], None] | None = None,
        take_lock: bool = True,
    ) -> None:
        self.root = root
        self.take_lock = take_lock
        self._wlock: WorkspaceLock | None = None
        self.files = [Path(f) for f in files]
        self.fault = fault or (lambda effect: None)
        self.snapshot: dict[Path, bytes | None] = {}
        self._old_handlers: dict[int, Any] = {}
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
        """Put every snapshotted file back as it was (deleting files that did not exist), ignoring signals; a file
        that cannot be put back does not stop the others (RestoreFailed names them all afterwards)."""
        self.restored += restore_files(self.snapshot)

    def _lock(self) -> None:
        if self.take_lock:
            self._wlock = WorkspaceLock(self.root)
            self._wlock.__enter__()

    def _unlock(self) -> None:
        if self._wlock is not None:
            self._wlock.__exit__(None, None, None)
            self._wlock = None

    def _install_signals(self) -> None:
        self._old_handlers = install_interrupt_handlers()

    def _restore_signals(self) -> None:
        restore_handlers(self._old_handlers)
        self._old_handlers = {}


def install_interrupt_handlers() -> dict[int, Any]:
    """Make the handled signals raise Interrupted (so `finally`/`except` blocks restore files); returns the old
    handlers. Outside the main thread nothing is installed (restores still run on exceptions)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}: every file was restored")

    old: dict[int, Any] = {}
    for sig in HANDLED_SIGNALS:
        with contextlib.suppress(ValueError):
            old[sig] = signal.signal(sig, handler)
    return old


def restore_handlers(old: dict[int, Any]) -> None:
    """Put back what install_interrupt_handlers replaced."""
    for sig, h in old.items():
        signal.signal(sig, h)


# Signals that end a transaction cleanly (files restored): Ctrl-C, kill, a closed terminal, and the user signals whose
# default action would end lockgen without cleanup. SIGKILL cannot be caught: the journal covers it.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


class RestoreFailed(LockgenError):
    """Some files could not be put back; the journal stays so the next lockgen command tries again."""

    exit_code = 1


def restore_files(snapshot: dict[Path, bytes | None]) -> list[Path]:
    """Put every file back (None: remove it), signals blocked; go on past a file that fails and raise RestoreFailed
    naming every one that did, after trying them all."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(HANDLED_SIGNALS))
    restored: list[Path] = []
    failed: list[str] = []
    try:
        for f, data in snapshot.items():
            try:
                current = f.read_bytes() if f.exists() else None
                if current == data:
                    continue
                if data is None:
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
                else:
                    atomic_write(f, data)
                restored.append(f)
            except OSError as e:
                failed.append(f"{f}: {e.strerror or e}")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if failed:
        raise RestoreFailed(
            "could not restore " + "; ".join(failed) + " - the other files were restored; the journal in "
            ".lockgen/ is kept, so the next lockgen command tries again"
        )
    return restored


class WorkspaceLock:
    """The exclusive lock on a workspace (lockgen's private lock directory; the file is removed on release)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fd: int | None = None
        self.path = Path()

    def __enter__(self) -> WorkspaceLock:
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
                self.fd, self.path = fd, path
                return self
            os.close(fd)
        raise Busy(f"could not take the workspace lock {path}: it keeps changing")

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # removed while held: nobody is left waiting on a stale file
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# ---- the journal: applying staged results so that a kill at any moment is recoverable ----

JOURNAL_DIR = ".lockgen"
JOURNAL = "journal.json"


def _journal_dir(root: Path) -> Path:
    d = root / JOURNAL_DIR
    d.mkdir(exist_ok=True)
    ignore = d / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, b"# lockgen's transaction journal: never commit it\n*\n")
    return d


def _inside(root: Path, path: Path) -> Path:
    """`path` (relative to root), refused when it resolves outside the project."""
    real_root = root.resolve()
    full = (root / path).resolve()
    if full != real_root and real_root not in full.parents:
        raise LockgenError(f"refusing to write {path}: it resolves outside the project ({full})")
    return full  # a symlink inside the project is written through, never replaced by a regular file


def apply_changes(
    root: Path, changes: dict[str, bytes], label: str, fault: Callable[[str], None] | None = None
) -> list[str]:
    """Write the staged results into the project: first a journal (the old bytes of every file, fsynced), then each
    file by an atomic rename, then the journal is removed. Any failure restores every file from the journal before
    raising; SIGKILL leaves the journal, and `recover` (run by the next lockgen command) rolls it back."""
    import json
    import time

    fault = fault or (lambda effect: None)
    if not changes:
        return []
    targets = {rel: _inside(root, Path(rel)) for rel in changes}
    d = _journal_dir(root)
    backup = d / "backup"
    backup.mkdir(exist_ok=True)
    entries = {}
    snapshot: dict[Path, bytes | None] = {}
    for i, (rel, path) in enumerate(sorted(targets.items())):
        old = path.read_bytes() if path.exists() else None
        snapshot[path] = old
        entries[rel] = {"backup": f"backup/{i}" if old is not None else None}
        if old is not None:
            atomic_write(backup / str(i), old)
    doc = {"command": label, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": entries}
    atomic_write(d / JOURNAL, json.dumps(doc, indent=1).encode())
    old_handlers = install_interrupt_handlers()
    try:
        for rel, path in sorted(targets.items()):
            fault(f"apply {rel}")
            atomic_write(path, changes[rel])
        fault("apply done")
    except BaseException:
        restore_files(snapshot)
        _drop_journal(d)
        raise
    finally:
        restore_handlers(old_handlers)
    _drop_journal(d)
    return sorted(changes)


def _drop_journal(d: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (d / JOURNAL).unlink()
    import shutil

    shutil.rmtree(d / "backup", ignore_errors=True)
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    # the directory exists only while a transaction applies: the project is left exactly as it was
    with contextlib.suppress(OSError):
        (d / ".gitignore").unlink()
        d.rmdir()


def pending(root: Path) -> bool:
    """Whether an interrupted transaction left a journal."""
    return (root / JOURNAL_DIR / JOURNAL).is_file()


def recover(root: Path) -> str | None:
    """Roll back a transaction a kill interrupted (its journal is there and nobody holds the workspace lock).
    Returns a sentence saying what was done, or None when there was nothing to do. Caller holds no lock."""
    import json

    if not pending(root):
        return None
    with WorkspaceLock(root):
        d = root / JOURNAL_DIR
        try:
            doc = json.loads((d / JOURNAL).read_text(encoding="utf-8"))
            files = doc["files"]
        except (OSError, ValueError, KeyError, TypeError):
            raise LockgenError(
                f"{d / JOURNAL} is unreadable: an interrupted lockgen left it; restore your files from git, then "
                f"remove {d}"
            ) from None
        snapshot: dict[Path, bytes | None] = {}
        for rel, entry in files.items():
            b = entry.get("backup") if isinstance(entry, dict) else None
            snapshot[_inside(root, Path(rel))] = (d / b).read_bytes() if b else None
        restored = restore_files(snapshot)
        _drop_journal(d)
    what = doc.get("command", "a lockgen command")
    return (
        f"`{what}` (started {doc.get('started', '?')}) was interrupted before it finished; rolled back: "
        + (", ".join(str(p.relative_to(root)) for p in restored) or "nothing had been written yet")
        + " restored to their state before it"
    )
