"""`lockgen check`'s fast path (issue 15, "a check that costs next to nothing"): uv's freshness check started before
anything is imported, the rules' verdict cached by a digest of their inputs, a plain command line read without
argparse - and none of it changing what check says. Process-level tests run `python -m lockgen` with a fake uv that
records how it was run; the cache lives in a temporary XDG_CACHE_HOME."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lockgen.cli import build_parser, plain_check
from lockgen.seams.uvstart import command_of

STALE = "error: The lockfile at `uv.lock` needs to be updated, but `--check` was provided.\n"


def fake_uv(tmp: Path, stderr: str = "Resolved 1 package in 1ms\n", code: int = 0, sleep: float = 0) -> Path:
    """A uv that appends its pid and arguments to uv.log, then answers `lock --check` with `stderr` and `code`."""
    log = tmp / "uv.log"
    script = tmp / "fake-uv"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$$ $*" >> {log}\n'
        + (f"sleep {sleep}\n" if sleep else "")
        + f"printf '%s' '{stderr}' >&2\nexit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def lockgen(ws: Path, cache: Path, uv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOCKGEN_NO_CACHE", "NO_COLOR")}
    env.update(XDG_CACHE_HOME=str(cache), UV=str(uv))
    return subprocess.run(
        [sys.executable, "-m", "lockgen", *argv], cwd=ws, env=env, capture_output=True, text=True, timeout=120
    )


def uv_runs(tmp: Path) -> list[str]:
    log = tmp / "uv.log"
    return log.read_text().splitlines() if log.exists() else []


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "lockgen" / "check").glob("*.bin"))


# ---- the command line ----

PLAIN = [
    ["check"],
    ["check", "--json"],
    ["check", "--no-uv", "--json"],
    ["-C", "ws", "check"],
    ["check", "-C", "ws"],
    ["--directory=ws", "check"],
    ["check", "--directory", "ws"],
    ["-Cws", "check", "-q"],
    ["-v", "check", "--no-progress", "--color", "never"],
    ["--color=always", "check", "--verbose", "--quiet"],
]
NOT_PLAIN = [
    [],
    ["lock"],
    ["--json", "check"],  # a check option before the command: argparse's usage error
    ["check", "--js"],  # an abbreviation argparse expands
    ["check", "-h"],
    ["check", "--color", "pink"],
    ["check", "-C"],
    ["-C=ws", "check"],
    ["check", "extra"],
    ["check", "--", "x"],
    ["--version"],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_a_plain_check_line_reads_as_argparse_reads_it(argv: list[str]) -> None:
    fast = plain_check(argv)
    assert fast is not None
    slow = vars(build_parser().parse_args(argv))
    assert {k: v for k, v in vars(fast).items() if k != "func"} == {k: v for k, v in slow.items() if k != "func"}
    assert fast.func is slow["func"]


@pytest.mark.parametrize("argv", NOT_PLAIN, ids=lambda a: " ".join(a) or "(empty)")
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert plain_check(argv) is None


def test_the_early_reader_finds_the_command_and_directory() -> None:
    assert command_of(["-C", "x", "check", "--json"]) == ("check", "x", ["--json"])
    assert command_of(["check", "--directory=y"])[:2] == ("check", "y")
    assert command_of(["-q", "--color", "never", "lock"])[:2] == ("lock", None)
    assert command_of(["--dir", "x", "check"])[0] is None  # an abbreviation: nobody guesses
    assert command_of(["--help"])[0] is None


# ---- uv started first ----


def test_uv_is_started_once_in_the_root_and_its_stale_answer_counts(workspace_copy: Path, tmp_path: Path) -> None:
    uv = fake_uv(tmp_path, STALE, 1)
    sub = workspace_copy / "workspaces" / "train"
    res = lockgen(sub, tmp_path / "cache", uv, "check", "--json")
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["fresh"] is False and [v["rule"] for v in doc["violations"]] == ["lock-fresh"]
    runs = uv_runs(tmp_path)
    assert len(runs) == 1, runs
    # started early (posix_spawn has no chdir: uv's own --directory), in the workspace root found from a member
    assert runs[0].split(" ", 1)[1] == f"--directory {workspace_copy} lock --check --offline"


def test_no_uv_runs_no_uv(workspace_copy: Path, tmp_path: Path) -> None:
    uv = fake_uv(tmp_path)
    for argv in (["check", "--no-uv"], ["check", "--no-u"]):  # the abbreviation too
        assert lockgen(workspace_copy, tmp_path / "cache", uv, *argv).returncode == 0
    assert uv_runs(tmp_path) == []


def test_an_early_uv_nobody_takes_is_ended(workspace_copy: Path, tmp_path: Path) -> None:
    """A check that fails before it needs uv's answer (a malformed pyproject) leaves no uv running behind it."""
    uv = fake_uv(tmp_path, sleep=30)
    (workspace_copy / "workspaces/serve/pyproject.toml").write_text("[project\n")
    t = time.monotonic()
    res = lockgen(workspace_copy, tmp_path / "cache", uv, "check")
    assert res.returncode == 2 and "workspaces/serve/pyproject.toml" in res.stderr
    assert time.monotonic() - t < 25  # did not wait for the sleeping uv
    (pid, _), *_ = [r.split(" ", 1) for r in uv_runs(tmp_path)]
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"uv {pid} still runs after lockgen ended")


