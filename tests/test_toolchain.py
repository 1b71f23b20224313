"""nix/toolchain.json: derived from the lock, written atomically, checked by a rule; and the host-driver guard."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from lockgen.cli import main
from lockgen.errors import InputError
from lockgen.model.lockfile import Artifact
from lockgen.model.workspace import load_workspace
from lockgen.ops.toolchain import guard_verdict
from lockgen.plan.toolchain import (
    SCHEMA,
    TOOLCHAIN_FILE,
    NixpkgsRevision,
    choose_input,
    choose_wheel,
    load_nixpkgs_table,
    nixpkgs_rev,
    parse_nixpkgs_table,
    pinned_inputs,
    pinned_revisions,
    python_minor,
    render_toolchain,
    toolchain_for,
    wants_toolchain,
    write_toolchain,
)
from lockgen.rules.toolchain import compare_toolchain, rule_toolchain, toolchain_warnings, toolchain_warnings_for
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.versions import CudaVersion, DriverVersion

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
    (root / "nix").mkdir(parents=True, exist_ok=True)  # where a flake project keeps toolchain.json
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
    assert data["schema"] == "lockgen-toolchain/2"
    assert data["python"] == "3.12"
    assert data["driver_policy"] == "toolkit"
    # no flake.lock yet: every set is taken from the main input
    assert data["members"] == {
        "serve": {"cuda": "12.6", "nix_attr": "cudaPackages_12_6", "input": "nixpkgs"},
        "train": {"cuda": "12.8", "nix_attr": "cudaPackages_12_8", "input": "nixpkgs"},
    }  # tools has no CUDA-linked package: no shell entry
    assert data["default"] == {"cuda": "12.8", "nix_attr": "cudaPackages_12_8", "input": "nixpkgs"}
    # the image lists: the member's own project from source, its packages by the index of their wheel in uv.lock
    assert data["images"]["train"] == {
        "aarch64-linux": ["torch==2.10.0+cu128#0", "train@ws/train"],
        "x86_64-linux": ["torch==2.10.0+cu128#0", "train@ws/train"],
    }
    assert set(data["images"]) == {"serve", "train"}


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
    (ws_root / "flake.nix").unlink()
    ws = load_workspace(ws_root)
    data = (ws_root / "pyproject.toml").read_text(encoding="utf-8")
    (ws_root / "pyproject.toml").write_text(data + "toolchain = true\n", encoding="utf-8")
    ws = load_workspace(ws_root)
    assert [v.message for v in rule_toolchain(ws)] == ["is missing, but [tool.lockgen] toolchain = true"]


def test_rule_reports_malformed_json(ws_root: Path) -> None:
    (ws_root / "nix").mkdir(exist_ok=True)
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


def test_a_set_the_main_pin_lacks_is_a_warning_then_taken_from_the_input_that_has_it(tmp_path: Path) -> None:
    # CUDA 12.4 (a driver-550 fleet, e.g. Colab's 550.54.15): in lockgen's table, removed from nixpkgs 2025-08-08
    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.6.0+cu124")]})
    ws = load_workspace(root)
    (root / "flake.lock").write_text(json.dumps(_flake_lock(PINNED_REV)), encoding="utf-8")
    write_toolchain(root, toolchain_for(ws))
    assert rule_toolchain(ws) == []  # never an error: Nix does not veto a lock that fits the fleet
    data = json.loads((root / TOOLCHAIN_FILE).read_text(encoding="utf-8"))
    assert data["members"]["train"]["input"] is None
    warned = toolchain_warnings(ws)
    assert {v.member for v in warned} == {"train"}  # the default shell has no toolkit then, and never stops
    assert data["default"] is None
    for v in warned:
        assert "no pinned nixpkgs input has cudaPackages_12_4" in v.message and "0d9e9b832d03" in v.message
        assert "nixos-25.05" in v.message and "tables/data/nixpkgs.toml" in v.message  # what to add
    assert data["members"]["train"]["missing"] == next(v.message for v in warned if v.member == "train")
    # the repository's flake.lock also pins nixos-25.05: the set comes from there, and the old file is now stale
    shutil.copy(REPO / "flake.lock", root / "flake.lock")
    stale = rule_toolchain(ws)
    assert {v.member for v in stale} == {"train", None}
    assert all("nixpkgs-cuda-legacy" in v.message and "lockgen toolchain --write" in v.fix for v in stale)
    write_toolchain(root, toolchain_for(ws))
    assert rule_toolchain(ws) == [] and toolchain_warnings(ws) == []
    assert json.loads((root / TOOLCHAIN_FILE).read_text(encoding="utf-8"))["members"]["train"] == {
        "cuda": "12.4",
        "nix_attr": "cudaPackages_12_4",
        "input": "nixpkgs-cuda-legacy",
    }


def test_check_and_the_lock_transaction_pass_for_a_cuda_no_input_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lock` runs the check and fails on its violations: a set no input has must not be one of them."""
    from lockgen.rules.checking import run_check

    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.6.0+cu124")]})
    (root / "flake.nix").write_text("{ outputs = _: { }; }\n", encoding="utf-8")
    (root / "flake.lock").write_text(json.dumps(_flake_lock(PINNED_REV)), encoding="utf-8")
    assert main(["-C", str(root), "toolchain", "--write"]) == 0
    ws = load_workspace(root)
    violations = list(run_check(ws, use_uv=False).violations)
    assert violations == []
    capsys.readouterr()
    assert main(["-C", str(root), "check", "--no-uv"]) == 0
    out = capsys.readouterr().out
    assert "warning[toolchain] flake.nix [train]: no pinned nixpkgs input has cudaPackages_12_4" in out
    assert main(["-C", str(root), "check", "--no-uv", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and any("cudaPackages_12_4" in w for w in doc["warnings"])


def test_a_pin_lockgen_does_not_know_is_a_warning(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    (ws_root / "flake.lock").write_text(json.dumps(_flake_lock("1" * 40)), encoding="utf-8")
    write_toolchain(ws_root, toolchain_for(ws))
    assert rule_toolchain(ws) == []
    found = toolchain_warnings(ws)
    unknown = [v for v in found if v.file == "flake.lock"]
    assert len(unknown) == 1 and "1111111111" in unknown[0].message and "tables/data/nixpkgs.toml" in unknown[0].fix
    assert {v.member for v in found if v.file == "flake.nix"} == {"train", "serve"}  # no known input


def test_warnings_name_each_shell_without_an_input() -> None:
    actual = {
        "schema": SCHEMA,
        "default": {"cuda": "13.0", "nix_attr": "cudaPackages_13_0", "input": "nixpkgs"},
        "members": {
            "train": {"cuda": "13.4", "nix_attr": "cudaPackages_13_4", "input": None, "missing": "ADD 13.4"},
            "serve": {"cuda": "13.0", "nix_attr": "cudaPackages_13_0", "input": "nixpkgs"},
        },
    }
    (v,) = toolchain_warnings_for(actual, ())
    assert (v.member, v.message, v.file) == ("train", "ADD 13.4", "flake.nix") and ".#train" in v.fix


def test_compare_rejects_a_file_of_another_schema() -> None:
    expected = {"python": "3.12", "driver_policy": "toolkit", "default": None, "members": {}}
    (v,) = compare_toolchain(expected, {"schema": "lockgen-toolchain/1"})
    assert SCHEMA in v.message


def test_compare_flags_stale_image_lists(ws_root: Path) -> None:
    ws = load_workspace(ws_root)
    data = toolchain_for(ws)
    data["images"]["train"]["x86_64-linux"] = ["torch==2.9.0+cu126#0", "train@ws/train"]
    _write(ws_root, data)
    (v,) = rule_toolchain(ws)
    assert v.member == "train" and "train-image" in v.message


# ---- which input gives a set ----


def _row(rev: str, date: str, *sets: str) -> NixpkgsRevision:
    return NixpkgsRevision(rev * 40, "b", date, frozenset(f"cudaPackages_{s}" for s in sets), "S", "test")


def _lock_of(**inputs: str) -> dict:
    nodes: dict = {"root": {"inputs": {name: name for name in inputs}}}
    for name, rev in inputs.items():
        nodes[name] = {"locked": {"owner": "NixOS", "repo": "nixpkgs", "rev": rev * 40, "type": "github"}}
    nodes["flake-utils"] = {"locked": {"owner": "numtide", "repo": "flake-utils", "rev": "f" * 40}}
    nodes["root"]["inputs"]["flake-utils"] = "flake-utils"
    return {"nodes": nodes, "root": "root", "version": 7}


def test_choose_input_prefers_the_main_input_then_the_newest() -> None:
    table = (
        _row("a", "2026-10-01", "12_8", "13_0"),
        _row("b", "2025-06-01", "12_4", "12_8"),
        _row("c", "2026-08-01", "12_8", "13_3"),
    )
    inputs = pinned_inputs(_lock_of(old="b", nixpkgs="a", next="c", zz="d"), table)
    assert [p.name for p in inputs] == ["nixpkgs", "next", "old", "zz"]  # flake-utils is not a nixpkgs
    assert inputs[-1].row is None  # revision d is not in the table
    assert {a: choose_input(f"cudaPackages_{a}", inputs).name for a in ("12_8", "13_0", "12_4", "13_3")} == {
        "12_8": "nixpkgs",
        "13_0": "nixpkgs",
        "12_4": "old",
        "13_3": "next",
    }
    assert choose_input("cudaPackages_13_4", inputs) is None
    # without the main input, the newest revision that has it wins
    assert choose_input("cudaPackages_12_8", pinned_inputs(_lock_of(old="b", next="c"), table)).name == "next"


def test_wants_toolchain(tmp_path: Path) -> None:
    assert wants_toolchain(tmp_path, {}) is False
    assert wants_toolchain(tmp_path, {"toolchain": True}) is True
    (tmp_path / "flake.nix").write_text("{}", encoding="utf-8")
    assert wants_toolchain(tmp_path, {}) is True
    assert wants_toolchain(tmp_path, {"toolchain": False}) is False


# ---- the image's wheel choice ----


def test_choose_wheel_picks_what_pip_would_on_each_platform() -> None:
    base = "https://files.example/torch-2.10.0-"
    wheels = tuple(
        Artifact(base + tail, "sha256:" + "0" * 64)
        for tail in (
            "cp312-cp312-manylinux_2_28_aarch64.whl",
            "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "cp312-cp312-manylinux_2_28_x86_64.whl",
            "cp311-cp311-manylinux_2_28_x86_64.whl",
            "cp312-cp312-win_amd64.whl",
        )
    )
    assert choose_wheel(wheels, "x86_64", "3.12") == 2  # the newest manylinux first, as pip orders tags
    assert choose_wheel(wheels, "aarch64", "3.12") == 0
    assert choose_wheel(wheels[3:], "x86_64", "3.12") is None  # only cp311 and Windows: nothing fits
    pure = (Artifact("https://files.example/six-1.17.0-py2.py3-none-any.whl", None),)
    assert choose_wheel(pure, "aarch64", "3.12") == 0
    abi3 = (Artifact("https://files.example/cryptography-46.0.0-cp311-abi3-manylinux_2_34_x86_64.whl", None),)
    assert choose_wheel(abi3, "x86_64", "3.12") == 0
    too_new = (Artifact("https://files.example/x-1-cp312-cp312-manylinux_2_41_x86_64.whl", None),)
    assert choose_wheel(too_new, "x86_64", "3.12") is None  # needs a newer glibc than the images' 2.40


def test_written_images_name_real_platform_wheels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`toolchain --write` on a real workspace (the frozen copy), then uv.lock read independently: each listed wheel
    exists, has a hash and fits its system (no cross-platform)."""
    import tomllib

    from helpers import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    (root / TOOLCHAIN_FILE).unlink()
    assert main(["-C", str(root), "toolchain", "--write"]) == 0, capsys.readouterr()
    data = json.loads((root / TOOLCHAIN_FILE).read_text(encoding="utf-8"))
    assert data["images"], data
    lock = tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))
    packages = {(p["name"], p.get("version")): p for p in lock["package"]}
    for member, systems in data["images"].items():
        for system, entries in systems.items():
            machine = system.split("-")[0]
            for e in entries:
                if "@" in e:
                    assert e == f"{member}@workspaces/{member}"
                    continue
                key, index = e.rsplit("#", 1)
                name, version = key.split("==")
                wheel = packages[(name, version)]["wheels"][int(index)]
                assert wheel["hash"].startswith("sha256:")
                file = wheel["url"].rsplit("/", 1)[1]
                assert file.endswith("-any.whl") or file.endswith(f"_{machine}.whl"), (system, file)
                assert "-cp312-" in file or "-py3" in file or "-py2.py3-" in file or "-abi3-" in file, file


# ---- through the CLI: `lockgen toolchain` and `lockgen check` ----


def test_cli_write_then_check(ws_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ws_root), "toolchain"]) == 1  # missing
    capsys.readouterr()
    (ws_root / "nix").rmdir()
    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 2  # its folder is missing: said, not created
    assert "nix does not exist" in capsys.readouterr().err and not (ws_root / "nix").exists()
    (ws_root / "nix").mkdir(exist_ok=True)
    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 0
    text = (ws_root / TOOLCHAIN_FILE).read_text(encoding="utf-8")
    assert json.loads(text)["members"]["train"] == {"cuda": "12.8", "nix_attr": "cudaPackages_12_8", "input": "nixpkgs"}
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
    assert rule_toolchain(ws) == [] and toolchain_warnings(ws) == []
    assert nixpkgs_rev(json.loads((root / "flake.lock").read_text(encoding="utf-8"))) == PINNED_REV


# ---- the nixpkgs table and flake.lock ----


def test_packaged_table_knows_every_pinned_revision_and_cites_it() -> None:
    table = load_nixpkgs_table()
    (row,) = [r for r in table if r.rev == PINNED_REV]
    assert row.branch == "nixos-26.05"
    assert {"cudaPackages_12_8", "cudaPackages_13_0"} <= row.cuda_sets
    assert "cudaPackages_12_4" not in row.cuda_sets and "cudaPackages_13_3" not in row.cuda_sets
    lock = json.loads((REPO / "flake.lock").read_text(encoding="utf-8"))
    import tomllib

    data = tomllib.loads((REPO / "lockgen/src/lockgen/tables/data/nixpkgs.toml").read_text(encoding="utf-8"))
    assert len(pinned_revisions(lock)) == 3
    for name, rev in pinned_revisions(lock):
        (raw,) = [r for r in data["revision"] if r["rev"] == rev]
        assert raw["conf"] in ("Y", "S", "U"), name
        words = raw["source"].replace(",", " ").replace(";", " ").replace("(", " ").split()
        assert any(w in data["sources"] for w in words), name  # cites named sources
        assert rev in " ".join(data["sources"].values()), name  # a public lock or pin of that revision is cited


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
        "schema": 1,
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
    import lockgen.seams.host

    assert main(["-C", str(ws_root), "toolchain", "--write"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(lockgen.seams.host, "driver_version", lambda *a, **k: DriverVersion.parse("560.35.03"))
    # train is CUDA 12.8 (needs 570.26), serve CUDA 12.6 (needs 560.28.03): read from nix/toolchain.json
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "train"]) == 1
    assert "570.26" in capsys.readouterr().out
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "serve"]) == 0
    monkeypatch.setattr(lockgen.seams.host, "driver_version", lambda *a, **k: None)
    assert main(["-C", str(ws_root), "toolchain", "guard", "--member", "serve"]) == 1
    assert "no NVIDIA driver" in capsys.readouterr().out


# ---- every fleet lockgen can lock gets a toolkit from the pinned inputs ----


@pytest.mark.parametrize("policy", ["toolkit", "minor"])
def test_every_cuda_of_every_fleet_window_gets_a_set_a_pinned_input_carries(policy: str) -> None:
    """Driver branches 525 ... 610 of lockgen's tables, GPUs T4 ... H100: each CUDA the window holds gets a set that
    the input lockgen chooses carries, read from the data file and flake.lock here (not through lockgen's parser)."""
    import tomllib

    from lockgen.model.fleet import fleet_from_config
    from lockgen.model.window import cuda_window
    from lockgen.plan.toolchain import with_input

    lock = json.loads((REPO / "flake.lock").read_text(encoding="utf-8"))
    rev_of = {name: lock["nodes"][node]["locked"]["rev"] for name, node in lock["nodes"]["root"]["inputs"].items()}
    raw = tomllib.loads((REPO / "lockgen/src/lockgen/tables/data/nixpkgs.toml").read_text(encoding="utf-8"))
    sets_of = {r["rev"]: set(r["cuda_sets"]) for r in raw["revision"]}
    inputs = pinned_inputs(lock, load_nixpkgs_table())
    branches = sorted(
        {r.toolkit_driver.branch for r in K.releases if r.toolkit_driver and r.toolkit_driver.branch >= 525}
    )
    assert branches[0] == 525 and branches[-1] >= 610
    seen, missing = set(), set()
    for branch in branches:
        for gpus in (["T4"], ["T4", "L4", "A100", "H100"], ["H100"]):
            fleet = fleet_from_config({"driver": str(branch), "gpus": gpus, "policy": policy}, K)
            for cuda in cuda_window(fleet, K).allowed:
                attr = K.release(cuda).nix_attr
                entry = with_input({"cuda": str(cuda), "nix_attr": attr}, "member train", inputs)
                seen.add(str(cuda))
                if entry["input"] is None:
                    missing.add(str(cuda))
                    assert f"no pinned nixpkgs input has {attr}" in entry["missing"]
                    continue
                assert attr in sets_of[rev_of[entry["input"]]], (branch, gpus, cuda, entry)
    assert {"11.8", "12.1", "12.4", "12.8", "13.0", "13.3"} <= seen
    # 13.4 and 13.5 have no known driver floor (conf U): only the `minor` policy admits them, and no pin has them yet
    assert missing == (set() if policy == "toolkit" else {"13.4", "13.5"})


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize(
    ("driver", "gpus"),
    [("550.54.15", ["T4"]), ("535", ["A100", "L4"])],  # Colab-like; a cluster that cannot upgrade past 535
)
def test_pypi_lock_for_an_old_driver_is_kept_and_the_toolkit_comes_from_nixos_25_05(
    tmp_path: Path, driver: str, gpus: list[str]
) -> None:
    """The issue's report: `lockgen lock` failed outright on these fleets because the one pinned nixpkgs lacked
    cudaPackages_12_4 / 12_1. Now the lock is written and the shells take the set from the nixos-25.05 input."""
    import re
    import subprocess
    import sys

    from helpers import copy_workspace

    root = copy_workspace(tmp_path / "repo")
    for rel in ("flake.nix", "flake.lock"):
        shutil.copy2(REPO / rel, root / rel)
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r'driver = "[^"]+"', f'driver = "{driver}"', text, count=1)
    text = re.sub(r"gpus = \[[^\]]*\]", "gpus = " + json.dumps(gpus), text, count=1)
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(root), "lock"], capture_output=True, text=True, timeout=900
    )
    if driver == "535":
        # serve's own floor (vllm>=0.8.5.post1, a CUDA 12.4 build) cannot run on 535: the lock fails for that reason,
        # named first - never because of Nix (issue 13: "or fails for a reason other than Nix")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "serve needs vllm>=0.8.5.post1" in proc.stderr and "cudaPackages" not in proc.stderr
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((root / TOOLCHAIN_FILE).read_text(encoding="utf-8"))
    assert set(data["members"]) == {"train", "serve"}
    for member, entry in data["members"].items():
        cuda = CudaVersion.parse(entry["cuda"])
        assert cuda <= CudaVersion(12, 4), (member, entry)
        assert entry["input"] == "nixpkgs-cuda-legacy", (member, entry)  # nixos-25.05 has 11.8 ... 12.5
    check = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(root), "check", "--no-uv"], capture_output=True, text=True
    )
    assert check.returncode == 0 and "warning[toolchain]" not in check.stdout, check.stdout


