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


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose(path: Path) -> str:
    """A markdown file without its fenced code blocks (sample output may name what is not a repository path)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    return {
        re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{1,6}\s+(.+)$", prose(path), flags=re.M)
    }


def test_every_relative_link_in_the_docs_resolves() -> None:
    # newcomer trial: README.md and docs/*.md link to each other; a link to a file or heading that moved is dead
    dead = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc)):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, heading = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists() or (heading and path.suffix == ".md" and heading not in anchors(path)):
                dead.append(f"{doc.relative_to(REPO)}: {target}")
    assert not dead


def test_every_repository_path_the_docs_name_exists() -> None:
    # newcomer trial: after the layout move docs/verify.md named `lockgen/verify_probe.py` and docs/explain.md
    # `lockgen/tables/data/...`, paths a reader cannot open
    pattern = r"(lockgen|tests|workspaces|scripts|nix|notebooks|benchmarks|docs|\.ci)/[\w./-]+"
    missing = [
        f"{doc.relative_to(REPO)}: {span}"
        for doc in DOCS
        for span in re.findall(r"`([^`\n]+)`", prose(doc))
        if re.fullmatch(pattern, span) and not (REPO / span.rstrip("/")).exists()
    ]
    assert not missing


def member_commands() -> list[tuple[str, list[str]]]:
    """(program, arguments) of every `lockgen run MEMBER -- PROGRAM ...` line in the README's sh blocks."""
    import shlex

    out = []
    for block in re.findall(r"```sh\n(.*?)\n```", README, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "lockgen" in words and words[words.index("lockgen") + 1 :][:1] == ["run"] and "--" in words:
                rest = words[words.index("--") + 1 :]
                out.append((rest[0], rest[1:]))
    return out


def test_every_member_flag_the_readme_names_exists() -> None:
    # newcomer trial: the quickstart's train-lora, serve and serve-client lines (not run: a Hub download, a GPU) must
    # at least name flags their programs accept
    import sys

    for src in (REPO / "workspaces/train/src", REPO / "workspaces/serve/src"):
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
    from serve.client import build_parser as client_parser
    from serve.config import build_parser as serve_parser
    from train.config import build_parser as train_parser
    from train.smoke import build_parser as train_smoke_parser

    parsers = {"train-lora": train_parser, "serve": serve_parser, "serve-client": client_parser}
    parsers["train-smoke"] = train_smoke_parser
    seen = set()
    for program, args in member_commands():
        if program in parsers:
            parsers[program]().parse_args(args)  # exits 2 on a flag that does not exist
            seen.add(program)
    assert {"train-lora", "serve", "serve-client", "train-smoke"} <= seen


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