# ---- the verdict cache ----


@pytest.mark.parametrize(
    "answer",
    [("Resolved 1 package in 1ms\n", 0), (STALE, 1), ("error: Network connectivity is disabled\n", 2)],
    ids=["fresh", "stale", "undecided"],
)
def test_a_cached_verdict_says_exactly_what_the_rules_say(
    workspace_copy: Path, tmp_path: Path, answer: tuple[str, int]
) -> None:
    """Text and --json (its summary, rules and environments count uv's answer too), cached or not."""
    uv, cache = fake_uv(tmp_path, *answer), tmp_path / "cache"
    first = [lockgen(workspace_copy, cache, uv, "check", *a) for a in ([], ["--json"])]
    assert len(entries(cache)) == 1
    again = [lockgen(workspace_copy, cache, uv, "check", *a) for a in ([], ["--json"])]
    off = [lockgen(workspace_copy, tmp_path / "none", uv, "check", *a) for a in ([], ["--json"])]
    for a, b, c in zip(first, again, off, strict=True):
        assert (
            (a.returncode, a.stdout, a.stderr)
            == (b.returncode, b.stdout, b.stderr)
            == (c.returncode, c.stdout, c.stderr)
        )
    assert len(uv_runs(tmp_path)) == 6  # the cache never stands in for uv's freshness check
    # and it is the document check_json makes from a whole report (rules and uv's answer together)
    from lockgen.commands.check import check_json
    from lockgen.model.workspace import load_workspace
    from lockgen.rules.checking import run_check
    from lockgen.seams.uvtool import UvResult

    def same_answer(args: list[str], cwd: Path, **kw: object) -> UvResult:
        return UvResult(("uv", *args), answer[1], "", answer[0])

    ws = load_workspace(workspace_copy)
    whole = check_json(ws, run_check(ws, runner=same_answer))
    assert json.loads(first[1].stdout) == {"schema": 1, **whole}


@pytest.mark.parametrize(
    "path, old, new, rule",
    [
        # a member pyproject (named by the root's, not in the key itself)
        ("workspaces/train/pyproject.toml", '"torch==', '"torch>=', "strict-pin"),
        # a notebook the root pyproject lists
        ("notebooks/train_smoke.py", '"marimo==0.25.2"', '"marimo==0.25.1"', "notebook"),
        # the fleet, in the root pyproject
        ("pyproject.toml", 'driver = "580.65.06"', 'driver = "550.54.14"', "cuda-window"),
    ],
)
def test_a_changed_input_is_never_served_stale(
    workspace_copy: Path, tmp_path: Path, path: str, old: str, new: str, rule: str
) -> None:
    uv, cache = fake_uv(tmp_path), tmp_path / "cache"
    assert lockgen(workspace_copy, cache, uv, "check", "--json").returncode == 0
    f = workspace_copy / path
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    res = lockgen(workspace_copy, cache, uv, "check", "--json")
    assert res.returncode == 1, res.stdout
    assert rule in {v["rule"] for v in json.loads(res.stdout)["violations"]}
    f.write_text(text)  # back as it was: the first verdict again
    assert lockgen(workspace_copy, cache, uv, "check", "--json").returncode == 0


