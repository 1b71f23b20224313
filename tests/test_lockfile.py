"""uv.lock reader: a real lock (tests/fixtures/workspace), and malformed input reported with the key path."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from helpers import WORKSPACE
from hypothesis import HealthCheck, assume, given, settings
from lockgen.errors import InputError
from lockgen.model.lockfile import normalize, parse_lock, read_lock
from lockgen.model.projection import conflict_extra, member_pins
from pkgworld import uv_env, worlds, write_index, write_workspace

REPO = WORKSPACE  # the frozen copy of this repository's workspace, not the live lock


def real_lock():
    return read_lock(REPO / "uv.lock")


def test_real_lock_reads_members_and_conflicts() -> None:
    lock = real_lock()
    assert {"train", "serve", "lockgen"} <= set(lock.members)
    assert lock.conflicts and {c["package"] for c in lock.conflicts[0]} == {"train", "serve"}
    assert all(p.source.kind for p in lock.packages)


def test_conflict_extra_matches_what_uv_wrote() -> None:
    text = (REPO / "uv.lock").read_text()
    for member in ("train", "serve"):
        assert f"extra == '{conflict_extra(member)}'" in text


def test_member_pins_follow_the_conflict_markers() -> None:
    lock = real_lock()
    train = dict(member_pins(lock, "train"))
    serve = dict(member_pins(lock, "serve"))
    # what the member pyprojects pin, read from the files (not from lockgen)
    for member, pins in (("train", train), ("serve", serve)):
        text = (REPO / f"workspaces/{member}/pyproject.toml").read_text()
        for name, version in re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text):
            assert pins[normalize(name)] == version, (member, name)
    assert "vllm" not in train and "unsloth" not in serve


def _uv_export(uv: str, member: str) -> set[tuple[str, str]]:
    out = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--package",
            member,
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--no-emit-project",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = set()
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;]+)", line)
        if m:
            pins.add((normalize(m.group(1)), m.group(2)))
    return pins


@pytest.mark.uv
@pytest.mark.parametrize("member", ["train", "serve", "lockgen"])
def test_projection_equals_uv_export(uv_bin: str, member: str) -> None:
    ours = {(n, v) for n, v in member_pins(real_lock(), member) if n != member}
    assert ours == _uv_export(uv_bin, member)


def test_truncated_lock_is_an_input_error(tmp_path: Path) -> None:
    text = (REPO / "uv.lock").read_text()
    (tmp_path / "uv.lock").write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as e:
        read_lock(tmp_path / "uv.lock")
    assert str(e.value).startswith("uv.lock:") and "truncated" in str(e.value)


def test_missing_lock(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="uv.lock: not found"):
        read_lock(tmp_path / "uv.lock")


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({}, "version"),
        ({"version": 2, "package": []}, "version"),
        ({"version": 1}, "package"),
        ({"version": 1, "package": [{"name": "x"}]}, "package[0].source"),
        ({"version": 1, "package": [{"name": "x", "source": {"warp": "y"}}]}, "package[0] (x).source"),
        (
            {"version": 1, "package": [{"name": "x", "source": {"registry": "y"}, "dependencies": "torch"}]},
            "package[0] (x).dependencies",
        ),
        (
            {"version": 1, "package": [{"name": "x", "source": {"registry": "y"}, "wheels": [{"hash": "h"}]}]},
            "package[0] (x).wheels[0]",
        ),
    ],
)
def test_malformed_lock_names_the_key(doc: dict, key: str) -> None:
    with pytest.raises(InputError) as e:
        parse_lock(doc)
    assert e.value.key == key and e.value.file == "uv.lock"


def test_parse_is_pure_and_repeatable() -> None:
    data = tomllib.loads((REPO / "uv.lock").read_text())
    assert parse_lock(data) == parse_lock(data)


def test_parse_cache_is_keyed_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LOCKGEN_NO_CACHE", raising=False)
    text = (REPO / "uv.lock").read_text()
    lock = tmp_path / "uv.lock"
    lock.write_text(text)
    first = read_lock(lock)
    assert len(list((tmp_path / "cache" / "lockgen" / "locks").glob("*.json"))) == 1
    assert read_lock(lock) == first  # served from the cache, same value
    # a changed lock is parsed afresh, never served stale
    changed = text.replace('name = "torch"\nversion = "2.14.0"', 'name = "torch"\nversion = "2.14.9"', 1)
    assert changed != text
    lock.write_text(changed)
    versions = {p.version for p in read_lock(lock).by_name("torch")}
    assert "2.14.9" in versions
    monkeypatch.setenv("LOCKGEN_NO_CACHE", "1")
    assert {p.version for p in read_lock(lock).by_name("torch")} == versions


@pytest.mark.uv
@pytest.mark.slow  # 12 generated locks, each through `uv export`: 1.3-3.7 s here
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds(max_members=2))
def test_projection_equals_uv_export_on_generated_locks(world, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated two-member workspaces (conflict markers, platform markers, extras), locked by the real uv: the
    projection lists exactly what `uv export --frozen --package M` lists."""
    from lockgen.seams.uvtool import find_uv

    base = tmp_path_factory.mktemp("proj")
    urls = write_index(world, base / "index").file_urls()
    root = write_workspace(world, base / "ws", index_urls=urls)
    env = uv_env(base / "cache", offline=True)
    locked = subprocess.run([find_uv(), "lock"], cwd=root, env=env, capture_output=True, text=True)
    assume(locked.returncode == 0)  # some drawn worlds have no solution at all: nothing to project
    lock = read_lock(root / "uv.lock")
    for m in world.members:
        out = subprocess.run(
            [
                find_uv(),
                "export",
                "--frozen",
                "--package",
                m.name,
                "--no-hashes",
                "--no-header",
                "--no-annotate",
                "--no-emit-project",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        theirs = {(normalize(a), b) for a, b in re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\n]+)", out, re.M)}
        ours = {(n, v) for n, v in member_pins(lock, m.name) if n != m.name}
        assert ours == theirs, m.name
