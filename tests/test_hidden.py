"""Hidden requirements (plan.hidden, hidden.toml): parsing, matching locked pairs, the exclusions that steer
uv, the check rule, and torch's family - unit tests on hand-written locks (no uv)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from lockgen.errors import InputError
from lockgen.model.family import family_of
from lockgen.model.lockfile import LockedPackage, Source, normalize
from lockgen.plan import hidden
from lockgen.tables import hidden as hidden_table

ROWS_TOML = """
schema = "lockgen-hidden/1"
[[requirement]]
package = "vllm"
versions = "<=0.11.0"
needs = "transformers<5"
steer = "needs"
why = "w1"
source = "s1"
[[requirement]]
package = "transformers"
versions = ">=5"
needs = "torch>=2.5"
why = "w2"
source = "s2"
[[requirement]]
package = "peft"
versions = ">=0.19"
needs = "torchao>=0.16"
why = "w3"
source = "s3"
[[requirement]]
package = "badpkg"
versions = ">=2.0"
why = "broken release"
source = "s4"
[[follows-torch]]
package = "Transformers"
why = "f"
"""
TABLE = hidden_table.parse_hidden(tomllib.loads(ROWS_TOML))


def pkg(name: str, version: str) -> LockedPackage:
    return LockedPackage(normalize(name), version, Source("registry", "https://pypi.org/simple"))


def inst(**versions: str) -> dict[str, LockedPackage]:
    return {normalize(n): pkg(n, v) for n, v in versions.items()}


# ---- parsing ----


def test_the_packaged_table_parses_and_every_row_cites_a_source() -> None:
    table = hidden_table.load_hidden()
    assert len(table.rows) >= 4
    for row in table.rows:
        assert row.source.strip() and row.why.strip()
    assert {"transformers", "trl", "peft", "accelerate", "torchao", "unsloth", "vllm"} <= hidden_table.follows_torch()


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"versions": ">=>5"}, "requirement[0].versions"),
        ({"needs": "transformers<<5"}, "requirement[0].needs"),
        ({"steer": "sideways"}, "requirement[0].steer"),
        ({"source": ""}, "requirement[0].source"),
    ],
)
def test_a_malformed_row_names_its_key(patch: dict[str, str], key: str) -> None:
    row = {"package": "a", "versions": ">=1", "needs": "b<2", "why": "w", "source": "s"} | patch
    with pytest.raises(InputError) as e:
        hidden_table.parse_hidden({"schema": "lockgen-hidden/1", "requirement": [row]})
    assert e.value.key == key and "hidden.toml" in e.value.file


def test_a_row_without_needs_cannot_steer_the_needed_side() -> None:
    row = {"package": "a", "versions": ">=1", "steer": "needs", "why": "w", "source": "s"}
    with pytest.raises(InputError, match="without `needs`"):
        hidden_table.parse_hidden({"schema": "lockgen-hidden/1", "requirement": [row]})


def test_wrong_schema_is_refused() -> None:
    with pytest.raises(InputError, match="schema"):
        hidden_table.parse_hidden({"schema": "other/9"})


# ---- matching hand-written locks (issue 11's observed fleets) ----


def describe(found: list[hidden.PairMatch]) -> list[str]:
    return sorted(m.describe() for m in found)


def test_the_550_serve_lock_matches_the_vllm_row() -> None:
    # issue 11, fleet 550, serve: vllm 0.8.5.post1 + torch 2.6.0 + transformers 5.17.0
    found = hidden.pair_matches("serve", inst(vllm="0.8.5.post1", torch="2.6.0", transformers="5.17.0"), TABLE.rows)
    assert describe(found) == ["vllm 0.8.5.post1 with transformers 5.17.0: vllm <=0.11.0 needs transformers<5"]


def test_the_535_train_lock_matches_the_transformers_row() -> None:
    found = hidden.pair_matches("train", inst(torch="2.4.1+cu121", transformers="5.17.0"), TABLE.rows)
    assert describe(found) == ["transformers 5.17.0 with torch 2.4.1+cu121: transformers >=5 needs torch>=2.5"]


def test_the_committed_pairs_match_nothing() -> None:
    ok = inst(vllm="0.33.0", torch="2.14.0", transformers="5.17.0", peft="0.21.2", torchao="0.18.0")
    assert hidden.pair_matches("m", ok, TABLE.rows) == []
    # vllm 0.11.0 with transformers 4.x is fine; transformers 5 alone (no torch installed) breaks nothing
    assert hidden.pair_matches("m", inst(vllm="0.11.0", transformers="4.57.6"), TABLE.rows) == []
    assert hidden.pair_matches("m", inst(transformers="5.0.0"), TABLE.rows) == []


def test_peft_needs_torchao_only_when_torchao_is_installed() -> None:
    assert hidden.pair_matches("m", inst(peft="0.21.2"), TABLE.rows) == []
    found = hidden.pair_matches("m", inst(peft="0.19.0", torchao="0.15.0"), TABLE.rows)
    assert describe(found) == ["peft 0.19.0 with torchao 0.15.0: peft >=0.19 needs torchao>=0.16"]
    assert hidden.pair_matches("m", inst(peft="0.18.0", torchao="0.15.0"), TABLE.rows) == []


def test_a_broken_row_matches_alone_and_becomes_a_constraint() -> None:
    assert describe(hidden.pair_matches("m", inst(badpkg="2.1"), TABLE.rows)) == ["badpkg 2.1: badpkg >=2.0 is broken"]
    pre = hidden.pre_exclude(None, TABLE)  # type: ignore[arg-type]  # the workspace is not read
    assert [(p, c) for p, c, _ in pre] == [("badpkg", "badpkg<2.0")]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(">=5", "<5"), ("<=0.11.0", ">0.11.0"), ("==0.18.*", "!=0.18.*"), (">=1,<2", None), ("", None)],
)
def test_complement(spec: str, expected: str | None) -> None:
    from packaging.specifiers import SpecifierSet

    assert hidden.complement(SpecifierSet(spec)) == expected


# ---- exclusions: which series uv is steered away from ----


def test_the_vllm_row_excludes_transformers_5_not_vllm() -> None:
    (m,) = hidden.pair_matches("serve", inst(vllm="0.8.5.post1", transformers="5.17.0"), TABLE.rows)
    ex = hidden.exclusions(m)
    assert sorted((e.package, e.version) for e in ex) == [("transformers", "5"), ("transformers", "5.17.0")]
    assert all("serve: vllm 0.8.5.post1 with transformers 5.17.0" in e.reason for e in ex)
    assert {e.member for e in ex} == {"serve"}  # the member whose lock needs it (lockgen.ops.resolve scopes by it)


def test_the_peft_row_excludes_every_series_from_its_floor_to_the_locked_one() -> None:
    (m,) = hidden.pair_matches("train", inst(peft="0.21.2", torchao="0.15.0"), TABLE.rows)
    assert [e.version for e in hidden.exclusions(m)] == ["0.19", "0.20", "0.21", "0.21.2"]


@pytest.mark.parametrize(
    ("version", "spec", "complement", "expected"),
    [
        ("5.17.0", ">=5", False, ["5"]),
        ("0.18.0", ">=0.17", False, ["0.17", "0.18"]),
        ("5.17.0", "<5", True, ["5"]),
        ("2.4.1+cu121", ">=2.5", True, ["2.4"]),  # the needed side too low: only its own series
        ("0.8.5.post1", "<=0.11.0", False, ["0.8.5"]),  # bound and version differ above the last place: own series
    ],
)
def test_excluded_series(version: str, spec: str, complement: bool, expected: list[str]) -> None:
    from packaging.specifiers import SpecifierSet

    assert hidden.excluded_series(version, SpecifierSet(spec), complement) == expected


def test_every_exclusion_leaves_the_bad_set() -> None:
    """Law: after excluding what `exclusions` names, the locked version of the steered side is excluded."""
    from lockgen.plan.constraints import exclusion_constraints
    from packaging.requirements import Requirement

    cases = [
        inst(vllm="0.8.5.post1", transformers="5.17.0"),
        inst(torch="2.4.1", transformers="5.17.0"),
        inst(peft="0.21.2", torchao="0.15.0"),
        inst(badpkg="2.3"),
    ]
    for case in cases:
        for m in hidden.pair_matches("m", case, TABLE.rows):
            ex = hidden.exclusions(m)
            (constraint,) = exclusion_constraints((e.package, e.version) for e in ex)
            req = Requirement(constraint)
            assert not req.specifier.contains(case[req.name].version, prereleases=True), constraint


# ---- on a workspace: steer and the check rule ----


def write_ws(
    root: Path,
    members: dict[str, list[str]],
    lock_packages: list[dict[str, Any]],
    driver: str = "580.65.06",
    member_tool: dict[str, Any] | None = None,
) -> Path:
    import tomlkit

    root.mkdir(parents=True, exist_ok=True)
    doc = {
        "project": {"name": "root", "version": "0", "requires-python": ">=3.12", "dependencies": []},
        "tool": {
            "uv": {"package": False, "workspace": {"members": [f"workspaces/{m}" for m in members]}},
            "lockgen": {"driver": driver, "gpus": ["A100"]},
        },
    }
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc))
    pkgs: list[dict[str, Any]] = []
    for m, reqs in members.items():
        d = root / "workspaces" / m
        d.mkdir(parents=True)
        member_doc: dict[str, Any] = {"project": {"name": m, "version": "0.1", "dependencies": list(reqs)}}
        if member_tool and m in member_tool:
            member_doc["tool"] = {"lockgen": member_tool[m]}
        (d / "pyproject.toml").write_text(tomlkit.dumps(member_doc))
        pkgs.append(
            {
                "name": m,
                "version": "0.1",
                "source": {"editable": f"workspaces/{m}"},
                "dependencies": [{"name": r.split("==")[0]} for r in reqs],
            }
        )
    lock = {"version": 1, "revision": 3, "requires-python": ">=3.12", "package": pkgs + lock_packages}
    (root / "uv.lock").write_text(tomlkit.dumps(lock))
    return root


def reg(name: str, version: str, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "source": {"registry": "https://pypi.org/simple"},
        "dependencies": [{"name": d} for d in deps],
    }


def test_rule_and_steer_on_a_hand_written_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lockgen.model.workspace import load_workspace
    from lockgen.rules.registry import run_rules

    monkeypatch.setattr(hidden, "load_hidden", lambda: TABLE)
    root = write_ws(
        tmp_path / "ws",
        {"serve": ["vllm==0.8.5.post1", "transformers==5.17.0"]},
        [reg("vllm", "0.8.5.post1", ("transformers",)), reg("transformers", "5.17.0")],
    )
    ws = load_workspace(root)
    found = [v for v in run_rules(ws) if v.rule == "hidden-req"]
    assert [(v.package, v.member) for v in found] == [("vllm", "serve")]
    assert "source: s1" in found[0].message and "vllm 0.8.5.post1 with transformers 5.17.0" in found[0].message
    assert [(n, v) for n, v, *_ in hidden.steer(ws)] == [("transformers", "5"), ("transformers", "5.17.0")]


def test_check_cli_reports_hidden_req_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lockgen.cli import main

    monkeypatch.setattr(hidden, "load_hidden", lambda: TABLE)
    root = write_ws(
        tmp_path / "ws",
        {"train": ["transformers==5.17.0", "torch==2.4.1"]},
        [reg("transformers", "5.17.0"), reg("torch", "2.4.1")],
    )
    code = main(["-C", str(root), "check", "--no-uv"])
    out = capsys.readouterr()
    assert code == 1
    assert "hidden-req" in out.out + out.err and "source: s2" in out.out + out.err


# ---- the torch family follows the table ----


def test_torch_family_includes_what_follows_torch_when_installed() -> None:
    # transformers reaches torch through nobody here (pure Python, no edge): only the table puts it in
    installed = inst(torch="2.10.0", transformers="5.17.0", trl="1.15.0", requests="2.32")
    fam = family_of("torch", installed)
    assert {"torch", "transformers", "trl"} <= fam and "requests" not in fam
    # not installed: not added; other roots are unaffected
    assert "peft" not in fam and family_of("transformers", installed) == {"transformers"}


# ---- a member's own floor that the fleet excludes, said in the user's terms ----


@pytest.mark.parametrize(("driver", "expected"), [("535", 1), ("550", 0), ("580.65.06", 0)])
def test_floor_conflicts_name_the_member_the_floor_and_the_driver(tmp_path: Path, driver: str, expected: int) -> None:
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.nosolution import floor_conflicts

    root = write_ws(
        tmp_path / "ws",
        {"serve": ["vllm==0.33.0"]},
        [reg("vllm", "0.33.0")],
        driver=driver,
        member_tool={"serve": {"ranges": {"vllm": ">=0.8.5.post1"}}},
    )
    found = floor_conflicts(load_workspace(root))
    assert len(found) == expected
    if expected:
        # tables/data/builds.toml: vLLM 0.8.x wheels are CUDA 12.4 builds; NVIDIA's toolkit driver for 12.4 is 550.54.14
        assert found[0].startswith("serve needs vllm>=0.8.5.post1 (workspaces/serve/pyproject.toml")
        assert "CUDA 12.4 build (it needs driver >= 550.54.14)" in found[0]
        assert "driver 535 cannot run serve" in found[0] and "vllm<0.8.0" in found[0]
