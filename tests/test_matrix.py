"""`lockgen matrix` against a generated world (tests/pkgworld.py) with the real uv on a local file:// index:
one row per driver, each member's CUDA as NVIDIA's tables (pkgworld.reference_window, a hand copy of compat.md)
and the brute-force oracle say, the user's files untouched, the --json shape, bad input -> exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pkgworld as pw
import pytest
from helpers import digest, require_uv
from lockgen.cli import main
from lockgen.seams.uvtool import find_uv

pytestmark = pytest.mark.uv

# One vllm-like "servelib" per torch (so both members' newest torch is the same: uv carries one member's torch into a
# conflicting sibling's resolution, see notes/pkgworld.md), torch builds spread over CUDA 12.1 ... 13.2 as on PyPI.
# Not called "vllm": lockgen's builds.toml describes the real vLLM releases and `lockgen matrix` steers by it.
TORCH = {
    "2.4.0": "12.1",
    "2.5.0": "12.4",
    "2.6.0": "12.6",
    "2.7.0": "12.8",
    "2.8.0": "12.9",
    "2.9.0": "13.0",
    "2.10.0": "13.1",
    "2.11.0": "13.2",
}
WORLD = pw.make_world(
    TORCH,
    packages={
        "servelib": {f"0.1.{i}": [f"torch=={t}"] for i, t in enumerate(TORCH)},
        "unsloth": {"2026.1": ["torch>=2.4.0", "tinylib>=1.0"]},
        "tinylib": {"1.0": [], "1.1": []},
    },
    members={"serve": ["servelib", "tinylib"], "train": ["unsloth", "torch"], "tools": ["tinylib"]},
)
FLEET = {"driver": "610.43.02", "gpus": ["A100", "H100"]}
CCS = ("8.0", "9.0")  # A100, H100 (compat.md section 2)
# The driver branches of NVIDIA's toolkit table from 535 on (compat.md section 1: 12.2 -> 535 ... 13.3 -> 610).
BRANCHES = ["535", "545", "550", "555", "560", "570", "575", "580", "590", "595", "610"]


@pytest.fixture(scope="module")
def uv_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """uv's environment for the whole module: a private cache, offline (file:// indexes only)."""
    require_uv()
    return pw.uv_env(tmp_path_factory.mktemp("uv-cache"), offline=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, uv_env: dict[str, str]) -> Path:
    """The world's workspace, locked with plain uv (newest everything: torch 2.11.0, CUDA 13.2)."""
    tmp = tmp_path_factory.mktemp("matrix")
    urls = pw.write_index(WORLD, tmp / "index").file_urls()
    root = pw.write_workspace(WORLD, tmp / "ws", index_urls=urls, lockgen=FLEET, exclude_newer="2026-01-01T00:00:00Z")
    subprocess.run([find_uv(), "lock"], cwd=root, env=uv_env, check=True, capture_output=True)
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path, uv_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template, with lockgen's uv runs pointed at the private cache, offline."""
    for key in [k for k in os.environ if k.startswith("UV_") and k not in uv_env]:
        monkeypatch.delenv(key)
    for key, value in uv_env.items():
        monkeypatch.setenv(key, value)
    dest = tmp_path / "ws"
    shutil.copytree(template, dest)
    return dest


def expected_cuda(member: str, driver: str, ccs: tuple[str, ...] = CCS) -> str | None:
    """The CUDA of the newest torch the oracle allows `member` inside NVIDIA's window for `driver` and `ccs`."""
    window = pw.reference_window(driver, ccs)
    newest = pw.oracle_solutions(WORLD, window, members=[member])[member].newest_torch
    return WORLD.dist("torch", newest).cuda if newest else None


def window_text(driver: str, ccs: tuple[str, ...] = CCS) -> str:
    """ "oldest-newest" of NVIDIA's window (every CUDA release lockgen and compat.md know, not only the world's)."""
    window = sorted(pw.reference_window(driver, ccs), key=pw.cuda_key)
    return f"{window[0]}-{window[-1]}" if window else "empty"


