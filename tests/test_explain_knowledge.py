"""A team's own error knowledge (issue 14, item 3): `[tool.lockgen] knowledge = "path.toml"` in the root pyproject
names a file in the format of tables/data/errors.toml; explain merges it with the built-in knowledge, says which file a
match came from, and refuses a bad file with exit 2 naming the file and the key. lockgen's fleet reader ignores the
key (it only reads the keys it knows), so `check` and the workspace are unaffected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fakes import WORKSPACE_CUDA13
from lockgen.cli import main
from lockgen.model.workspace import load_workspace
from lockgen.ops.explain import KnowledgeFileError, load_catalog, load_user_catalog

TEAM = """
[categories.cluster]
title = "our cluster's own failures"
branch = "Runtime errors during training/inference > Unexpected behavior"

[[class]]
id = "team-lustre-stale"
category = "cluster"
title = "the Lustre mount went stale under the checkpoint directory"
patterns = ['''Stale file handle[^\\n]{0,80}/lustre/''']
cause = "The node's Lustre client lost its mount while saving a checkpoint."
fix_uv = ["remount: sudo systemctl restart lustre-client, then resume from the last checkpoint"]
fix_pip = ["same"]
source = "https://wiki.example.org/runbooks/lustre"

[[class]]
id = "team-oom-on-a10"
category = "cuda_oom"
title = "our A10 nodes run out of memory with the default batch"
patterns = ['''CUDA out of memory[^\\n]{0,200}22\\.\\d{1,2} GiB''']
priority = 90
cause = "The team's A10 nodes (22 GiB) cannot hold the default batch of 8; the runbook batch is 2."
fix_uv = ["per_device_train_batch_size=2, gradient_accumulation_steps=4 (runbook: known-good on A10)"]
fix_pip = ["same"]
source = "https://wiki.example.org/runbooks/a10"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(WORKSPACE_CUDA13, root)
    return root


def set_knowledge(root: Path, value: str) -> None:
    p = root / "pyproject.toml"
    p.write_text(p.read_text().replace("[tool.lockgen]\n", f"[tool.lockgen]\nknowledge = {value}\n", 1))


def run(root: Path, text: str, tmp_path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    err = tmp_path / "err.txt"
    err.write_text(text)
    code = main(["-C", str(root), "explain", str(err), "--no-host", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_team_classes_are_merged_and_the_answer_names_their_file(workspace, tmp_path, capsys):
    (workspace / "team-errors.toml").write_text(TEAM)
    set_knowledge(workspace, '"team-errors.toml"')
    code, out, _ = run(
        workspace, "OSError: [Errno 116] Stale file handle: '/lustre/ckpt/step-100'", tmp_path, capsys, "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["class"] == "team-lustre-stale" and doc["knowledge_file"] == "team-errors.toml"
    assert doc["category"] == "cluster"
    # a team class in a built-in category wins by priority, and the text answer names the file
    text = "torch.OutOfMemoryError: CUDA out of memory. GPU 0 has a total capacity of 22.19 GiB of which 0 is free"
    code, out, _ = run(workspace, text, tmp_path, capsys)
    assert code == 0 and "knowledge: team-errors.toml" in out and "batch is 2" in out
    # built-in classes still answer, from the built-in file
    code, out, _ = run(workspace, "AssertionError: Torch not compiled with CUDA enabled", tmp_path, capsys)
    assert code == 0 and "knowledge: lockgen/tables/data/errors.toml" in out


@pytest.mark.parametrize(
    ("content", "file", "key", "words"),
    [
        ("[[class]]\nid = 'x'\n", "team-errors.toml", "class[0].category", "missing"),
        (TEAM.replace("[^\\n]{0,80}", ".*"), "team-errors.toml", "class[0].patterns[0]", "unbounded repetition"),
        (TEAM.replace("Stale file handle", "Stale (file"), "team-errors.toml", "class[0].patterns[0]", "invalid regex"),
        (TEAM.replace("team-lustre-stale", "cuda-oom"), "team-errors.toml", "class[0].id", "already a built-in"),
        (TEAM.replace('category = "cluster"', 'category = "nope"'), "team-errors.toml", "class[0].category", "unknown"),
        (TEAM.replace("https://wiki", "wiki"), "team-errors.toml", "class[0].source", "URL"),
        (TEAM.replace("priority = 90", "priority = 'high'"), "team-errors.toml", "class[1].priority", "integer"),
        (
            TEAM.replace('title = "the Lustre', 'tilte = "the Lustre'),
            "team-errors.toml",
            "class[0].tilte",
            "unknown key",
        ),
        ("[[class]\n", "team-errors.toml", "(file)", "not valid TOML"),
    ],
)
def test_a_bad_knowledge_file_exits_2_naming_the_file_and_the_key(
    workspace, tmp_path, capsys, content, file, key, words
):
    (workspace / "team-errors.toml").write_text(content)
    set_knowledge(workspace, '"team-errors.toml"')
    code, _, err = run(workspace, "RuntimeError: No CUDA GPUs are available", tmp_path, capsys)
    assert code == 2
    assert f"{file}: {key}:" in err and words in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("value", "words"),
    [('"missing.toml"', "'missing.toml' cannot be read"), ("5", "expected a path"), ('""', "expected a path")],
)
def test_a_bad_knowledge_key_exits_2_naming_pyproject_and_the_key(workspace, tmp_path, capsys, value, words):
    set_knowledge(workspace, value)
    code, _, err = run(workspace, "RuntimeError: No CUDA GPUs are available", tmp_path, capsys)
    assert code == 2 and "pyproject.toml: tool.lockgen.knowledge:" in err and words in err, err


def test_the_fleet_reader_ignores_the_knowledge_key(workspace):
    before = load_workspace(workspace).fleet
    (workspace / "team-errors.toml").write_text(TEAM)
    set_knowledge(workspace, '"team-errors.toml"')
    assert load_workspace(workspace).fleet == before


def test_merge_keeps_the_built_in_knowledge_and_adds_the_team_file():
    base = load_catalog()
    merged = load_user_catalog("team.toml", TEAM, base)
    assert len(merged.classes) == len(base.classes) + 2
    assert {c.origin for c in merged.classes[-2:]} == {"team.toml"}
    assert "cluster" in merged.categories and "cuda_oom" in merged.categories
    assert merged.files[-1] == "team.toml"
    with pytest.raises(KnowledgeFileError):
        load_user_catalog("team.toml", TEAM, merged)  # the same ids twice
