"""`lockgen lock` / `bump` with the real uv against a local index (offline): the fleet moves the lock, pins are
re-written strictly, failures leave every file byte-identical - also under injected faults at every step."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import digest
from lockgen.errors import LockgenError
from lockgen.ops.resolve import EmptyWindow, Request, ResolutionFailed, dry_run, relock
from lockgen.plan.steering import pre_exclude, steer
from lockgen.seams.txn import Interrupted, lock_path
from lockgen.seams.uvtool import UvResult, find_uv, run_uv
from pkgworld import make_world, uv_env, write_index, write_workspace

pytestmark = pytest.mark.uv

# torch builds as on PyPI: 2.8-2.10 are CUDA 12.8 (cu12 runtime), 2.11+ CUDA 13.0 (cuda-toolkit[cudart])
WORLD = make_world(
    {"2.8.0": "12.8", "2.10.0": "12.8", "2.11.0": "13.0", "2.14.0": "13.0"},
    packages={
        "servelib": {"0.10.0": ["torch==2.8.0"], "0.19.0": ["torch==2.10.0"], "0.33.0": ["torch==2.14.0"]},
        "tinytool": {"1.0": [], "1.1": []},
    },
    members={"serve": ["servelib==0.33.0", "torch==2.14.0", "tinytool==1.1"], "train": ["torch==2.14.0"]},
    extra_runtimes=("12.9",),
)
FLEET = {"driver": "580.65.06", "gpus": ["T4", "H100"]}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_index(WORLD, tmp_path_factory.mktemp("index")).file_urls()


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="module")
def runner(uv_cache: Path) -> Callable[..., UvResult]:
    return functools.partial(run_uv, env=uv_env(uv_cache, offline=True))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, index: dict[str, str], uv_cache: Path) -> Path:
    """The world's workspace, locked once with plain uv (the state users start from)."""
    root = write_workspace(WORLD, tmp_path_factory.mktemp("template") / "ws", index_urls=index, lockgen=FLEET)
    env = uv_env(uv_cache, offline=True)
    subprocess.run([find_uv(), "lock"], cwd=root, env=env, check=True, capture_output=True)
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(template, dest)
    return dest


def set_driver(root: Path, driver: str, gpus: list[str] | None = None) -> None:
    text = (root / "pyproject.toml").read_text()
    text = text.replace('driver = "580.65.06"', f'driver = "{driver}"')
    if gpus is not None:
        text = text.replace('gpus = ["T4", "H100"]', "gpus = [" + ", ".join(f'"{g}"' for g in gpus) + "]")
    (root / "pyproject.toml").write_text(text)


def pins(root: Path, member: str) -> list[str]:
    return tomllib.loads((root / f"workspaces/{member}/pyproject.toml").read_text())["project"]["dependencies"]


def locked(root: Path, name: str) -> list[str]:
    data = tomllib.loads((root / "uv.lock").read_text())
    return sorted(p["version"] for p in data["package"] if p["name"] == name)


def go(root: Path, request: Request, runner: Callable[..., UvResult], **kw: object):  # type: ignore[no-untyped-def]
    return relock(root, request, runner=runner, pre_exclude=pre_exclude, steer=steer, **kw)  # type: ignore[arg-type]


def test_lock_with_driver_570_moves_both_members_to_cuda_12_8(ws: Path, runner: Callable[..., UvResult]) -> None:
    set_driver(ws, "570")
    out = go(ws, Request("lock"), runner)
    assert {m.member: m.cuda_after for m in out.members} == {"serve": "12.8", "train": "12.8"}
    assert pins(ws, "serve") == ["servelib==0.19.0", "torch==2.10.0", "tinytool==1.1"]
    assert pins(ws, "train") == ["torch==2.10.0"]
    assert locked(ws, "torch") == ["2.10.0"]
    root = tomllib.loads((ws / "pyproject.toml").read_text())
    assert "nvidia-cuda-runtime-cu12<12.9" in root["tool"]["uv"]["constraint-dependencies"]
    assert root["tool"]["lockgen"]["managed-constraints"] == root["tool"]["uv"]["constraint-dependencies"]
    assert out.uv_runs == 2
    # the result is fresh for uv itself
    check = runner(["lock", "--check"], cwd=ws)
    assert check.returncode == 0, check.stderr


