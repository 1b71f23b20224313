"""Issue 16 item 3 (CLI conventions of uv and pixi): global options anywhere, -q/--no-progress, colour on a TTY with
NO_COLOR/--color, -o/--output-file, "schema": 1 in every JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lockgen.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_global_options_after_the_command(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `lockgen check -v` and `lockgen check -C DIR` were usage errors."""
    code, out, err = run(capsys, "check", "-C", str(workspace_copy), "--no-uv", "-v")
    assert code == 0, err
    assert "ok: lock is strict" in out
    code2, out2, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert (code2, out2) == (code, out)


def test_an_option_before_the_command_is_not_reset_after_it(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no project here: a reset -C would fail to find one
    code, out, err = run(capsys, "-C", str(workspace_copy), "check", "--no-uv", "--json")
    assert code == 0 and json.loads(out)["ok"] is True, err


@pytest.mark.parametrize("flag", ["-q", "--no-progress"])
def test_quiet_silences_progress(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """A command's Reporter is quiet with -q / --no-progress, and not once the run is over."""
    import lockgen.commands.check as check_cmd
    from lockgen.ui import Reporter

    seen: list[bool] = []
    real = check_cmd.run

    def spy(args: object) -> int:
        seen.append(Reporter().quiet)
        return real(args)  # type: ignore[arg-type]

    monkeypatch.setattr(check_cmd, "run", spy)
    main(["check", "-C", str(workspace_copy), "--no-uv", flag])
    main(["check", "-C", str(workspace_copy), "--no-uv"])
    capsys.readouterr()
    assert seen == [True, False]


def test_colour_follows_color_and_no_color(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = run(capsys, "check", "-C", str(workspace_copy), "--no-uv", "--color", "always")
    assert "\033[32mok:" in out
    _, out, _ = run(capsys, "check", "-C", str(workspace_copy), "--no-uv")  # auto, and pytest's capture is no TTY
    assert "\033[" not in out
    monkeypatch.setenv("NO_COLOR", "1")
    from lockgen.ui import SETTINGS, use_color

    monkeypatch.setattr(SETTINGS, "color", "auto")

    class Tty:
        def isatty(self) -> bool:
            return True

    assert use_color(Tty()) is False  # type: ignore[arg-type]
    monkeypatch.delenv("NO_COLOR")
    assert use_color(Tty()) is True  # type: ignore[arg-type]


def test_every_json_document_carries_the_schema(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["check", "--no-uv", "--json"],
        ["toolchain", "--json"],
        ["doctor", "--json"],
    ):
        code = main(["-C", str(workspace_copy), *argv])
        out = capsys.readouterr().out
        assert json.loads(out)["schema"] == 1, (argv, code, out[:200])
    import io
    import sys

    sys.stdin = io.StringIO("RuntimeError: CUDA error: no kernel image is available for execution on the device\n")
    try:
        main(["-C", str(workspace_copy), "explain", "-", "--json", "--no-host"])
    finally:
        sys.stdin = sys.__stdin__
    assert json.loads(capsys.readouterr().out)["schema"] == 1


def test_output_file_as_uv_says_it(workspace_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "train-requirements.py"
    code = main(["-C", str(workspace_copy), "export", "--member", "train", "--format", "pep723", "-o", str(target)])
    assert code == 0, capsys.readouterr().err
    assert "torch==" in target.read_text()


def test_shell_completion_completes_commands_and_their_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil
    import subprocess

    assert main(["completion", "bash"]) == 0
    text = capsys.readouterr().out
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash here")
    (tmp_path / "c.sh").write_text(text)
    probe = (
        f"source {tmp_path / 'c.sh'}\n"
        'COMP_WORDS=(lockgen -q ch); COMP_CWORD=2; _lockgen; echo "1:${COMPREPLY[*]}"\n'
        'COMP_WORDS=(lockgen check --js); COMP_CWORD=2; _lockgen; echo "2:${COMPREPLY[*]}"\n'
        'COMP_WORDS=(lockgen -C /x lock --dr); COMP_CWORD=4; _lockgen; echo "3:${COMPREPLY[*]}"\n'
    )
    out = subprocess.run([bash, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["1:check", "2:--json", "3:--dry-run"]
    assert main(["completion", "zsh"]) == 0 and "bashcompinit" in capsys.readouterr().out


def test_file_options_name_a_file_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Found by the newcomer trial: export's usage read `-o INTO` (the internal dest) where uv says `-o FILE`."""
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    assert "-o FILE" in out and "INTO" not in out
