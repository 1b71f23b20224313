"""Property (issue 10): for generated projects of every shape - a single project, a packaged workspace root with a
member, extras or dependency groups in `conflicts`, one or two Linux platforms - `lockgen check`'s CUDA verdict
equals the verdict of an oracle that shares no code with lockgen (tests/corpus_oracle.py: CUDA evidence per Linux
platform read from the lock, then NVIDIA's driver table)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import corpus_oracle as oracle
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st
from lockgen.cli import main

HASH = "sha256:" + "2" * 64
CUDAS = ["11.8", "12.1", "12.4", "12.6", "12.8", "12.9", "13.0"]
DRIVERS = ["525.60.13", "535.54.03", "550.54.14", "560.28.03", "570.124.06", "575.51.03", "580.65.06"]
TAGS = {"x86_64": "manylinux_2_28_x86_64", "aarch64": "manylinux_2_28_aarch64"}


def _wheel(name: str, version: str, machine: str) -> dict[str, Any]:
    v = version.replace("+", "%2B")
    return {"url": f"https://files.example.org/{name}-{v}-cp312-cp312-{TAGS[machine]}.whl", "hash": HASH}


@st.composite
def builds(draw: st.DrawFn, machines: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(machine, CUDA, form) per platform: form "local" (torch+cu128 from a CUDA index) or "runtime" (PyPI torch
    with its CUDA runtime wheel)."""
    return [(m, draw(st.sampled_from(CUDAS)), draw(st.sampled_from(["local", "runtime"]))) for m in machines]


def _torch_packages(
    builds_: list[tuple[str, str, str]], tag: str, marker: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Locked packages for one variant's torch builds, and the edges that install them."""
    pkgs, edges = [], []
    for machine, cuda, form in builds_:
        on = f"platform_machine == '{machine}'"
        when = f"{on} and {marker}" if marker else on
        label = "cu" + cuda.replace(".", "")
        if form == "local":
            version, src = f"2.7.0+{label}.{tag}{machine[:3]}", {"registry": f"https://x/{label}"}
            pkgs.append(
                {"name": "torch", "version": version, "source": src, "wheels": [_wheel("torch", version, machine)]}
            )
            edges.append({"name": "torch", "version": version, "source": src, "marker": when})
        else:
            rt = "nvidia-cuda-runtime" if cuda.startswith("13") else f"nvidia-cuda-runtime-cu{cuda.split('.')[0]}"
            rt_version = f"{cuda}.{tag}{len(machine)}"
            version = f"2.7.0.post{abs(hash((tag, machine))) % 10_000}"
            pkgs.append(
                {
                    "name": "torch",
                    "version": version,
                    "source": {"registry": "https://pypi.org/simple"},
                    "dependencies": [{"name": rt, "version": rt_version}],
                    "wheels": [_wheel("torch", version, machine)],
                }
            )
            pkgs.append(
                {
                    "name": rt,
                    "version": rt_version,
                    "source": {"registry": "https://pypi.org/simple"},
                    "wheels": [_wheel(rt, rt_version, machine)],
                }
            )
            edges.append({"name": "torch", "version": version, "source": pkgs[-2]["source"], "marker": when})
    return pkgs, edges


@st.composite
def projects(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(pyproject text, uv.lock mapping, shape) for a generated project."""
    shape = draw(st.sampled_from(["single", "packaged-root", "extras", "groups"]))
    machines = draw(st.sampled_from([("x86_64",), ("x86_64", "aarch64")]))
    name = "proj"
    lock: dict[str, Any] = {"version": 1, "revision": 3, "requires-python": ">=3.12", "package": []}
    root: dict[str, Any] = {"name": name, "version": "0.1.0", "source": {"editable": "."}}
    text = f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = []\n'
    indexes = ["https://pypi.org/simple", *(f"https://x/cu{c.replace('.', '')}" for c in CUDAS)]
    if shape in ("single", "packaged-root"):
        pkgs, edges = _torch_packages(draw(builds(machines)), "0", None)
        root["dependencies"] = edges
        lock["package"] += pkgs
        if shape == "packaged-root":
            lock["manifest"] = {"members": [name, "helper"]}
            lock["package"].append({"name": "helper", "version": "0.1.0", "source": {"editable": "helper"}})
            text += '[tool.uv.workspace]\nmembers = ["helper"]\n'
    else:
        kind = "extra" if shape == "extras" else "group"
        variants = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=3, unique=True))
        table: dict[str, Any] = {}
        for i, v in enumerate(variants):
            item = f"{kind}-{len(name)}-{name}-{v}"
            pkgs, edges = _torch_packages(draw(builds(machines)), str(i + 1), f"extra == '{item}'")
            table[v] = edges
            lock["package"] += pkgs
        root["optional-dependencies" if kind == "extra" else "dev-dependencies"] = table
        lock["conflicts"] = [[{"package": name, kind: v} for v in variants]]
        section = "[project.optional-dependencies]" if kind == "extra" else "[dependency-groups]"
        text += section + "\n" + "".join(f'{v} = ["torch"]\n' for v in variants)
        conflict = ", ".join(f'{{ {kind} = "{v}" }}' for v in variants)
        text += f"[tool.uv]\nconflicts = [[{conflict}]]\n"
    lock["package"].insert(0, root)
    text += f"[tool.lockgen]\nallowed-indexes = {json.dumps(indexes)}\n"
    return text, lock, shape


@settings(max_examples=80)
@given(projects(), st.sampled_from(DRIVERS))
def test_check_verdict_equals_the_oracle_on_generated_shapes(
    project: tuple[str, dict[str, Any], str], driver: str
) -> None:
    text, lock, shape = project
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(
            text.replace("[tool.lockgen]\n", f'[tool.lockgen]\ndriver = "{driver}"\ngpus = ["A100"]\n')
        )
        (root / "uv.lock").write_text(tomlkit.dumps(lock))
        if shape == "packaged-root":
            (root / "helper").mkdir()
            (root / "helper/pyproject.toml").write_text('[project]\nname = "helper"\nversion = "0.1.0"\n')
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["-C", str(root), "check", "--no-uv", "--json"])
        doc = json.loads(out.getvalue())
    expected = oracle.verdict(lock, driver, ["A100"])
    rules = {v["rule"] for v in doc["violations"]}
    assert code in (0, 1)
    assert ("cuda-window" not in rules) == expected.inside, (shape, driver, expected, doc["violations"])
    assert "one-cuda" not in rules, doc["violations"]  # every generated environment holds one CUDA build per platform
