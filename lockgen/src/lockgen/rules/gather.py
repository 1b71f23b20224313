"""Rules contributed by other modules (the Nix toolchain rule), collected without import cycles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def extra_rules() -> list[Callable[[Any], list[Any]]]:
    """Rules beyond lockgen.rules.RULES that are available in this installation."""
    from lockgen.ops.notebooks import rule_notebooks
    from lockgen.ops.toolchain import rule_toolchain
    from lockgen.plan.hidden import rule_hidden_req
    from lockgen.plan.steering import rule_build_cuda

    return [rule_build_cuda, rule_toolchain, rule_notebooks, rule_hidden_req]


def extra_warnings() -> list[Callable[[Any], list[Any]]]:
    """Checks that warn and never fail: the Nix toolchain's missing CUDA sets (Nix never vetoes a lock)."""
    from lockgen.ops.toolchain import toolchain_warnings

    return [toolchain_warnings]
