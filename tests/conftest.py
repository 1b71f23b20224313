"""Shared fixtures: a disposable copy of the frozen workspace, and uv's location."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import copy_workspace, require_uv
from hypothesis import settings

# No per-example deadline: on a 2-core machine shared with uv runs, timing says nothing about correctness.
settings.register_profile("lockgen", deadline=None)
settings.load_profile("lockgen")

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def workspace_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the frozen workspace (tests/fixtures/workspace)."""
    return copy_workspace(tmp_path / "ws")


@pytest.fixture
def uv_bin() -> str:
    """The uv binary lockgen would use; skip when none is installed."""
    return require_uv()


# The default lane (`pytest -m "not slow"`) must stay under 2 minutes on 2 shared cores: a test that runs uv, takes
# over 1.5 s or reaches PyPI is `slow`, and CI runs both lanes. Every `uv` test is slow here, in one place; the
# summary names any other test that took over SLOW_SECONDS (twice the rule, so a busy machine does not cry wolf).
SLOW_SECONDS = 3.0
_unmarked_slow: list[tuple[str, float]] = []


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("uv") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.duration > SLOW_SECONDS and "slow" not in report.keywords:
        _unmarked_slow.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _unmarked_slow:
        terminalreporter.write_sep("-", f"over {SLOW_SECONDS:.0f} s and not marked slow (mark them)")
        for nodeid, seconds in sorted(_unmarked_slow, key=lambda t: -t[1]):
            terminalreporter.write_line(f"{seconds:6.2f}s {nodeid}")