def test_bump_moves_the_family_to_the_newest_the_fleet_allows(ws: Path, runner: Callable[..., UvResult]) -> None:
    set_driver(ws, "570")
    go(ws, Request("lock"), runner)
    set_driver_back = (ws / "pyproject.toml").read_text().replace('driver = "570"', 'driver = "580.65.06"')
    (ws / "pyproject.toml").write_text(set_driver_back)
    out = go(ws, Request("bump", package="torch"), runner)
    assert pins(ws, "serve") == ["servelib==0.33.0", "torch==2.14.0", "tinytool==1.1"]
    assert {m.member: (m.cuda_before, m.cuda_after) for m in out.members}["serve"] == ("12.8", "13.0")
    assert locked(ws, "tinytool") == ["1.1"]  # not in torch's family: untouched


def test_bump_with_nothing_to_do_runs_uv_once_and_changes_nothing(ws: Path, runner: Callable[..., UvResult]) -> None:
    go(ws, Request("lock"), runner)  # writes the fleet's constraints once
    before = digest(ws)
    out = go(ws, Request("bump", package="torch"), runner)
    assert out.uv_runs == 1 and out.changed_files == ()
    assert digest(ws) == before


def counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every load_workspace call from here on, by the root it read."""
    import lockgen.model.workspace
    import lockgen.ops.resolve

    real = lockgen.model.workspace.load_workspace
    calls: list[Path] = []

    def counted(root: Path, *a: object, **k: object):  # type: ignore[no-untyped-def]
        calls.append(root)
        return real(root, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(lockgen.model.workspace, "load_workspace", counted)
    monkeypatch.setattr(lockgen.ops.resolve, "load_workspace", counted)
    return calls


def test_a_lock_that_fits_reads_the_workspace_three_times(
    ws: Path, runner: Callable[..., UvResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three states: the project (checked before it is copied), the staging copy, the copy after the one uv run. The
    lock fits, so every file goes back as it was: the check reuses the copy's first read. Before: 5 reads."""
    calls = counting_loads(monkeypatch)
    out = go(ws, Request("lock"), runner)
    assert out.uv_runs == 1 and out.changed_files == ()
    assert len(calls) == 3 and calls[0] == ws and ws not in calls[1:]


