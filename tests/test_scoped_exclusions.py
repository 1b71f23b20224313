"""Exclusions one member needs are written for that member only, when `[tool.uv] conflicts` keeps it apart.

Found by the newcomer trial (notes/newcomer-trial.md, friction 9): on a driver-550 fleet, `lockgen lock` steered
serve away from transformers 5 (vllm 0.8.5 needs transformers < 5, tables/data/hidden.toml) by writing
`transformers!=5.*` to the root's `[tool.uv] constraint-dependencies`, which uv applies to every member: train's own
pin `transformers==5.17.0` moved to 4.57.6 although train never needed it. Here the same shape on a generated world
(tests/pkgworld.py, real uv, offline): `servelib 0.19` stands for vllm 0.8.5, `tfm` for transformers.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import digest
from lockgen.cli import main
from lockgen.ops.resolve import Request, relock
from lockgen.plan import hidden
from lockgen.plan.hooks import pre_exclude, steer
from lockgen.seams.uvtool import UvResult, find_uv, run_uv
from lockgen.tables import hidden as hidden_table
from pkgworld import make_world, use_uv_env, uv_env, write_index, write_workspace

pytestmark = pytest.mark.uv

# torch 2.14 is a CUDA 13.0 build, 2.10 a CUDA 12.8 one: a 570 fleet (CUDA <= 12.8) moves both members to torch 2.10,
# and serve to servelib 0.19 - which (the planted row says) needs tfm < 5, although its metadata accepts any tfm
PACKAGES = {
    "tfm": {"4.0.0": [], "5.0.0": []},
    "servelib": {"0.19.0": ["torch==2.10.0", "tfm"], "0.33.0": ["torch==2.14.0", "tfm"]},
}
WORLD = make_world(
    {"2.10.0": "12.8", "2.14.0": "13.0"},
    packages=PACKAGES,
    members={"train": ["tfm==5.0.0", "torch==2.14.0"], "serve": ["servelib==0.33.0", "torch==2.14.0"]},
)
ROW = """
schema = "lockgen-hidden/1"
[[requirement]]
package = "servelib"
versions = "<=0.19.0"
needs = "tfm<5"
steer = "needs"
why = "servelib 0.19 imports tfm's old API (planted, as vllm 0.8.5 needs transformers < 5)"
source = "planted in tests/test_scoped_exclusions.py"
[[follows-torch]]
package = "tfm"
why = "follows torch, as transformers does (planted)"
"""
FLEET = {"driver": "580.65.06", "gpus": ["L4"]}


@pytest.fixture(autouse=True)
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    table = hidden_table.parse_hidden(tomllib.loads(ROW))
    monkeypatch.setattr(hidden, "load_hidden", lambda: table)
    monkeypatch.setattr(hidden_table, "load_hidden", lambda: table)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_index(WORLD, tmp_path_factory.mktemp("index")).file_urls()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """uv offline against the local index, also for `lockgen check` (it runs uv itself)."""
    yield use_uv_env(uv_env(tmp_path / "cache", offline=True), monkeypatch)


@pytest.fixture
def runner(env: dict[str, str]) -> Callable[..., UvResult]:
    def run(args: list[str], cwd: Path, env_: dict[str, str] | None = None, **kw: Any) -> UvResult:
        return run_uv(args, cwd=cwd, env=env, **kw)

    return run


def new_ws(root: Path, index: dict[str, str], env: dict[str, str]) -> Path:
    write_workspace(WORLD, root, index_urls=index, lockgen=FLEET)
    subprocess.run([find_uv(), "lock"], cwd=root, env=env, check=True, capture_output=True)
    return root


def set_driver(root: Path, driver: str) -> None:
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('driver = "580.65.06"', f'driver = "{driver}"'))


def toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def member_locked(root: Path, member: str, name: str) -> str | None:
    from lockgen.model.workspace import load_workspace

    pkg = load_workspace(root).installed(member).get(name)
    return pkg.version if pkg else None


def lock(root: Path, runner: Callable[..., UvResult]) -> Any:
    return relock(root, Request("lock"), runner=runner, pre_exclude=pre_exclude, steer=steer)


def test_a_serve_only_exclusion_leaves_trains_own_pin(
    tmp_path: Path, index: dict[str, str], env: dict[str, str], runner: Callable[..., UvResult]
) -> None:
    ws = new_ws(tmp_path / "ws", index, env)
    set_driver(ws, "570.124.06")
    out = lock(ws, runner)
    train = toml(ws / "workspaces/train/pyproject.toml")
    serve = toml(ws / "workspaces/serve/pyproject.toml")
    root = toml(ws / "pyproject.toml")
    # train keeps its own tfm (it never needed tfm < 5); before, the root constraint moved it to 4.0.0
    assert "tfm==5.0.0" in train["project"]["dependencies"], train["project"]["dependencies"]
    assert member_locked(ws, "train", "tfm") == "5.0.0"
    assert "managed-requirements" not in train.get("tool", {}).get("lockgen", {})
    # serve is steered off tfm 5 by a requirement of its own, recorded as lockgen's
    assert member_locked(ws, "serve", "tfm") == "4.0.0" and member_locked(ws, "serve", "servelib") == "0.19.0"
    assert serve["tool"]["lockgen"]["managed-requirements"] == ["tfm!=5.*,!=5.0.0.*"]
    assert "tfm!=5.*,!=5.0.0.*" in serve["project"]["dependencies"]
    # and nothing about tfm in the workspace-wide constraints
    assert not [c for c in root["tool"]["uv"]["constraint-dependencies"] if c.startswith("tfm")]
    assert not [c for c in root["tool"]["lockgen"]["managed-constraints"] if c.startswith("tfm")]
    changes = {m.member: {p for p, _, _ in m.changes} for m in out.members}
    assert "tfm" not in changes["train"] and "torch" in changes["train"]
    # the lock passes the check, with uv's freshness check too (a `!=` exclusion is not judged as a loose pin)
    assert main(["-C", str(ws), "check"]) == 0


def test_relocking_is_idempotent_and_the_scoped_requirement_is_managed(
    tmp_path: Path, index: dict[str, str], env: dict[str, str], runner: Callable[..., UvResult]
) -> None:
    ws = new_ws(tmp_path / "ws", index, env)
    set_driver(ws, "570.124.06")
    lock(ws, runner)
    first = digest(ws)
    second = lock(ws, runner)
    assert digest(ws) == first and second.changed_files == ()
    lock(ws, runner)
    assert digest(ws) == first
    # raising the driver back: the 12.8 lock still runs there, so nothing moves and nothing is rewritten (as for the
    # workspace-wide exclusions: they stay until a lock moves the member)
    set_driver(ws, "580.65.06")
    after = lock(ws, runner)
    assert after.changed_files == ()
    # a later lock that needs no exclusion for serve replaces lockgen's entry exactly: the user's entries stay
    serve_file = ws / "workspaces/serve/pyproject.toml"
    text = serve_file.read_text()
    assert text.count("tfm!=5.*,!=5.0.0.*") == 2  # in dependencies and in managed-requirements
    from lockgen.plan.edit import set_managed_requirements

    cleared = toml_text(set_managed_requirements(text, []))
    assert "tfm!=5.*,!=5.0.0.*" not in cleared["project"]["dependencies"]
    assert cleared["project"]["dependencies"] == [
        d for d in toml(serve_file)["project"]["dependencies"] if d != "tfm!=5.*,!=5.0.0.*"
    ]
    assert "managed-requirements" not in cleared["tool"]["lockgen"]


def toml_text(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


WORLD_SHARED = make_world(
    {"2.10.0": "12.8", "2.14.0": "13.0"},
    packages=PACKAGES,
    members={
        "train": ["tfm==5.0.0", "torch==2.14.0"],
        "serve": ["servelib==0.33.0", "torch==2.14.0"],
        "tools": ["tfm"],
    },
)


def test_an_exclusion_stays_workspace_wide_when_a_member_outside_the_conflict_installs_the_package(
    tmp_path: Path, env: dict[str, str], runner: Callable[..., UvResult]
) -> None:
    """`tools` is in no conflict: uv resolves it with serve (and with train), so a requirement of serve's would bind it
    anyway. The exclusion stays in the root's constraints, as before."""
    urls = write_index(WORLD_SHARED, tmp_path / "index").file_urls()
    ws = write_workspace(WORLD_SHARED, tmp_path / "ws", index_urls=urls, lockgen=FLEET)
    text = (ws / "pyproject.toml").read_text()
    doc = tomllib.loads(text)
    assert len(doc["tool"]["uv"]["conflicts"][0]) == 3
    import tomlkit

    edited = tomlkit.parse(text)
    edited["tool"]["uv"]["conflicts"] = [[{"package": "train"}, {"package": "serve"}]]
    (ws / "pyproject.toml").write_text(tomlkit.dumps(edited))
    subprocess.run([find_uv(), "lock"], cwd=ws, env=env, check=True, capture_output=True)
    set_driver(ws, "570.124.06")
    lock(ws, runner)
    root = toml(ws / "pyproject.toml")
    assert "tfm!=5.*,!=5.0.0.*" in root["tool"]["uv"]["constraint-dependencies"]
    assert "tfm!=5.*,!=5.0.0.*" in root["tool"]["lockgen"]["managed-constraints"]
    for m in ("train", "serve", "tools"):
        data = toml(ws / f"workspaces/{m}/pyproject.toml")
        assert "managed-requirements" not in data.get("tool", {}).get("lockgen", {}), m
    assert member_locked(ws, "serve", "tfm") == "4.0.0" and member_locked(ws, "tools", "tfm") == "4.0.0"


