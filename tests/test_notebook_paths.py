"""`[tool.lockgen] notebooks` may only name files inside the project (after resolving symlinks), and never a link:
`lock` used to prepend a script block to `../../tmp/x/passwd_copy`, replace a symlink with a regular file and create
folders (issue 12 item 3). Each case failed before the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lockgen.cli import main

NB = 'notebooks = [{ path = "notebooks/train_smoke.py", member = "train" }]'


def set_notebook(ws: Path, path: str) -> None:
    py = ws / "pyproject.toml"
    text = py.read_text()
    assert NB in text
    py.write_text(text.replace(NB, f'notebooks = [{{ path = "{path}", member = "train" }}]'))


def snapshot(*dirs: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            out[str(p)] = f"link -> {os.readlink(p)}" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
    return out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    (d / "passwd_copy").write_text("root:x:0:0:root:/root:/bin/bash\n")
    return d


NO_UV = "uv is not run by this test"


@pytest.fixture(autouse=True)
def no_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    from lockgen.errors import UvError

    def refuse() -> str:
        raise UvError(NO_UV)

    monkeypatch.setattr("lockgen.seams.uvtool.find_uv", refuse)  # run_uv looks it up per run


def expect_refused(
    ws: Path, outside: Path, capsys: pytest.CaptureFixture[str], words: str, lock_stages_first: bool = False
) -> None:
    """`check` and `lock` refuse with exit 2 naming the key, and no file here or outside changes.

    `lock_stages_first`: lock/bump work in a staging copy (seams.stage), which holds a symlinked folder as a real
    one and leaves FIFOs out, so there the path is caught only when the result is applied (lockgen.seams.txn refuses to
    write outside the project); here the stubbed uv stops it first. Either way nothing is written."""
    before = snapshot(ws, outside)
    for argv in (["check", "--no-uv"], ["lock"], ["export", "--member", "train", "--format", "pep723"]):
        code = main(["-C", str(ws), *argv])
        err = capsys.readouterr().err
        if argv[0] == "export":  # export to stdout does not read [tool.lockgen] notebooks
            continue
        assert code == 2, (argv, err)
        if argv[0] == "lock" and lock_stages_first and NO_UV in err:
            continue
        last = err.strip().splitlines()[-1]
        assert last.startswith("lockgen: error: pyproject.toml: tool.lockgen.notebooks[0].path: "), err
        assert words in last
    assert snapshot(ws, outside) == before


def test_a_path_above_the_project(workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_notebook(workspace_copy, "../elsewhere/passwd_copy")
    expect_refused(workspace_copy, outside, capsys, "leads outside the project")


def test_an_absolute_path(workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_notebook(workspace_copy, str(outside / "passwd_copy"))
    expect_refused(workspace_copy, outside, capsys, "is an absolute path")


def test_a_missing_folder_outside(workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_notebook(workspace_copy, "../elsewhere/new/dir/nb.py")
    expect_refused(workspace_copy, outside, capsys, "leads outside the project")
    assert not (outside / "new").exists()


def test_a_symlinked_folder_pointing_outside(
    workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace_copy / "shared").symlink_to(outside, target_is_directory=True)
    set_notebook(workspace_copy, "shared/passwd_copy")
    expect_refused(workspace_copy, outside, capsys, "leads outside the project")


def test_a_symlink_inside_the_project_is_not_replaced(
    workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = workspace_copy / "notebooks/train_smoke.py"
    real = workspace_copy / "notebooks/real.py"
    nb.rename(real)
    nb.symlink_to("real.py")
    expect_refused(workspace_copy, outside, capsys, "is a symbolic link")
    assert nb.is_symlink()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(
    workspace_copy: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = workspace_copy / "notebooks/pipe.py"
    os.mkfifo(fifo)
    set_notebook(workspace_copy, "notebooks/pipe.py")
    expect_refused(workspace_copy, outside, capsys, "is not a regular file", lock_stages_first=True)


def test_a_notebook_inside_the_project_still_works(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(workspace_copy), "check", "--no-uv"]) == 0, capsys.readouterr()