def test_a_lock_that_moves_reads_once_more_per_uv_run(
    ws: Path, runner: Callable[..., UvResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Driver 570: resolve, then a second uv run records the pins - a new state, read once. Before: 5 reads."""
    set_driver(ws, "570")
    calls = counting_loads(monkeypatch)
    out = go(ws, Request("lock"), runner)
    assert out.uv_runs == 2 and len(calls) == 4


def test_a_bump_reads_the_workspace_once_per_state(
    ws: Path, runner: Callable[..., UvResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The family moves: project, copy, after resolving, after the second uv run records the pins. Before: 5 reads."""
    set_driver(ws, "570")
    go(ws, Request("lock"), runner)
    (ws / "pyproject.toml").write_text(
        (ws / "pyproject.toml").read_text().replace('driver = "570"', 'driver = "580.65.06"')
    )
    calls = counting_loads(monkeypatch)
    out = go(ws, Request("bump", package="torch"), runner)
    assert {m.member: (m.cuda_before, m.cuda_after) for m in out.members}["serve"] == ("12.8", "13.0")
    assert out.uv_runs == 2 and len(calls) == 4


def test_a_bump_with_nothing_to_move_reads_the_workspace_three_times(
    ws: Path, runner: Callable[..., UvResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One uv run and every file put back: project, copy, after uv; the check reuses the copy's first read. Before:
    5 reads."""
    go(ws, Request("lock"), runner)
    calls = counting_loads(monkeypatch)
    out = go(ws, Request("bump", package="torch"), runner)
    assert out.uv_runs == 1 and out.changed_files == () and len(calls) == 3


def test_bump_to_a_missing_version_explains_and_restores(ws: Path, runner: Callable[..., UvResult]) -> None:
    before = digest(ws)
    with pytest.raises(ResolutionFailed) as e:
        go(ws, Request("bump", package="torch", to="99.0.0"), runner)
    assert "torch 99.0.0 is not published" in str(e.value) and "uv said:" in str(e.value)
    assert digest(ws) == before


def test_bump_beyond_the_fleet_names_the_driver(ws: Path, runner: Callable[..., UvResult]) -> None:
    set_driver(ws, "570")
    go(ws, Request("lock"), runner)
    before = digest(ws)
    with pytest.raises(ResolutionFailed) as e:
        go(ws, Request("bump", package="torch", to="2.14.0"), runner)
    text = str(e.value)
    assert "allows CUDA" in text and "raise the fleet's driver" in text and ">= 580.65.06" in text
    assert digest(ws) == before


def test_dry_run_writes_nothing(ws: Path, runner: Callable[..., UvResult]) -> None:
    set_driver(ws, "570")
    before = digest(ws)
    out = dry_run(ws, Request("lock"), runner=runner, pre_exclude=pre_exclude, steer=steer)
    assert {m.member: m.cuda_after for m in out.members}["serve"] == "12.8"
    assert digest(ws) == before


def test_empty_window_is_refused_before_uv_runs(ws: Path) -> None:
    set_driver(ws, "580.65.06", gpus=["V100", "B200"])  # no CUDA targets both Volta (<=12.9) and ... fine; and:
    set_driver(ws, "520.61.05", gpus=["B200"])  # Blackwell needs CUDA 12.8, driver 520 runs 11.8 at most
    before = digest(ws)

    def no_uv(*a: object, **k: object) -> UvResult:
        raise AssertionError("uv must not run")

    with pytest.raises(EmptyWindow, match="B200"):
        relock(ws, Request("lock"), runner=no_uv)
    assert digest(ws) == before


def test_another_lockgen_holds_the_workspace(ws: Path, runner: Callable[..., UvResult]) -> None:
    import fcntl

    fd = os.open(lock_path(ws), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(LockgenError, match="another lockgen"):
            go(ws, Request("lock"), runner)
    finally:
        os.close(fd)


# ---- fault injection: at every effect of a run, fail in each way; files must end byte-identical ----

SCENARIOS: dict[str, tuple[Callable[[Path], None], Request]] = {
    "lock-570": (lambda r: set_driver(r, "570"), Request("lock")),
    "bump-torch": (lambda r: None, Request("bump", package="torch")),
    "bump-torch-to-2.10": (lambda r: None, Request("bump", package="torch", to="2.10.0")),
    "bump-torch-train-only": (lambda r: None, Request("bump", package="torch", member="train", to="2.10.0")),
}
KINDS = ("oserror", "sigint", "sigterm", "uv-killed")


class Fault(Exception):
    pass


def effects_of(ws: Path, scenario: str, runner: Callable[..., UvResult]) -> list[str]:
    prepare, request = SCENARIOS[scenario]
    prepare(ws)
    seen: list[str] = []
    go(ws, request, runner, fault=seen.append)
    return seen


@pytest.fixture(scope="module")
def effect_counts(
    template: Path, tmp_path_factory: pytest.TempPathFactory, runner: Callable[..., UvResult]
) -> dict[str, list[str]]:
    out = {}
    for scenario in SCENARIOS:
        dest = tmp_path_factory.mktemp("count") / "ws"
        shutil.copytree(template, dest)
        out[scenario] = effects_of(dest, scenario, runner)
    return out


def test_fault_points_cover_every_effect(effect_counts: dict[str, list[str]]) -> None:
    for effects in effect_counts.values():
        assert any(e.startswith("write ") for e in effects) and any(e.startswith("uv ") for e in effects)


def inject(ws: Path, runner: Callable[..., UvResult], scenario: str, point: int, kind: str) -> None:
    """Run `scenario` in `ws`, failing in way `kind` at its `point`-th effect; assert every file is as before."""
    prepare, request = SCENARIOS[scenario]
    prepare(ws)
    before = digest(ws)
    counter = {"n": 0}

    def fault(effect: str) -> None:
        n = counter["n"]
        counter["n"] += 1
        if n != point:
            return
        if kind == "oserror":
            raise OSError(28, "No space left on device (injected)")
        if kind in ("sigint", "sigterm"):
            os.kill(os.getpid(), signal.SIGINT if kind == "sigint" else signal.SIGTERM)
            raise AssertionError("the signal handler should have raised")

    def killing_runner(args: list[str], **kw: object) -> UvResult:
        if kind == "uv-killed" and counter["n"] == point + 1:  # the fault hook for this uv run just passed
            lock = Path(str(kw["cwd"])) / "uv.lock"  # where uv runs (lockgen's staging copy)
            lock.write_bytes(lock.read_bytes()[: len(lock.read_bytes()) // 3])  # uv died mid-write
            return UvResult(("uv", *args), -9, "", "killed")
        return runner(args, **kw)

    expected = {"oserror": OSError, "sigint": Interrupted, "sigterm": Interrupted, "uv-killed": LockgenError}[kind]
    with pytest.raises(expected):
        go(ws, request, killing_runner, fault=fault)
    assert digest(ws) == before, (scenario, point, kind)
    assert not [p for p in ws.rglob("*.tmp")]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_faults_leave_files_byte_identical(
    template: Path, tmp_path: Path, runner: Callable[..., UvResult], effect_counts: dict[str, list[str]], scenario: str
) -> None:
    """Every effect of the scenario x every way to fail there (uv-killed at uv runs only)."""
    checked = 0
    for point, effect in enumerate(effect_counts[scenario]):
        for kind in KINDS:
            if kind == "uv-killed" and not effect.startswith("uv "):
                continue
            ws = tmp_path / f"{point}-{kind}"
            shutil.copytree(template, ws)
            inject(ws, runner, scenario, point, kind)
            checked += 1
    assert checked >= 3 * len(effect_counts[scenario])


def test_fault_points_add_up_to_at_least_100(effect_counts: dict[str, list[str]]) -> None:
    points = sum(3 * len(e) + sum(x.startswith("uv ") for x in e) for e in effect_counts.values())
    assert points >= 100, points


# ---- a CUDA index PyPI lacks (PyTorch-style cuXYZ), served on 127.0.0.1 ----

VARIANT_WORLD = make_world(
    {"2.8.0": "12.8", "2.10.0": "12.8"},
    variants={"2.8.0": ["12.6"], "2.10.0": ["12.6", "12.8"]},
    members={"train": ["torch==2.10.0"]},
)


def test_cuda_index_routes_torch_to_the_newest_variant_in_the_window(tmp_path: Path, uv_cache: Path) -> None:
    from pkgworld import serve_index

    paths = write_index(VARIANT_WORLD, tmp_path / "index")
    with serve_index(paths.root) as base:
        urls = paths.http_urls(base)
        fleet = {
            "driver": "560.35.03",  # CUDA <= 12.6: PyPI's torch (12.8) is out, PyTorch's cu126 build is in
            "gpus": ["A100"],
            "cuda-index": {"url": f"{base}/{{label}}/simple", "variants": ["cu126", "cu128"], "packages": ["torch"]},
        }
        ws = write_workspace(VARIANT_WORLD, tmp_path / "ws", index_urls=urls, lockgen=fleet)
        env = uv_env(uv_cache)  # online: 127.0.0.1 only (the proxies are pointed at a closed port)
        subprocess.run([find_uv(), "lock"], cwd=ws, env=env, check=True, capture_output=True)
        out = go(ws, Request("lock"), functools.partial(run_uv, env=env))
        assert {m.member: m.cuda_after for m in out.members} == {"train": "12.6"}
        root = tomllib.loads((ws / "pyproject.toml").read_text())
        lockgen_index = [i for i in root["tool"]["uv"]["index"] if i["name"] == "lockgen-cu126"]
        assert lockgen_index == [{"name": "lockgen-cu126", "url": f"{base}/cu126/simple", "explicit": True}]
        assert root["tool"]["uv"]["sources"]["torch"] == {"index": "lockgen-cu126"}
        data = tomllib.loads((ws / "uv.lock").read_text())
        torch = [p for p in data["package"] if p["name"] == "torch"]
        assert [(p["version"], p["source"]["registry"]) for p in torch] == [("2.10.0+cu126", f"{base}/cu126/simple")]
        assert pins(ws, "train") == ["torch==2.10.0+cu126"]


def test_lock_from_nothing_creates_the_lock_and_pins(
    tmp_path: Path, index: dict[str, str], runner: Callable[..., UvResult]
) -> None:
    world = make_world(
        {"2.10.0": "12.8", "2.14.0": "13.0"},
        packages={"servelib": {"0.19.0": ["torch==2.10.0"], "0.33.0": ["torch==2.14.0"]}},
        members={"serve": ["servelib", "torch"]},
    )
    idx = write_index(world, tmp_path / "index").file_urls()
    ws = write_workspace(world, tmp_path / "ws", index_urls=idx, lockgen={"driver": "575.51.03", "gpus": ["L4"]})
    assert not (ws / "uv.lock").exists()
    out = go(ws, Request("lock"), runner)
    assert (ws / "uv.lock").exists() and {m.member: m.cuda_after for m in out.members} == {"serve": "12.8"}
    assert pins(ws, "serve") == ["servelib==0.19.0", "torch==2.10.0"]


# ---- steering: a compiled package whose wheel hides its CUDA (a libcudart.so.12 inside, no nvidia requirement) ----

HIDDEN = make_world(
    {"2.10.0": "12.8", "2.14.0": "13.0"},
    packages={"fastkern": {"0.9": ["torch==2.10.0"], "1.0": ["torch>=2.10.0"]}},
    build_cuda={("fastkern", "0.9"): "12.8", ("fastkern", "1.0"): "12.8"},  # both CUDA 12 builds, like xformers
    members={"train": ["fastkern", "torch"]},
)


def test_steering_moves_away_from_a_build_whose_cuda_disagrees_with_torch(
    tmp_path: Path, runner: Callable[..., UvResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    import lockgen.plan.steering as steering
    from lockgen.seams.elfscan import lookup_build, parse_build_table
    from pkgworld import build_table_data

    rows = parse_build_table(build_table_data(HIDDEN))
    monkeypatch.setattr(steering, "load_build_table", lambda: rows)
    monkeypatch.setattr(steering, "lookup_build", lambda p, v: lookup_build(p, v, rows))
    idx = write_index(HIDDEN, tmp_path / "index").file_urls()
    ws = write_workspace(HIDDEN, tmp_path / "ws", index_urls=idx, lockgen=FLEET)
    # plain uv takes the newest of both: torch 2.14.0 (CUDA 13) + fastkern 1.0 (a CUDA 12 build) - broken
    subprocess.run([find_uv(), "lock"], cwd=ws, env=runner.keywords["env"], check=True, capture_output=True)
    assert locked(ws, "fastkern") == ["1.0"] and locked(ws, "torch") == ["2.14.0"]
    from lockgen.model.workspace import load_workspace
    from lockgen.rules.checking import run_check

    found = list(run_check(load_workspace(ws), use_uv=False).violations)
    assert [(v.rule, v.package) for v in found if v.rule == "build-cuda"] == [("build-cuda", "fastkern")]
    out = go(ws, Request("lock"), runner)
    assert locked(ws, "fastkern") == ["0.9"] and locked(ws, "torch") == ["2.10.0"]
    assert "fastkern!=1.0.*" in [c for _, c, _ in out.excluded]
    assert {m.member: m.cuda_after for m in out.members} == {"train": "12.8"}


# ---- issue 10: uv failures told apart, a lock that fits stays put, Nix only where there is Nix, root projects ----

NETWORK_STDERR = """error: Request failed after 3 retries in 7.7s
  cause: Failed to fetch: https://nonexistent.invalid/simple/torch/
  cause: error sending request for url (https://nonexistent.invalid/simple/torch/)
  cause: client error (Connect)
  cause: dns error
  cause: failed to lookup address information: Name or service not known
"""


def failing_first(runner: Callable[..., UvResult], stderr: str, times: int = 1) -> Callable[..., UvResult]:
    """A uv that fails the first `times` runs with `stderr` (a DNS error, say), then behaves."""
    calls = {"n": 0}

    def run(args: list[str], **kw: object) -> UvResult:
        calls["n"] += 1
        if calls["n"] <= times:
            return UvResult(("uv", *args), 2, "", stderr)
        return runner(args, **kw)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_a_network_failure_is_not_no_solution_and_bump_saves_nothing(ws: Path, runner: Callable[..., UvResult]) -> None:
    """Before: any non-zero uv exit was read as "no solution with floors", retried without them, and saved."""
    from lockgen.ops.resolve import UvRunFailed

    before = digest(ws)
    flaky = failing_first(runner, NETWORK_STDERR)
    with pytest.raises(UvRunFailed) as e:
        go(ws, Request("bump", package="torch"), flaky)
    assert e.value.kind == "network" and "nonexistent.invalid could not be reached" in str(e.value)
    assert not str(e.value).startswith("no solution") and str(e.value).count("failed to lookup address") == 1
    assert "mirror" in str(e.value) and "--offline" in str(e.value)
    assert flaky.calls["n"] == 1  # type: ignore[attr-defined]  # no second run without floors
    assert digest(ws) == before


def test_a_lock_that_fits_stays_put_byte_for_byte(ws: Path, runner: Callable[..., UvResult]) -> None:
    """Before: `lock` wrote the fleet caps (and moved pins for floors lockgen invented) into a lock that fits."""
    before = digest(ws)
    out = go(ws, Request("lock"), runner)
    assert out.changed_files == () and all(not m.changes for m in out.members)
    assert digest(ws) == before


def test_no_toolchain_file_without_nix_and_one_with_a_flake(ws: Path, runner: Callable[..., UvResult]) -> None:
    set_driver(ws, "570")
    go(ws, Request("lock"), runner)
    assert not (ws / "nix").exists()  # this project has no flake.nix: lockgen writes no Nix file


def test_no_invented_floor_for_compiled_dependencies() -> None:
    """Before: `flash-attn>=2.8.3`-style floors ("the oldest build lockgen knows") were added to every lock of a
    project depending on a package of the build table, making some unsolvable and moving others."""
    from locks import lock_doc, member_pkg, pkg, workspace

    doc = lock_doc(
        [member_pkg("serve", ["vllm", "flash-attn"]), pkg("vllm", "0.7.2"), pkg("flash-attn", "2.7.4")], ["serve"]
    )
    for driver in ("535.54.03", "580.65.06"):
        ws = workspace(doc, {"serve": ["vllm==0.7.2", "flash-attn"]}, driver=driver)
        floors = [c for _, c, _ in pre_exclude(ws) if ">=" in c]
        assert floors == [], floors


SOLO_WORLD = make_world(
    {"2.8.0": "12.8", "2.14.0": "13.0"},
    packages={"servelib": {"0.10.0": ["torch==2.8.0"], "0.33.0": ["torch==2.14.0"]}},
    members={"solo": ["servelib==0.33.0", "torch==2.14.0"]},
)


@pytest.fixture(scope="module")
def solo_template(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Path:
    """A single project (the root is the project, no workspace table), locked with plain uv."""
    import tomlkit

    index = write_index(SOLO_WORLD, tmp_path_factory.mktemp("solo-index")).file_urls()
    root = tmp_path_factory.mktemp("solo") / "solo"
    root.mkdir()
    doc = {
        "project": {
            "name": "solo",
            "version": "0.1.0",
            "requires-python": ">=3.12,<3.13",
            "dependencies": ["servelib==0.33.0", "torch==2.14.0"],
        },
        "tool": {
            "uv": {
                "environments": ["sys_platform == 'linux' and platform_machine == 'x86_64'"],
                "index": [{"name": "local", "url": index["pypi"], "default": True}],
            },
            "lockgen": dict(FLEET),
        },
    }
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc))
    (root / ".python-version").write_text("3.12\n")
    subprocess.run([find_uv(), "lock"], cwd=root, env=uv_env(uv_cache, offline=True), check=True, capture_output=True)
    return root


def test_the_fleet_caps_reach_uv_when_the_root_is_the_project(
    solo_template: Path, tmp_path: Path, runner: Callable[..., UvResult]
) -> None:
    """Before: the pin edit of the root pyproject overwrote the caps written into the same file."""
    ws = tmp_path / "solo"
    shutil.copytree(solo_template, ws)
    set_driver(ws, "570")
    out = go(ws, Request("lock"), runner)
    doc = tomllib.loads((ws / "pyproject.toml").read_text())
    caps = doc["tool"]["uv"]["constraint-dependencies"]
    assert any(c.startswith("nvidia-cuda-runtime-cu12") and "<12.9" in c for c in caps), caps
    assert doc["project"]["dependencies"] == ["servelib==0.10.0", "torch==2.8.0"]
    assert {m.member: m.cuda_after for m in out.members} == {"solo": "12.8"}
    assert locked(ws, "torch") == ["2.8.0"]


# ---- issue 12: a transaction cannot be half-applied (SIGKILL, failing restores, concurrent dry runs) ----

KILL_SCRIPT = """
import os, signal, sys, functools
from pathlib import Path
sys.path.insert(0, {tests!r})
from lockgen.ops.resolve import Request, relock
from lockgen.plan.steering import pre_exclude, steer
from lockgen.seams.uvtool import run_uv
from pkgworld import uv_env

at = {at!r}
def fault(effect):
    if effect == at:
        os.kill(os.getpid(), signal.SIGKILL)

runner = functools.partial(run_uv, env=uv_env(Path({cache!r}), offline=True))
relock(Path({ws!r}), Request("lock"), runner=runner, fault=fault, pre_exclude=pre_exclude, steer=steer)
"""


@pytest.mark.parametrize("at", ["apply uv.lock", "apply workspaces/train/pyproject.toml", "uv resolving"])
def test_sigkill_at_any_step_is_rolled_back_by_the_next_command(
    ws: Path, uv_cache: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    """Before: SIGKILL (or a closed terminal) left moved pins, a half-written lock and nothing saying so."""
    import sys

    from lockgen.cli import main

    set_driver(ws, "570")
    before = digest(ws)
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), at=at, cache=str(uv_cache), ws=str(ws))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if at.startswith("apply"):
        assert (ws / ".lockgen/journal.json").is_file()  # killed mid-apply: the journal is there
    code = main(["-C", str(ws), "check", "--no-uv", "--json"])
    _, err = capsys.readouterr()
    assert code in (0, 1)
    if at.startswith("apply"):
        assert "recovered" in err and "lockgen lock" in err and "rolled back" in err
    assert digest(ws) == before  # the old files, byte for byte, and no .lockgen left behind


def test_a_restore_that_fails_on_one_file_restores_the_others_and_keeps_the_journal(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a failed restore stopped at the first file it could not write and left the others changed."""
    import lockgen.seams.txn as txn

    files = {"uv.lock": b"new lock\n", "workspaces/train/pyproject.toml": b"new train\n", "pyproject.toml": b"root\n"}
    before = digest(ws)
    real_write = txn.atomic_write
    state = {"applied": 0}

    def flaky_write(path: Path, data: bytes) -> None:
        if path.name == "pyproject.toml" and path.parent == ws.resolve() and data != b"root\n":
            raise OSError(30, "Read-only file system (injected)")  # the restore of the root pyproject fails
        if data in files.values():
            state["applied"] += 1
            if state["applied"] == 3:
                raise OSError(28, "No space left on device (injected)")  # the third write of the apply fails
        real_write(path, data)

    monkeypatch.setattr(txn, "atomic_write", flaky_write)
    with pytest.raises(txn.RestoreFailed, match="pyproject.toml"):
        txn.apply_changes(ws, files, "lockgen test")
    after = digest(ws)
    assert (
        after["uv.lock"] == before["uv.lock"]
        and after["workspaces/train/pyproject.toml"] == before["workspaces/train/pyproject.toml"]
    )
    assert (ws / ".lockgen/journal.json").is_file()
    monkeypatch.setattr(txn, "atomic_write", real_write)
    said = txn.recover(ws)
    assert said and "pyproject.toml" in said
    assert digest(ws) == before


def test_a_dry_run_is_refused_while_another_lockgen_changes_the_workspace(
    ws: Path, runner: Callable[..., UvResult]
) -> None:
    """Before: a --dry-run started during a bump copied the half-written workspace."""
    from lockgen.seams.txn import Busy, WorkspaceLock

    with WorkspaceLock(ws), pytest.raises(Busy):
        dry_run(ws, Request("lock"), runner=runner, pre_exclude=pre_exclude, steer=steer)


def test_bump_never_downgrades_what_it_was_not_asked_to(ws: Path, runner: Callable[..., UvResult]) -> None:
    """Before: a bump could end with older versions (unsloth 2026.10.9 -> 2024.8) and exit 0."""
    from lockgen.ops.resolve import Downgrade

    # serve's tinytool is locked at 1.1; an edited requirement makes any re-resolution move it down to 1.0
    path = ws / "workspaces/serve/pyproject.toml"
    path.write_text(path.read_text().replace('"tinytool==1.1"', '"tinytool<1.1"'))
    assert locked(ws, "tinytool") == ["1.1"]
    before = digest(ws)
    with pytest.raises(Downgrade, match=r"tinytool 1\.1 -> 1\.0"):
        go(ws, Request("bump", package="torch"), runner)
    assert digest(ws) == before


def test_toolchain_write_is_refused_while_a_lock_changes_the_workspace(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `toolchain --write` wrote beside a running `lock`."""
    from lockgen.cli import main
    from lockgen.seams.txn import WorkspaceLock

    (ws / "flake.nix").write_text("{}\n")
    (ws / "nix").mkdir(exist_ok=True)
    with WorkspaceLock(ws):
        code = main(["-C", str(ws), "toolchain", "--write"])
    err = capsys.readouterr().err
    assert code == 1 and "another lockgen is changing this workspace" in err
    assert not (ws / "nix/toolchain.json").exists()


@pytest.mark.slow
def test_sigkill_at_every_effect_of_a_lock_leaves_old_files_after_recovery(
    template: Path, tmp_path: Path, uv_cache: Path, effect_counts: dict[str, list[str]]
) -> None:
    """SIGKILL of lockgen itself at every effect of `lock` on a 570 fleet (uv runs, staged writes, each applied
    file): the next command leaves the old files byte for byte (rolling back a journal when one was written)."""
    import sys

    from lockgen.cli import main

    effects = list(dict.fromkeys(effect_counts["lock-570"])) + ["apply uv.lock", "apply pyproject.toml", "apply done"]
    for i, at in enumerate(effects):
        ws = tmp_path / f"k{i}"
        shutil.copytree(template, ws)
        set_driver(ws, "570")
        before = digest(ws)
        script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), at=at, cache=str(uv_cache), ws=str(ws))
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, (at, proc.stderr[-500:])
        assert main(["-C", str(ws), "check", "--no-uv"]) in (0, 1)
        assert digest(ws) == before, at
