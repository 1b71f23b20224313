"""Issue 10: environments, not members. Locks shaped like real public projects (written out by hand as uv writes
them: conflict items `extra-N-project-name` / `group-N-project-name`), single projects, packaged roots, extras and
dependency groups in `conflicts`, two platforms, git/URL sources, dynamic metadata - each finding of the issue as a
test that failed before the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lockgen.cli import main
from lockgen.model.environments import environments
from lockgen.model.lockfile import parse_lock
from lockgen.model.workspace import load_workspace
from lockgen.rules import rule_cuda_window, rule_one_cuda, rule_sources, rule_strict_pins

PYPI = {"registry": "https://pypi.org/simple"}
HASH = "sha256:" + "1" * 64
X86 = "platform_machine == 'x86_64' and sys_platform == 'linux'"
ARM = "platform_machine == 'aarch64' and sys_platform == 'linux'"


def whl(name: str, version: str, tag: str = "manylinux_2_28_x86_64") -> dict[str, Any]:
    return {"url": f"https://files.example.org/{name}-{version}-cp312-cp312-{tag}.whl", "hash": HASH}


def pkg(name: str, version: str, deps: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "version": version, "source": kw.pop("source", PYPI)}
    if deps:
        out["dependencies"] = deps
    out["wheels"] = kw.pop("wheels", [whl(name, version)])
    out.update(kw)
    return out


def item(project: str, kind: str, name: str) -> str:
    """uv's conflict marker value, written out by hand: `extra-<len>-<project>-<name>`."""
    return f"{kind}-{len(project)}-{project}-{name}"


def torch(version: str, cuda: str, index: str | None = None) -> list[dict[str, Any]]:
    """A torch build and its CUDA runtime wheel as the lock records them."""
    if index:  # PyTorch's own index: the CUDA is in the local version
        return [pkg("torch", f"{version}+cu{cuda.replace('.', '')}", source={"registry": index})]
    rt = "nvidia-cuda-runtime-cu12" if cuda.startswith("12") else "nvidia-cuda-runtime"
    return [
        pkg("torch", version, [{"name": rt, "marker": "platform_machine == 'x86_64'"}]),
        pkg(rt, f"{cuda}.90"),
    ]


def write(root: Path, pyproject: str, lock: dict[str, Any]) -> Path:
    import tomlkit

    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "uv.lock").write_text(tomlkit.dumps(lock))
    return root


