"""Steering is on unless the caller opts out: `relock()` with no hooks still excludes what the tables say.

Before, `relock(root, request)` (pre_exclude=None, steer=None) silently skipped both steering hooks; only the CLI
passed them. Each test stops at the first uv run (the runner raises), after the hooks have been consulted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import WORKSPACE_CUDA13
from lockgen.model.workspace import Workspace
from lockgen.ops.resolve import Request, relock
from lockgen.plan import hidden
from lockgen.plan.exclusions import PreExclusion


class UvCalled(Exception):
    pass


def stop(*args: Any, **kwargs: Any) -> Any:
    raise UvCalled


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def pre_exclude(ws: Workspace, table: Any = None) -> list[PreExclusion]:
        calls.append("pre_exclude")
        return []

    monkeypatch.setattr(hidden, "pre_exclude", pre_exclude)
    return calls


def copy(tmp_path: Path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(WORKSPACE_CUDA13, dest)
    return dest


def test_relock_steers_by_default(tmp_path: Path, seen: list[str]) -> None:
    with pytest.raises(UvCalled):
        relock(copy(tmp_path), Request("lock"), runner=stop)
    assert seen == ["pre_exclude"]


def test_steering_off_only_when_asked(tmp_path: Path, seen: list[str]) -> None:
    with pytest.raises(UvCalled):
        relock(copy(tmp_path), Request("lock"), runner=stop, pre_exclude=None, steer=None)
    assert seen == []
