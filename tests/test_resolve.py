"""`lockgen lock` / `bump` with the real uv against a local index (offline): the fleet moves the lock, pins are
re-written strictly, failures leave every file byte-identical - also under injected faults at every step."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from lockgen.errors import LockgenError
from lockgen.resolve import EmptyWindow, Request, ResolutionFailed, dry_run, relock
from lockgen.steering import pre_exclude, steer
from lockgen.txn import Interrupted, lock_path
from lockgen.uvtool import UvResult, find_uv, run_uv
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


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (what "byte-identical" means here)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


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
            lock = ws / "uv.lock"
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
    import lockgen.steering as steering
    from lockgen.elfscan import lookup_build, parse_build_table
    from pkgworld import build_table_data

    rows = parse_build_table(build_table_data(HIDDEN))
    monkeypatch.setattr(steering, "load_build_table", lambda: rows)
    monkeypatch.setattr(steering, "lookup_build", lambda p, v: lookup_build(p, v, rows))
    idx = write_index(HIDDEN, tmp_path / "index").file_urls()
    ws = write_workspace(HIDDEN, tmp_path / "ws", index_urls=idx, lockgen=FLEET)
    # plain uv takes the newest of both: torch 2.14.0 (CUDA 13) + fastkern 1.0 (a CUDA 12 build) - broken
    subprocess.run([find_uv(), "lock"], cwd=ws, env=runner.keywords["env"], check=True, capture_output=True)
    assert locked(ws, "fastkern") == ["1.0"] and locked(ws, "torch") == ["2.14.0"]
    from lockgen.commands.check import check_workspace
    from lockgen.workspace import load_workspace

    _, found = check_workspace(load_workspace(ws), use_uv=False)
    assert [(v.rule, v.package) for v in found if v.rule == "build-cuda"] == [("build-cuda", "fastkern")]
    out = go(ws, Request("lock"), runner)
    assert locked(ws, "fastkern") == ["0.9"] and locked(ws, "torch") == ["2.10.0"]
    assert "fastkern!=1.0.*" in [c for _, c, _ in out.excluded]
    assert {m.member: m.cuda_after for m in out.members} == {"train": "12.8"}
