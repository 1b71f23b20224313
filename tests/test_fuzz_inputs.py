"""Fuzzing what lockgen reads (issue 12, "How we will know"): random values in `[tool.lockgen]`, in the uv.lock fields
lockgen uses, and in notebook `# /// script` headers. The CLI (in process) must never end in "internal error"
(exit 3) or a traceback, and every exit 2 must be one line naming the file and the key.

Values are drawn from everything TOML can hold (strings - with near-misses such as "12.4", "٥٨٠", "../x" -,
integers, floats, booleans, arrays, tables), put at the keys lockgen reads and at random ones. A failure is a
bad input that escaped validation; hypothesis prints the smallest one it found.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from helpers import copy_workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lockgen.cli import main

SETTINGS = settings(
    max_examples=int(os.environ.get("LOCKGEN_FUZZ", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Near-misses for the values lockgen parses: driver versions, GPU names, CUDA labels, paths, URLs, requirements.
NEAR = st.sampled_from(
    [
        "",
        " ",
        "580",
        "580.65.06",
        "12.4",
        "13",
        "999.99",
        "٥٨٠",
        "570.x",
        "H100",
        "h100",
        "A1000",
        "9.0",
        "99.9",
        "toolkit",
        "minor",
        "cu128",
        "cu12x",
        "train",
        "serve",
        "nope",
        "notebooks/train_smoke.py",
        "../x.py",
        "/etc/passwd",
        "https://h/{label}",
        "https://h/{0}",
        "ftp://h/{label}",
        "{label",
        "torch==2.10.0",
        "vllm===!!bad",
        "torch>=",
        "sha256:00",
        "python_version >= '3.12'",
        "extra == 'x'",
        "(((",
    ]
)
SCALAR = st.one_of(
    NEAR,
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["path", "member", "url", "x", "name"]), inner)
    ),
    max_leaves=8,
)

LOCKGEN_KEYS = [
    "driver",
    "gpus",
    "policy",
    "notebooks",
    "cuda-index",
    "managed-constraints",
    "managed-sources",
    "ranges",
    "other",
]
FILE_KEY = re.compile(r"^lockgen: error: (?P<file>[^:]+): (?P<key>[^:]+): \S")


def run(ws: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(ws), *argv])
    return code, out.getvalue(), err.getvalue()


NO_UV = "uv is not run by the fuzz suite"


def no_uv() -> str:
    from lockgen.errors import UvError

    raise UvError(NO_UV)


def assert_clean(code: int, err: str, files: tuple[str, ...]) -> None:
    assert code in (0, 1, 2), err
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 2:
        lines = [line for line in err.strip().splitlines() if line.startswith("lockgen: error:")]
        assert len(lines) == 1, err
        assert err.strip().splitlines()[-1] == lines[0], f"the error is not one line: {err!r}"
        if NO_UV in lines[0]:
            return  # the input passed validation and `lock` reached its first uv run
        m = FILE_KEY.match(lines[0])
        assert m, f"exit 2 without a file and a key: {lines[0]!r}"
        assert m.group("file") in files or m.group("file").startswith(files), lines[0]


@contextlib.contextmanager
def scratch(make: Any) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lockgen-fuzz-"))
    try:
        yield make(d / "ws")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def real_ws() -> Iterator[Path]:
    with scratch(copy_workspace) as ws:
        yield ws


# ---- [tool.lockgen] ----


@pytest.mark.slow
@SETTINGS
@given(st.dictionaries(st.sampled_from(LOCKGEN_KEYS), VALUE, min_size=1, max_size=3))
def test_fuzz_tool_lockgen(real_ws: Path, table: dict[str, Any]) -> None:
    py = real_ws / "pyproject.toml"
    original = py.read_text(encoding="utf-8")
    doc = tomlkit.parse(original)
    lg = doc["tool"]["lockgen"]  # type: ignore[index]
    for k, v in table.items():
        lg[k] = v  # type: ignore[index]
    before = {p: p.read_bytes() for p in real_ws.rglob("*") if p.is_file() and p != py}
    try:
        py.write_text(tomlkit.dumps(doc), encoding="utf-8")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("lockgen.seams.uvtool.find_uv", no_uv)  # `lock` reads everything, then stops at its first uv run
            for argv in (("check", "--no-uv"), ("check", "--no-uv", "--json"), ("lock",)):
                code, _, err = run(real_ws, *argv)
                assert_clean(code, err, ("pyproject.toml", "notebooks/", "uv.lock", "nix/"))
    finally:
        py.write_text(original, encoding="utf-8")
    assert {p: p.read_bytes() for p in real_ws.rglob("*") if p.is_file() and p != py} == before


# ---- uv.lock fields ----

SMALL_ROOT = """\
[project]
name = "root"
version = "0"
requires-python = ">=3.12"

[tool.uv.workspace]
members = ["train"]

