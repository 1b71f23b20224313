"""tomlkit edits: only the named keys change; comments, layout and the user's own entries survive."""

from __future__ import annotations

import tomllib

from helpers import WORKSPACE
from hypothesis import given
from hypothesis import strategies as st
from lockgen.plan.edit import set_cuda_index, set_exclude_newer, set_managed_constraints, set_requirements

REPO = WORKSPACE  # the frozen copy of this repository's workspace: real pyprojects, never the live ones

ROOT = """\
# the workspace root - a comment users keep
[project]
name = "ws"  # trailing comment
dependencies = ["lockgen"]

[tool.uv]
constraint-dependencies = [
    "numpy<3",  # the user's own
]

[tool.lockgen]
driver = "570"
"""

MEMBER = """\
[project]
name = "serve"
dependencies = [
    "vllm==0.33.0",  # pinned by lockgen
    "torch>=2.4; sys_platform == 'linux'",
    "fastapi[standard]>=0.1",
]
"""


def test_managed_constraints_keep_the_users_entries_and_comments() -> None:
    text = set_managed_constraints(ROOT, ["nvidia-cuda-runtime-cu12<12.9", "nvidia-cuda-runtime<0"])
    data = tomllib.loads(text)
    assert data["tool"]["uv"]["constraint-dependencies"] == [
        "numpy<3",
        "nvidia-cuda-runtime-cu12<12.9",
        "nvidia-cuda-runtime<0",
    ]
    assert data["tool"]["lockgen"]["managed-constraints"] == ["nvidia-cuda-runtime-cu12<12.9", "nvidia-cuda-runtime<0"]
    assert "# the workspace root - a comment users keep" in text and "# trailing comment" in text
    # replacing lockgen's entries removes the old ones and keeps the user's
    again = tomllib.loads(set_managed_constraints(text, ["nvidia-cuda-runtime<13.1"]))
    assert again["tool"]["uv"]["constraint-dependencies"] == ["numpy<3", "nvidia-cuda-runtime<13.1"]
    cleared = tomllib.loads(set_managed_constraints(text, []))
    assert cleared["tool"]["uv"]["constraint-dependencies"] == ["numpy<3"]
    assert "managed-constraints" not in cleared["tool"]["lockgen"]


def test_requirements_pin_and_remember_the_range() -> None:
    pinned = set_requirements(MEMBER, {"torch": "==2.10.0", "fastapi": "==0.115.0"})
    deps = tomllib.loads(pinned)["project"]["dependencies"]
    assert deps == ["vllm==0.33.0", 'torch==2.10.0; sys_platform == "linux"', "fastapi[standard]==0.115.0"]
    assert tomllib.loads(pinned)["tool"]["lockgen"]["ranges"] == {"torch": ">=2.4", "fastapi": ">=0.1"}
    relaxed = tomllib.loads(set_requirements(pinned, {"torch": None, "vllm": None}))["project"]["dependencies"]
    assert relaxed[:2] == ["vllm", 'torch>=2.4; sys_platform == "linux"']


def test_exclude_newer_and_cuda_index() -> None:
    text = set_exclude_newer(ROOT, "2026-11-26T00:00:00Z")
    assert tomllib.loads(text)["tool"]["uv"]["exclude-newer"] == "2026-11-26T00:00:00Z"
    with_index = set_cuda_index(
        text, "lockgen-cu128", "https://download.pytorch.org/whl/cu128", ["torch", "torchvision"]
    )
    data = tomllib.loads(with_index)
    assert data["tool"]["uv"]["index"] == [
        {"name": "lockgen-cu128", "url": "https://download.pytorch.org/whl/cu128", "explicit": True}
    ]
    assert data["tool"]["uv"]["sources"] == {
        "torch": {"index": "lockgen-cu128"},
        "torchvision": {"index": "lockgen-cu128"},
    }
    removed = tomllib.loads(set_cuda_index(with_index, None, None, []))
    assert "index" not in removed["tool"]["uv"] and "sources" not in removed["tool"]["uv"]


def test_cuda_index_keeps_the_users_index_and_sources() -> None:
    text = (
        ROOT
        + '\n[[tool.uv.index]]\nname = "corp"\nurl = "https://corp/simple"\n'
        + '\n[tool.uv.sources]\nmylib = { index = "corp" }\n'
    )
    out = tomllib.loads(
        set_cuda_index(set_cuda_index(text, "lockgen-cu126", "https://x/cu126", ["torch"]), None, None, [])
    )
    assert out["tool"]["uv"]["index"] == [{"name": "corp", "url": "https://corp/simple"}]
    assert out["tool"]["uv"]["sources"] == {"mylib": {"index": "corp"}}


def _strip(data: dict, paths: list[tuple[str, ...]]) -> dict:
    import copy

    d = copy.deepcopy(data)
    for p in paths:
        t = d
        for k in p[:-1]:
            t = t.get(k, {})
        t.pop(p[-1], None)
    return d


names = st.sampled_from(["nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime", "cuda-toolkit", "xformers"])
specs = st.sampled_from(["<0", "<12.9", ">=12.8,<13.1", "!=0.0.35"])


@given(st.lists(st.tuples(names, specs).map("".join), max_size=4))
def test_constraint_edit_round_trips_everything_else(entries: list[str]) -> None:
    original = (REPO / "pyproject.toml").read_text()
    edited = set_managed_constraints(original, entries)
    before, after = tomllib.loads(original), tomllib.loads(edited)
    keys = [("tool", "uv", "constraint-dependencies"), ("tool", "lockgen", "managed-constraints")]
    assert _strip(before, keys) == _strip(after, keys)
    # and undoing it gives the original bytes back when the original had no managed entries
    if "managed-constraints" not in before.get("tool", {}).get("lockgen", {}):
        assert set_managed_constraints(edited, []) == original


@given(st.dictionaries(st.sampled_from(["torch", "vllm"]), st.sampled_from(["==2.10.0", "==0.19.1", None]), max_size=2))
def test_requirement_edit_touches_only_named_entries(specs: dict) -> None:
    original = (REPO / "workspaces/serve/pyproject.toml").read_text()
    edited = set_requirements(original, specs)
    before, after = tomllib.loads(original), tomllib.loads(edited)
    keys = [("project", "dependencies"), ("tool", "lockgen", "ranges")]
    assert _strip(before, keys) == _strip(after, keys)
    assert len(before["project"]["dependencies"]) == len(after["project"]["dependencies"])