def test_cli_json_lists_the_pinned_inputs_and_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_workspace(tmp_path / "w", {"train": [("torch", "2.6.0+cu124")], "serve": [("torch", "2.9.0+cu126")]})
    lock = json.loads((REPO / "flake.lock").read_text(encoding="utf-8"))
    del lock["nodes"]["root"]["inputs"]["nixpkgs-cuda-legacy"]  # as before this issue: no input with 12.4
    (root / "flake.lock").write_text(json.dumps(lock), encoding="utf-8")
    assert main(["-C", str(root), "toolchain", "--write"]) == 0
    capsys.readouterr()
    assert main(["-C", str(root), "toolchain", "--json"]) == 0  # warnings do not fail
    doc = json.loads(capsys.readouterr().out)
    assert [(i["name"], i["known"]) for i in doc["inputs"]] == [("nixpkgs", True), ("nixpkgs-cuda-next", True)]
    assert "cudaPackages_13_3" in doc["inputs"][1]["cuda_sets"]
    assert [(w["member"], w["file"]) for w in doc["warnings"]] == [("train", "flake.nix")]
    assert doc["toolchain"]["members"]["serve"]["input"] == "nixpkgs"  # 12.6 is in the main pin
    assert doc["toolchain"]["default"]["cuda"] == "12.6"  # the newest member CUDA (serve's), so no warning for it