def matrix(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `lockgen -C WS matrix ARGS` in-process; (exit code, stdout, stderr)."""
    code = main(["-C", str(ws), "matrix", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_rows_are_the_driver_branches_and_agree_with_nvidia(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(ws)
    code, out, err = matrix(ws, capsys, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [r["driver"] for r in doc["rows"]] == BRANCHES
    for row in doc["rows"]:
        d = row["driver"]
        assert row["error"] is None, row
        assert row["window"] == window_text(d), row
        for member in ("serve", "train"):
            assert row["members"][member]["cuda"] == expected_cuda(member, d), (d, member, row)
            assert row["members"][member]["cuda"] in pw.reference_window(d, CCS)
        assert "tools" not in row["members"]  # a CPU-only member has no CUDA to show
    assert digest(ws) == before, "lockgen matrix changed the user's files"
    # progress on stderr: one line per driver
    assert all(f"driver {d}" in err for d in BRANCHES)


def test_rows_name_the_packages_and_respect_gpus(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(ws)
    code, out, err = matrix(ws, capsys, "--drivers", "570.26", "580.65.06", "--gpus", "V100", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["gpus"] == ["V100"]
    by_driver = {r["driver"]: r for r in doc["rows"]}
    assert list(by_driver) == ["570.26", "580.65.06"]
    # 580 runs CUDA 13.0, but CUDA 13 cannot target Volta (7.0): the V100 fleet stays on 12.x
    assert by_driver["580.65.06"]["window"] == window_text("580.65.06", ("7.0",)) == "11.8-12.9"
    serve = by_driver["580.65.06"]["members"]["serve"]
    assert serve == {"cuda": "12.9", "torch": "2.8.0", "servelib": "0.1.4"}
    train = by_driver["570.26"]["members"]["train"]
    assert train == {"cuda": expected_cuda("train", "570.26", ("7.0",)), "torch": "2.7.0", "unsloth": "2026.1"}
    assert digest(ws) == before


def test_a_driver_with_no_window_is_a_failed_row_and_the_exit_code_says_so(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = matrix(ws, capsys, "--drivers", "450", "570", "--json")
    assert code == 1, err
    doc = json.loads(out)
    rows = doc["rows"]
    assert doc["failed"] == 1 and rows[0]["kind"] == "empty-window"
    assert rows[0]["window"] == "empty" and rows[0]["members"] == {}
    assert "no solution: no solution" not in rows[0]["error"]
    assert "no CUDA version runs on the whole fleet" in rows[0]["error"] and "\n" not in rows[0]["error"]
    assert rows[1]["error"] is None and rows[1]["members"]["serve"]["cuda"] == expected_cuda("serve", "570")


def test_table_output(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = matrix(ws, capsys, "--drivers", "535", "595")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["driver", "window", "environment:", "CUDA,", "packages"]
    assert len(lines) == 3
    assert lines[1].split()[:2] == ["535", window_text("535")]
    assert "serve: CUDA 12.1 (torch 2.4.0, servelib 0.1.0)" in lines[1]
    assert "train: CUDA 13.2 (torch 2.11.0, unsloth 2026.1)" in lines[2]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--drivers", "latest"], "--drivers"),
        (["--drivers", "570", "5x0"], "5x0"),
        (["--gpus", "H1OO"], "--gpus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    ws: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    before = digest(ws)
    code, out, err = matrix(ws, capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lockgen: error: ") and needle in lines[0], err
    assert "Traceback" not in err
    assert digest(ws) == before


def test_a_cuda_version_given_as_a_driver_is_bad_input(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = matrix(ws, capsys, "--drivers", "12.4")
    assert code == 2 and "looks like a CUDA version" in err


# -- issue 15: rows in parallel; issue 16 item 5: --html, stable --json fields --

PIN = json.loads((Path(__file__).parent / "fixtures" / "json" / "schema-1.json").read_text(encoding="utf-8"))


def test_json_fields_are_the_pinned_ones(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document's fields and types are the ones tests/fixtures/json/schema-1.json pins (docs/json.md): a failed
    row (450: no window), resolved rows, --gpus, and --verify's verdicts (verify itself is tested in test_verify.py;
    here it answers at once)."""
    import lockgen.ops.verify as verify
    from jsonshape import compare, shape

    verdicts = {"serve": "ok (no GPU here)", "train": "broken: import - ModuleNotFoundError: x"}
    monkeypatch.setattr(verify, "matrix_verdicts", lambda root, reporter=None, offline=False: verdicts)
    code, out, err = matrix(ws, capsys, "--drivers", "450", "570", "--gpus", "A100", "--verify", "--json")
    assert code == 1, err
    doc = json.loads(out)
    assert compare(shape(doc, set(PIN["matrix"]["maps"])), PIN["matrix"]["fields"]) == []
    failed, row = doc["rows"]
    assert (failed["status"], failed["kind"], failed["environments"]) == ("failed", "empty-window", [])
    assert row["status"] == "ok" and row["runs"] == verdicts
    cells = {c["environment"]: c for c in row["environments"]}
    assert cells["train"]["verify"] == verdicts["train"] and cells["serve"]["in_window"] is True
    assert cells["serve"]["cuda"] == expected_cuda("serve", "570", ("8.0",)) == row["members"]["serve"]["cuda"]
    assert doc["lock"]["sha256"] == hashlib.sha256((ws / "uv.lock").read_bytes()).hexdigest()
    assert doc["fleet"]["driver"] == FLEET["driver"] and doc["gpus"] == ["A100"] and doc["verify"] is True


def test_parallel_rows_equal_serial_rows_in_driver_order(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drivers = ["595", "535", "570", "450"]
    code1, out1, _ = matrix(ws, capsys, "--drivers", *drivers, "--jobs", "1", "--json")
    code3, out3, err3 = matrix(ws, capsys, "--drivers", *drivers, "--jobs", "3", "--json")
    assert code1 == code3 == 1
    serial, parallel = json.loads(out1), json.loads(out3)
    assert [r["driver"] for r in parallel["rows"]] == drivers  # the order asked for, not the order they finished
    assert parallel == serial
    assert "3 at a time" in err3 and all(f"driver {d}" in err3 for d in drivers)


def test_html_page_agrees_with_nvidia(ws: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_matrix_html import parse

    before = digest(ws)
    page_file = tmp_path / "matrix.html"
    code, out, err = matrix(ws, capsys, "--drivers", "535", "595", "450", "--html", str(page_file))
    assert code == 1, err  # 450: no window
    cells = parse(page_file.read_text(encoding="utf-8")).cells
    for d in ("535", "595"):
        for member in ("serve", "train"):
            cell = cells[(d, member)]
            assert cell["status"] == "ok" and f"CUDA {expected_cuda(member, d)}" in cell["text"], (d, member, cell)
    assert cells[("450", "*")]["status"] == "fails" and "empty-window" in cells[("450", "*")]["text"]
    assert digest(ws) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".matrix.html")] == []  # no temporary left


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--jobs", "0"], "--jobs 0"),
        (["--jobs", "two"], "--jobs two"),
        (["--html", "{tmp}"], "is a directory"),
        (["--html", "{tmp}/missing/m.html"], "does not exist"),
    ],
)
def test_bad_jobs_or_html_is_refused_before_any_row(
    ws: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], needle: str
) -> None:
    code, out, err = matrix(ws, capsys, "--drivers", "570", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "driver 570" not in err, err


def test_rows_leave_no_copy_behind(
    ws: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code, _, err = matrix(ws, capsys, "--drivers", "450", "535", "595", "--json")
    assert code == 1, err
    assert list(scratch.iterdir()) == []


FAKE_UV = """#!/bin/sh
# a uv that records its pid; the cache revalidation ends at once, every row's uv hangs until it is killed
echo $$ >> "$FAKE_UV_PIDS"
case "$*" in *--refresh*) exit 0;; esac
exec sleep 300
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended (its parent is gone; init reaps it)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_stops_every_row_and_leaves_nothing(ws: Path, tmp_path: Path, how: str) -> None:
    """Ctrl-C (SIGINT to the terminal's process group: lockgen and its workers, not uv, which runs in its own
    session) or SIGTERM to lockgen alone, while two rows wait on uv: exit 130 at once, no uv left running, no staging
    copy left in TMPDIR, the project untouched."""
    import signal
    import sys
    import time

    fake = tmp_path / "uv"
    fake.write_text(FAKE_UV)
    fake.chmod(0o755)
    pids = tmp_path / "pids"
    pids.touch()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "UV": str(fake), "FAKE_UV_PIDS": str(pids), "TMPDIR": str(scratch)}
    before = digest(ws)
    argv = [sys.executable, "-m", "lockgen", "-C", str(ws), "matrix", "--drivers", "535", "570", "595", "--jobs", "2"]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while len(pids.read_text().split()) < 3 and time.monotonic() < deadline:  # the revalidation + two rows
            time.sleep(0.05)
        assert len(pids.read_text().split()) == 3, "the rows never reached uv"
        time.sleep(0.2)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert out == "" and "Traceback" not in err and "interrupted" in err.splitlines()[-1], err
    time.sleep(0.2)  # PR_SET_PDEATHSIG is delivered as the worker exits
    assert [p for p in map(int, pids.read_text().split()) if _alive(p)] == []
    assert list(scratch.iterdir()) == []
    assert digest(ws) == before
