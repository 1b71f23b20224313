"""The package-world generator: wheels and pages are valid and real-shaped, real uv resolves against them
offline, constraints on the nvidia runtimes steer uv as on PyPI, and the oracle agrees with uv."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import time
import zipfile
from pathlib import Path

import pkgworld as pw
import pytest
from helpers import needs_uv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

LINUX_X86 = 'platform_system == "Linux" and platform_machine == "x86_64"'

# A miniature of PyPI on 2026-11-26 (compat.md 3a and 4): torch's default CUDA per release and vLLM's exact pins.
# torch 2.10.1 / vllm 0.19.2 are fictional: a CUDA 12.9 build, so that the cap "cu12 < 12.9" has something to cut.
MINI_PYPI = pw.make_world(
    {"2.9.1": "12.8", "2.10.0": "12.8", "2.10.1": "12.9", "2.11.0": "13.0", "2.14.0": "13.0"},
    variants={"2.10.0": ["12.6", "12.8"], "2.11.0": ["12.6", "12.8", "13.0"]},
    packages={
        "vllm": {
            "0.16.0": ["torch==2.9.1"],
            "0.19.1": ["torch==2.10.0"],
            "0.19.2": ["torch==2.10.1"],
            "0.20.0": ["torch==2.11.0"],
            "0.33.0": ["torch==2.14.0"],
        },
        "unsloth": {"2026.10.9": ["torch>=2.4.0,<2.15.0", "tinylib>=1.0"]},
        "tinylib": {"1.0": [], "1.1": []},
    },
    members={"serve": ["vllm"], "train": ["unsloth", "torch"]},
)


def run_lock(ws: Path, cache: Path, *extra: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real `uv lock` in `ws` with a private cache and the network guarded."""
    env = pw.uv_env(cache, offline=offline)
    return subprocess.run(
        [pw.uv_binary(), "lock", *extra], cwd=ws, env=env, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------------------------------ wheels


def test_wheel_is_valid_and_deterministic() -> None:
    dist = MINI_PYPI.dist("torch", "2.10.0")
    data = pw.wheel_bytes(dist)
    assert data == pw.wheel_bytes(pw.Dist(**{f: getattr(dist, f) for f in dist.__dataclass_fields__}))
    assert dist.filename == "torch-2.10.0-py3-none-any.whl"
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names[-1] == "torch-2.10.0.dist-info/RECORD"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        meta = zf.read("torch-2.10.0.dist-info/METADATA").decode()
        assert "Name: torch\nVersion: 2.10.0\n" in meta
        assert f"Requires-Dist: nvidia-cuda-runtime-cu12==12.8.90; {LINUX_X86}\n" in meta
        assert "Tag: py3-none-any" in zf.read("torch-2.10.0.dist-info/WHEEL").decode()
        record = zf.read("torch-2.10.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                assert digest == size == ""
                continue
            content = zf.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(content)


def metadata(world: pw.World, name: str, version: str) -> str:
    return pw.metadata_text(world.dist(name, version))


def test_both_runtime_generations_have_the_real_shape() -> None:
    w = pw.make_world({"2.10.0": "12.8", "2.11.0": "13.0"}, variants={"2.11.0": ["13.0"]})
    assert f"Requires-Dist: nvidia-cuda-runtime-cu12==12.8.90; {LINUX_X86}" in metadata(w, "torch", "2.10.0")
    assert 'Requires-Dist: cuda-toolkit[cudart]==13.0.2; platform_system == "Linux"' in metadata(w, "torch", "2.11.0")
    toolkit = metadata(w, "cuda-toolkit", "13.0.2")
    assert "Provides-Extra: cudart" in toolkit
    assert 'Requires-Dist: nvidia-cuda-runtime==13.0.96.*; extra == "cudart"' in toolkit
    assert w.versions("nvidia-cuda-runtime") == ("13.0.96",)
    assert w.versions("nvidia-cuda-runtime-cu12") == ("12.8.90",)
    variant = w.dist("torch", "2.11.0+cu130")
    assert variant.index == "cu130"
    assert variant.requires == ('nvidia-cuda-runtime==13.0.96; platform_system == "Linux"',)
    direct = pw.make_world({"2.11.0": "13.0"}, style13="runtime")
    assert direct.dist("torch", "2.11.0").requires == ('nvidia-cuda-runtime==13.0.96; platform_system == "Linux"',)
    assert w.indexes == ("pypi", "cu130")


def test_world_rejects_requirements_that_point_at_nothing() -> None:
    with pytest.raises(ValueError, match="torch==9.9"):
        pw.make_world({"2.8.0": "12.8"}, packages={"vllm": {"0.1.0": ["torch==9.9"]}})
    with pytest.raises(ValueError, match="member app"):
        pw.make_world({"2.8.0": "12.8"}, members={"app": ["nothere"]})


def test_hidden_build_ships_an_elf_linking_cudart() -> None:
    w = pw.make_world(
        {"2.8.0": "12.8"}, packages={"vllm": {"0.1.0": ["torch==2.8.0"]}}, build_cuda={("vllm", "0.1.0"): "12.9"}
    )
    dist = w.dist("vllm", "0.1.0")
    files = pw.wheel_files(dist)
    so = files["vllm/_C.so"]
    assert so[:4] == b"\x7fELF" and b"libcudart.so.12\0" in so
    assert b"Cuda compilation tools, release 12.9, V12.9.0" in so
    assert "12.9" not in pw.metadata_text(dist)  # hidden: metadata says nothing


# ------------------------------------------------------------------------------------------------ index pages


def test_index_pages_link_every_wheel_with_its_hash(tmp_path: Path) -> None:
    paths = pw.write_index(MINI_PYPI, tmp_path)
    assert set(paths.simple) == {"pypi", "cu126", "cu128", "cu130"}
    root_page = (paths.simple["pypi"] / "index.html").read_text()
    assert '<a href="torch/">torch</a>' in root_page and '<a href="cuda-toolkit/">' in root_page
    page = paths.simple["cu128"] / "torch" / "index.html"
    hrefs = re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.read_text())
    assert [h for h, _ in hrefs] == [
        "../../files/torch-2.10.0%2Bcu128-py3-none-any.whl",
        "../../files/torch-2.11.0%2Bcu128-py3-none-any.whl",
    ]
    for href, digest in hrefs:
        wheel = (page.parent / href.replace("%2B", "+")).resolve()
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == digest
        meta = Path(str(wheel) + ".metadata").read_bytes()
        assert f'data-core-metadata="sha256={hashlib.sha256(meta).hexdigest()}"' in page.read_text()
    assert 'data-upload-time="2025-01-02T00:00:00Z"' in page.read_text()


def test_writing_twice_gives_identical_bytes(tmp_path: Path) -> None:
    a = pw.write_index(MINI_PYPI, tmp_path / "a")
    b = pw.write_index(MINI_PYPI, tmp_path / "b")
    files_a = sorted(p.relative_to(a.root) for p in a.root.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b.root) for p in b.root.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    assert all((a.root / p).read_bytes() == (b.root / p).read_bytes() for p in files_a)


def test_server_serves_the_pages(tmp_path: Path) -> None:
    import urllib.request

    paths = pw.write_index(MINI_PYPI, tmp_path)
    with pw.serve_index(paths.root) as base:
        url = paths.http_urls(base)["pypi"] + "/vllm/"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
    assert "vllm-0.33.0-py3-none-any.whl" in body


# ------------------------------------------------------------------------------------------------ strategy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pw.worlds())
def test_drawn_worlds_are_real_and_monotone(world: pw.World) -> None:
    assert pw.validate(world) == []
    defaults = [d for d in world.torch_builds() if d.index == "pypi"]
    assert defaults, "every world has torch"
    cudas = [pw.cuda_key(d.cuda or "") for d in defaults]
    assert cudas == sorted(cudas)
    pins = [Version(world.dist("vllm", v).requires[0].split("==")[1]) for v in world.versions("vllm")]
    assert pins == sorted(pins)
    for d in world.torch_builds():
        if d.index != "pypi":
            assert d.version.endswith("+" + d.index) and pw.cuda_label(d.cuda or "") == d.index


@settings(max_examples=60, deadline=None)
@given(pw.worlds(monotone=False, hidden_builds=True))
def test_non_monotone_worlds_are_still_valid(world: pw.World) -> None:
    assert pw.validate(world) == []
    for d in world.dists:
        if d.build_cuda:
            assert "vllm/_C.so" in pw.wheel_files(d)


# ------------------------------------------------------------------------------------------------ oracle


def test_oracle_on_the_mini_pypi() -> None:
    everything = pw.oracle_solutions(MINI_PYPI, None)
    assert everything["serve"].newest_torch == "2.14.0"
    assert everything["serve"].solutions[0].version("vllm") == "0.33.0"
    assert everything["train"].newest_torch == "2.14.0"
    # Driver 570 (CUDA <= 12.8): serve falls back to vllm 0.19.1 + torch 2.10.0, as seen on PyPI.
    r570 = pw.oracle_solutions(MINI_PYPI, {"11.8", "12.0", "12.1", "12.2", "12.4", "12.6", "12.8"})
    serve = r570["serve"]
    assert serve.newest_torch == "2.10.0"
    assert serve.solutions[0].version("vllm") == "0.19.1" and serve.solutions[0].cuda == "12.8"
    assert serve.solutions[0].version("nvidia-cuda-runtime-cu12") == "12.8.90"
    assert r570["train"].newest_torch == "2.10.0"
    # Only CUDA 12.6: nothing on PyPI; torch routed to the cu126 index gives torch 2.11.0+cu126 for train.
    only126 = {"12.6"}
    assert not pw.oracle_solutions(MINI_PYPI, only126)["serve"].solvable
    routed = pw.oracle_solutions(MINI_PYPI, only126, routes={"torch": "cu126"})
    assert routed["train"].solutions[0].torch == "2.11.0+cu126"
    assert routed["serve"].newest_torch == "2.11.0"  # vllm 0.20.0's ==2.11.0 matches 2.11.0+cu126


def test_oracle_respects_hidden_builds() -> None:
    w = pw.make_world(
        {"2.9.0": "12.8", "2.11.0": "13.0"},
        packages={"vllm": {"0.1.0": ["torch==2.9.0"], "0.2.0": ["torch==2.11.0"]}},
        members={"serve": ["vllm"]},
        build_cuda={("vllm", "0.2.0"): "12.8"},  # a CUDA 12 binary next to a CUDA 13 torch
    )
    assert pw.oracle_solutions(w, None)["serve"].newest_torch == "2.11.0"
    assert pw.oracle_solutions(w, None, builds=True)["serve"].newest_torch == "2.9.0"


def test_oracle_follows_extras_and_markers() -> None:
    w = pw.make_world({"2.11.0": "13.0"}, members={"app": ["torch"]})
    (sol,) = pw.oracle_solutions(w, None)["app"].solutions
    assert sol.version("cuda-toolkit") == "13.0.2" and sol.version("nvidia-cuda-runtime") == "13.0.96"
    assert not pw.oracle_solutions(w, {"12.8"})["app"].solvable


# ------------------------------------------------------------------------------------------------ reference window

R570_EXPECTED = {"11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8"}


@pytest.mark.parametrize(
    ("driver", "ccs", "policy", "expected"),
    [
        ("570", (), "toolkit", R570_EXPECTED),
        ("570.26", ("8.0", "9.0"), "toolkit", R570_EXPECTED),
        ("570.25", (), "toolkit", R570_EXPECTED - {"12.8"}),
        ("535.54.03", (), "toolkit", {"11.8", "12.0", "12.1", "12.2"}),
        ("580.65.06", ("7.0",), "toolkit", R570_EXPECTED | {"12.9"}),  # V100: no CUDA 13
        ("580.65.06", ("10.0",), "toolkit", {"12.8", "12.9", "13.0"}),  # B200: CUDA >= 12.8
        ("525.60.13", (), "minor", R570_EXPECTED | {"12.9"}),
        ("610", ("12.0",), "toolkit", {"12.8", "12.9", "13.0", "13.1", "13.2", "13.3"}),
    ],
)
def test_reference_window(driver: str, ccs: tuple[str, ...], policy: str, expected: set[str]) -> None:
    assert pw.reference_window(driver, ccs, policy) == frozenset(expected)


# ------------------------------------------------------------------------------------------------ real uv


def torch_of(lock_text: str, member: str) -> tuple[str, ...]:
    return pw.member_locked(lock_text, member).get("torch", ())


@pytest.mark.uv
@needs_uv
def test_uv_locks_against_a_file_index_offline(tmp_path: Path) -> None:
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    ws = pw.write_workspace(MINI_PYPI, tmp_path / "ws", index_urls=paths.file_urls())
    r = run_lock(ws, tmp_path / "cache", offline=True)
    assert r.returncode == 0, r.stderr
    lock = (ws / "uv.lock").read_text()
    assert "pypi.org" not in lock and paths.simple["pypi"].as_posix() in lock
    assert torch_of(lock, "serve") == ("2.14.0",)
    assert pw.member_locked(lock, "serve")["vllm"] == ("0.33.0",)
    assert pw.member_locked(lock, "serve")["nvidia-cuda-runtime"] == ("13.0.96",)
    assert torch_of(lock, "train") == ("2.14.0",)


@pytest.mark.uv
@needs_uv
def test_uv_default_index_flag_over_http(tmp_path: Path) -> None:
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    ws = pw.write_workspace(MINI_PYPI, tmp_path / "ws", index_urls={}, default_in_pyproject=False)
    with pw.serve_index(paths.root) as base:
        url = paths.http_urls(base)["pypi"]
        r = run_lock(ws, tmp_path / "cache", "--default-index", url)
    assert r.returncode == 0, r.stderr
    lock = (ws / "uv.lock").read_text()
    assert f'registry = "{url}"' in lock and "pypi.org" not in lock
    assert torch_of(lock, "serve") == ("2.14.0",)


@pytest.mark.uv
@needs_uv
def test_capping_the_cu12_runtime_steers_uv_as_on_pypi(tmp_path: Path) -> None:
    """Seen on PyPI 2026-11-26: cu12 runtime < 12.9 and no unsuffixed runtime -> vllm 0.19.1 + torch 2.10.0."""
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    caps = ["nvidia-cuda-runtime-cu12<12.9", "nvidia-cuda-runtime<0"]
    ws = pw.write_workspace(MINI_PYPI, tmp_path / "ws", index_urls=paths.file_urls(), constraints=caps)
    r = run_lock(ws, tmp_path / "cache", offline=True)
    assert r.returncode == 0, r.stderr
    serve = pw.member_locked((ws / "uv.lock").read_text(), "serve")
    assert serve["vllm"] == ("0.19.1",) and serve["torch"] == ("2.10.0",)
    assert serve["nvidia-cuda-runtime-cu12"] == ("12.8.90",) and "nvidia-cuda-runtime" not in serve
    # Without the exclusion of the unsuffixed runtime, the cap alone does not hold CUDA 13 back.
    ws2 = pw.write_workspace(MINI_PYPI, tmp_path / "ws2", index_urls=paths.file_urls(), constraints=caps[:1])
    assert run_lock(ws2, tmp_path / "cache", offline=True).returncode == 0
    assert torch_of((ws2 / "uv.lock").read_text(), "serve") == ("2.14.0",)


@pytest.mark.uv
@needs_uv
def test_routing_torch_to_a_variant_index(tmp_path: Path) -> None:
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    ws = pw.write_workspace(
        MINI_PYPI,
        tmp_path / "ws",
        index_urls=paths.file_urls(),
        routes={"torch": "cu126"},
        constraints=pw.exclusion_constraints({"12.6"}),
    )
    r = run_lock(ws, tmp_path / "cache", offline=True)
    assert r.returncode == 0, r.stderr
    lock = (ws / "uv.lock").read_text()
    assert torch_of(lock, "train") == ("2.11.0+cu126",)
    assert pw.member_locked(lock, "train")["nvidia-cuda-runtime-cu12"] == ("12.6.77",)


@pytest.mark.uv
@needs_uv
def test_exclude_newer_uses_the_upload_times(tmp_path: Path) -> None:
    w = pw.make_world(
        {"2.8.0": "12.8", "2.9.0": "12.8"},
        members={"app": ["torch"]},
        upload_times={("torch", "2.9.0"): "2026-06-01T00:00:00Z"},
    )
    paths = pw.write_index(w, tmp_path / "idx")
    ws = pw.write_workspace(w, tmp_path / "ws", index_urls=paths.file_urls(), exclude_newer="2026-01-01T00:00:00Z")
    r = run_lock(ws, tmp_path / "cache", offline=True)
    assert r.returncode == 0, r.stderr
    assert torch_of((ws / "uv.lock").read_text(), "app") == ("2.8.0",)


@pytest.mark.uv
@needs_uv
def test_lock_is_reproducible(tmp_path: Path) -> None:
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    texts = []
    for i in range(2):
        ws = pw.write_workspace(MINI_PYPI, tmp_path / "ws", index_urls=paths.file_urls())
        (ws / "uv.lock").unlink(missing_ok=True)
        assert run_lock(ws, tmp_path / f"cache{i}", offline=True).returncode == 0
        texts.append((ws / "uv.lock").read_bytes())
    assert texts[0] == texts[1]


@pytest.mark.uv
@needs_uv
def test_one_lock_of_a_small_world_is_fast(tmp_path: Path) -> None:
    """Issue 4 wants >= 60 scenarios/minute; one cold uv lock must leave room for several per scenario."""
    paths = pw.write_index(MINI_PYPI, tmp_path / "idx")
    ws = pw.write_workspace(MINI_PYPI, tmp_path / "ws", index_urls=paths.file_urls())
    t = time.perf_counter()
    assert run_lock(ws, tmp_path / "cache", offline=True).returncode == 0
    assert time.perf_counter() - t < 5.0


@pytest.mark.uv
@pytest.mark.slow
@needs_uv
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=pw.worlds(max_torch=4, max_members=1), window_idx=st.sets(st.integers(0, len(pw.CUDAS) - 1), min_size=1))
def test_oracle_agrees_with_uv(tmp_path_factory: pytest.TempPathFactory, world: pw.World, window_idx: set[int]) -> None:
    """On monotone one-member worlds, with runtimes outside the window excluded, uv's torch is the oracle's newest,
    and uv fails exactly when the oracle finds no solution. (One member: see the sibling-preference test below.)"""
    window = {pw.CUDAS[i] for i in window_idx}
    tmp = tmp_path_factory.mktemp("agree")
    paths = pw.write_index(world, tmp / "idx")
    ws = pw.write_workspace(
        world, tmp / "ws", index_urls=paths.file_urls(), constraints=pw.exclusion_constraints(window)
    )
    answers = pw.oracle_solutions(world, window)
    r = run_lock(ws, tmp / "cache", offline=True)
    solvable = all(a.solvable for a in answers.values())
    assert (r.returncode == 0) == solvable, r.stderr
    if not solvable:
        return
    lock = (ws / "uv.lock").read_text()
    for member, answer in answers.items():
        got = {Version(v).public for v in torch_of(lock, member)}
        want = {answer.newest_torch} if answer.newest_torch else set()
        assert got == want, (member, got, want)


