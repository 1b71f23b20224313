"""Golden tests per rule on small hand-written locks, and a property: the rules flag exactly what was planted."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lockgen.model.workspace import Workspace
from lockgen.rules import (
    Violation,
    lock_fresh_violations,
    rule_cuda_window,
    rule_hashes_and_indexes,
    rule_one_cuda,
    rule_strict_pins,
)
from locks import dep, lock_doc, member_pkg, pkg, runtime, workspace


def run_rules(ws: Workspace) -> list[Violation]:
    """The rules over the lock itself (lockgen.rules), in registry order: what these hand-written locks plant."""
    rules = (rule_strict_pins, rule_one_cuda, rule_cuda_window, rule_hashes_and_indexes)
    return [v for rule in rules for v in rule(ws)]


def good_serve(
    cuda: str = "13.0", torch_req: str = "torch==2.14.0"
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    rt = runtime(cuda)
    pkgs = [
        member_pkg("serve", ["vllm", "torch"]),
        pkg("vllm", "0.33.0", [dep("torch", "serve"), dep("fastapi", "serve")]),
        pkg("fastapi", "1.0"),
        pkg(
            "torch",
            "2.14.0",
            [
                dep(rt["name"], "serve"),
                dep("nvidia-cudnn-cu13" if cuda.startswith("13") else "nvidia-cudnn-cu12", "serve"),
            ],
        ),
        rt,
        pkg("nvidia-cudnn-cu13" if cuda.startswith("13") else "nvidia-cudnn-cu12", "9.24.0.43"),
    ]
    return pkgs, {"serve": ["vllm==0.33.0", torch_req]}


def test_clean_lock_has_no_violations() -> None:
    pkgs, reqs = good_serve()
    assert run_rules(workspace(lock_doc(pkgs, ["serve"]), reqs)) == []


def test_strict_pin_flags_a_range_on_torch_only() -> None:
    pkgs, reqs = good_serve(torch_req="torch>=2.14")
    reqs["serve"].append("fastapi>=0.1")  # not CUDA-linked: a range is fine
    pkgs[0]["dependencies"].append(dep("fastapi", "serve"))
    vs = rule_strict_pins(workspace(lock_doc(pkgs, ["serve"]), reqs))
    assert [(v.rule, v.package, v.member, v.file) for v in vs] == [
        ("strict-pin", "torch", "serve", "workspaces/serve/pyproject.toml")
    ]
    assert '"torch==2.14.0"' in vs[0].fix


def test_strict_pin_rejects_wildcards() -> None:
    pkgs, reqs = good_serve(torch_req="torch==2.14.*")
    assert [v.package for v in rule_strict_pins(workspace(lock_doc(pkgs, ["serve"]), reqs))] == ["torch"]


def test_requirement_for_another_platform_is_ignored() -> None:
    pkgs, reqs = good_serve()
    reqs["serve"].append("torch>=1; sys_platform == 'darwin'")
    assert rule_strict_pins(workspace(lock_doc(pkgs, ["serve"]), reqs)) == []


def test_one_cuda_flags_a_cu12_runtime_beside_cu13_torch() -> None:
    pkgs, reqs = good_serve()
    pkgs[1]["dependencies"].append(dep("nvidia-cuda-runtime-cu12", "serve"))
    pkgs.append(pkg("nvidia-cuda-runtime-cu12", "12.8.90"))
    vs = rule_one_cuda(workspace(lock_doc(pkgs, ["serve"]), reqs))
    assert len(vs) == 1 and vs[0].member == "serve"
    assert "12.8" in vs[0].message and "13.0" in vs[0].message


def test_one_cuda_flags_a_cu12_library_beside_cu13_runtime() -> None:
    pkgs, reqs = good_serve()
    pkgs[1]["dependencies"].append(dep("nvidia-nccl-cu12", "serve"))
    pkgs.append(pkg("nvidia-nccl-cu12", "2.21.5"))
    assert [v.rule for v in rule_one_cuda(workspace(lock_doc(pkgs, ["serve"]), reqs))] == ["one-cuda"]


def test_one_cuda_accepts_a_family_shipped_for_both_majors() -> None:
    pkgs, reqs = good_serve()
    pkgs[1]["dependencies"] += [dep("cutlass-libs-cu12", "serve"), dep("cutlass-libs-cu13", "serve")]
    pkgs += [pkg("cutlass-libs-cu12", "4.8.0"), pkg("cutlass-libs-cu13", "4.8.0")]
    assert rule_one_cuda(workspace(lock_doc(pkgs, ["serve"]), reqs)) == []


def test_local_version_label_counts() -> None:
    pkgs, reqs = good_serve()
    pkgs[1]["dependencies"].append(dep("xformers", "serve"))
    pkgs.append(pkg("xformers", "0.0.30+cu126"))
    vs = rule_one_cuda(workspace(lock_doc(pkgs, ["serve"]), reqs))
    assert len(vs) == 1 and "12.6" in vs[0].message


def test_window_names_the_driver() -> None:
    pkgs, reqs = good_serve("13.0")
    vs = rule_cuda_window(workspace(lock_doc(pkgs, ["serve"]), reqs, driver="570.124.06"))
    assert len(vs) == 1
    assert "580.65.06" in vs[0].message and "570.124.06" in vs[0].message and "12.8" in vs[0].fix


def test_window_names_the_gpu() -> None:
    pkgs, reqs = good_serve("13.0")
    vs = rule_cuda_window(workspace(lock_doc(pkgs, ["serve"]), reqs, gpus=("V100", "H100")))
    assert len(vs) == 1 and "V100" in vs[0].message


def test_cuda12_lock_inside_a_570_window() -> None:
    pkgs, reqs = good_serve("12.8")
    assert run_rules(workspace(lock_doc(pkgs, ["serve"]), reqs, driver="570")) == []


def test_missing_hash_and_undeclared_index() -> None:
    pkgs, reqs = good_serve()
    pkgs[2] = pkg("fastapi", "1.0", hashed=False)
    pkgs[5]["source"] = {"registry": "https://download.pytorch.org/whl/cu130"}
    vs = rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs))
    assert sorted((v.rule, v.package) for v in vs) == [("hash", "fastapi"), ("index", "nvidia-cudnn-cu13")]
    declared = workspace(
        lock_doc(pkgs, ["serve"]), reqs, indexes=("https://pypi.org/simple", "https://download.pytorch.org/whl/cu130/")
    )
    assert [v.rule for v in rule_hashes_and_indexes(declared)] == ["hash"]


def test_git_source_locked_to_a_commit_is_accepted_and_an_unpinned_one_is_a_finding() -> None:
    pkgs, reqs = good_serve()
    commit = "0123456789abcdef0123456789abcdef01234567"
    pkgs[2]["source"] = {"git": f"https://github.com/x/fastapi?rev=main#{commit}"}
    pkgs[2].pop("wheels")
    assert rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs)) == []
    pkgs[2]["source"] = {"git": "https://github.com/x/fastapi?rev=abc"}
    assert [v.rule for v in rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs))] == ["source"]


def test_url_artifact_with_hash_and_local_path_are_accepted_unhashed_url_is_not() -> None:
    pkgs, reqs = good_serve()
    pkgs[2]["source"] = {"url": "https://example.org/fastapi-1.0-py3-none-any.whl"}
    pkgs.append({"name": "localthing", "version": "0.1", "source": {"directory": "../localthing"}})
    assert rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs)) == []
    pkgs[2]["wheels"][0].pop("hash")
    assert [v.rule for v in rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs))] == ["hash"]


def test_allowed_indexes_from_the_fleet_config() -> None:
    pkgs, reqs = good_serve()
    pkgs[5]["source"] = {"registry": "https://mirror.example.org/simple"}
    ws = workspace(lock_doc(pkgs, ["serve"]), reqs)
    assert [v.rule for v in rule_hashes_and_indexes(ws)] == ["index"]
    allowed = {**ws.pyproject["tool"]["lockgen"], "allowed-indexes": ["https://mirror.example.org/simple/"]}
    ws2 = type(ws)(**{**ws.__dict__, "pyproject": {"tool": {"lockgen": allowed}}})
    assert rule_hashes_and_indexes(ws2) == []


def test_credentials_in_an_index_url_are_redacted() -> None:
    pkgs, reqs = good_serve()
    pkgs[5]["source"] = {"registry": "https://alice:s3cret@mirror.example.org/simple"}
    vs = rule_hashes_and_indexes(workspace(lock_doc(pkgs, ["serve"]), reqs))
    assert vs and all("s3cret" not in v.message for v in vs)
    assert "alice:****@mirror.example.org" in vs[0].message


def test_lock_fresh_interprets_uv() -> None:
    assert lock_fresh_violations(0, "") == []
    stale = lock_fresh_violations(
        1, "error: The lockfile at `uv.lock` needs to be updated, but `--check` was provided."
    )
    assert stale and stale[0].rule == "lock-fresh"
    assert lock_fresh_violations(2, "error: No interpreter found") is None


# ---- property: generated two-member locks with planted violations ----

CUDAS_IN = ["12.4", "12.8", "13.0"]  # inside the default fleet's window
CUDAS_OUT = ["13.2", "13.3"]  # need drivers 595/610: outside


@st.composite
def planted(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, list[str]], set[tuple[str, str]]]:
    pkgs: list[dict[str, Any]] = []
    reqs: dict[str, list[str]] = {}
    expected: set[tuple[str, str]] = set()
    for member, torch_v in (("train", "2.14.1"), ("serve", "2.14.0")):
        out_of_window = draw(st.booleans())
        cuda = draw(st.sampled_from(CUDAS_OUT if out_of_window else CUDAS_IN))
        loose = draw(st.booleans())
        mixed = draw(st.booleans())
        unhashed = draw(st.booleans())
        rt = runtime(cuda)
        rt_name = f"{rt['name']}"
        rt_version = f"{cuda}.90"
        helper = f"helper-{member}"
        mp = member_pkg(member, [helper])
        mp["dependencies"].append(dep("torch", member, version=torch_v))
        pkgs.append(mp)
        torch_deps = [dep(rt_name, member, version=rt_version)]
        pkgs.append(pkg("torch", torch_v, torch_deps))
        helper_deps = [dep("torch", member, version=torch_v)]
        if mixed:
            other = "12.6" if cuda.startswith("13") else "13.0"
            other_rt = runtime(other)
            helper_deps.append(dep(other_rt["name"], member, version=f"{other}.90"))
            if not any(p["name"] == other_rt["name"] and p["version"] == f"{other}.90" for p in pkgs):
                pkgs.append(other_rt)
            expected.add(("one-cuda", member))
        pkgs.append(pkg(helper, "1.0", helper_deps, hashed=not unhashed))
        if not any(p["name"] == rt_name and p["version"] == rt_version for p in pkgs):
            pkgs.append(rt)
        if unhashed:
            expected.add(("hash", helper))
        if out_of_window:
            expected.add(("cuda-window", member))
        reqs[member] = [f"torch>={torch_v}" if loose else f"torch=={torch_v}", f"{helper}==1.0"]
        if loose:
            expected.add(("strict-pin", member))
    # dependency edges name a version when a name occurs twice in the lock (as uv writes them)
    counts: dict[str, int] = {}
    for p in pkgs:
        counts[p["name"]] = counts.get(p["name"], 0) + 1
    for p in pkgs:
        for d in p.get("dependencies", []):
            if counts.get(d["name"], 0) == 1:
                d.pop("version", None)
    return pkgs, reqs, expected


@settings(max_examples=60, deadline=None)
@given(planted())
def test_rules_flag_exactly_the_planted_violations(
    case: tuple[list[dict[str, Any]], dict[str, list[str]], set[tuple[str, str]]],
) -> None:
    pkgs, reqs, expected = case
    ws = workspace(lock_doc(pkgs, ["train", "serve"]), reqs)
    found = set()
    for v in run_rules(ws):
        found.add((v.rule, v.member if v.rule in ("one-cuda", "cuda-window", "strict-pin") else v.package))
    assert found == expected


def test_strict_pin_skips_lockgen_s_own_scoped_exclusion_only() -> None:
    """An exclusion lockgen writes into a member's dependencies (`[tool.lockgen] managed-requirements`, see
    lockgen.ops.resolve.scope) keeps uv off some builds; it is not the member's version choice. The same text written
    by the user is still judged: a range on a CUDA build."""
    import dataclasses

    pkgs, reqs = good_serve()
    reqs["serve"].append("torch!=2.11.*")
    ws = workspace(lock_doc(pkgs, ["serve"]), reqs)
    assert [v.package for v in rule_strict_pins(ws)] == ["torch"]  # the user's: flagged
    data = {"tool": {"lockgen": {"managed-requirements": ["torch!=2.11.*"]}}}
    managed = dataclasses.replace(ws.members["serve"], data=data)
    ws = dataclasses.replace(ws, members={"serve": managed})
    assert rule_strict_pins(ws) == []  # lockgen's: skipped, while torch==2.14.0 beside it is judged as before
