"""Issue 16 item 1: every README command block marked `<!-- runnable -->` is run, so the quickstart stays true; and
every docs/ link in the README points at a file that exists."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def runnable_blocks() -> list[str]:
    return re.findall(r"<!-- runnable -->\n```sh\n(.*?)\n```", README, flags=re.S)


def test_the_readme_marks_its_quickstart_runnable_and_stays_short() -> None:
    assert runnable_blocks(), "the quickstart block lost its <!-- runnable --> marker"
    assert len(README.splitlines()) <= 90


def test_every_docs_link_exists() -> None:
    links = re.findall(r"\]\(((?:docs/)[^)#]+)\)", README)
    assert links and all((REPO / link).is_file() for link in links), links


@pytest.mark.uv
@pytest.mark.slow
@pytest.mark.parametrize("block", runnable_blocks())
def test_runnable_readme_block(block: str, tmp_path: Path) -> None:
    """Each line as a user types it (the `uv` the tests use stands in for the user's), stopping at the first failure."""
    from lockgen.seams.uvtool import find_uv

    script = "set -e\n" + "\n".join(
        re.sub(r"^uv ", '"$UV_BIN" ', line.replace("/tmp/quick", str(tmp_path / "quick")))
        for line in block.splitlines()
    )
    env = {**os.environ, "UV_BIN": find_uv()}
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
