"""nix/toolchain.json: derived from the lock, written atomically, checked by a rule; and the host-driver guard."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from lockgen.cli import main
from lockgen.errors import InputError
from lockgen.knowledge import load_knowledge
from lockgen.toolchain import (
    SCHEMA,
    TOOLCHAIN_FILE,
    NixpkgsRevision,
    compare_toolchain,
    guard_verdict,
    load_nixpkgs_table,
    nixpkgs_rev,
    parse_nixpkgs_table,
    python_minor,
    render_toolchain,
    rule_toolchain,
    toolchain_for,
    write_toolchain,
)
from lockgen.versions import CudaVersion, DriverVersion
from lockgen.workspace import load_workspace

REPO = Path(__file__).resolve().parents[1]
PINNED_REV = "0d9e9b832d03ac387417e16ce1febf73b2e631e1"
HASH = "sha256:" + "0" * 64


# ---- a small synthetic workspace: members with chosen CUDA builds ----


def _pkg(name: str, version: str, deps: list[tuple[str, str]] = (), source: str | None = None) -> str:
    src = source or '{ registry = "https://pypi.org/simple" }'
    dep_text = ", ".join(f'{{ name = "{d}", version = "{v}" }}' for d, v in deps)
    wheels = (
        ""
        if "editable" in src
        else (f'wheels = [{{ url = "https://files.example/{name}-{version}-py3-none-any.whl", hash = "{HASH}" }}]\n')
    )
    head = f'[[package]]\nname = "{name}"\nversion = "{version}"\nsource = {src}\n'
    return f"{head}dependencies = [{dep_text}]\n{wheels}\n"


def make_workspace(
    root: Path, members: dict[str, list[tuple[str, str]]], python: str = "3.12", policy: str | None = None
) -> Path:
    """A workspace whose member M depends on the (name, version) packages given; uv.lock written by hand."""
    root.mkdir(parents=True, exist_ok=True)
    names = list(members)
    policy_line = f'policy = "{policy}"\n' if policy else ""
    (root / "pyproject.toml").write_text(
        '[project]\nname = "root"\nversion = "0"\nrequires-python = ">=3.12"\n\n'
        f"[tool.uv.workspace]\nmembers = [{', '.join(repr('ws/' + n) for n in names)}]\n\n"
        f'[tool.lockgen]\ndriver = "580.65.06"\ngpus = ["H100"]\n{policy_line}',
        encoding="utf-8",
    )
    (root / ".python-version").write_text(python + "\n", encoding="utf-8")
    lock = [
        'version = 1\nrevision = 3\nrequires-python = "==3.12.*"\n\n',
        f"[manifest]\nmembers = [{', '.join(repr(n) for n in names)}]\n\n",
    ]
    seen: set[tuple[str, str]] = set()
    for name, pkgs in members.items():
        d = root / "ws" / name
        d.mkdir(parents=True, exist_ok=True)
        reqs = ", ".join(f'"{p}=={v}"' for p, v in pkgs)
        (d / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{reqs}]\n', encoding="utf-8"
        )
        lock.append(_pkg(name, "0.1.0", pkgs, f'{{ editable = "ws/{name}" }}'))
        for p, v in pkgs:
            if (p, v) not in seen:
                seen.add((p, v))
                lock.append(_pkg(p, v))
    (root / "uv.lock").write_text("".join(lock), encoding="utf-8")
    return root


MIXED = [("torch", "2.10.0+cu128"), ("nvidia-cuda-runtime", "13.0.96")]  # two CUDA majors


@pytest.fixture
def ws_root(tmp_path: Path) -> Path:
    return make_workspace(
        tmp_path / "ws",
        {
            "train": [("torch", "2.10.0+cu128")],
            "serve": [("torch", "2.9.0+cu126")],
            "tools": [("requests", "2.32.0")],
        },
    )


# ---- toolchain_for ----


def test_toolchain_for_takes_each_members_cuda_and_the_tables_attribute(ws_root: Path) -> None:
    data = toolchain_for(load_workspace(ws_root))
    assert data["schema"] == "lockgen-toolchain/1"
    assert data["python"] == "3.12"
    assert data["driver_policy"] == "toolkit"
    assert data["members"] == {
        "serve": {"cuda": "12.6", "nix_attr": "cudaPackages_12_6"},
        "train": {"cuda": "12.8", "nix_attr": "cudaPackages_12_8"},
    }  # tools has no CUDA-linked package: no shell entry
    assert data["default"] == {"cuda": "12.8", "nix_attr": "cudaPackages_12_8"}


def test_toolchain_for_reads_python_minor_and_fleet_policy(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.10.0+cu128")]}, python="3.12.7", policy="minor")
    data = toolchain_for(load_workspace(root))
    assert (data["python"], data["driver_policy"]) == ("3.12", "minor")


def test_toolchain_for_refuses_a_member_with_mixed_cuda(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "w", {"train": MIXED})
    with pytest.raises(InputError, match="train"):
        toolchain_for(load_workspace(root))


def test_toolchain_for_refuses_a_cuda_the_tables_do_not_know(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.10.0+cu107")]})
    with pytest.raises(InputError, match="10.7"):
        toolchain_for(load_workspace(root))


def test_toolchain_without_cuda_members_has_no_default_toolkit(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "w", {"tools": [("requests", "2.32.0")]})
    data = toolchain_for(load_workspace(root))
    assert data["members"] == {} and data["default"] is None


@pytest.mark.parametrize(("text", "want"), [("3.12", "3.12"), ("3.12.1", "3.12"), (" 3.13\n", "3.13")])
def test_python_minor(text: str, want: str) -> None:
    assert python_minor(text) == want


@pytest.mark.parametrize("text", [None, "", "three", "3"])
def test_python_minor_rejects(text: str | None) -> None:
    with pytest.raises(InputError, match=".python-version"):
        python_minor(text)


# ---- write_toolchain: atomic ----


def test_write_toolchain_writes_json_and_leaves_no_temp_file(tmp_path: Path) -> None:
    data = {"schema": SCHEMA, "python": "3.12", "members": {}}
    path = write_toolchain(tmp_path, data)
    assert path == tmp_path / "nix" / "toolchain.json"
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["toolchain.json"]


def test_write_toolchain_keeps_the_old_file_when_the_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nix").mkdir()
    old = tmp_path / "nix" / "toolchain.json"
    old.write_text("OLD", encoding="utf-8")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_toolchain(tmp_path, {"schema": SCHEMA})
    assert old.read_text(encoding="utf-8") == "OLD"
    assert sorted(p.name for p in old.parent.iterdir()) == ["toolchain.json"]


# ---- the rule ----


def _write(root: Path, data: object) -> None:
    (root / "nix").mkdir(exist_ok=True)
    (root / TOOLCHAIN_FILE).write_text(json.dumps(data), encoding="utf-8")


def test_rule_passes_when_the_file_is_what_lockgen_writes(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    write_toolchain(ws_root, toolchain_for(ws))
    assert rule_toolchain(ws) == []


def test_rule_fails_when_toolchain_and_lock_disagree(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    data = toolchain_for(ws)
    data["members"]["train"] = {"cuda": "13.0", "nix_attr": "cudaPackages_13_0"}
    _write(ws_root, data)
    found = rule_toolchain(ws)
    assert [(v.rule, v.member) for v in found] == [("toolchain", "train")]
    assert "CUDA 13.0" in found[0].message and "CUDA 12.8" in found[0].message
    assert "lockgen toolchain --write" in found[0].fix


def test_rule_fails_on_a_wrong_attribute_a_missing_member_and_an_extra_one(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    data = toolchain_for(ws)
    data["members"]["train"]["nix_attr"] = "cudaPackages_12_9"
    del data["members"]["serve"]
    data["members"]["ghost"] = {"cuda": "12.8", "nix_attr": "cudaPackages_12_8"}
    _write(ws_root, data)
    found = {v.member: v.message for v in rule_toolchain(ws)}
    assert set(found) == {"train", "serve", "ghost"}
    assert "cudaPackages_12_9" in found["train"] and "cudaPackages_12_8" in found["train"]


def test_rule_fails_on_python_policy_and_default(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    data = toolchain_for(ws)
    data["python"] = "3.11"
    data["driver_policy"] = "minor"
    data["default"] = {"cuda": "12.6", "nix_attr": "cudaPackages_12_6"}
    _write(ws_root, data)
    messages = " | ".join(v.message for v in rule_toolchain(ws))
    assert "3.11" in messages and "minor" in messages and "default shell CUDA 12.6" in messages


def test_rule_reports_a_missing_file_only_when_a_flake_reads_it(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    assert rule_toolchain(ws) == []
    (ws_root / "flake.nix").write_text("{ outputs = _: { }; }\n", encoding="utf-8")
    assert [v.message for v in rule_toolchain(ws)] == ["is missing, but flake.nix is here and reads it"]


def test_rule_reports_malformed_json(ws_root: Path) -> None:
    (ws_root / "nix").mkdir()
    (ws_root / TOOLCHAIN_FILE).write_text("{not json", encoding="utf-8")
    (v,) = rule_toolchain(load_workspace(ws_root))
    assert "not valid JSON" in v.message


def _flake_lock(rev: str) -> dict:
    return {
        "nodes": {
            "nixpkgs": {"locked": {"owner": "NixOS", "repo": "nixpkgs", "rev": rev, "type": "github"}},
            "root": {"inputs": {"nixpkgs": "nixpkgs"}},
        },
        "root": "root",
        "version": 7,
    }


def test_rule_checks_the_attributes_against_the_pinned_nixpkgs(tmp_path: Path) -> None:
    # CUDA 12.4's set is in lockgen's table (data/cuda.toml) but not in the pinned nixpkgs (removed 2025-08-08)
    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.6.0+cu124")]})
    ws = load_workspace(root)
    write_toolchain(root, toolchain_for(ws))
    assert rule_toolchain(ws) == []  # no flake.lock: the pin is not checked
    (root / "flake.lock").write_text(json.dumps(_flake_lock(PINNED_REV)), encoding="utf-8")
    found = rule_toolchain(ws)
    assert {v.member for v in found} == {"train", None}  # the member and the default shell
    assert all("cudaPackages_12_4" in v.message and "0d9e9b832d03" in v.message for v in found)


def test_rule_flags_a_pin_lockgen_does_not_know(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    write_toolchain(ws_root, toolchain_for(ws))
    (ws_root / "flake.lock").write_text(json.dumps(_flake_lock("1" * 40)), encoding="utf-8")
    (v,) = rule_toolchain(ws)
    assert v.file == "flake.lock" and "1111111111" in v.message and "data/nixpkgs.toml" in v.fix


def test_compare_flags_a_set_the_pin_lacks() -> None:
    row = NixpkgsRevision("a" * 40, "test", "2026-01-01", frozenset({"cudaPackages_13_0"}), "S", "test")
    expected = {
        "python": "3.12",
        "driver_policy": "toolkit",
        "default": None,
        "members": {"train": {"cuda": "13.3", "nix_attr": "cudaPackages_13_3"}},
    }
    actual = {"schema": SCHEMA, **expected}
    assert compare_toolchain(expected, actual) == []
    (v,) = compare_toolchain(expected, actual, pin_rev="a" * 40, table=(row,))
    assert v.member == "train" and "cudaPackages_13_3" in v.message and "cudaPackages_13_0" in v.message


def test_compare_rejects_a_file_of_another_schema() -> None:
    expected = {"python": "3.12", "driver_policy": "toolkit", "default": None, "members": {}}
    (v,) = compare_toolchain(expected, {"schema": "other/1"})
    assert SCHEMA in v.message


# ---- through the CLI: `lockgen toolchain` and `lockgen check` ----


def test_cli_write_then_check(ws_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ws_root), "toolchain"]) == 1  # missing
    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 0
    text = (ws_root / TOOLCHAIN_FILE).read_text(encoding="utf-8")
    assert json.loads(text)["members"]["train"] == {"cuda": "12.8", "nix_attr": "cudaPackages_12_8"}
    assert text == render_toolchain(json.loads(text))
    capsys.readouterr()
    assert main(["-C", str(ws_root), "toolchain", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["toolchain"]["members"]["serve"]["cuda"] == "12.6"


def test_lockgen_check_fails_when_toolchain_and_lock_disagree(
    ws_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 0
    assert main(["-C", str(ws_root), "check", "--no-uv"]) == 0
    data = json.loads((ws_root / TOOLCHAIN_FILE).read_text(encoding="utf-8"))
    data["members"]["serve"] = {"cuda": "12.8", "nix_attr": "cudaPackages_12_8"}
    _write(ws_root, data)
    capsys.readouterr()
    assert main(["-C", str(ws_root), "check", "--no-uv"]) == 1
    out = capsys.readouterr().out
    assert "error[toolchain]" in out and "serve" in out


def test_cli_refuses_a_mixed_lock_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_workspace(tmp_path / "w", {"train": MIXED})
    assert main(["-C", str(root), "toolchain", "--write"]) == 2
    assert not (root / TOOLCHAIN_FILE).exists()
    assert "train" in capsys.readouterr().err


# ---- the repository itself: the committed files agree ----


def test_repository_toolchain_matches_its_lock_and_pin(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO,
        root,
        ignore=shutil.ignore_patterns(".venv*", ".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"),
    )
    ws = load_workspace(root)
    assert rule_toolchain(ws) == []
    assert nixpkgs_rev(json.loads((root / "flake.lock").read_text(encoding="utf-8"))) == PINNED_REV


# ---- the nixpkgs table and flake.lock ----


def test_packaged_table_knows_the_pinned_revision_and_its_sets() -> None:
    table = load_nixpkgs_table()
    (row,) = [r for r in table if r.rev == PINNED_REV]
    assert row.branch == "nixos-26.05"
    assert {"cudaPackages_12_8", "cudaPackages_13_0"} <= row.cuda_sets
    assert "cudaPackages_12_4" not in row.cuda_sets and "cudaPackages_13_3" not in row.cuda_sets
    assert row.source and row.conf in ("Y", "S", "U")


def test_every_pinned_set_is_a_nix_attr_of_lockgens_cuda_table() -> None:
    known = {r.nix_attr for r in load_knowledge().releases}
    for row in load_nixpkgs_table():
        assert row.cuda_sets <= known, row.rev


@pytest.mark.parametrize(
    "bad",
    [
        {"revision": [{"rev": "short", "branch": "b", "date": "d", "cuda_sets": [], "conf": "S", "source": "s"}]},
        {
            "revision": [
                {
                    "rev": "a" * 40,
                    "branch": "b",
                    "date": "d",
                    "cuda_sets": ["cudaPackages_13"],
                    "conf": "S",
                    "source": "s",
                }
            ]
        },
        {"revision": [{"rev": "a" * 40, "branch": "b", "date": "d", "conf": "S", "source": "s"}]},
    ],
)
def test_table_rejects_bad_rows(bad: dict) -> None:
    with pytest.raises(ValueError, match=r"revision\[0\]"):
        parse_nixpkgs_table(bad)


def test_nixpkgs_rev_follows_an_input_path() -> None:
    lock = {
        "root": "root",
        "nodes": {
            "root": {"inputs": {"other": "other", "nixpkgs": ["other", "nixpkgs"]}},
            "other": {"inputs": {"nixpkgs": "nixpkgs_2"}},
            "nixpkgs_2": {"locked": {"rev": "b" * 40}},
        },
    }
    assert nixpkgs_rev(lock) == "b" * 40
    assert nixpkgs_rev({"nodes": {"root": {"inputs": {}}}}) is None
    assert nixpkgs_rev({}) is None


# ---- the driver guard ----

K = load_knowledge()


@pytest.mark.parametrize(
    ("cuda", "driver", "policy", "ok", "level", "required"),
    [
        ("13.0", "550.54.14", "toolkit", False, "too-old", "580.65.06"),
        ("13.0", "580.65.06", "toolkit", True, "ok", "580.65.06"),
        ("13.0", "590.48.01", "toolkit", True, "ok", "580.65.06"),
        ("12.8", "570", "toolkit", True, "ok", "570.26"),  # a bare branch compares by branch
        ("12.8", "565.57.01", "toolkit", False, "minor-compat", "570.26"),  # above 12.x's floor 525.60.13
        ("12.8", "565.57.01", "minor", True, "minor-compat", "525.60.13"),
        ("12.8", "520.61.05", "minor", False, "too-old", "525.60.13"),
        ("13.1", "580.95.05", "toolkit", False, "minor-compat", "590.44.01"),
        ("13.1", "580.95.05", "minor", True, "minor-compat", "580.65.06"),
        ("13.4", "580.95.05", "minor", True, "minor-compat", "580.65.06"),  # 13.4's own driver is unknown (U)
    ],
)
def test_guard_verdicts(cuda: str, driver: str, policy: str, ok: bool, level: str, required: str) -> None:
    v = guard_verdict("train", CudaVersion.parse(cuda), DriverVersion.parse(driver), K, policy)
    assert (v.ok, v.level, str(v.required)) == (ok, level, required)
    assert f"CUDA {cuda}" in v.message and driver in v.message


def test_guard_too_old_says_what_to_do() -> None:
    v = guard_verdict("serve", CudaVersion(13, 0), DriverVersion.parse("550.54.14"), K)
    assert "too old" in v.message and ">= 580.65.06" in v.message
    assert "CUDA driver version is insufficient" in v.message and "lockgen lock" in v.message
    assert "CUDA <= 12.4" in v.message  # the newest CUDA this driver runs, from the tables


def test_guard_without_driver_and_with_unknown_cuda() -> None:
    none = guard_verdict("train", CudaVersion(13, 0), None, K)
    assert (none.ok, none.level) == (False, "no-driver") and "no NVIDIA driver" in none.message
    unknown = guard_verdict("train", CudaVersion(9, 9), DriverVersion.parse("580.65.06"), K)
    assert (unknown.ok, unknown.level) == (True, "unknown")


def test_guard_cli_with_a_fake_driver(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["toolchain", "guard", "--member", "train", "--cuda", "13.0"]
    assert main([*args, "--driver", "550.54.14"]) == 1
    assert "WARNING" in capsys.readouterr().out
    assert main([*args, "--driver", "580.95.05"]) == 0
    assert main([*args, "--driver", "580.95.05", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert doc == {
        "ok": True,
        "level": "ok",
        "member": "train",
        "cuda": "13.0",
        "driver": "580.95.05",
        "required": "580.65.06",
        "policy": "toolkit",
        "message": doc["message"],
    }
    assert main([*args, "--driver", "not-a-driver"]) == 2
    assert "--driver" in capsys.readouterr().err


def test_guard_reads_the_host_through_lockgen_host(
    ws_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lockgen.host

    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(lockgen.host, "driver_version", lambda *a, **k: DriverVersion.parse("560.35.03"))
    # train is CUDA 12.8 (needs 570.26), serve CUDA 12.6 (needs 560.28.03): read from nix/toolchain.json
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "train"]) == 1
    assert "570.26" in capsys.readouterr().out
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "serve"]) == 0
    monkeypatch.setattr(lockgen.host, "driver_version", lambda *a, **k: None)
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "serve"]) == 1
    assert "no NVIDIA driver" in capsys.readouterr().out
