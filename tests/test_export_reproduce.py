"""Exports that reproduce (issue 16 item 4): script headers gated by the lock's environments with its exclude-newer
and the workspace's constraints, the notebook's own requirements pinned once with uv, `uv lock --script` on the
header giving exactly uv.lock's versions (network), the Colab preset fleet and `export --format colab`'s check
against it, the Colab install cell run against a fake Colab, and the marimo -> .ipynb export (network).

Expected values are written out or read from uv.lock by uv itself (`uv export --frozen`), never computed by the code
under test."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from helpers import WORKSPACE
from lockgen.cli import main
from lockgen.model.lockfile import parse_lock
from lockgen.plan.export import member_export, render_colab, render_script_toml
from packaging.requirements import Requirement

ROOT = WORKSPACE  # the frozen copy of this repository's workspace (read only), not the live lock
NOTEBOOK = ROOT / "notebooks" / "train_smoke.py"
COLAB = Path(__file__).resolve().parents[1] / "lockgen" / "src" / "lockgen" / "tables" / "data" / "colab.toml"
PYPI = "https://pypi.org/simple"
X86 = "sys_platform == 'linux' and platform_machine == 'x86_64'"
ALL = "sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')"


def _lock(supported: list[str] | None = None, exclude_newer: str | None = None):
    data = {
        "version": 1,
        "revision": 3,
        "requires-python": "==3.12.*",
        "package": [
            {"name": "app", "version": "0.1.0", "source": {"editable": "app"}, "dependencies": [{"name": "numpy"}]},
            {"name": "numpy", "version": "2.3.0", "source": {"registry": PYPI}},
        ],
    }
    if supported is not None:
        data["supported-markers"] = supported
    if exclude_newer:
        data["options"] = {"exclude-newer": exclude_newer}
    return parse_lock(data)


# --- the block (pure) ------------------------------------------------------------------------------------------


def test_block_carries_exclude_newer_and_constraints_and_gates_by_the_lock_environments() -> None:
    lock = _lock(["platform_machine == 'x86_64' and sys_platform == 'linux'"], "2026-11-26T00:00:00Z")
    export = member_export(lock, "app", constraints=["xformers!=0.0.35.*", "vllm>=0.6.0"], overrides=["six==1.17.0"])
    data = tomllib.loads(render_script_toml(export, 'dependencies = ["marimo==0.25.2"]\n'))
    assert data["dependencies"] == [f"marimo==0.25.2 ; {X86}", f"numpy==2.3.0 ; {X86}"]  # x86_64 only: the lock's
    assert data["tool"]["uv"] == {
        "exclude-newer": "2026-11-26T00:00:00Z",
        "constraint-dependencies": ["xformers!=0.0.35.*", "vllm>=0.6.0"],
        "override-dependencies": ["six==1.17.0", f"numpy==2.3.0 ; {X86}"],  # the workspace's, then the pins
    }
    # uv refuses `environments` in a script block ("unknown field"): the markers do its work instead
    assert "environments" not in data["tool"]["uv"]


def test_managed_uv_settings_follow_the_lock_and_the_users_stay() -> None:
    old = '[tool.uv]\nexclude-newer = "2020-01-01T00:00:00Z"\nprerelease = "allow"\nconstraint-dependencies = ["x<1"]\n'
    with_date = member_export(_lock(exclude_newer="2026-11-26T00:00:00Z"), "app")
    uv = tomllib.loads(render_script_toml(with_date, old))["tool"]["uv"]
    pins = [f"numpy==2.3.0 ; {ALL}"]
    assert uv == {"exclude-newer": "2026-11-26T00:00:00Z", "prerelease": "allow", "override-dependencies": pins}
    uv = tomllib.loads(render_script_toml(member_export(_lock(), "app"), old))["tool"]["uv"]
    assert uv == {"prerelease": "allow", "override-dependencies": pins}  # no exclude-newer, no constraints


def test_extra_pins_are_recorded_kept_and_give_way_to_the_lock() -> None:
    export = member_export(_lock(), "app")
    first = render_script_toml(
        export,
        'dependencies = ["marimo"]\n',
        extra_pins=[f"marimo==0.25.2 ; {ALL}", f"starlette==1.10.0 ; {ALL}", f"numpy==9.9 ; {ALL}"],
    )
    data = tomllib.loads(first)
    assert data["dependencies"] == [
        f"marimo ; {ALL}",
        f"numpy==2.3.0 ; {ALL}",  # the lock's numpy, not the resolution's
        f"marimo==0.25.2 ; {ALL}",
        f"starlette==1.10.0 ; {ALL}",
    ]
    assert data["tool"]["lockgen"]["export"]["extra"] == ["marimo"]
    assert data["tool"]["lockgen"]["export"]["extra-pins"] == [f"marimo==0.25.2 ; {ALL}", f"starlette==1.10.0 ; {ALL}"]
    assert render_script_toml(export, first) == first  # offline re-renders (check, lock, bump) keep them


NB_BODY = "import marimo\n\napp = marimo.App()\n"


def test_cli_resolves_the_notebooks_own_requirements_only_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, ...]] = []

    def fake(ws, export, extras, file):  # noqa: ANN001, ANN202
        calls.append(tuple(extras))
        return tuple(f"{Requirement(e).name}==1.0 ; {ALL}" for e in extras)

    monkeypatch.setattr("lockgen.commands.export.resolve_extra_pins", fake)
    nb = tmp_path / "nb.py"
    nb.write_text('# /// script\n# dependencies = ["polars>=1"]\n# ///\n' + NB_BODY, encoding="utf-8")
    argv = ["-C", str(ROOT), "export", "--member", "train", "--format", "pep723", "-o", str(nb)]
    assert main(argv) == 0 and calls == [("polars>=1",)]
    assert f'"polars==1.0 ; {ALL}"' in nb.read_text()
    assert main(argv) == 0 and main([*argv, "--check"]) == 0 and len(calls) == 1  # pinned: no uv run
    text = nb.read_text()
    assert "# dependencies = [\n" in text
    nb.write_text(text.replace("# dependencies = [\n", '# dependencies = [\n#     "rich",\n'), encoding="utf-8")
    assert main([*argv, "--check"]) == 1 and len(calls) == 1  # --check never resolves
    assert main(argv) == 0 and len(calls) == 1  # rich is locked by train: the lock's pin wins, nothing to resolve
    assert '"rich",' not in nb.read_text()
    assert main([*argv, "--resolve-extras"]) == 0 and calls == [("polars>=1",), ("polars>=1",)]
    nb.write_text(nb.read_text().replace("# extra = [", '# extra = ["httpx-sse", '), encoding="utf-8")
    assert main(argv) == 0 and calls[-1] == ("httpx-sse", "polars>=1")  # a new requirement of the user's
    capsys.readouterr()


# --- uv lock --script reproduces uv.lock (network) -----------------------------------------------------------------


def _pypi() -> None:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        pytest.skip("PyPI is not reachable")


def _uv() -> str:
    from lockgen.seams.uvtool import find_uv

    return find_uv()


def _uv_env() -> dict[str, str]:
    return {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def _locked_set(member: str) -> set[tuple[str, str]]:
    """(name, version) of everything `uv sync --package member` installs on Linux x86_64 or aarch64, as uv reads
    uv.lock (`uv export --frozen`)."""
    out = subprocess.run(
        [_uv(), "export", "--frozen", "--package", member, "--no-hashes", "--no-header", "--no-annotate",
         "--no-emit-workspace", "--format", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, check=True, env=_uv_env(),
    ).stdout  # fmt: skip
    found = set()
    for line in out.splitlines():
        if not line or line.startswith(("#", " ", "-")):
            continue
        req = Requirement(line)
        for machine in ("x86_64", "aarch64"):
            env = {"platform_machine": machine, "sys_platform": "linux", "python_version": "3.12",
                   "python_full_version": "3.12.0", "platform_system": "Linux", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython",
                   "extra": ""}  # fmt: skip
            if req.marker is None or req.marker.evaluate(env):
                (spec,) = req.specifier
                found.add((req.name.lower(), spec.version))
    return found


def _script_locked(script: Path) -> set[tuple[str, str]]:
    proc = subprocess.run(
        [_uv(), "lock", "--script", str(script)], cwd=script.parent, capture_output=True, text=True, env=_uv_env()
    )
    assert proc.returncode == 0, proc.stderr
    data = tomllib.loads(Path(f"{script}.lock").read_text())
    return {(p["name"], p["version"]) for p in data["package"] if "version" in p}


def _header_pins(text: str) -> set[tuple[str, str]]:
    from lockgen.plan.export import script_pins

    out = set()
    for dep in script_pins(text) or ():
        req = Requirement(dep)
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==":
            out.add((req.name.lower(), specs[0].version))
    return out


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("member", ["train", "serve"])
def test_uv_lock_script_resolves_exactly_the_locked_versions(
    member: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pypi()
    script = tmp_path / f"{member}.py"
    if member == "train":  # the notebook lockgen maintains: the lock's pins, marimo and ipython with theirs
        script.write_text(NOTEBOOK.read_text(encoding="utf-8"), encoding="utf-8")
    else:  # a bare header from stdout
        assert main(["-C", str(ROOT), "export", "--member", member, "--format", "pep723"]) == 0
        script.write_text(capsys.readouterr().out + "print('ok')\n", encoding="utf-8")
    resolved = _script_locked(script)
    locked = _locked_set(member)
    locked_names = {n for n, _ in locked}
    assert {(n, v) for n, v in resolved if n in locked_names} == locked
    # every package uv resolved is pinned exactly in the header: nothing unpinned, nothing of another platform
    assert resolved - _header_pins(script.read_text()) == set()
    assert not {"colorama", "pywin32", "appnope"} & {n for n, _ in resolved}


# --- Colab: the preset fleet and the check --------------------------------------------------------------------------


def test_colab_preset_cites_a_source_for_every_fact() -> None:
    data = tomllib.loads(COLAB.read_text(encoding="utf-8"))
    assert data["fleet"]["driver"] == "550.54.15"
    sources = data["source"]
    for key in ("driver", "gpus", "policy", "uv"):
        rows = [s for s in sources if s["key"] == key]
        assert rows, key
        assert all(s["url"].startswith("https://") and len(s["date"]) == 10 and s["says"] for s in rows), key
    assert any("550.54.15" in s["says"] for s in sources if s["key"] == "driver")
    assert any("5237" in s["url"] for s in sources if s["key"] == "uv")
    for runtime in data["runtime"]:
        assert runtime["source"].startswith("https://github.com/googlecolab/backend-info/") and runtime["date"]


def test_export_colab_refuses_a_member_whose_cuda_colab_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    # serve is locked to a CUDA 13 torch: CUDA 13 needs a 580 driver, Colab's GPUs report 550.54.15
    assert main(["-C", str(ROOT), "export", "--member", "serve", "--format", "colab"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "colab: serve is locked to CUDA 13.0" in err and "550.54.15" in err
    assert "lockgen/tables/data/colab.toml" in err


def test_export_colab_passes_train_and_names_the_runtime_to_pick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "colab"]) == 0
    out, err = capsys.readouterr()
    assert "_lockgen_install()" in out and "Checked against colab: driver 550.54.15" in out
    # Colab's default runtime has Python 3.13; train needs 3.12: the past runtime 2026.07 has 3.12.13
    assert "pick the runtime version 2026.07 (Python 3.12.13" in err


def test_fleet_file_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "fleet.toml"
    new.write_text('[fleet]\ndriver = "580.65.06"\ngpus = ["H100"]\n', encoding="utf-8")
    argv = ["-C", str(ROOT), "export", "--member", "serve", "--format", "colab", "--fleet"]
    assert main([*argv, str(new)]) == 0
    old = tmp_path / "old.toml"
    old.write_text('[fleet]\ndriver = "535.54.03"\ngpus = ["A100"]\n', encoding="utf-8")
    assert main([*argv, str(old)]) == 1
    assert "535.54.03" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[fleet]\ndriver = "580.65.06"\ngpus = ["T5000"]\n', encoding="utf-8")
    assert main([*argv, str(bad)]) == 2
    assert f"{bad}: tool.lockgen.gpus[0]: unknown GPU 'T5000'" in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "missing.toml")]) == 2
    assert "no such fleet file" in capsys.readouterr().err
    py313 = tmp_path / "py313.toml"
    py313.write_text(
        '[fleet]\ndriver = "580.65.06"\ngpus = ["T4"]\n[[runtime]]\nname = "latest"\npython = "3.13.15"\n',
        encoding="utf-8",
    )
    train = ["-C", str(ROOT), "export", "--member", "train", "--format", "colab", "--fleet", str(py313)]
    assert main(train) == 1  # train needs Python 3.12: no runtime of that fleet has it
    assert (
        "requires-python ==3.12.* admits none of py313's runtimes (latest: Python 3.13.15)" in capsys.readouterr().err
    )


# --- the install cell, run against a fake Colab -------------------------------------------------------------------

RAW = {
    "version": 1,
    "revision": 3,
    "requires-python": ">=3.11",
    "package": [
        {"name": "app", "version": "0.1.0", "source": {"editable": "app"},
         "dependencies": [{"name": "torch"}, {"name": "pandas"}]},
        {"name": "torch", "version": "2.10.0", "source": {"registry": PYPI}},
        {"name": "pandas", "version": "3.1.1", "source": {"registry": PYPI}},
    ],
}  # fmt: skip
LOCK = parse_lock(RAW)


def _dist(site: Path, name: str, version: str, requires: list[str]) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires)]
    (d / "METADATA").write_text("".join(meta), encoding="utf-8")


def _fake_colab(tmp_path: Path, with_uv: bool) -> tuple[dict[str, str], Path]:
    """A fake Colab: Colab's uv variables set, preinstalled torch/torchaudio/google-colab as dist-info on
    PYTHONPATH, and a `uv` (or, without uv, a `pip` module) that logs its arguments and environment."""
    log = tmp_path / "calls.jsonl"
    site = tmp_path / "site"
    _dist(site, "torch", "2.11.0+cu128", [])
    _dist(site, "torchaudio", "2.11.0+cu128", ["torch==2.11.0"])
    _dist(site, "google-colab", "1.0.0", ["pandas==2.2.2", "requests"])
    logger = textwrap.dedent(f"""\
        import json, os, sys
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps({{"argv": sys.argv[1:], "UV_CONSTRAINT": os.environ.get("UV_CONSTRAINT"),
                                 "PIP_CONSTRAINT": os.environ.get("PIP_CONSTRAINT")}}) + "\\n")
        """)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if with_uv:
        uv = bin_dir / "uv"
        uv.write_text(f"#!{sys.executable}\n" + logger, encoding="utf-8")
        uv.chmod(0o755)
    else:
        (site / "pip").mkdir()
        (site / "pip" / "__init__.py").write_text("", encoding="utf-8")
        (site / "pip" / "__main__.py").write_text(logger, encoding="utf-8")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "UV_CONSTRAINT": "/backend-container/containers/requirements.constraints",
        "UV_BUILD_CONSTRAINT": "/backend-container/containers/build.constraints",
        "PIP_CONSTRAINT": "/backend-container/containers/requirements.constraints",
        "UV_SYSTEM_PYTHON": "true",
    }
    return env, log


@pytest.mark.parametrize("with_uv", [True, False])
def test_colab_cell_installs_the_lock_over_colabs_pins_and_says_so(tmp_path: Path, with_uv: bool) -> None:
    cell = tmp_path / "cell.py"
    cell.write_text(render_colab(LOCK, "app"), encoding="utf-8")
    env, log = _fake_colab(tmp_path, with_uv)
    proc = subprocess.run([sys.executable, str(cell)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    install, uninstall = calls
    prefix = ["pip", "install"] if with_uv else ["install"]
    assert install["argv"][: len(prefix)] == prefix and "--no-deps" in install["argv"]
    assert install["argv"][-2:] == ["pandas==3.1.1", "torch==2.10.0"]
    assert install["UV_CONSTRAINT"] is None and install["PIP_CONSTRAINT"] is None  # cleared for the call
    # torchaudio was built for torch 2.11.0 (an exact pin): removed; google-colab's pandas pin: named, kept
    assert uninstall["argv"][-1] == "torchaudio" and "uninstall" in uninstall["argv"]
    out = proc.stdout
    assert "overriding UV_CONSTRAINT=/backend-container/containers/requirements.constraints" in out
    assert "overriding PIP_CONSTRAINT=" in out
    assert "replaced the preinstalled torch 2.11.0+cu128 with 2.10.0" in out
    assert "uninstalling the preinstalled torchaudio 2.11.0+cu128: it requires torch==2.11.0" in out
    assert "warning: the preinstalled google-colab 1.0.0 wants pandas==2.2.2" in out
    assert ("uv pip install" in out) == with_uv and ("no uv here; pip install" in out) == (not with_uv)


def test_colab_cell_stops_on_a_python_the_lock_does_not_admit(tmp_path: Path) -> None:
    cell = tmp_path / "cell.py"
    cell.write_text(render_colab(parse_lock({**RAW, "requires-python": "==3.9.*"}), "app"), encoding="utf-8")
    env, log = _fake_colab(tmp_path, True)
    proc = subprocess.run([sys.executable, str(cell)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "the lock needs ==3.9.*" in proc.stderr
    assert not log.exists()  # nothing installed


# --- .ipynb through marimo's exporter (network) --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.network
def test_ipynb_export_validates_and_its_first_cell_installs_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ast

    _pypi()
    out = tmp_path / "train_smoke.ipynb"
    argv = ["-C", str(ROOT), "export", "--member", "train", "--format", "ipynb", "--notebook", str(NOTEBOOK)]
    assert main([*argv, "-o", str(out)]) == 0, capsys.readouterr().err
    check = (
        "import sys, nbformat\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "nbformat.validate(nb)\n"
        "print(len(nb.cells))\n"
    )
    proc = subprocess.run(
        [_uv(), "run", "--no-project", "--with", "nbformat==5.10.4", "python", "-c", check, str(out)],
        capture_output=True, text=True, env=_uv_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    nb = json.loads(out.read_text(encoding="utf-8"))
    assert int(proc.stdout.strip()) == len(nb["cells"]) >= 6
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "code" and "_lockgen_install()" in first
    assert "SFTTrainer(" in "".join("".join(c["source"]) for c in nb["cells"][1:])
    pins = next(
        ast.literal_eval(n.value)
        for n in ast.parse(first).body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PINS"
    )
    locked = _locked_set("train")
    locked_names = {n for n, _ in locked}
    exact = set()
    for pin in pins:
        req = Requirement(pin)
        (spec,) = req.specifier
        assert spec.operator == "==", pin
        exact.add((req.name.lower(), spec.version))
    assert {(n, v) for n, v in exact if n in locked_names} == locked
    block = re.search(r"^# /// script$\n(.*?)^# ///$", NOTEBOOK.read_text(encoding="utf-8"), re.S | re.M)
    assert block is not None
    header = tomllib.loads("".join(line[2:] + "\n" for line in block.group(1).splitlines()))
    own = {Requirement(p).name.lower() for p in header["tool"]["lockgen"]["export"]["extra-pins"]}
    assert {n for n, _ in exact} - locked_names == own  # the rest: marimo, ipython and what they need


@pytest.mark.slow
@pytest.mark.network
def test_colab_cell_with_the_real_uv_installs_despite_colabs_constraint_variables(tmp_path: Path) -> None:
    """Colab's bug (googlecolab/colabtools#5237): UV_CONSTRAINT names a file that is not there, so a plain
    `uv pip install` fails; the cell clears it and installs."""
    _pypi()
    uv = _uv()
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", str(venv)], check=True, capture_output=True, env=_uv_env())
    python = venv / "bin" / "python"
    lock = parse_lock(
        {
            "version": 1,
            "revision": 3,
            "requires-python": ">=3.11",
            "package": [
                {"name": "app", "version": "0.1.0", "source": {"editable": "app"}, "dependencies": [{"name": "six"}]},
                {"name": "six", "version": "1.17.0", "source": {"registry": PYPI}},
            ],
        }
    )
    colab = {
        **_uv_env(),
        "PATH": f"{Path(uv).parent}:/usr/bin:/bin",
        "UV_CONSTRAINT": "/backend-container/containers/requirements.constraints",
        "UV_BUILD_CONSTRAINT": "/backend-container/containers/build.constraints",
    }
    plain = subprocess.run(
        [uv, "pip", "install", "--python", str(python), "six==1.17.0"], capture_output=True, text=True, env=colab
    )
    assert plain.returncode != 0 and "requirements.constraints" in plain.stderr
    cell = tmp_path / "cell.py"
    cell.write_text(render_colab(lock, "app"), encoding="utf-8")
    proc = subprocess.run([str(python), str(cell)], capture_output=True, text=True, env=colab, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "overriding UV_CONSTRAINT=" in proc.stdout and "uv pip install --no-deps: 1 exact pins" in proc.stdout
    version = subprocess.run([str(python), "-c", "import six; print(six.__version__)"], capture_output=True, text=True)
    assert version.stdout.strip() == "1.17.0"


def test_a_malformed_extra_pins_is_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = tmp_path / "nb.py"
    nb.write_text('# /// script\n# [tool.lockgen.export]\n# extra-pins = "marimo"\n# ///\n' + NB_BODY, encoding="utf-8")
    before = nb.read_bytes()
    assert main(["-C", str(ROOT), "export", "--member", "train", "--format", "pep723", "-o", str(nb)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"lockgen: error: {nb}: # /// script tool.lockgen.export.extra-pins: expected an array of strings"
    assert nb.read_bytes() == before
