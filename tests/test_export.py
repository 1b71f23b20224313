"""`lockgen export`: PEP 723 blocks (found, written, updated byte-exactly), the pins (against `uv export`, computed
independently from uv.lock), Colab lines, and the notebook whose header lockgen maintains."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from helpers import WORKSPACE
from hypothesis import given
from hypothesis import strategies as st
from lockgen.cli import main
from lockgen.errors import InputError
from lockgen.model.lockfile import parse_lock
from lockgen.plan.export import (
    MemberExport,
    Pin,
    classify_requirements,
    find_script_block,
    member_export,
    render_colab,
    render_script_toml,
    script_pins,
    update_script_block,
)
from packaging.requirements import Requirement

ROOT = WORKSPACE  # the frozen copy of this repository's workspace (read only), not the live lock
NOTEBOOK = ROOT / "notebooks" / "train_smoke.py"
REPO_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "train_smoke.py"  # the repository's own
PYPI = "https://pypi.org/simple"
CU = "https://download.pytorch.org/whl/cu128"


def _pkg(name: str, version: str, deps: list[dict[str, str]] | None = None, registry: str = PYPI) -> dict:
    return {"name": name, "version": version, "source": {"registry": registry}, "dependencies": deps or []}


# A small lock: `app` needs torch (from a CUDA index) everywhere and xformers only on x86_64; `util` is the
# workspace's own library (editable) and must not be pinned.
LOCK = parse_lock(
    {
        "version": 1,
        "revision": 3,
        "requires-python": "==3.12.*",
        "package": [
            {
                "name": "app",
                "version": "0.1.0",
                "source": {"editable": "app"},
                "dependencies": [
                    {"name": "torch"},
                    {"name": "xformers", "marker": "platform_machine == 'x86_64'"},
                    {"name": "util"},
                ],
            },
            {"name": "util", "version": "0.1.0", "source": {"editable": "util"}, "dependencies": [{"name": "numpy"}]},
            _pkg("torch", "2.9.0+cu128", [{"name": "numpy"}], registry=CU),
            _pkg("xformers", "0.0.33"),
            _pkg("numpy", "2.3.0"),
        ],
    }
)
EXPORT = member_export(LOCK, "app", {CU: "pytorch-cu128"})
# the lock has no supported-markers: both Linux machines lockgen exports; written out here, not computed
ALL = "sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')"
X86 = "sys_platform == 'linux' and platform_machine == 'x86_64'"


def test_member_export_pins_markers_and_indexes() -> None:
    assert EXPORT.pins == (
        Pin("numpy", "2.3.0", marker=ALL),
        Pin("torch", "2.9.0+cu128", marker=ALL, index=CU),
        Pin("xformers", "0.0.33", marker=X86),
    )
    assert [(i.name, i.url) for i in EXPORT.indexes] == [("pytorch-cu128", CU)]
    assert EXPORT.skipped == ("util",)
    assert EXPORT.requires_python == "==3.12.*"


def test_script_toml_declares_the_index_and_routes_torch_to_it() -> None:
    data = tomllib.loads(render_script_toml(EXPORT))
    assert data["requires-python"] == "==3.12.*"
    assert data["dependencies"] == [
        f"numpy==2.3.0 ; {ALL}",
        f"torch==2.9.0+cu128 ; {ALL}",
        f"xformers==0.0.33 ; {X86}",
    ]
    assert data["tool"]["uv"]["index"] == [{"name": "pytorch-cu128", "url": CU, "explicit": True}]
    assert data["tool"]["uv"]["sources"] == {"torch": {"index": "pytorch-cu128"}}


def test_update_keeps_unlocked_requirements_and_other_keys_and_drops_locked_ones() -> None:
    old = (
        'dependencies = ["marimo==0.25.2", "numpy>=1", "app", "polars"]\n'
        'requires-python = ">=3.10"\n'
        "[tool.marimo]\n"
        'width = "full"\n'
    )
    data = tomllib.loads(render_script_toml(EXPORT, old))
    assert data["dependencies"][:2] == [f"marimo==0.25.2 ; {ALL}", f"polars ; {ALL}"]
    assert not any(d.startswith(("numpy>=1", "app")) for d in data["dependencies"])
    assert data["requires-python"] == "==3.12.*"
    assert data["tool"]["marimo"] == {"width": "full"}


def test_update_drops_lockgen_indexes_no_longer_needed_and_keeps_the_users() -> None:
    first = render_script_toml(member_export(LOCK, "app"))  # the CUDA index gets a generated lockgen- name
    assert tomllib.loads(first)["tool"]["uv"]["sources"] == {"torch": {"index": "lockgen-whl-cu128"}}
    user = '[[tool.uv.index]]\nname = "mine"\nurl = "https://example.org/simple"\n'
    later = MemberExport("app", "==3.12.*", (Pin("torch", "2.10.0"),), (), ())  # torch now from PyPI
    data = tomllib.loads(render_script_toml(later, first + user))
    assert data["dependencies"] == ["torch==2.10.0"]
    assert data["tool"]["uv"]["index"] == [{"name": "mine", "url": "https://example.org/simple"}]
    assert "sources" not in data["tool"]["uv"]


def test_user_requirements_survive_and_pins_that_left_the_lock_go() -> None:
    first = render_script_toml(EXPORT, 'dependencies = ["marimo==0.25.2"]\n')
    assert tomllib.loads(first)["tool"]["lockgen"]["export"] == {"member": "app", "extra": ["marimo==0.25.2"]}
    # later someone adds polars to the block by hand; then the lock drops xformers and moves numpy on
    gated = f'"marimo==0.25.2 ; {ALL}",'
    assert gated in first
    edited = first.replace(gated, gated + '\n    "polars>=1",\n    "rich==14.0.0",')
    assert tomllib.loads(edited)["dependencies"][1:3] == ["polars>=1", "rich==14.0.0"]
    later = MemberExport("app", "==3.12.*", (Pin("numpy", "2.4.0"), Pin("torch", "2.9.0+cu128")), (), ())
    kept, dropped = classify_requirements(edited, later)
    assert kept == ("marimo==0.25.2", "polars>=1")
    # an exact pin lockgen did not record reads as one of its old pins: dropped, and said so
    assert dropped == ("rich==14.0.0", f"xformers==0.0.33 ; {X86}")
    deps = tomllib.loads(render_script_toml(later, edited))["dependencies"]
    assert deps == [f"marimo==0.25.2 ; {ALL}", f"polars>=1 ; {ALL}", "numpy==2.4.0", "torch==2.9.0+cu128"]


NOTEBOOK_BODY = (
    'import marimo\n\napp = marimo.App()\n\n\n@app.cell\ndef _():\n    x = "# /// not a block"\n    return\n'
)


def test_block_is_inserted_at_the_top_and_the_rest_kept() -> None:
    out = update_script_block(NOTEBOOK_BODY, EXPORT)
    assert out.startswith("# /// script\n# # lockgen export")
    assert out.endswith("# ///\n\n" + NOTEBOOK_BODY)
    assert script_pins(out) == tuple(p.requirement() for p in EXPORT.pins)


def test_block_goes_after_a_shebang_and_encoding_line() -> None:
    text = "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(1)\n"
    out = update_script_block(text, EXPORT)
    assert out.startswith("#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# /// script\n")
    assert out.endswith("# ///\n\nprint(1)\n")


def test_existing_block_is_replaced_in_place_crlf_kept() -> None:
    before = "# a comment\r\n\r\n"
    after = "\r\nimport marimo\r\nx = 1  # trailing\r\n"
    text = before + '# /// script\r\n# dependencies = ["old==1"]\r\n# ///\r\n' + after
    out = update_script_block(text, EXPORT)
    assert out.startswith(before + "# /// script\r\n")
    assert out.endswith("# ///\r\n" + after)
    block = out[len(before) : len(out) - len(after)]
    assert "\n" not in block.replace("\r\n", "")  # every line of the new block ends in CRLF too
    assert update_script_block(out, EXPORT) == out


def test_find_script_block_follows_pep_723() -> None:
    text = "x = 1\n# /// script\n# a = 1\n#\n# ///\n# trailing comment\n# ///\ny = 2\n"
    block = find_script_block(text)
    assert block is not None
    # the block runs to the LAST `# ///` of the comment run, as PEP 723's reference regex does
    assert text[block.start : block.end] == "# /// script\n# a = 1\n#\n# ///\n# trailing comment\n# ///\n"
    assert block.toml == "a = 1\n\n///\ntrailing comment\n"
    assert find_script_block("print('no block')\n") is None


def test_two_script_blocks_or_an_unclosed_one_are_errors() -> None:
    two = "# /// script\n# a = 1\n# ///\n\n# /// script\n# b = 2\n# ///\n"
    with pytest.raises(InputError, match="appears more than once"):
        find_script_block(two, "nb.py")
    with pytest.raises(InputError, match="nb.py: line 2: `# /// script` block is never closed"):
        find_script_block("x = 1\n# /// script\n# a = 1\nprint(2)\n", "nb.py")


def test_other_pep723_block_types_are_left_alone() -> None:
    text = "# /// pyproject\n# x = 1\n# ///\nprint()\n"
    out = update_script_block(text, EXPORT)
    assert out.endswith("\n" + text)


# one line of text: no character that str.splitlines() treats as a line break
NOT_BREAKS = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
)
line_text = st.text(alphabet=NOT_BREAKS, max_size=30)


@given(st.lists(line_text.filter(lambda s: not s.startswith("# ///")), max_size=12))
def test_update_changes_only_the_block(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    once = update_script_block(text, EXPORT)
    assert update_script_block(once, EXPORT) == once
    block = find_script_block(once)
    assert block is not None
    rest = once[: block.start] + once[block.end :]
    # inserted at the top: the original follows the block (after one separating newline when needed)
    assert rest == text or rest == "\n" + text


def cell_values(cell: str) -> dict[str, object]:
    """The constants (PINS, INDEXES, ...) of an install cell, read with ast (the cell is not run)."""
    import ast

    out = {}
    for node in ast.parse(cell).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper():
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_colab_cell_pins_the_x86_64_closure() -> None:
    values = cell_values(render_colab(LOCK, "app"))
    assert values["PINS"] == ["numpy==2.3.0", "torch==2.9.0+cu128", "xformers==0.0.33"]
    assert values["INDEXES"] == [CU]
    assert values["REQUIRES_PYTHON"] == "==3.12.*"
    assert "UV_CONSTRAINT" in values["CLEAR"] and "UV_BUILD_CONSTRAINT" in values["CLEAR"]


# --- the real lock, cross-checked with uv ---------------------------------------------------------------------------


def _uv() -> str:
    from lockgen.seams.uvtool import find_uv

    return find_uv()


def _uv_export(member: str) -> list[Requirement]:
    """What uv itself says the member installs, straight from uv.lock (no lockgen code involved)."""
    out = subprocess.run(
        [_uv(), "export", "--frozen", "--package", member, "--no-hashes", "--no-header", "--no-annotate",
         "--no-emit-workspace", "--format", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [Requirement(line) for line in out.splitlines() if line and not line.startswith(("#", " ", "-"))]


def _installed(reqs: list[Requirement], machine: str) -> set[tuple[str, str]]:
    env = {"platform_machine": machine, "sys_platform": "linux", "python_version": "3.12",
           "python_full_version": "3.12.0", "platform_system": "Linux", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}  # fmt: skip
    out = set()
    for r in reqs:
        if r.marker is None or r.marker.evaluate(env):
            (spec,) = r.specifier
            out.add((r.name.lower(), spec.version))
    return out


@pytest.mark.uv
@pytest.mark.parametrize("member", ["train", "serve"])
def test_pep723_pins_equal_uv_export_on_each_platform(member: str) -> None:
    from lockgen.model.lockfile import read_lock

    export = member_export(read_lock(ROOT / "uv.lock"), member)
    ours = [Requirement(p.requirement()) for p in export.pins]
    theirs = _uv_export(member)
    for machine in ("x86_64", "aarch64"):
        assert _installed(ours, machine) == _installed(theirs, machine), machine


@pytest.mark.uv
def test_notebook_header_matches_the_lock() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    pins = script_pins(text, str(NOTEBOOK))
    assert pins is not None, "notebooks/train_smoke.py has no # /// script block"
    block = find_script_block(text)
    assert block is not None
    data = tomllib.loads(block.toml)
    recorded = data["tool"]["lockgen"]["export"]
    assert recorded["extra"] == ["marimo==0.25.2", "ipython==9.18.1"]
    header = [Requirement(p) for p in pins]
    expected = _uv_export("train")
    locked_names = {r.name.lower() for r in expected}
    pinned = [r for r in header if r.name.lower() in locked_names]
    extras = {r.name for r in header if r.name.lower() not in locked_names}
    # only the notebook runtime (marimo, ipython) and what it needs, each pinned exactly, beside the locked pins
    assert extras == {"marimo", "ipython"} | {Requirement(p).name for p in recorded["extra-pins"]}
    assert {"marimo", "ipython", "starlette", "jedi"} <= extras
    assert all(p.startswith(("marimo==", "ipython==")) or "==" in p.split(";")[0] for p in recorded["extra-pins"])
    for machine in ("x86_64", "aarch64"):
        assert _installed(pinned, machine) == _installed(expected, machine), (
            f"{NOTEBOOK.name} header is stale for {machine}: run "
            "`lockgen export --member train --format pep723 -o notebooks/train_smoke.py`"
        )
    assert data["requires-python"] == "==3.12.*"
    assert (
        data["tool"]["uv"]["exclude-newer"] == tomllib.loads((ROOT / "uv.lock").read_text())["options"]["exclude-newer"]
    )


def test_notebook_is_a_marimo_app_with_the_smoke_cells() -> None:
    text = REPO_NOTEBOOK.read_text(encoding="utf-8")
    block = find_script_block(text)
    assert block is not None
    body = text[block.end :]
    assert "app = marimo.App(" in body and 'if __name__ == "__main__":\n    app.run()' in body
    assert "import unsloth" in body and "SFTTrainer(" in body and "get_peft_model(" in body
    compile(text, str(REPO_NOTEBOOK), "exec")


def _locked_version(member: str, name: str) -> str:
    (version,) = {v for n, v in _installed(_uv_export(member), "x86_64") if n == name}
    return version


@pytest.mark.uv
def test_cli_pep723_prints_the_block(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "pep723"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# /// script\n") and out.endswith("# ///\n")
    for name in ("torch", "unsloth", "trl", "transformers"):
        assert any(line.startswith(f'#     "{name}=={_locked_version("train", name)} ; ') for line in out.splitlines())


def test_cli_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = tmp_path / "nb.py"
    original = NOTEBOOK_BODY.encode()
    nb.write_bytes(original)
    argv = ["-C", str(ROOT), "export", "--member", "train", "--format", "pep723", "--into", str(nb)]
    assert main([*argv, "--check"]) == 1
    assert nb.read_bytes() == original  # --check never writes
    assert main(argv) == 0
    written = nb.read_bytes()
    assert written.endswith(b"\n" + original)
    assert main([*argv, "--check"]) == 0
    assert main(argv) == 0 and nb.read_bytes() == written
    capsys.readouterr()


def test_cli_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ROOT), "export", "--member", "nope", "--format", "pep723"]) == 2
    assert "no member 'nope' (members: " in capsys.readouterr().err
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "pep723", "--check"]) == 2
    nb = tmp_path / "two.py"
    nb.write_text("# /// script\n# a = 1\n# ///\n\n# /// script\n# b = 2\n# ///\n", encoding="utf-8")
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "pep723", "--into", str(nb)]) == 2
    assert "appears more than once" in capsys.readouterr().err


@pytest.mark.uv
def test_cli_requirements_through_uv_export(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "requirements"]) == 0
    out = capsys.readouterr().out
    assert f"\ntorch=={_locked_version('train', 'torch')} ;" in out and "--hash=sha256:" in out
    assert "-e ./workspaces/train" not in out


@pytest.mark.uv
def test_cli_pylock_through_uv_export(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ROOT), "export", "--member", "serve", "--format", "pylock"]) == 0
    data = tomllib.loads(capsys.readouterr().out)
    versions = {p["name"]: p["version"] for p in data["packages"]}
    assert versions["vllm"] == _locked_version("serve", "vllm")
    assert versions["torch"] == _locked_version("serve", "torch")
    assert "serve" not in versions
