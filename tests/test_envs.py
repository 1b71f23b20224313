"""Issue 16 item 2: per-member environments by default - `lockgen sync M` / `lockgen run M -- CMD` use
`.venv-<member>`, so train and serve can never be mixed in one venv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lockgen.cli import main

FAKE_UV = """#!/bin/sh
printf '%s\\n' "$*" > "{log}"
printf '%s\\n' "$UV_PROJECT_ENVIRONMENT" "${{VIRTUAL_ENV:-none}}" >> "{log}"
exit 3
"""


@pytest.fixture
def fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "uv.log"
    script = tmp_path / "uv"
    script.write_text(FAKE_UV.format(log=log))
    script.chmod(0o755)
    monkeypatch.setenv("UV", str(script))
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")  # as inside an outer `uv run`
    return log


def test_sync_installs_a_member_into_its_own_environment(workspace_copy: Path, fake_uv: Path) -> None:
    code = main(["-C", str(workspace_copy), "sync", "train"])
    argv, env_dir, venv = fake_uv.read_text().splitlines()
    assert code == 3  # uv's exit code is passed through
    assert argv == "sync --frozen --package train"
    assert Path(env_dir) == workspace_copy.resolve() / ".venv-train" and venv == "none"


def test_run_runs_in_the_members_environment(workspace_copy: Path, fake_uv: Path) -> None:
    main(["-C", str(workspace_copy), "run", "serve", "--", "serve", "--dry-run", "--lora", "a=b"])
    argv, env_dir, _ = fake_uv.read_text().splitlines()
    assert argv == "run --frozen --package serve serve --dry-run --lora a=b"
    assert env_dir.endswith(os.sep + ".venv-serve")


def test_unknown_member_and_missing_command(
    workspace_copy: Path, fake_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(workspace_copy), "sync", "nope"]) == 2
    assert "no member 'nope'" in capsys.readouterr().err
    assert main(["-C", str(workspace_copy), "run", "train"]) == 2
    assert "no command given" in capsys.readouterr().err
    assert not fake_uv.exists()


def test_run_with_an_unknown_member_is_a_one_line_error(
    workspace_copy: Path, fake_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # newcomer trial: `lockgen run trian -- x` was "internal error: TypeError" (run's CMD overwrote the subcommand name)
    assert main(["-C", str(workspace_copy), "run", "trian", "--", "train-smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lockgen: error: lockgen run: MEMBER: no member 'trian'") and "internal error" not in err
    assert not fake_uv.exists()


def test_a_missing_member_names_only_member(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("sync", "run"):
        with pytest.raises(SystemExit) as exit_:
            main([command])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1].endswith("the following arguments are required: MEMBER")


def test_sync_help_says_where_its_extra_arguments_go(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Arguments after `--` go to `uv sync`" in text and "go to the command" not in text
    assert "-- UV_ARGS" in text and "uv_args" not in text