@pytest.mark.uv
@needs_uv
def test_uv_prefers_a_sibling_members_torch(tmp_path: Path) -> None:
    """Recorded uv behaviour (0.13.9): across conflicting members, uv reuses the torch one member pins for the
    other member's unpinned torch, although a newer one is allowed there. The oracle answers per member, so a
    maximality property must pin or relax every member alike (this is why the agreement test has one member)."""
    w = pw.make_world(
        {"2.0.0": "11.8", "2.1.0": "11.8", "2.2.0": "11.8"},
        packages={"unsloth": {"2026.1": ["torch>=2.0.0,<2.2.0"]}},
        members={"serve": ["torch", "unsloth"], "train": ["torch==2.0.0"]},
    )
    assert pw.oracle_solutions(w, None)["serve"].newest_torch == "2.1.0"
    paths = pw.write_index(w, tmp_path / "idx")
    ws = pw.write_workspace(w, tmp_path / "ws", index_urls=paths.file_urls())
    assert run_lock(ws, tmp_path / "cache", offline=True).returncode == 0
    assert torch_of((ws / "uv.lock").read_text(), "serve") == ("2.0.0",)
    alone = pw.World(w.dists, (w.member("serve"),))
    ws2 = pw.write_workspace(alone, tmp_path / "ws2", index_urls=paths.file_urls())
    assert run_lock(ws2, tmp_path / "cache", offline=True).returncode == 0
    assert torch_of((ws2 / "uv.lock").read_text(), "serve") == ("2.1.0",)
