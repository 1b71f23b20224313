"""The parts of `lockgen matrix`'s parallel rows that need no uv (lockgen.ops.matrix): a row's copy cannot reach the
base copy, uv runs from the cache first and online only when that cannot be trusted, slots bound the rows resolving
at once across processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lockgen.ops import matrix as m
from lockgen.seams.txn import atomic_write
from lockgen.seams.uvtool import UvResult


def test_a_row_copy_links_shared_files_and_copies_its_own(tmp_path: Path) -> None:
    base_dir = tmp_path / "base"
    base = base_dir / "repo" / "ws"
    (base / "member").mkdir(parents=True)
    (base / "src").mkdir()
    files = {"pyproject.toml": "root", "uv.lock": "lock", "member/pyproject.toml": "m", "src/big.py": "x" * 1000}
    for rel, text in files.items():
        (base / rel).write_text(text)
    os.symlink("src/big.py", base / "alias.py")
    own = frozenset(str(base / p) for p in ("pyproject.toml", "uv.lock", "member/pyproject.toml"))
    stage = m.row_copy(base_dir, base, tmp_path / "row-0", own)
    assert stage == tmp_path / "row-0" / "repo" / "ws"
    for rel in files:
        same = os.stat(stage / rel).st_ino == os.stat(base / rel).st_ino
        assert same == (str(base / rel) not in own), rel  # shared files are links, the row's own are copies
    assert os.readlink(stage / "alias.py") == "src/big.py"
    # what a row writes (lockgen: atomic renames; its own files: copies) never reaches the base
    atomic_write(stage / "src" / "big.py", b"changed")
    (stage / "uv.lock").write_text("row lock")
    (stage / "pyproject.toml").write_text("row root")
    assert {rel: (base / rel).read_text() for rel in files} == files


def uv_answers(monkeypatch: pytest.MonkeyPatch, answers: dict[bool, tuple[int, str]]) -> list[list[str]]:
    """Fake run_uv: (returncode, stderr) for an offline and an online run; returns the runs it saw."""
    import lockgen.seams.uvtool as uvtool

    seen: list[list[str]] = []

    def fake(args: list[str], cwd: Path, **kwargs: Any) -> UvResult:
        seen.append(list(args))
        rc, err = answers["--offline" in args]
        return UvResult(("uv", *args), rc, "", err)

    monkeypatch.setattr(uvtool, "run_uv", fake)
    return seen


NO_SOLUTION = (
    "  x No solution found when resolving dependencies:\n  `-> Because torch==9 ... we can conclude that ...\n"
)
MISSING = "error: Network connectivity is disabled, but the requested data wasn't found in the cache for: `torch`\n"


@pytest.mark.parametrize(
    ("offline", "runs"),
    [
        ((0, ""), [["lock", "--upgrade-package", "torch", "--offline"]]),  # the cache answered
        ((1, NO_SOLUTION), [["lock", "--upgrade-package", "torch", "--offline"]]),  # a plain "no solution" stands
        (
            (1, MISSING),
            [["lock", "--upgrade-package", "torch", "--offline"], ["lock", "--upgrade-package", "torch"]],
        ),  # the cache lacks something: online
        (
            (2, "error: failed to read pyproject.toml\n"),
            [["lock", "--upgrade-package", "torch", "--offline"], ["lock", "--upgrade-package", "torch"]],
        ),
    ],
)
def test_cache_first_goes_online_only_when_the_cache_cannot_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: tuple[int, str], runs: list[list[str]]
) -> None:
    seen = uv_answers(monkeypatch, {True: offline, False: (0, "")})
    m.cache_first(["lock", "--upgrade-package", "torch"], tmp_path)
    assert seen == runs


def test_cache_first_waits_for_the_revalidation_and_leaves_other_commands_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import threading

    seen = uv_answers(monkeypatch, {True: (0, ""), False: (0, "")})
    ready = tmp_path / "ready"
    threading.Timer(0.3, lambda: atomic_write(ready, b"revalidated")).start()
    import time

    t0 = time.monotonic()
    m.cache_first(["lock"], tmp_path, ready=ready)
    assert time.monotonic() - t0 >= 0.25 and seen == [["lock", "--offline"]]
    m.cache_first(["sync", "--frozen"], tmp_path, ready=ready)
    assert seen[-1] == ["sync", "--frozen"]
    # a revalidation that failed: the cache may be stale, so every run is online, as `lock` runs it
    atomic_write(ready, b"failed")
    m.cache_first(["lock"], tmp_path, ready=ready)
    assert seen[-1] == ["lock"] and len(seen) == 3


def test_slots_bound_rows_across_processes() -> None:
    slots = m.Slots(2)
    try:
        slots.take()
        slots.take()  # the same process holds one slot, whatever it asks
        assert slots.held
        pid = os.fork()
        if pid == 0:  # another worker takes the second slot; the third would block
            slots.held = False
            slots.take()
            os._exit(0)
        os.waitpid(pid, 0)
        os.set_blocking(slots.r, False)
        with pytest.raises(BlockingIOError):
            os.read(slots.r, 1)  # none left: the worker above kept it (it never gave it back)
        slots.give_back()
        assert os.read(slots.r, 1) == b"+" and not slots.held
    finally:
        slots.close()


def test_progress_says_the_verdict_and_leaves_the_details_to_the_table(
    workspace_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the newcomer trial: in a terminal every row was printed twice, once as progress on stderr (with every
    package) and again in the table."""
    import lockgen.ops.matrix as ops_matrix
    from lockgen.cli import main

    row = {
        "driver": "580",
        "error": None,
        "kind": None,
        "window": "11.8-13.0",
        "members": {"serve": {"cuda": "13.0", "torch": "2.14.0", "vllm": "0.33.0"}},
    }

    def fake_run_matrix(root, drivers, gpus, verify, jobs, on_row, reporter):  # type: ignore[no-untyped-def]
        on_row(1, row, 0.5)
        return {"rows": [row], "failed": []}

    monkeypatch.setattr(ops_matrix, "run_matrix", fake_run_matrix)
    main(["-C", str(workspace_copy), "matrix", "--drivers", "580"])
    out, err = capsys.readouterr()
    assert "vllm 0.33.0" in out
    assert "[1/1] driver 580" in err and "ok" in err
    assert "vllm" not in err and "torch" not in err
