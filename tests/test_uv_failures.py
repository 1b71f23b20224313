"""Issue 10 items 2, 5, 6 and 9: uv failures told apart (from uv's real words), `check` offline that never discards
findings, dry runs on a copy that holds the whole project, private lock files that do not pile up, and a uv that
does not outlive a killed lockgen."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from lockgen.cli import main
from lockgen.model.workspace import load_workspace
from lockgen.rules.checking import run_check
from lockgen.seams.uvtool import UvResult, classify_uv_failure

UV_OUT = Path(__file__).parent / "fixtures" / "uv"


@pytest.mark.parametrize(
    ("fixture", "kind", "named"),
    [
        ("network-dns.txt", "network", "nonexistent.invalid"),
        ("git-host.txt", "network", "github.com"),
        ("offline-cache.txt", "offline", None),
        ("build-setup-py.txt", "build", "bar"),
    ],
)
def test_uv_failures_are_told_apart(fixture: str, kind: str, named: str | None) -> None:
    failure = classify_uv_failure((UV_OUT / fixture).read_text(), 2)
    assert failure.kind == kind
    if named:
        assert named in failure.summary


def test_only_a_resolver_conflict_is_no_solution() -> None:
    text = (
        "error: No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch==2.14.0 depends on cuda-toolkit==13.0.2 and you require cuda-toolkit<12.9, we can "
        "conclude that your requirements are unsatisfiable.\n"
    )
    assert classify_uv_failure(text).kind == "no-solution"
    assert classify_uv_failure("error: something odd\n", 2).kind == "other"


# ---- check: offline, every rule reported ----


def broken_serve(root: Path) -> None:
    """The repository's workspace with a loosened torch pin (a strict-pin finding)."""
    path = root / "workspaces/serve/pyproject.toml"
    text = path.read_text()
    import re

    path.write_text(re.sub(r'"torch==[^"]+"', '"torch>=2.4"', text))


def test_check_never_goes_online_and_keeps_every_finding(workspace_copy: Path) -> None:
    """Before: an offline miss made lockgen retry online, and a failure there dropped every other rule (exit 2)."""
    broken_serve(workspace_copy)
    calls: list[list[str]] = []

    def offline_uv(args: list[str], **kw: object) -> UvResult:
        calls.append(list(args))
        return UvResult(("uv", *args), 2, "", (UV_OUT / "offline-cache.txt").read_text())

    report = run_check(load_workspace(workspace_copy), runner=offline_uv)
    assert calls == [["lock", "--check", "--offline"]]
    assert [v.rule for v in report.violations] == ["strict-pin"]
    assert report.fresh is None and any("not decided offline" in w and "uv lock --check" in w for w in report.warnings)


def test_check_json_is_printed_when_uv_cannot_answer(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken_serve(workspace_copy)
    monkeypatch.setenv("UV", "/nonexistent/uv")
    code = main(["-C", str(workspace_copy), "check", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and [v["rule"] for v in doc["violations"]] == ["strict-pin"]
    assert doc["fresh"] is None and doc["warnings"]


# ---- the dry-run copy ----


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_stage_copy_holds_what_uv_needs(tmp_path: Path) -> None:
    """Before: the copy held only pyprojects, uv.lock and .python-version - no setup.py, package folders, README,
    .git (setuptools-scm) or path dependencies."""
    from lockgen.seams.stage import stage_copy

    repo = tmp_path / "repo"
    (repo / "proj/src/proj").mkdir(parents=True)
    (repo / "proj/pyproject.toml").write_text('[project]\nname = "proj"\ndynamic = ["version"]\n')
    (repo / "proj/setup.py").write_text("from setuptools import setup\nsetup()\n")
    (repo / "proj/README.md").write_text("read by the build backend\n")
    (repo / "proj/src/proj/__init__.py").write_text("")
    (repo / "proj/uv.lock").write_text(
        'version = 1\nrevision = 3\n[[package]]\nname = "lib"\nversion = "1"\n'
        'source = { directory = "../../libs/lib" }\n'
    )
    (repo / ".gitignore").write_text(".venv/\n*.log\n")
    (repo / "proj/.venv").mkdir()
    (repo / "proj/.venv/big").write_text("x")
    (repo / "proj/build.log").write_text("ignored")
    lib = tmp_path / "libs/lib"
    lib.mkdir(parents=True)
    (lib / "pyproject.toml").write_text('[project]\nname = "lib"\nversion = "1"\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "tag", "v1.2.3")
    (repo / "proj/untracked.py").write_text("# untracked, not ignored: uv may need it\n")
    before = git(repo, "status", "--porcelain")

    dest = tmp_path / "stage"
    dest.mkdir()
    copy = stage_copy(repo / "proj", dest)
    for rel in ("pyproject.toml", "setup.py", "README.md", "src/proj/__init__.py", "uv.lock", "untracked.py"):
        assert (copy / rel).is_file(), rel
    assert not (copy / ".venv").exists() and not (copy / "build.log").exists()
    assert git(copy, "describe", "--tags").strip() == "v1.2.3"  # what setuptools-scm asks
    assert (copy / "../../libs/lib/pyproject.toml").resolve().is_file()  # the path dependency, same relative place
    assert git(repo, "status", "--porcelain") == before  # the original is only read


def test_stage_copy_outside_git(tmp_path: Path) -> None:
    from lockgen.seams.stage import stage_copy

    proj = tmp_path / "p"
    (proj / "pkg").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "1"\n')
    (proj / "pkg/__init__.py").write_text("")
    (proj / ".venv").mkdir()
    (proj / ".venv/x").write_text("")
    dest = tmp_path / "d"
    dest.mkdir()
    copy = stage_copy(proj, dest)
    assert (copy / "pkg/__init__.py").is_file() and not (copy / ".venv").exists()


# ---- lock files and a killed lockgen ----


def test_lock_files_are_private_and_removed(
    workspace_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every run left /tmp/lockgen-<hash>.lock behind (over a thousand after a test run), and a link planted
    there by another user was followed."""
    from lockgen.seams.txn import Transaction, lock_path

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    path = lock_path(workspace_copy)
    assert path.parent == tmp_path / "run" / "lockgen" and (path.parent.stat().st_mode & 0o777) == 0o700
    with Transaction(workspace_copy, [workspace_copy / "pyproject.toml"]):
        assert path.exists()
    assert not path.exists()
    os.symlink(tmp_path / "target", path)
    with pytest.raises(OSError), Transaction(workspace_copy, []):
        pass
    assert not (tmp_path / "target").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux's")
def test_uv_dies_with_a_killed_lockgen(tmp_path: Path) -> None:
    """Before: uv ran in its own session and went on rewriting uv.lock after lockgen was SIGKILLed."""
    fake_uv = tmp_path / "uv"
    pidfile = tmp_path / "uv.pid"
    fake_uv.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    fake_uv.chmod(0o755)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from lockgen.seams.uvtool import run_uv
        run_uv(["lock"], cwd=Path("{tmp_path}"), on_line=lambda s: None)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "UV": str(fake_uv)})
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    uv_pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(100):
        try:
            os.kill(uv_pid, 0)
        except ProcessLookupError:
            break
        # a zombie waiting for its reaper counts as gone
        stat = Path(f"/proc/{uv_pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[1].startswith("Z"):
            break
        time.sleep(0.05)
    else:
        os.kill(uv_pid, signal.SIGKILL)
        pytest.fail("uv outlived the lockgen that started it")