def check(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["-C", str(root), "check", "--no-uv", "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


SOLO = """\
[project]
name = "solo"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["torch==2.7.1"]

[tool.lockgen]
driver = "{driver}"
gpus = ["A100"]
"""


def solo_lock() -> dict[str, Any]:
    """A single project (no [tool.uv.workspace]) whose lock holds torch +cu128 from PyTorch's index."""
    return {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "package": [
            {
                "name": "solo",
                "version": "0.1.0",
                "source": {"virtual": "."},
                "dependencies": [{"name": "torch"}],
                "metadata": {"requires-dist": [{"name": "torch", "specifier": "==2.7.1"}]},
            },
            *torch("2.7.1", "12.8", index="https://download.pytorch.org/whl/cu128"),
        ],
    }


def test_a_single_project_is_checked_not_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: only [tool.uv.workspace] members were looked at; a single project got "ok" on a 535 fleet."""
    root = write(tmp_path / "solo", SOLO.format(driver="535.54.03"), solo_lock())
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text()
        + '\n[[tool.uv.index]]\nname = "cu128"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n'
    )
    code, doc = check(root, capsys)
    assert code == 1 and [v["rule"] for v in doc["violations"]] == ["cuda-window"]
    assert "570.26" in doc["violations"][0]["message"]  # CUDA 12.8's toolkit driver, NVIDIA's Table 3
    root2 = write(tmp_path / "solo2", SOLO.format(driver="580.65.06"), solo_lock())
    (root2 / "pyproject.toml").write_text((root / "pyproject.toml").read_text().replace("535.54.03", "580.65.06"))
    code, doc = check(root2, capsys)
    assert code == 0, doc["violations"]


def test_a_single_project_without_lockgen_config_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path / "solo", SOLO.split("[tool.lockgen]")[0], solo_lock())
    (root / "sub").mkdir()
    code = main(["-C", str(root / "sub"), "check", "--no-uv", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and doc["environments"][0]["environment"] == "solo"


def extras_project_lock(cu12_torch: str = "2.7.1", cu13: bool = True) -> dict[str, Any]:
    """A project with `cpu`, `cu128` and `cu130` extras in `conflicts` (the shape of PyTorch's uv guide)."""
    p = "gpuapp"
    cpu, c12, c13 = (item(p, "extra", x) for x in ("cpu", "cu128", "cu130"))
    pkgs = [
        {
            "name": p,
            "version": "0.1.0",
            "source": {"editable": "."},
            "optional-dependencies": {
                "cpu": [{"name": "torch", "version": "2.7.1+cpu", "source": {"registry": "https://x/cpu"}}],
                "cu128": [
                    {
                        "name": "torch",
                        "version": f"{cu12_torch}+cu128",
                        "source": {"registry": "https://x/cu128"},
                        "marker": f"extra == '{c12}'",
                    }
                ],
                "cu130": [
                    {
                        "name": "torch",
                        "version": "2.9.0+cu130",
                        "source": {"registry": "https://x/cu130"},
                        "marker": f"extra == '{c13}'",
                    }
                ],
            },
        },
        pkg(
            "torch", "2.7.1+cpu", source={"registry": "https://x/cpu"}, **{"resolution-markers": [f"extra == '{cpu}'"]}
        ),
        pkg(
            "torch",
            f"{cu12_torch}+cu128",
            source={"registry": "https://x/cu128"},
            **{"resolution-markers": [f"extra == '{c12}'"]},
        ),
        pkg(
            "torch",
            "2.9.0+cu130",
            source={"registry": "https://x/cu130"},
            **{"resolution-markers": [f"extra == '{c13}'"]},
        ),
    ]
    if not cu13:
        del pkgs[0]["optional-dependencies"]["cu130"]
        pkgs.pop()
    return {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "conflicts": [
            [{"package": p, "extra": "cpu"}, {"package": p, "extra": "cu128"}, {"package": p, "extra": "cu130"}]
        ],
        "package": pkgs,
    }


EXTRAS_PYPROJECT = """\
[project]
name = "gpuapp"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = []

[project.optional-dependencies]
cpu = ["torch==2.7.1"]
cu128 = ["torch==2.7.1"]
cu130 = ["torch==2.9.0"]

[tool.uv]
conflicts = [[{{ extra = "cpu" }}, {{ extra = "cu128" }}, {{ extra = "cu130" }}]]
index = [
  {{ name = "cpu", url = "https://x/cpu", explicit = true }},
  {{ name = "cu128", url = "https://x/cu128", explicit = true }},
  {{ name = "cu130", url = "https://x/cu130", explicit = true }},
]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.lockgen]
driver = "{driver}"
gpus = ["A100"]
"""


def test_conflicting_extras_are_separate_environments_named_as_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: one projection merged cu128 and cu130 torch and reported "mixes CUDA 12.8/13.0"."""
    root = write(tmp_path / "p", EXTRAS_PYPROJECT.format(driver="580.65.06"), extras_project_lock())
    code, doc = check(root, capsys)
    assert code == 0, doc["violations"]
    envs = {e["environment"]: e["platforms"][0]["cuda"] for e in doc["environments"]}
    assert envs == {
        "gpuapp": None,
        "gpuapp --extra cpu": None,
        "gpuapp --extra cu128": "12.8",
        "gpuapp --extra cu130": "13.0",
    }
    # on a 570 fleet only the cu130 extra is outside, and the finding names it the way a user installs it
    root = write(tmp_path / "q", EXTRAS_PYPROJECT.format(driver="570.124.06"), extras_project_lock())
    code, doc = check(root, capsys)
    assert code == 1
    assert [(v["rule"], v["member"]) for v in doc["violations"]] == [("cuda-window", "gpuapp --extra cu130")]
    assert "`gpuapp --extra cu130`" in doc["violations"][0]["message"]


def groups_lock() -> dict[str, Any]:
    """Dependency groups `cuda12` (a default group) and `cuda13` in conflicts, as open-instruct does."""
    p = "rl"
    g12, g13 = item(p, "group", "cuda12"), item(p, "group", "cuda13")
    return {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "conflicts": [[{"package": p, "group": "cuda12"}, {"package": p, "group": "cuda13"}]],
        "package": [
            {
                "name": p,
                "version": "0.1.0",
                "source": {"virtual": "."},
                "dev-dependencies": {
                    "cuda12": [
                        {
                            "name": "torch",
                            "version": "2.10.0+cu128",
                            "source": {"registry": "https://x/cu128"},
                            "marker": f"extra == '{g12}'",
                        }
                    ],
                    "cuda13": [
                        {
                            "name": "torch",
                            "version": "2.10.0+cu130",
                            "source": {"registry": "https://x/cu130"},
                            "marker": f"extra == '{g13}'",
                        }
                    ],
                },
            },
            pkg("torch", "2.10.0+cu128", source={"registry": "https://x/cu128"}),
            pkg("torch", "2.10.0+cu130", source={"registry": "https://x/cu130"}),
        ],
    }


def test_conflicting_groups_with_a_default_group() -> None:
    lock = parse_lock(groups_lock())
    envs = {
        e.label: [str(v) for v in e.platforms[0].cuda.versions]
        for e in environments(lock, {"default-groups": ["cuda12"]})
    }
    assert envs == {"rl": ["12.8"], "rl --group cuda13 --no-group cuda12": ["13.0"]}


def two_platform_lock() -> dict[str, Any]:
    """torch +cu128 on x86_64 and +cu130 on aarch64 (one environment, two platforms, as real locks do)."""
    return {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "supported-markers": [X86, ARM],
        "package": [
            {
                "name": "arms",
                "version": "0.1.0",
                "source": {"virtual": "."},
                "dependencies": [
                    {
                        "name": "torch",
                        "version": "2.10.0+cu128",
                        "source": {"registry": "https://x/cu128"},
                        "marker": "platform_machine == 'x86_64'",
                    },
                    {
                        "name": "torch",
                        "version": "2.10.0+cu130",
                        "source": {"registry": "https://x/cu130"},
                        "marker": "platform_machine == 'aarch64'",
                    },
                ],
            },
            pkg("torch", "2.10.0+cu128", source={"registry": "https://x/cu128"}),
            pkg(
                "torch",
                "2.10.0+cu130",
                source={"registry": "https://x/cu130"},
                wheels=[whl("torch", "2.10.0", "manylinux_2_28_aarch64")],
            ),
        ],
    }


def test_platforms_are_judged_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: x86_64 and aarch64 packages were merged, so this lock "mixed CUDA 12.8/13.0"."""
    root = write(
        tmp_path / "a",
        '[project]\nname = "arms"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = ["torch==2.10.0"]\n'
        '[tool.lockgen]\ndriver = "570.124.06"\ngpus = ["H100"]\nallowed-indexes = ["https://x/cu128", "https://x/cu130"]\n',
        two_platform_lock(),
    )
    code, doc = check(root, capsys)
    assert [v["rule"] for v in doc["violations"]] == ["cuda-window"]
    assert "(linux aarch64)" in doc["violations"][0]["message"] and "13.0" in doc["violations"][0]["message"]
    assert {p["platform"]: p["cuda"] for p in doc["environments"][0]["platforms"]} == {
        "linux-x86_64": "12.8",
        "linux-aarch64": "13.0",
    }


# ---- strict-pin means CUDA builds -------------------------------------------------------------------------


def strict_case(reqs: list[str], extra_pkgs: list[dict[str, Any]], sources: str = "") -> tuple[Path, str]:
    names = [r.split("=")[0].split(">")[0].split(" @")[0].strip() for r in reqs]
    lock = {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "package": [
            {
                "name": "ml",
                "version": "0.1.0",
                "source": {"virtual": "."},
                "dependencies": [{"name": n} for n in names],
            },
            *torch("2.10.0", "12.8"),
            *extra_pkgs,
        ],
    }
    text = (
        '[project]\nname = "ml"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = '
        + json.dumps(reqs)
        + "\n"
        + sources
    )
    return Path(), json.dumps({"lock": lock, "text": text})


@pytest.mark.parametrize(
    ("req", "extra", "flagged"),
    [
        # accelerate/peft depend on torch but ship one wheel for every CUDA: a range is fine
        (
            "accelerate>=1.0",
            [pkg("accelerate", "1.2.0", [{"name": "torch"}], wheels=[whl("accelerate", "1.2.0", "none-any")])],
            False,
        ),
        # nvitop reaches nvidia-ml-py (NVML bindings): not a CUDA build
        ("nvitop>=1.0", [pkg("nvitop", "1.5.0", [{"name": "nvidia-ml-py"}]), pkg("nvidia-ml-py", "13.580.65")], False),
        # xformers is in the build table (a compiled CUDA build): must be pinned
        ("xformers>=0.0.30", [pkg("xformers", "0.0.34", [{"name": "torch"}])], True),
        # a CUDA-suffixed name
        ("cupy-cuda12x>=13", [pkg("cupy-cuda12x", "13.4.0")], True),
    ],
)
def test_strict_pin_covers_cuda_builds_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], req: str, extra: list[dict[str, Any]], flagged: bool
) -> None:
    _, blob = strict_case(["torch==2.10.0", req], extra)
    case = json.loads(blob)
    root = write(tmp_path / "ml", case["text"], case["lock"])
    _, doc = check(root, capsys)
    strict = [v["package"] for v in doc["violations"] if v["rule"] == "strict-pin"]
    name = extra[0]["name"]
    assert (name in strict) is flagged, doc["violations"]


def test_strict_pin_never_asks_for_an_exact_pin_of_a_git_or_url_requirement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = "a" * 40
    fa = pkg(
        "flash-attn",
        "2.8.3",
        [{"name": "torch"}],
        source={"git": f"https://github.com/Dao-AILab/flash-attention?rev=v2.8.3#{commit}"},
    )
    fa.pop("wheels")
    xf = pkg(
        "xformers",
        "0.0.34",
        [{"name": "torch"}],
        source={"url": "https://example.org/xformers-0.0.34-cp312-cp312-manylinux_2_28_x86_64.whl"},
    )
    reqs = [
        "torch==2.10.0",
        "flash-attn @ git+https://github.com/Dao-AILab/flash-attention@v2.8.3",
        "xformers @ https://example.org/xformers-0.0.34-cp312-cp312-manylinux_2_28_x86_64.whl",
    ]
    _, blob = strict_case(reqs, [fa, xf])
    case = json.loads(blob)
    root = write(tmp_path / "ml", case["text"], case["lock"])
    code, doc = check(root, capsys)
    assert code == 0, doc["violations"]


def test_dynamic_dependencies_are_read_from_the_lock(tmp_path: Path) -> None:
    """A setuptools project with `dynamic = ["dependencies"]`: before, treated as having none."""
    lock = {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "package": [
            {
                "name": "dyn",
                "version": "0.1.0",
                "source": {"editable": "."},
                "dependencies": [{"name": "torch"}],
                "metadata": {"requires-dist": [{"name": "torch", "specifier": ">=2.4"}]},
            },
            *torch("2.10.0", "12.8"),
        ],
    }
    root = write(
        tmp_path / "dyn",
        '[project]\nname = "dyn"\nversion = "0.1.0"\ndynamic = ["dependencies"]\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
        lock,
    )
    vs = rule_strict_pins(load_workspace(root))
    assert [(v.package, v.file) for v in vs] == [("torch", "pyproject.toml")]
    assert "dynamic metadata" in vs[0].message


def test_a_packaged_workspace_root_is_an_environment_and_a_member(tmp_path: Path) -> None:
    lock = {
        "version": 1,
        "revision": 3,
        "requires-python": ">=3.12",
        "manifest": {"members": ["lib", "top"]},
        "package": [
            {
                "name": "top",
                "version": "0.1.0",
                "source": {"editable": "."},
                "dependencies": [{"name": "lib"}, {"name": "torch"}],
            },
            {"name": "lib", "version": "0.1.0", "source": {"editable": "lib"}},
            *torch("2.10.0", "12.8"),
        ],
    }
    root = write(
        tmp_path / "top",
        '[project]\nname = "top"\nversion = "0.1.0"\ndependencies = ["lib", "torch>=2"]\n'
        '[tool.uv.workspace]\nmembers = ["lib"]\n[tool.uv.sources]\nlib = { workspace = true }\n',
        lock,
    )
    (root / "lib").mkdir()
    (root / "lib/pyproject.toml").write_text('[project]\nname = "lib"\nversion = "0.1.0"\n')
    ws = load_workspace(root)
    assert set(ws.members) == {"top", "lib"}
    assert [(v.member, v.package) for v in rule_strict_pins(ws)] == [("top", "torch")]
    assert {e.label for e in ws.environments} == {"top", "lib"}


def test_one_cuda_and_window_on_the_two_platform_lock_without_lockgen_pins() -> None:
    ws_lock = parse_lock(two_platform_lock())
    envs = environments(ws_lock)
    assert [(v.platform, str(v.cuda.cuda)) for v in envs[0].platforms] == [("x86_64", "12.8"), ("aarch64", "13.0")]


def test_rules_keep_working_on_every_shape(tmp_path: Path) -> None:
    """The three shapes load and every rule runs without an exception (a smoke over the shapes above)."""
    shapes = {
        "extras": (EXTRAS_PYPROJECT.format(driver="535.54.03"), extras_project_lock()),
        "groups": (
            '[project]\nname = "rl"\nversion = "0.1.0"\n[dependency-groups]\ncuda12 = ["torch"]\ncuda13 = ["torch"]\n',
            groups_lock(),
        ),
    }
    for name, (text, lock) in shapes.items():
        ws = load_workspace(write(tmp_path / name, text, lock))
        for rule in (rule_strict_pins, rule_one_cuda, rule_cuda_window, rule_sources):
            rule(ws)


def test_export_of_the_root_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `export --member <root package>` said "no member" although uv treats the root as one."""
    root = write(tmp_path / "solo", SOLO.format(driver="580.65.06"), solo_lock())
    code = main(["-C", str(root), "export", "--member", "solo", "--format", "pep723"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "torch==2.7.1+cu128" in out


def test_matrix_row_outside_its_window_is_an_error(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolution that lands outside the row's own window (the caps did not reach uv) is a failed row, exit 1 -
    never a row that shows CUDA 13.0 for a 570 driver."""
    import lockgen.ops.resolve

    monkeypatch.setattr(
        lockgen.ops.resolve, "relock_here", lambda *a, **k: None
    )  # "uv" leaves the CUDA 13.0 lock as it is
    code = main(["-C", str(workspace_copy), "matrix", "--drivers", "570", "--json"])
    doc = json.loads(capsys.readouterr().out)
    row = doc["rows"][0]
    assert code == 1 and row["kind"] == "outside-window" and "serve" in row["error"] and "13.0" in row["error"]