def test_in_process_callers_never_read_the_cache(
    workspace_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main(argv) is what tests and library callers use: what they replace (a rule, uv) is what runs."""
    from lockgen.cli import main
    from lockgen.seams import checkfast

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert lockgen(workspace_copy, tmp_path / "cache", fake_uv(tmp_path), "check").returncode == 0
    assert len(entries(tmp_path / "cache")) == 1

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the verdict cache was consulted")

    monkeypatch.setattr(checkfast.VerdictCache, "load", refuse)
    monkeypatch.setattr(checkfast.VerdictCache, "store", refuse)
    assert main(["-C", str(workspace_copy), "check", "--no-uv"]) == 0, capsys.readouterr()


def test_the_code_fingerprint_follows_every_file(tmp_path: Path) -> None:
    from lockgen.seams.cache import _tree_stats

    (tmp_path / "data").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "data" / "t.toml").write_text("k = 1\n")
    (tmp_path / "__pycache__").mkdir()
    before = _tree_stats(str(tmp_path))
    (tmp_path / "__pycache__" / "a.pyc").write_text("compiled")
    assert _tree_stats(str(tmp_path)) == before  # bytecode is not code
    (tmp_path / "data" / "t.toml").write_text("k = 22\n")
    assert _tree_stats(str(tmp_path)) != before


def test_no_early_start_while_a_transaction_waits_to_be_rolled_back(
    workspace_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roll-back rewrites the files uv would read: uv must start after it (then lockgen.seams.checkfast does)."""
    from lockgen.seams import uvstart

    monkeypatch.setenv("UV", str(fake_uv(tmp_path)))
    uvstart.prestart(["-C", str(workspace_copy), "check"])
    assert len(uvstart._started) == 1
    uvstart.discard()
    (workspace_copy / ".lockgen").mkdir()
    (workspace_copy / ".lockgen" / "journal.json").write_text("{}")
    uvstart.prestart(["-C", str(workspace_copy), "check"])
    assert uvstart._started == []


_OPENED: list[str] | None = None


def _record_opens(event: str, args: tuple[object, ...]) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.path.abspath(os.fsdecode(args[0])))


def test_the_verdict_cache_covers_every_file_the_rules_read(workspace_copy: Path) -> None:
    """Every project file the rules open is in the cache's key (ROOT_INPUTS) or checked with the entry (member
    pyprojects, notebooks): a rule that starts reading another file fails here, not with a stale verdict."""
    global _OPENED
    from lockgen.commands.check import _read_files
    from lockgen.model.workspace import load_workspace
    from lockgen.rules.checking import run_check
    from lockgen.seams.checkfast import ROOT_INPUTS

    sys.addaudithook(_record_opens)  # (hooks stay for the process; this one records only while _OPENED is a list)
    _OPENED = []
    try:
        ws = load_workspace(workspace_copy)
        run_check(ws, use_uv=False)
        opened = list(_OPENED)
    finally:
        _OPENED = None
    root = str(workspace_copy) + os.sep
    read = {p[len(root) :] for p in opened if p.startswith(root)}
    assert {"uv.lock", "pyproject.toml", "workspaces/train/pyproject.toml", "notebooks/train_smoke.py"} <= read
    assert read <= {*ROOT_INPUTS, *_read_files(ws)}, read - {*ROOT_INPUTS, *_read_files(ws)}


def test_a_cached_check_imports_nothing_heavy(workspace_copy: Path, tmp_path: Path) -> None:
    """What a cached `lockgen check` imports (python -X importtime): lockgen's light modules only - no argparse,
    pathlib, re, json, typing, dataclasses, tomllib or packaging, each of which costs more than its whole work."""
    uv, cache = fake_uv(tmp_path), tmp_path / "cache"
    assert lockgen(workspace_copy, cache, uv, "check").returncode == 0  # fills the verdict cache
    env = {k: v for k, v in os.environ.items() if k not in ("LOCKGEN_NO_CACHE",)}
    env.update(XDG_CACHE_HOME=str(cache), UV=str(uv))
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lockgen", "check"],
        cwd=workspace_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    heavy = {"argparse", "pathlib", "re", "json", "typing", "dataclasses", "tomllib", "packaging", "subprocess"}
    assert not heavy & imported, sorted(heavy & imported)
    assert "lockgen.seams.checkfast" in imported and "lockgen.rules" not in imported