[tool.lockgen]
driver = "580.65.06"
gpus = ["H100"]
"""
PYPI = {"registry": "https://pypi.org/simple"}


def small_lock() -> dict[str, Any]:
    def wheel(n: str, v: str) -> list[dict[str, str]]:
        return [
            {"url": f"https://files.pythonhosted.org/packages/x/{n}-{v}-py3-none-any.whl", "hash": "sha256:" + "0" * 64}
        ]

    return {
        "version": 1,
        "revision": 3,
        "requires-python": "==3.12.*",
        "manifest": {"members": ["train"]},
        "package": [
            {
                "name": "train",
                "version": "0.1.0",
                "source": {"editable": "train"},
                "dependencies": [{"name": "torch"}],
                "metadata": {"requires-dist": [{"name": "torch", "specifier": "==2.10.0"}]},
            },
            {
                "name": "torch",
                "version": "2.10.0",
                "source": PYPI,
                "dependencies": [{"name": "nvidia-cuda-runtime-cu12", "marker": "sys_platform == 'linux'"}],
                "wheels": wheel("torch", "2.10.0"),
            },
            {"name": "nvidia-cuda-runtime-cu12", "version": "12.8.90", "source": PYPI, "wheels": wheel("n", "12.8.90")},
        ],
    }


def make_small(root: Path) -> Path:
    (root / "train").mkdir(parents=True)
    (root / "pyproject.toml").write_text(SMALL_ROOT)
    (root / "train/pyproject.toml").write_text(
        '[project]\nname = "train"\nversion = "0.1.0"\ndependencies = ["torch==2.10.0"]\n'
    )
    (root / "uv.lock").write_text(tomlkit.dumps(small_lock()))
    return root


PACKAGE_FIELDS = [
    "name",
    "version",
    "source",
    "dependencies",
    "optional-dependencies",
    "dev-dependencies",
    "wheels",
    "sdist",
    "metadata",
    "resolution-markers",
]
TOP_FIELDS = [
    "version",
    "revision",
    "requires-python",
    "manifest",
    "conflicts",
    "supported-markers",
    "options",
    "package",
]
DEP_FIELDS = ["name", "version", "source", "marker", "extra"]


@st.composite
def lock_mutation(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any]:
    where = draw(st.sampled_from(["top", "package", "dependency", "wheel", "requires-dist"]))
    value = draw(VALUE)
    i = draw(st.integers(0, 2))
    if where == "top":
        return (draw(st.sampled_from(TOP_FIELDS)),), value
    if where == "package":
        return ("package", i, draw(st.sampled_from(PACKAGE_FIELDS))), value
    if where == "dependency":
        return ("package", draw(st.integers(0, 1)), "dependencies", 0, draw(st.sampled_from(DEP_FIELDS))), value
    if where == "wheel":
        return ("package", draw(st.integers(1, 2)), "wheels", 0, draw(st.sampled_from(["url", "hash", "x"]))), value
    return ("package", 0, "metadata", "requires-dist", 0, draw(st.sampled_from(["name", "specifier", "marker"]))), value


@pytest.fixture(scope="module")
def small_ws() -> Iterator[Path]:
    with scratch(make_small) as ws:
        yield ws


def test_the_small_workspace_is_clean(small_ws: Path) -> None:
    code, out, err = run(small_ws, "check", "--no-uv")
    assert code == 0, out + err


def set_at(node: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set `value` at `path` when every step before the last exists (a missing step: no change)."""
    for step in path[:-1]:
        if (
            isinstance(node, list)
            and isinstance(step, int)
            and step < len(node)
            or isinstance(node, dict)
            and step in node
        ):
            node = node[step]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) or isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value


@SETTINGS
@given(st.lists(lock_mutation(), min_size=1, max_size=3))
def test_fuzz_uv_lock_fields(small_ws: Path, mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    data = small_lock()
    for path, value in mutations:
        set_at(data, path, value)
    lock = small_ws / "uv.lock"
    try:
        text = tomlkit.dumps(data)
        tomllib.loads(text)
    except Exception:  # a value TOML cannot hold (tomlkit refuses or writes what it cannot read): not our case
        return
    old = lock.read_bytes()
    os.environ["LOCKGEN_NO_CACHE"] = "1"
    try:
        lock.write_text(text)
        for argv in (("check", "--no-uv"), ("export", "--member", "train", "--format", "colab")):
            code, _, err = run(small_ws, *argv)
            assert_clean(code, err, ("uv.lock", "pyproject.toml", "train/pyproject.toml"))
    finally:
        os.environ.pop("LOCKGEN_NO_CACHE", None)
        lock.write_bytes(old)


# ---- notebook headers ----

HEADER_KEYS = ["requires-python", "dependencies", "tool", "x"]


@st.composite
def header(draw: st.DrawFn) -> dict[str, Any]:
    out = draw(st.dictionaries(st.sampled_from(HEADER_KEYS), VALUE, max_size=3))
    if draw(st.booleans()):
        out["tool"] = {
            draw(st.sampled_from(["uv", "lockgen", "x"])): draw(
                st.one_of(VALUE, st.fixed_dictionaries({draw(st.sampled_from(["index", "sources", "export"])): VALUE}))
            )
        }
    return out


@pytest.mark.slow
@SETTINGS
@given(header())
def test_fuzz_notebook_headers(real_ws: Path, block: dict[str, Any]) -> None:
    try:
        toml = tomlkit.dumps(block)
        tomllib.loads(toml)
    except Exception:
        return
    nb = real_ws / "notebooks/train_smoke.py"
    original = nb.read_bytes()
    commented = "".join(f"# {line}\n" if line else "#\n" for line in toml.splitlines())
    try:
        nb.write_text(f"# /// script\n{commented}# ///\nimport marimo\n", encoding="utf-8")
        code, _, err = run(real_ws, "check", "--no-uv")
        assert_clean(code, err, ("notebooks/train_smoke.py", "pyproject.toml"))
        code, _, err = run(real_ws, "export", "--member", "train", "--format", "pep723", "--into", str(nb), "--check")
        assert_clean(code, err, (str(nb), "notebooks/train_smoke.py", "pyproject.toml"))
    finally:
        nb.write_bytes(original)
