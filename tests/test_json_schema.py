"""`check --json` and `matrix --json` fields are stable for CI dashboards (issue 16 item 5): the field set and
types of both documents are pinned in tests/fixtures/json/schema-1.json and every pinned field is described in
docs/json.md. A field added, removed or retyped fails here until the pin and the documentation say so (a removal or
a change of meaning also raises "schema", lockgen.ui.JSON_SCHEMA).

check runs on real projects' locks (tests/fixtures/projects, provenance in each PROVENANCE.toml); matrix on the
generated world of tests/test_matrix.py (real uv, offline) - see test_matrix.py::test_json_fields_are_the_pinned_ones.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from jsonshape import compare, merge, shape
from lockgen.cli import main
from lockgen.ui import JSON_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"
PIN = json.loads((FIXTURES / "json" / "schema-1.json").read_text(encoding="utf-8"))
DOCS = Path(__file__).parent.parent / "docs" / "json.md"


def check_json(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    main(["-C", str(root), "check", "--no-uv", "--json"])
    out, err = capsys.readouterr()
    return json.loads(out)


def fixture_copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / "projects" / name, dest)
    return dest


def test_check_fields_are_the_pinned_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # mjlab: strict-pin and hash violations naming a package and a member; lerobot: 59 environments with extras and
    # groups; nanochat under policy "minor" with a toolchain file no pinned input has: warnings and notes
    docs = [check_json(fixture_copy(n, tmp_path), capsys) for n in ("mjlab", "lerobot")]
    nano = fixture_copy("nanochat", tmp_path)
    with (nano / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('\n[tool.lockgen]\npolicy = "minor"\n')
    (nano / "nix").mkdir()
    (nano / "nix" / "toolchain.json").write_text(
        '{"default": {"input": null, "missing": "no pinned nixpkgs input has cudaPackages_12_8"}}', encoding="utf-8"
    )
    docs.append(check_json(nano, capsys))
    assert docs[2]["warnings"] and docs[2]["notes"] and docs[0]["violations"], "the fixtures exercise every list"
    observed = merge(*(shape(d, set(PIN["check"]["maps"])) for d in docs))
    assert compare(observed, PIN["check"]["fields"]) == []
    assert all(d["schema"] == JSON_SCHEMA == PIN["schema"] for d in docs)


def test_check_verdicts_agree_with_the_violations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The per-environment verdict and the summary are read from the same document's violations and platforms."""
    doc = check_json(fixture_copy("mjlab", tmp_path), capsys)
    named = {v["member"] for v in doc["violations"]}
    for env in doc["environments"]:
        rules = sorted({v["rule"] for v in doc["violations"] if v["member"] == env["project"]})
        assert env["project_rules"] == rules
        platforms = [p["in_window"] for p in env["platforms"] if p["in_window"] is not None]
        assert env["in_window"] == (all(platforms) if platforms else None)
        assert env["ok"] == (env["project"] not in named and env["in_window"] is not False)
    assert doc["summary"]["by_rule"] == {"hash": 1, "strict-pin": 2}  # mjlab's EXPECTED.toml findings
    assert doc["summary"]["violations"] == len(doc["violations"]) == 3
    assert doc["summary"]["environments_ok"] == sum(e["ok"] for e in doc["environments"])
    from lockgen.rules.registry import rule_names

    rules = {r["rule"]: r for r in doc["rules"]}
    assert list(rules) == list(rule_names())
    assert {n: r["violations"] for n, r in rules.items() if r["violations"]} == doc["summary"]["by_rule"]
    assert rules["lock-fresh"]["decided"] is False and rules["strict-pin"]["decided"] is True  # --no-uv
    import hashlib

    assert doc["lock"]["sha256"] == hashlib.sha256((tmp_path / "mjlab" / "uv.lock").read_bytes()).hexdigest()


def documented_fields(text: str, section: str) -> set[str]:
    """The field paths in the first column of the tables under `## section`."""
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", body, re.MULTILINE)}


@pytest.mark.parametrize("document", ["check", "matrix"])
def test_every_pinned_field_is_documented(document: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert documented_fields(text, f"`{document} --json`") == set(PIN[document]["fields"])
    assert f'"schema": {JSON_SCHEMA}' in text
