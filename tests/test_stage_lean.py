"""The lean staging copy (issue 15, bump speed): a workspace whose metadata uv reads without building gets only what
uv and lockgen read - never the rest of the repository - and anything uv would build, or a relative local path it
would follow, still gets the whole tree (tests/test_uv_failures.py covers that copy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lockgen.model.workspace import load_workspace
from lockgen.seams.stage import stage_copy

ROOT = """\
[project]
name = "ws"
version = "0"
requires-python = ">=3.12"
dependencies = []
{root_extra}
[tool.uv]
package = false
{uv_extra}
[tool.uv.workspace]
members = ["members/*"]

[tool.lockgen]
driver = "580.65.06"
gpus = ["H100"]
notebooks = [{{ path = "notebooks/nb.py", member = "app" }}]
"""
LOCK = """\
version = 1
revision = 3
requires-python = ">=3.12"

[manifest]
members = ["app", "ws"]

[[package]]
name = "app"
version = "1"
source = {{ editable = "members/app" }}
{app_deps}
[[package]]
name = "ws"
version = "0"
source = {{ virtual = "." }}
{lib}"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make(tmp: Path, member: str = 'version = "1"', root_extra: str = "", uv_extra: str = "", lib: str = "") -> Path:
    """A git repository holding a workspace (root + member `app`, a notebook, a toolchain file) and a large
    unrelated folder, like this repository's test fixtures."""
    repo = tmp / "repo"
    (repo / "members/app/src/app").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(ROOT.format(root_extra=root_extra, uv_extra=uv_extra))
    (repo / "members/app/pyproject.toml").write_text(f'[project]\nname = "app"\n{member}\ndependencies = []\n')
    (repo / "members/app/src/app/__init__.py").write_text("")
    app_deps = ""
    if lib:
        (repo / "libs/lib").mkdir(parents=True)
        (repo / "libs/lib/pyproject.toml").write_text(f'[project]\nname = "lib"\n{lib}\n')
        app_deps = 'dependencies = [{ name = "lib" }]\n'
        lib = '\n[[package]]\nname = "lib"\nversion = "1"\nsource = { directory = "libs/lib" }\n'
    (repo / "uv.lock").write_text(LOCK.format(app_deps=app_deps, lib=lib))
    (repo / "notebooks").mkdir()
    (repo / "notebooks/nb.py").write_text("# notebook\n")
    (repo / "nix").mkdir()
    (repo / "nix/toolchain.json").write_text("{}\n")
    (repo / "tests/fixtures/big").mkdir(parents=True)
    for i in range(20):
        (repo / f"tests/fixtures/big/f{i}.bin").write_bytes(b"x" * 10_000)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return repo


def staged(repo: Path, tmp: Path) -> set[str]:
    dest = tmp / "stage"
    dest.mkdir()
    copy = stage_copy(repo, dest, load_workspace(repo))
    return {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file() and ".git/" not in str(p)} | (
        {".git"} if (copy / ".git").exists() else set()
    )


def test_a_static_workspace_gets_a_lean_copy(tmp_path: Path) -> None:
    files = staged(make(tmp_path), tmp_path)
    for rel in ("pyproject.toml", "uv.lock", "members/app/pyproject.toml", "members/app/src/app/__init__.py"):
        assert rel in files, rel
    assert {"notebooks/nb.py", "nix/toolchain.json"} <= files  # what lockgen itself rewrites
    assert not any(f.startswith("tests/") for f in files) and ".git" not in files


def test_an_in_tree_path_dependency_comes_along(tmp_path: Path) -> None:
    files = staged(make(tmp_path, lib='version = "1"'), tmp_path)
    assert "libs/lib/pyproject.toml" in files and not any(f.startswith("tests/") for f in files)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"member": 'dynamic = ["version"]'},  # uv builds the member for its version (maybe from git tags)
        {"lib": 'dynamic = ["version"]'},  # and a local path dependency likewise
        {"root_extra": '\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'},
        {"uv_extra": 'find-links = ["./wheels"]'},  # a relative local path uv follows
    ],
    ids=["dynamic-member", "dynamic-path-dependency", "packaged-root", "relative-find-links"],
)
def test_what_uv_would_build_or_follow_gets_the_whole_tree(tmp_path: Path, kwargs: dict[str, str]) -> None:
    if "root_extra" in kwargs:  # a packaged root: `package = false` would turn the build off again
        repo = make(tmp_path, **kwargs)
        text = (repo / "pyproject.toml").read_text().replace("package = false\n", "")
        (repo / "pyproject.toml").write_text(text)
    else:
        repo = make(tmp_path, **kwargs)
    files = staged(repo, tmp_path)
    assert "tests/fixtures/big/f0.bin" in files and ".git" in files
