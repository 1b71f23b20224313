"""One rule registry: every rule function in lockgen/rules is listed in lockgen.rules.registry, `lockgen check --help`
prints the registry, and docs/commands.md names the same rules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from lockgen.cli import main
from lockgen.rules.registry import PROJECT_RULES, REGISTRY, rule_names

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "lockgen" / "src" / "lockgen" / "rules"


def rule_functions() -> set[str]:
    """`module:function` for every top-level `rule_*` function defined under lockgen/rules (aliases excluded)."""
    out = set()
    for path in RULES_DIR.glob("*.py"):
        if path.stem in ("registry", "checking"):
            continue
        module = "lockgen.rules" if path.stem == "__init__" else f"lockgen.rules.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("rule_"):
                out.add(f"{module}:{node.name}")
    return out


def test_every_rule_function_is_registered() -> None:
    registered = {f"{e.check.__module__}:{e.check.__name__}" for e in REGISTRY if e.check is not None}
    assert rule_functions() == registered


def test_names_are_unique_and_help_is_one_line() -> None:
    names = rule_names()
    assert len(names) == len(set(names))
    for e in REGISTRY:
        assert e.help.strip() and "\n" not in e.help, e.names
    assert {"strict-pin", "index", "hash", "source"} == PROJECT_RULES


def test_check_help_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for e in REGISTRY:
        assert ", ".join(e.names) in out
        assert " ".join(e.help.split()) in out, e.names


def test_docs_name_the_registered_rules() -> None:
    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    para = text[text.index("Rules (lockgen/rules/registry.py") :]
    para = para[: para.index("\n\n")]
    documented = re.findall(r"`([a-z][a-z-]*)`\s+\(", para)
    assert len(documented) == len(set(documented))
    assert set(documented) == set(rule_names())
