"""What `lockgen check` runs every time, kept light (os, json; no rule, no lock model): uv's offline freshness check,
started early and judged, and the verdict cache (the rules' findings kept by a digest of what they read).

lockgen.rules.checking is the use case (every rule and this, as one report); this module is its fast half, so that a
check whose inputs did not change costs Python's start, reading the inputs' digests and uv's own check.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from lockgen.findings import Violation

CHECK_ARGS = ("lock", "--check", "--offline")
# (violations, warnings, fresh?): fresh is None when not decided (offline, or uv skipped)
Freshness = tuple[list["Violation"], list[str], bool | None]


class PendingFreshness:
    """`uv lock --check --offline` in `root`, started: `result()` waits for it and judges what it said.

    Takes the uv that lockgen's entry point started before anything was imported (lockgen.seams.uvstart), else starts
    one now (lockgen.seams.uvtool.start_uv); with a `runner` (tests, fakes) runs it through that, at once."""

    def __init__(self, root: str | Path, runner: Callable[..., Any] | None = None) -> None:
        from lockgen.seams import uvstart

        self._done: Freshness | None = None
        self._early = None if runner is not None else uvstart.take(CHECK_ARGS, str(root))
        self._running: Any = None
        if self._early is not None:
            return
        from lockgen.errors import UvError

        try:
            if runner is not None:
                res = runner(list(CHECK_ARGS), cwd=root)
                self._done = judge_freshness(res.returncode, res.stderr)
            else:
                from lockgen.seams.uvtool import start_uv

                self._running = start_uv(list(CHECK_ARGS), cwd=root)
        except UvError as e:
            self._done = [], [f"lock freshness not checked: {e}"], None

    def result(self) -> Freshness:
        """(violations, warnings, fresh?), once uv has answered."""
        if self._done is None:
            if self._early is not None:
                code, err = self._early.wait()
                self._early = None
            else:
                res = self._running.result()
                code, err = res.returncode, res.stderr
            self._done = judge_freshness(code, err)
        return self._done

    def cancel(self) -> None:
        """Stop a uv still running (the check failed before it needed the answer)."""
        if self._early is not None:
            self._early.end()
            self._early = None
        if self._running is not None:
            self._running.cancel()
            self._running = None


def judge_freshness(returncode: int, stderr: str) -> Freshness:
    """What `uv lock --check --offline` said: fresh, stale (a lock-fresh violation), or undecided (a warning)."""
    fresh = lock_fresh_violations(returncode, stderr)
    if fresh is not None:
        return fresh, [], not fresh
    from lockgen.seams.uvtool import classify_uv_failure

    why = str(classify_uv_failure(stderr, returncode))
    return (
        [],
        [
            f"lock freshness not decided offline ({why}); decide it online with `uv lock --check` "
            "(or `lockgen check` once uv's cache has the packages)"
        ],
        None,
    )


def lock_fresh_violations(returncode: int, stderr: str) -> list[Violation] | None:
    """(e) Interpret `uv lock --check`: [] when fresh, a violation when stale, None when uv failed otherwise."""
    if returncode == 0:
        return []
    from lockgen.findings import Violation

    text = stderr.lower()
    if "needs to be updated" in text or "lockfile" in text and "out of date" in text:
        return [
            Violation(
                "lock-fresh",
                "uv.lock",
                "uv.lock does not match the pyprojects (`uv lock --check` failed): " + _last_line(stderr),
                "run `lockgen lock` (or `uv lock`) and commit uv.lock",
            )
        ]
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# ---- the verdict cache: what the rules found, kept by a digest of everything they read ----

# files at the root the rules read (or whose absence they notice), besides those the root pyproject names
ROOT_INPUTS = ("pyproject.toml", "uv.lock", ".python-version", "nix/toolchain.json", "flake.nix", "flake.lock")


class VerdictCache:
    """A document computed by the rules from the workspace at `root` (lockgen check's verdict), kept in
    lockgen.seams.cache under a digest of lockgen's code and of every file the rules read: the root's files
    (ROOT_INPUTS) in the key; the member pyprojects and notebooks the root pyproject names, and the member folders its
    globs match, checked when the entry is read. Anything changed, added or removed: no entry, the rules run."""

    KIND = "check"

    def __init__(self, root: str | Path) -> None:
        from lockgen.seams import cache

        self.root = os.fspath(root)
        parts = [cache.code_fingerprint(), self.root]
        parts += [f"{rel}={cache.file_digest(os.path.join(self.root, rel))}" for rel in ROOT_INPUTS]
        self.key = cache.digest(parts)

    def load(self, member_dirs: Callable[[], list[str]]) -> Any:
        """The cached document, or None. `member_dirs`: the member folders the root pyproject's globs match now
        (asked only when the entry was stored with some)."""
        from lockgen.seams import cache

        entry = cache.load(self.KIND, self.key)
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict) or "doc" not in entry:
            return None
        for rel, want in entry["files"].items():
            if cache.file_digest(os.path.join(self.root, rel)) != want:
                return None
        if entry.get("dirs") is not None:
            try:
                if member_dirs() != entry["dirs"]:
                    return None
            except Exception:  # let the rules report a malformed pyproject
                return None
        return entry["doc"]

    def store(self, doc: Any, files: list[str], dirs: list[str] | None) -> None:
        """Keep `doc`, computed from the workspace read after the key was taken: `files`, the other files it read
        (relative to the root: member pyprojects, notebooks); `dirs`, the member folders globs matched (None: no
        globs)."""
        from lockgen.seams import cache

        digests = {rel: cache.file_digest(os.path.join(self.root, rel)) for rel in files}
        entry: dict[str, Any] = {"files": digests, "doc": doc}
        if dirs is not None:
            entry["dirs"] = dirs
        cache.store(self.KIND, self.key, entry)
