"""lockgen check on a corpus of real uv projects, against an oracle that shares no code with lockgen.

The fixtures (tests/fixtures/projects/<name>/) are copied from public repositories (PROVENANCE.toml); the oracle
is tests/corpus_oracle.py; EXPECTED.toml is labelled by hand. scripts/corpus_accuracy.py runs the same comparisons
and prints the accuracy figure.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import corpus_oracle as oracle
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "projects"


def _load_accuracy():
    spec = importlib.util.spec_from_file_location("corpus_accuracy", ROOT / "scripts" / "corpus_accuracy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_accuracy"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


accuracy = _load_accuracy()
NAMES = [p.name for p in accuracy.fixtures()]


@functools.cache  # each fixture's lock is parsed once per run (they are read, never changed)
def _toml(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


# ---- lockgen against the oracle: one test per fixture and fleet ----


@pytest.mark.skipif(not accuracy.DEFAULT_LOCKGEN.is_file(), reason="no .venv/bin/lockgen (run uv sync)")
@pytest.mark.parametrize("fleet", list(accuracy.FLEETS))
@pytest.mark.parametrize("name", NAMES)
def test_check_agrees_with_oracle(name: str, fleet: str) -> None:
    row = accuracy.evaluate(FIXTURES / name, fleet)
    assert row.sane, f"{name} ({fleet}): lockgen refused or crashed: {row.lockgen.summary}"
    assert row.window_ok, f"{name} ({fleet}): " + "; ".join(row.why_wrong)
    assert row.mixing_ok, f"{name} ({fleet}): " + "; ".join(row.why_wrong)


# ---- the corpus itself ----


def test_corpus_is_large_and_varied() -> None:
    assert len(NAMES) >= 14
    repos = {_toml(FIXTURES / n / "PROVENANCE.toml")["repository"] for n in NAMES}
    assert len(repos) >= 14, "fixtures must come from at least 14 different repositories"


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_complete(name: str) -> None:
    d = FIXTURES / name
    prov = _toml(d / "PROVENANCE.toml")
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", prov["repository"])
    assert re.fullmatch(r"[0-9a-f]{40}", prov["commit"])
    assert prov["retrieved"] and prov["license"] and prov["shape"]
    assert (d / "uv.lock").stat().st_size < 3_000_000
    lock = _toml(d / "uv.lock")
    _toml(d / "pyproject.toml")
    # every local package the lock names has its pyproject at the same relative path
    for package in lock["package"]:
        for kind in ("editable", "directory", "virtual"):
            path = package["source"].get(kind)
            if path not in (None, ".", ""):
                assert (d / path / "pyproject.toml").is_file(), f"{name}: missing {path}/pyproject.toml"
    assert prov["member_pyprojects"] == sum(1 for p in d.rglob("pyproject.toml") if p.parent != d)


@pytest.mark.parametrize("name", NAMES)
def test_expected_is_well_formed(name: str) -> None:
    expected = _toml(FIXTURES / name / "EXPECTED.toml")
    assert isinstance(expected["mixes_cuda_majors"], bool)
    assert expected["environments"], "at least one installable environment"
    for env in expected["environments"]:
        assert env["install"].startswith("uv sync")
        cudas = env["cuda_x86_64"]
        assert cudas == "none" or all(re.fullmatch(r"\d+\.\d+", c) for c in cudas.split(", ")), cudas
        assert env["why"]


@pytest.mark.parametrize("name", NAMES)
def test_oracle_finds_every_hand_labelled_cuda(name: str) -> None:
    """The oracle reads the whole lock, so each CUDA a labelled environment holds on x86_64 must be among its finds.

    (The oracle may find more: it does not evaluate markers, e.g. a cu129 torch locked for aarch64 only but
    published with an x86_64 wheel too.)
    """
    expected = _toml(FIXTURES / name / "EXPECTED.toml")
    labelled = {
        c for env in expected["environments"] if env["cuda_x86_64"] != "none" for c in env["cuda_x86_64"].split(", ")
    }
    found = set(oracle.verdict(oracle.load_lock(FIXTURES / name / "uv.lock"), "580.65.06", ["H100"]).cudas["x86_64"])
    assert labelled <= found, f"labelled {sorted(labelled)}, oracle found {sorted(found)}"


def test_corpus_covers_the_shapes_issue_10_names() -> None:
    """At least three locks hold torch +cu12x with CUDA >= 12.4, and some get CUDA only from plain-PyPI torch."""
    cu12x_new, pypi_torch = [], []
    for name in NAMES:
        lock = _toml(FIXTURES / name / "uv.lock")
        versions = [p["version"] for p in lock["package"] if p["name"] == "torch"]
        if any(re.search(r"\+cu12([4-9])$", v) for v in versions):
            cu12x_new.append(name)
        runtimes = [p for p in lock["package"] if p["name"].startswith("nvidia-cuda-runtime")]
        if runtimes and any("+" not in v for v in versions):
            pypi_torch.append(name)
    assert len(cu12x_new) >= 3, cu12x_new
    assert len(pypi_torch) >= 3, pypi_torch


def test_oracle_imports_nothing_from_lockgen() -> None:
    tree = ast.parse((Path(__file__).parent / "corpus_oracle.py").read_text(encoding="utf-8"))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] == "lockgen" for m in modules), modules
    assert modules <= {"__future__", "re", "tomllib", "dataclasses", "pathlib"}, modules


def test_with_fleet_appends_a_lockgen_table() -> None:
    text = accuracy.with_fleet('[project]\nname = "x"\n', "535.54.03", ["A100"])
    assert tomllib.loads(text)["tool"]["lockgen"] == {"driver": "535.54.03", "gpus": ["A100"]}
    with pytest.raises(ValueError):
        accuracy.with_fleet('[tool.lockgen]\ndriver = "570"\n', "535.54.03", ["A100"])


# ---- the oracle on tiny hand-written locks (so the oracle itself can fail) ----

WHL = "https://files.example/{}"


def _lock(*packages: str) -> dict:
    return tomllib.loads("version = 1\n" + "\n".join(packages))


def _pkg(name: str, version: str, *wheels: str, source: str = '{ registry = "https://pypi.org/simple" }') -> str:
    rows = ", ".join(f'{{ url = "{WHL.format(w)}" }}' for w in wheels)
    text = f'[[package]]\nname = "{name}"\nversion = "{version}"\nsource = {source}\n'
    return text + (f"wheels = [{rows}]\n" if wheels else "")


TORCH_X86 = "torch-2.8.0%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl"
TORCH_ARM = "torch-2.8.0%2Bcu128-cp312-cp312-manylinux_2_28_aarch64.whl"
TORCH_MAC = "torch-2.8.0-cp312-none-macosx_11_0_arm64.whl"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.8.0+cu128", "12.8"),
        ("0.20.2+cu129", "12.9"),
        ("2.7.1+cu118", "11.8"),
        ("2.8.3+cu128torch2.11", "12.8"),
        ("3.0.0+20260318.cu130torch2100cxx11abitrue.8afc61", "13.0"),
        ("2.7.2.post1+cu12torch2.5cxx11abiFALSE", "12"),
        ("0.21.6+torch2100cu128", "12.8"),
        ("1.2.1+29d31c0", None),
        ("2.8.0+cpu", None),
        ("2.8.0+rocm6.4", None),
        ("2.8.0", None),
    ],
)
def test_oracle_reads_local_versions(version: str, expected: str | None) -> None:
    cuda = oracle.cuda_of_local(version)
    assert (None if cuda is None else str(cuda)) == expected


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("nvidia-cuda-runtime-cu12", "12.8.90", "12.8"),
        ("nvidia-cuda-runtime-cu12", "12.4.127", "12.4"),
        ("nvidia-cuda-runtime-cu11", "11.8.89", "11.8"),
        ("nvidia-cuda-runtime", "13.0.96", "13.0"),
        ("cuda-toolkit", "12.8.1", "12.8"),
        ("nvidia-cublas-cu12", "12.8.4.1", None),
        ("numpy", "2.2.0", None),
    ],
)
def test_oracle_reads_runtime_versions(name: str, version: str, expected: str | None) -> None:
    cuda = oracle.cuda_of_runtime(name, version)
    assert (None if cuda is None else str(cuda)) == expected


def test_cuda_on_linux_x86_only_is_outside_for_a_535_driver() -> None:
    lock = _lock(_pkg("torch", "2.8.0+cu128", TORCH_X86))
    v = oracle.verdict(lock, "535.54.03", ["A100"])
    assert not v.inside and v.offending[0].startswith("12.8 (x86_64: torch 2.8.0+cu128")
    assert v.cudas == {"x86_64": ("12.8",), "aarch64": ()}
    assert oracle.verdict(lock, "570.26", ["A100"]).inside  # exactly the 12.8 GA floor
    assert not oracle.verdict(lock, "570.25.99", ["A100"]).inside


def test_macos_only_wheels_are_not_linux_evidence() -> None:
    lock = _lock(_pkg("torch", "2.8.0+cu128", TORCH_MAC))
    assert oracle.verdict(lock, "450.80.02", ["A100"]).cudas == {"x86_64": (), "aarch64": ()}
    assert oracle.verdict(lock, "450.80.02", ["A100"]).inside


def test_platforms_are_kept_apart() -> None:
    lock = _lock(
        _pkg("torch", "2.8.0+cu126", TORCH_X86.replace("cu128", "cu126")),
        _pkg("vllm", "0.9.0+cu129", TORCH_ARM.replace("torch-2.8.0%2Bcu128", "vllm-0.9.0%2Bcu129")),
    )
    assert oracle.verdict(lock, "580.65.06", ["H100"]).cudas == {"x86_64": ("12.6",), "aarch64": ("12.9",)}


def test_any_wheels_and_sdists_count_for_both_linux_platforms() -> None:
    lock = _lock(
        _pkg("cuda-toolkit", "12.4.1", "cuda_toolkit-12.4.1-py2.py3-none-any.whl"),
        _pkg("nvidia-cuda-runtime-cu11", "11.8.89", source='{ git = "https://github.com/x/y?rev=1#abc" }'),
    )
    v = oracle.verdict(lock, "600.0", ["A100"])
    assert v.cudas == {"x86_64": ("11.8", "12.4"), "aarch64": ("11.8", "12.4")}


def test_driver_floors_follow_nvidia_table() -> None:
    lock = _lock(
        _pkg("nvidia-cuda-runtime-cu12", "12.2.140", "nvidia_cuda_runtime_cu12-12.2.140-py3-none-manylinux1_x86_64.whl")
    )
    assert oracle.verdict(lock, "535.54.03", ["A100"]).inside  # 12.2 GA needs exactly 535.54.03
    assert not oracle.verdict(lock, "530.30.02", ["A100"]).inside
    lock13 = _lock(
        _pkg("nvidia-cuda-runtime", "13.0.96", "nvidia_cuda_runtime-13.0.96-py3-none-manylinux_2_27_aarch64.whl")
    )
    assert oracle.verdict(lock13, "580.65.06", ["H100"]).inside
    assert oracle.verdict(lock13, "575.64.05", ["H100"]).offending == ("13.0 (aarch64: nvidia-cuda-runtime 13.0.96)",)


def test_gpu_needs_a_cuda_that_targets_it() -> None:
    lock = _lock(
        _pkg("nvidia-cuda-runtime-cu11", "11.7.99", "nvidia_cuda_runtime_cu11-11.7.99-py3-none-manylinux1_x86_64.whl")
    )
    assert oracle.verdict(lock, "535.54.03", ["A100"]).inside
    assert not oracle.verdict(lock, "535.54.03", ["H100"]).inside  # Hopper needs CUDA 11.8


def test_unknown_cuda_and_major_only_tags() -> None:
    unknown = _lock(_pkg("torch", "9.0.0+cu140", TORCH_X86))
    assert not oracle.verdict(unknown, "999.0", ["H100"]).inside  # no floor known: never inside
    major_only = _lock(_pkg("flash-attn", "2.7.2.post1+cu12torch2.5cxx11abiFALSE", TORCH_X86))
    assert oracle.verdict(major_only, "525.60.13", ["A100"]).inside  # counts as 12.0
    assert not oracle.verdict(major_only, "520.61.05", ["A100"]).inside


def test_cpu_and_rocm_builds_are_not_cuda() -> None:
    lock = _lock(_pkg("torch", "2.8.0+cpu", TORCH_X86), _pkg("torch", "2.8.0+rocm6.4", TORCH_X86))
    assert oracle.verdict(lock, "450.80.02", ["A100"]).inside


def test_accuracy_script_refuses_an_unknown_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert accuracy.main(["no-such-project"]) == 2
    assert "no fixture named no-such-project" in capsys.readouterr().err


def _label(project: str, install: str) -> str | None:
    """lockgen's name for the environment a hand label installs (`uv sync --extra cu128` -> `proj --extra cu128`);
    None for selections lockgen does not enumerate (`--no-default-groups`)."""
    import shlex

    args = shlex.split(install.split("(")[0])[2:]
    extras, groups, no_groups = [], [], []
    i = 0
    while i < len(args):
        flag = args[i]
        if flag == "--no-default-groups":
            return None
        value = args[i + 1]
        {"--extra": extras, "--group": groups, "--no-group": no_groups, "--package": [project]}[flag].append(value)
        if flag == "--package":
            project = value
        i += 2
    parts = [project, *(f"--extra {x}" for x in sorted(extras))]
    return " ".join([*parts, *(f"--group {g}" for g in groups), *(f"--no-group {g}" for g in no_groups)])


@pytest.mark.skipif(not accuracy.DEFAULT_LOCKGEN.is_file(), reason="no .venv/bin/lockgen (run uv sync)")
@pytest.mark.parametrize("name", NAMES)
def test_each_hand_labelled_environment_has_its_cuda(name: str) -> None:
    """Per environment, as a user installs it: lockgen's CUDA on linux x86_64 equals the hand label. An environment
    lockgen does not list installs exactly what one it lists does (an extra that adds nothing on Linux)."""
    import json
    import subprocess

    root = FIXTURES / name
    project = _toml(root / "pyproject.toml")["project"]["name"]
    proc = subprocess.run(
        [str(accuracy.DEFAULT_LOCKGEN), "-C", str(root), "check", "--no-uv", "--json"], capture_output=True, text=True
    )
    doc = json.loads(proc.stdout)
    got = {}
    for env in doc["environments"]:
        x86 = [p for p in env["platforms"] if p["platform"] == "linux-x86_64"]
        got[env["environment"]] = ", ".join(x86[0]["cuda_versions"]) if x86 and x86[0]["cuda_versions"] else "none"
    checked = 0
    for row in _toml(root / "EXPECTED.toml").get("environments", []):
        label = _label(project.lower().replace("_", "-"), row["install"])
        if label is None or label not in got:
            continue
        checked += 1
        want = row["cuda_x86_64"]
        assert got[label] == want or got[label].split(", ")[-1] == want, (label, got[label], want)
    assert checked, f"no hand-labelled environment of {name} is listed by lockgen: {sorted(got)}"