def inject(ws: Path, runner: Callable[..., UvResult], point: int, kind: str) -> None:
    """Lock `ws`, failing in way `kind` (ENOSPC, or uv killed mid-write) at its `point`-th effect."""
    from lockgen.errors import LockgenError

    seen = {"n": 0}

    def fault(effect: str) -> None:
        seen["n"] += 1
        if seen["n"] - 1 == point and kind == "oserror":
            raise OSError(28, "No space left on device (injected)")

    def killing(args: list[str], **kw: Any) -> UvResult:
        if kind == "uv-killed" and seen["n"] == point + 1:  # the fault hook for this uv run just passed
            lock_file = Path(str(kw["cwd"])) / "uv.lock"
            lock_file.write_bytes(lock_file.read_bytes()[: len(lock_file.read_bytes()) // 3])
            return UvResult(("uv", *args), -9, "", "killed")
        return runner(args, **kw)

    with pytest.raises(OSError if kind == "oserror" else LockgenError):
        relock(ws, Request("lock"), runner=killing, pre_exclude=pre_exclude, steer=steer, fault=fault)


@pytest.mark.slow
def test_a_fault_at_any_effect_of_a_scoped_lock_leaves_every_file_as_it_was(
    tmp_path: Path, index: dict[str, str], env: dict[str, str], runner: Callable[..., UvResult]
) -> None:
    """The scoped requirement is written through the same transaction as everything else: an error (ENOSPC) at any
    write or uv run, or uv killed mid-write, leaves the project byte for byte as it was."""
    template = new_ws(tmp_path / "template", index, env)
    set_driver(template, "570.124.06")
    effects: list[str] = []
    counted = tmp_path / "counted"
    shutil.copytree(template, counted)
    relock(counted, Request("lock"), runner=runner, pre_exclude=pre_exclude, steer=steer, fault=effects.append)
    assert "managed-requirements" in (counted / "workspaces/serve/pyproject.toml").read_text()
    assert any(e.startswith("write ") for e in effects) and sum(e.startswith("uv ") for e in effects) >= 2
    checked = 0
    for point, effect in enumerate(effects):
        for kind in ("oserror", "uv-killed") if effect.startswith("uv ") else ("oserror",):
            ws = tmp_path / f"{point}-{kind}"
            shutil.copytree(template, ws)
            before = digest(ws)
            inject(ws, runner, point, kind)
            assert digest(ws) == before, (point, effect, kind)
            assert not list(ws.rglob("*.tmp"))
            checked += 1
    assert checked == len(effects) + sum(e.startswith("uv ") for e in effects), checked


def test_uv_ignores_a_members_constraints_and_keeps_a_conflicting_members_requirement_to_itself(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Why the scoped exclusion is a `[project] dependencies` entry (what uv does, checked with the uv in use): uv
    reads `constraint-dependencies` from the workspace root only (a member's is ignored: serve still gets tfm 5), and a
    requirement of one of two conflicting members binds that member's fork only (train keeps tfm 5)."""
    import re

    import tomlkit

    world = make_world(
        {"2.10.0": "12.8"}, packages={"tfm": PACKAGES["tfm"]}, members={"train": ["tfm"], "serve": ["tfm"]}
    )
    urls = write_index(world, tmp_path / "index").file_urls()
    ws = write_workspace(world, tmp_path / "ws", index_urls=urls)
    serve = ws / "workspaces/serve/pyproject.toml"
    doc = tomlkit.parse(serve.read_text())

    def tfm_locked() -> list[str]:
        subprocess.run([find_uv(), "lock"], cwd=ws, env=env, check=True, capture_output=True)
        return sorted(re.findall(r'name = "tfm"\nversion = "([^"]+)"', (ws / "uv.lock").read_text()))

    doc["tool"] = {"uv": {"constraint-dependencies": ["tfm<5"]}}
    serve.write_text(tomlkit.dumps(doc))
    assert tfm_locked() == ["5.0.0"]  # the member's constraint is ignored
    del doc["tool"]
    doc["project"]["dependencies"].append("tfm<5")
    serve.write_text(tomlkit.dumps(doc))
    assert tfm_locked() == ["4.0.0", "5.0.0"]
    assert member_locked(ws, "serve", "tfm") == "4.0.0" and member_locked(ws, "train", "tfm") == "5.0.0"
