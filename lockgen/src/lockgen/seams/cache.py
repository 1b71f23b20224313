"""lockgen's on-disk cache: documents (dicts, lists, strings, numbers) under `$XDG_CACHE_HOME/lockgen`
(`~/.cache/lockgen`), keyed by a digest of what they were computed from, so a changed input is never served stale.
A seam: the model stays pure (values in, values out) and asks this module for nothing; the readers that want a cache
(lockgen.model.workspace for the parsed lock, `lockgen check` for its whole verdict) call it. `LOCKGEN_NO_CACHE=1`
turns it off. A cache is never an error: whatever cannot be read or written is simply recomputed.

Kept light on purpose (os, marshal, CPython's own SHA-256): `lockgen check` consults it before importing anything
else. Documents are stored with `marshal`, the format of Python's own `__pycache__` files, read under the same trust
(a folder only the user writes): built in, so loading costs no import, and several times faster than JSON. A
document another Python version cannot read is simply a miss.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from hashlib import sha256
    from typing import Any
else:
    try:  # CPython's own SHA-256: hashlib's OpenSSL binding costs more to import than a check's digest work
        from _sha2 import sha256
    except ImportError:  # other Pythons
        from hashlib import sha256

KEEP = 8  # documents kept per kind (the newest by modification time)


def cache_dir(kind: str) -> str | None:
    """The folder of one kind of cached document (`parsed`: TOML files; `check`: verdicts), or None when caching is
    off. (`locks` is lockgen.seams.txn's workspace-lock folder when $XDG_RUNTIME_DIR is unset: not a kind.)"""
    if os.environ.get("LOCKGEN_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lockgen", kind)


def load(kind: str, key: str) -> Any:
    """The document stored under `key`, or None (none, unreadable, caching off)."""
    d = cache_dir(kind)
    if d is None:
        return None
    try:
        with open(os.path.join(d, f"{key}.bin"), "rb") as f:
            return marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def store(kind: str, key: str, doc: Any, keep: int = KEEP) -> None:
    """Store `doc` under `key` atomically (temporary file, rename); keep the `keep` newest of the kind."""
    d = cache_dir(kind)
    if d is None:
        return
    try:
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"{key}.bin")
        tmp = f"{path}.{os.getpid()}.tmp"
        data = marshal.dumps(doc)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        entries = [e for e in os.scandir(d) if e.name.endswith(".bin")]
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        for e in entries[keep:]:
            os.unlink(e.path)
    except (OSError, TypeError, ValueError):
        pass  # a cache, never an error


def toml_document(raw: bytes, display: str) -> dict[str, Any]:
    """`raw` (a TOML file's bytes) parsed, from the cache when these exact bytes were parsed before. The pure-Python
    tomllib takes most of the time of reading a 300 KB uv.lock; the stored form loads many times faster. Raises
    tomllib.TOMLDecodeError or UnicodeDecodeError like tomllib does."""
    key = sha256(raw).hexdigest()
    data = load("parsed", key)
    if isinstance(data, dict):
        return data
    import tomllib

    data = tomllib.loads(raw.decode("utf-8"))
    store("parsed", key, data)
    return data


def file_digest(path: str) -> str | None:
    """What a file is, for cache keys: the sha256 of a regular file's bytes, `link:TARGET` for a symbolic link,
    `dir` for a folder, `other` for anything else, None when nothing is there."""
    import stat

    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            return "link:" + os.readlink(path)
        except OSError:
            return "link"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if not stat.S_ISREG(st.st_mode):
        return "other"
    try:
        with open(path, "rb") as f:
            return sha256(f.read()).hexdigest()
    except OSError:
        return "unreadable"


def code_fingerprint() -> str:
    """What identifies the code that computes a cached verdict: lockgen's version, the Python minor, and the size and
    modification time of every file of the lockgen package (its data tables too) and of the libraries whose
    behaviour a verdict depends on (packaging: markers, versions). An edited lockgen never reads an older verdict."""
    import lockgen

    parts = [lockgen.__version__, f"{sys.version_info[0]}.{sys.version_info[1]}"]
    parts += _tree_stats(os.path.dirname(os.path.abspath(lockgen.__file__)))
    for name in ("packaging",):
        spec = _module_dir(name)
        if spec:
            parts += _tree_stats(spec, depth=0)
    return digest(parts)


def _module_dir(name: str) -> str | None:
    for entry in sys.path:
        d = os.path.join(entry or ".", name)
        if os.path.isfile(os.path.join(d, "__init__.py")):
            return d
    return None


def _tree_stats(top: str, depth: int = 8) -> list[str]:
    """`path:size:mtime_ns` of every file under `top` (no __pycache__, no dot-folders), `depth` folders down."""
    out = []
    stack = [(top, "", 0)]
    while stack:
        d, prefix, level = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                name = e.name
                if name == "__pycache__" or name[0] == ".":
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        if level < depth:
                            stack.append((e.path, f"{prefix}{name}/", level + 1))
                        continue
                    st = e.stat()
                except OSError:
                    continue
                out.append(f"{prefix}{name}:{st.st_size}:{st.st_mtime_ns}")
    out.sort()
    return out


def digest(parts: Iterable[str]) -> str:
    """One sha256 over `parts` (each on its own line)."""
    return sha256("\n".join(parts).encode()).hexdigest()
