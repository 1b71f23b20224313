"""Every check rule in one list: its name(s), its help line and its function.

`lockgen check` runs this list in order (lockgen.rules.checking), `lockgen check --help` prints it and
docs/commands.md names the same rules (tests/test_rule_registry.py compares them). A new rule is a module in
lockgen/rules/ with a function `Workspace -> list[Violation]`, and one entry here.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from lockgen.model.workspace import Workspace
from lockgen.rules import Rule, Violation, rule_cuda_window, rule_one_cuda, rule_sources, rule_strict_pins
from lockgen.rules.build_cuda import rule_build_cuda
from lockgen.rules.hidden import rule_hidden_req
from lockgen.rules.notebooks import rule_notebooks
from lockgen.rules.toolchain import rule_toolchain, toolchain_warnings


@dataclass(frozen=True)
class RuleEntry:
    """One rule: the names its violations carry, one help line, and the function that finds them."""

    names: tuple[str, ...]  # Violation.rule values ("index", "hash", "source" come from one function)
    help: str  # one line for `lockgen check --help`
    check: Rule | None  # None: lock-fresh, which runs uv (lockgen.rules.checking.run_check runs it unless --no-uv)
    notes: Rule | None = None  # findings that warn and never fail
    project: bool = False  # about how the project is written: lock/bump report it through `check`, never refuse


REGISTRY: tuple[RuleEntry, ...] = (
    RuleEntry(
        ("strict-pin",),
        "every direct dependency whose locked build is CUDA-specific (+cuXYZ, NVIDIA CUDA wheels as dependencies, "
        "-cu12 names, the build table) is pinned with ==; URL/git/path ones are exact already",
        rule_strict_pins,
        project=True,
    ),
    RuleEntry(("one-cuda",), "each environment resolves to one CUDA version per platform", rule_one_cuda),
    RuleEntry(
        ("cuda-window",),
        "that CUDA lies inside the fleet's window (driver and GPUs in [tool.lockgen])",
        rule_cuda_window,
    ),
    RuleEntry(
        ("index", "hash", "source"),
        "every registry artifact comes from PyPI, a declared index or [tool.lockgen] allowed-indexes; registry/URL "
        "artifacts carry a hash; git sources are locked to a commit (URL, path and workspace sources are accepted)",
        rule_sources,
        project=True,
    ),
    RuleEntry(
        ("build-cuda",),
        "compiled packages (tables/data/builds.toml) are built for torch's CUDA major and the fleet's driver",
        rule_build_cuda,
    ),
    RuleEntry(
        ("toolchain",),
        "nix/toolchain.json agrees with the lock and the pinned nixpkgs inputs (a CUDA set no input has is a "
        "warning: the lock is kept, `nix develop` for that member says what to add)",
        rule_toolchain,
        notes=toolchain_warnings,
    ),
    RuleEntry(
        ("notebook",),
        "notebooks listed in [tool.lockgen] notebooks carry the member's locked pins",
        rule_notebooks,
    ),
    RuleEntry(
        ("hidden-req",),
        "no locked pair matches a requirement the metadata hides (tables/data/hidden.toml: vllm <= 0.11.0 needs "
        "transformers < 5, ...), each with its source",
        rule_hidden_req,
    ),
    RuleEntry(
        ("lock-fresh",),
        "uv.lock matches the pyprojects (`uv lock --check --offline`; skip with --no-uv). Never goes online: when "
        "the cache cannot answer, a warning says so and the other rules still count",
        None,
    ),
)

PROJECT_RULES: frozenset[str] = frozenset(n for e in REGISTRY if e.project for n in e.names)


def rule_names() -> tuple[str, ...]:
    """Every name a violation of `lockgen check` can carry, in registry order."""
    return tuple(n for e in REGISTRY for n in e.names)


def run_rules(ws: Workspace, entries: tuple[RuleEntry, ...] = REGISTRY) -> list[Violation]:
    """Run every workspace rule (all but lock-fresh) and return all violations, in registry order."""
    return [v for e in entries if e.check is not None for v in e.check(ws)]


def run_notes(ws: Workspace, entries: tuple[RuleEntry, ...] = REGISTRY) -> list[Violation]:
    """The findings that warn and never fail, in registry order."""
    return [v for e in entries if e.notes is not None for v in e.notes(ws)]


def help_text(width: int = 118) -> str:
    """The rule list for `lockgen check --help`: each entry's names, then its help line wrapped under it."""
    lines = []
    indent = " " * 15
    for e in REGISTRY:
        names = ", ".join(e.names)
        head = f"  {names:<12} "
        if len(head) > len(indent):
            lines.append(f"  {names}")
            head = indent
        lines += textwrap.wrap(e.help, width, initial_indent=head, subsequent_indent=indent)
    return "\n".join(lines)
