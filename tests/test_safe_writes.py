"""`export --into FILE` and `toolchain --write` write only regular files (or new ones) in folders that exist, keep
the file's mode (a new one gets 0644 under umask 022), and replace atomically (issue 12 item 6). Before the fix a
character device or a symlink was replaced by a regular file, a FIFO hung the command, missing folders were created
and every file came out 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgen.cli import main


def export_into(ws: Path, target: Path, fmt: str = "colab") -> list[str]:
    return ["-C", str(ws), "export", "--member", "train", "--format", fmt, "--into", str(target)]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def error_of(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lockgen: error: "), err
    return err


def test_new_file_gets_0644_under_umask_022(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    target = tmp_path / "cell.txt"
    assert main(export_into(workspace_copy, target)) == 0, capsys.readouterr()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert '"pip", "install"' in target.read_text()


def test_new_file_respects_a_stricter_umask(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o077)
    try:
        target = tmp_path / "cell.txt"
        assert main(export_into(workspace_copy, target)) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_existing_file_keeps_its_mode(workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cell.txt"
    target.write_text("old\n")
    target.chmod(0o664)
    assert main(export_into(workspace_copy, target)) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o664 and target.read_text() != "old\n"


def test_symlink_is_refused_and_left_alone(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "real.txt"
    real.write_text("mine\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert main(export_into(workspace_copy, link)) == 2
    assert "link.txt: is a symbolic link" in error_of(capsys)
    assert link.is_symlink() and real.read_text() == "mine\n"


def test_missing_folder_is_named_not_created(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "cell.txt"
    assert main(export_into(workspace_copy, target)) == 2
    assert f"the folder {tmp_path / 'no' / 'such'} does not exist" in error_of(capsys)
    assert not (tmp_path / "no").exists()


def test_fifo_is_refused_without_blocking(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for fmt in ("colab", "pep723"):  # pep723 reads the file first: it must not open the FIFO
        assert main(export_into(workspace_copy, fifo, fmt)) == 2
        assert "pipe: is a FIFO (named pipe)" in error_of(capsys)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_character_device_is_refused(workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dev = tmp_path / "null"  # a private copy of /dev/null's node (1, 3), so a regression cannot harm /dev/null
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        dev = Path("/dev/null")
    assert main(export_into(workspace_copy, dev)) == 2
    assert "is a character device" in error_of(capsys)
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_directory_is_refused(workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(export_into(workspace_copy, tmp_path)) == 2
    assert "is a directory" in error_of(capsys)


# ---- toolchain --write ----


def test_toolchain_write_keeps_mode(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = workspace_copy / "nix/toolchain.json"
    path.write_text("{}\n")
    path.chmod(0o644)
    assert main(["-C", str(workspace_copy), "toolchain", "--write"]) == 0, capsys.readouterr()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.read_text() != "{}\n"


def test_toolchain_write_refuses_a_symlinked_file(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}\n")
    path = workspace_copy / "nix/toolchain.json"
    path.unlink()
    path.symlink_to(elsewhere)
    assert main(["-C", str(workspace_copy), "toolchain", "--write"]) == 2
    assert "nix/toolchain.json: is a symbolic link" in error_of(capsys)
    assert path.is_symlink() and elsewhere.read_text() == "{}\n"


def test_toolchain_write_refuses_a_folder_linked_outside(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for p in (workspace_copy / "nix").iterdir():
        p.unlink()
    (workspace_copy / "nix").rmdir()
    (workspace_copy / "nix").symlink_to(outside, target_is_directory=True)
    assert main(["-C", str(workspace_copy), "toolchain", "--write"]) == 2
    assert "leads outside the project" in error_of(capsys)
    assert list(outside.iterdir()) == []
