"""Generated package worlds published as local PEP 503 indexes, for tests that run the real uv offline.

A `World` is a pure value: the wheels ("dists") that exist on a default index ("pypi") and on PyTorch-style
variant indexes ("cu126", "cu128", ...), and the members of a workspace that depends on them. Torch-like
builds declare their CUDA runtime exactly as the real wheels do:

- CUDA 11.x / 12.x: ``nvidia-cuda-runtime-cu12==12.8.90; platform_system == "Linux" and platform_machine == "x86_64"``
- CUDA 13.x (PyPI, torch >= 2.11): ``cuda-toolkit[cudart]==13.0.2; platform_system == "Linux"``, where the
  ``cuda-toolkit`` metapackage pins the unsuffixed ``nvidia-cuda-runtime==13.0.96.*`` under its ``cudart`` extra;
  or (``style13="runtime"``, as PyTorch's cu130 index builds do) ``nvidia-cuda-runtime==13.0.96`` directly.

The runtime packages themselves exist in the world at those versions (see `RUNTIMES`, from
shared/reference/compat.md section 3a). Each dist also carries the ground truth the metadata does or does not
show (`Dist.cuda`, `Dist.build_cuda`), which only the oracle reads.

Pieces:

- `make_world(...)`: build a world by hand (torch versions -> CUDA, variants, other packages, members).
- `worlds()`: a hypothesis strategy; every drawn requirement is an index into what exists.
- `wheel_bytes(dist)`, `write_index(world, dir)`, `serve_index(dir)`: tiny deterministic wheels, the simple
  pages (``#sha256=`` fragments, ``data-requires-python``, ``data-upload-time``, PEP 658 metadata files), and an
  http.server on 127.0.0.1 in a thread. uv also reads the directories directly as ``file://`` indexes.
- `write_workspace(world, root, ...)`: a uv workspace (root + members) pointing at the indexes.
- `oracle_solutions(world, window, ...)`: brute force over the world - every consistent install set per member,
  and the newest torch whose CUDA lies in the window. Independent of lockgen's code.
- `reference_window(driver, ccs)`: the CUDA window from a hand copy of NVIDIA's tables (compat.md 1-2),
  independent of lockgen's data file, so a planted bug in lockgen's tables or window shows.
- `elf_shared_object(...)`: a minimal ELF shared object with chosen DT_NEEDED entries, used to give
  compiled-looking dists a hidden build CUDA (``libcudart.so.12`` + an nvcc ident string).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import http.server
import io
import os
import shutil
import struct
import sys
import threading
import tomllib
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tomlkit
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

DEFAULT_INDEX = "pypi"
LINUX_X86 = 'platform_system == "Linux" and platform_machine == "x86_64"'
LINUX = 'platform_system == "Linux"'
BASE_UPLOAD = datetime(2025, 1, 1, tzinfo=UTC)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PYTHON = "3.12"


# ---------------------------------------------------------------------------------------------------------------
# Ground truth: how each CUDA minor shows in a torch wheel's METADATA.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """The nvidia runtime wheel a CUDA minor's torch build pins, and the cuda-toolkit metapackage for 13.x."""

    cuda: str
    package: str
    version: str
    toolkit: str | None = None  # cuda-toolkit version whose `cudart` extra pins `package==version.*`


# compat.md 3a (torch METADATA on PyPI; cuda-toolkit -> runtime mapping). 11.8's runtime (cu11 11.8.89) is the
# pin of torch's cu118 builds on download.pytorch.org (not in compat.md; only its shape matters here).
RUNTIMES: Mapping[str, Runtime] = {
    r.cuda: r
    for r in (
        Runtime("11.8", "nvidia-cuda-runtime-cu11", "11.8.89"),
        Runtime("12.1", "nvidia-cuda-runtime-cu12", "12.1.105"),
        Runtime("12.4", "nvidia-cuda-runtime-cu12", "12.4.127"),
        Runtime("12.6", "nvidia-cuda-runtime-cu12", "12.6.77"),
        Runtime("12.8", "nvidia-cuda-runtime-cu12", "12.8.90"),
        Runtime("12.9", "nvidia-cuda-runtime-cu12", "12.9.79"),
        Runtime("13.0", "nvidia-cuda-runtime", "13.0.96", toolkit="13.0.2"),
        Runtime("13.1", "nvidia-cuda-runtime", "13.1.80", toolkit="13.1.0"),
        Runtime("13.2", "nvidia-cuda-runtime", "13.2.86", toolkit="13.2.2"),
    )
}
CUDAS: tuple[str, ...] = tuple(RUNTIMES)  # ascending


def cuda_key(cuda: str) -> tuple[int, int]:
    """Order "12.10" after "12.9": a CUDA "X.Y" string as a tuple of ints."""
    major, minor = cuda.split(".")[:2]
    return int(major), int(minor)


def cuda_label(cuda: str) -> str:
    """The PyTorch index / local-version label of a CUDA minor: "12.8" -> "cu128"."""
    major, minor = cuda_key(cuda)
    return f"cu{major}{minor}"


def runtime_requirement(cuda: str, style13: str = "toolkit") -> str:
    """The Requires-Dist line by which a torch build for `cuda` declares its runtime, as the real wheels do."""
    rt = RUNTIMES[cuda]
    if cuda_key(cuda)[0] >= 13:
        if style13 == "toolkit":
            return f"cuda-toolkit[cudart]=={rt.toolkit}; {LINUX}"
        return f"{rt.package}=={rt.version}; {LINUX}"
    return f"{rt.package}=={rt.version}; {LINUX_X86}"


# ---------------------------------------------------------------------------------------------------------------
# The world value.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """One published wheel: what its METADATA says, where it is published, and what it hides.

    `cuda` is the CUDA runtime a torch-like build needs (shown by its runtime requirement); `build_cuda` is the
    CUDA a compiled package was built with, which its metadata does not show (only a shared library inside the
    wheel does). Both are ground truth for the oracle.
    """

    name: str
    version: str
    requires: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    index: str = DEFAULT_INDEX
    cuda: str | None = None
    build_cuda: str | None = None
    requires_python: str | None = None
    upload_time: str = "2025-01-01T00:00:00Z"

    @property
    def project(self) -> str:
        """The normalized project name (PEP 503)."""
        return canonicalize_name(self.name)

    @property
    def filename(self) -> str:
        """The wheel's file name, e.g. ``nvidia_cuda_runtime_cu12-12.8.90-py3-none-any.whl``."""
        return f"{self.project.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def public_version(self) -> str:
        """The version without its local label: "2.8.0+cu126" -> "2.8.0"."""
        return Version(self.version).public


@dataclass(frozen=True)
class Member:
    """A workspace member and its direct requirements."""

    name: str
    requires: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """Every dist on every index, and the workspace members. Validated: each requirement names something real."""

    dists: tuple[Dist, ...]
    members: tuple[Member, ...]
    torch: str = "torch"

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            raise ValueError("invalid world: " + "; ".join(problems))

    @property
    def indexes(self) -> tuple[str, ...]:
        """The index labels: "pypi" first, then variant indexes in CUDA order."""
        others = {d.index for d in self.dists} - {DEFAULT_INDEX}
        return (DEFAULT_INDEX, *sorted(others, key=lambda label: (len(label), label)))

    def on(self, index: str) -> tuple[Dist, ...]:
        """The dists published on one index."""
        return tuple(d for d in self.dists if d.index == index)

    def versions(self, name: str, index: str | None = DEFAULT_INDEX) -> tuple[str, ...]:
        """Versions of a project on an index (all indexes for None), ascending."""
        project = canonicalize_name(name)
        found = {d.version for d in self.dists if d.project == project and (index is None or d.index == index)}
        return tuple(sorted(found, key=Version))

    def dist(self, name: str, version: str, index: str | None = None) -> Dist:
        """The dist with this name and exact version (string-equal), on `index` if given."""
        project = canonicalize_name(name)
        for d in self.dists:
            if d.project == project and d.version == version and (index is None or d.index == index):
                return d
        raise KeyError(f"{name}=={version}")

    def member(self, name: str) -> Member:
        """A member by name."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)

    def torch_builds(self) -> tuple[Dist, ...]:
        """Every torch build on every index, ascending by version."""
        project = canonicalize_name(self.torch)
        return tuple(sorted((d for d in self.dists if d.project == project), key=lambda d: Version(d.version)))

    def digest(self) -> str:
        """A short content hash: write each world under its own path so uv caches never mix two worlds."""
        h = hashlib.sha256(repr((self.dists, self.members, self.torch)).encode())
        return h.hexdigest()[:16]


def validate(world: World) -> list[str]:
    """Everything wrong with a world: duplicates, and requirements that point at nothing real."""
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for d in world.dists:
        key = (d.project, d.version, d.index)
        if key in seen:
            problems.append(f"duplicate {d.name}=={d.version} on {d.index}")
        seen.add(key)
        if d.cuda is not None and d.cuda not in RUNTIMES:
            problems.append(f"{d.name}=={d.version}: unknown CUDA {d.cuda}")
        if Version(d.version).local and d.index == DEFAULT_INDEX:
            problems.append(f"{d.name}=={d.version}: local versions belong on a variant index")
    by_project: dict[str, list[Dist]] = {}
    for d in world.dists:
        by_project.setdefault(d.project, []).append(d)
    sources = [(f"{d.name}=={d.version}", r) for d in world.dists for r in d.requires]
    sources += [(f"member {m.name}", r) for m in world.members for r in m.requires]
    for who, text in sources:
        req = Requirement(text)
        candidates = by_project.get(canonicalize_name(req.name), [])
        if not any(req.specifier.contains(c.version, prereleases=True) for c in candidates):
            problems.append(f"{who}: {text!r} matches no published version")
        for extra in req.extras:
            if candidates and not all(extra in c.extras for c in candidates):
                problems.append(f"{who}: {text!r} names extra {extra!r} that some {req.name} lacks")
    names = [m.name for m in world.members]
    if len(set(names)) != len(names) or not names:
        problems.append("members must be one or more distinct names")
    return problems


def _upload_time(rank: int) -> str:
    return (BASE_UPLOAD + timedelta(days=rank)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_world(
    torch: Mapping[str, str],
    *,
    variants: Mapping[str, Sequence[str]] | None = None,
    packages: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    members: Mapping[str, Sequence[str]] | None = None,
    build_cuda: Mapping[tuple[str, str], str] | None = None,
    style13: str = "toolkit",
    extra_runtimes: Sequence[str] = (),
    upload_times: Mapping[tuple[str, str], str] | None = None,
) -> World:
    """Build a world by hand.

    `torch`: version -> CUDA of its default (PyPI) build. `variants`: version -> CUDA minors published as
    ``version+cuXYZ`` on index "cuXYZ". `packages`: other projects, name -> version -> Requires-Dist lines.
    `members`: member name -> requirements. `build_cuda`: (name, version) -> hidden build CUDA; the wheel then
    ships ``<pkg>/_C.so`` linking ``libcudart.so.<major>``. `extra_runtimes`: CUDA minors whose runtime packages
    exist although no torch uses them (so caps have something to exclude). Upload times grow with the version's
    rank in its project (day 0, 1, ...) unless `upload_times` says otherwise.
    """
    variants = variants or {}
    packages = packages or {}
    members = members or {"app": ["torch"]}
    build_cuda = build_cuda or {}
    upload_times = upload_times or {}

    def when(name: str, version: str, rank: int) -> str:
        return upload_times.get((name, Version(version).public), _upload_time(rank))

    dists: list[Dist] = []
    torch_versions = sorted(torch, key=Version)
    used = set(extra_runtimes)
    for rank, v in enumerate(torch_versions):
        c = torch[v]
        used.add(c)
        dists.append(Dist("torch", v, (runtime_requirement(c, style13),), cuda=c, upload_time=when("torch", v, rank)))
        for vc in sorted(variants.get(v, ()), key=cuda_key):
            used.add(vc)
            req = runtime_requirement(vc, "runtime")
            dists.append(
                Dist(
                    "torch",
                    f"{v}+{cuda_label(vc)}",
                    (req,),
                    index=cuda_label(vc),
                    cuda=vc,
                    upload_time=when("torch", v, rank),
                )
            )
    dists.extend(runtime_dists(sorted(used, key=cuda_key)))
    for name, versions in packages.items():
        for rank, v in enumerate(sorted(versions, key=Version)):
            dists.append(
                Dist(name, v, tuple(versions[v]), build_cuda=build_cuda.get((name, v)), upload_time=when(name, v, rank))
            )
    return World(tuple(dists), tuple(Member(n, tuple(r)) for n, r in members.items()))


def runtime_dists(cudas: Sequence[str]) -> tuple[Dist, ...]:
    """The nvidia runtime wheels (and cuda-toolkit metapackages for 13.x) for these CUDA minors."""
    out: list[Dist] = []
    for rank, c in enumerate(sorted(set(cudas), key=cuda_key)):
        rt = RUNTIMES[c]
        out.append(Dist(rt.package, rt.version, upload_time=_upload_time(rank)))
        if rt.toolkit:
            pin = f'{rt.package}=={rt.version}.*; extra == "cudart"'
            out.append(Dist("cuda-toolkit", rt.toolkit, (pin,), extras=("cudart",), upload_time=_upload_time(rank)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis strategy.
# ---------------------------------------------------------------------------------------------------------------


@st.composite
def worlds(
    draw: st.DrawFn,
    *,
    max_torch: int = 4,
    max_versions: int = 3,
    cudas: Sequence[str] = CUDAS,
    variants: bool = True,
    monotone: bool = True,
    hidden_builds: bool = False,
    max_members: int = 2,
) -> World:
    """Draw a world: torch versions over `cudas`, PyTorch-style variants, an exact-pin dependent ("vllm"),
    a range dependent ("unsloth"), a CUDA-free package ("tinylib"), and one or two members.

    Every requirement is drawn as an index into what exists. With `monotone` (the default, and the shape of
    the real ecosystem) the default CUDA, vllm's torch pin and unsloth's bounds never decrease with the version;
    in such worlds the feasible (vllm, unsloth) pairs form a lattice, so the newest torch the oracle allows is
    also what a newest-first resolver finds. With `hidden_builds` some vllm versions get a build CUDA their
    metadata hides.
    """
    n_torch = draw(st.integers(1, max_torch))
    minors = sorted(draw(st.sets(st.integers(0, 20), min_size=n_torch, max_size=n_torch)))
    torch_versions = [f"2.{m}.0" for m in minors]
    idx = draw(st.lists(st.integers(0, len(cudas) - 1), min_size=n_torch, max_size=n_torch))
    if monotone:
        idx = sorted(idx)
    torch_cuda = {v: cudas[i] for v, i in zip(torch_versions, idx, strict=True)}

    variant_map: dict[str, list[str]] = {}
    if variants:
        for v in torch_versions:
            chosen = draw(st.sets(st.integers(0, len(cudas) - 1), max_size=3))
            if chosen:
                variant_map[v] = [cudas[i] for i in sorted(chosen)]

    tiny = [f"1.{i}" for i in range(draw(st.integers(1, max_versions)))]
    packages: dict[str, dict[str, list[str]]] = {"tinylib": {v: [] for v in tiny}}
    build: dict[tuple[str, str], str] = {}

    n_vllm = draw(st.integers(0, max_versions))
    if n_vllm:
        pins = draw(st.lists(st.integers(0, n_torch - 1), min_size=n_vllm, max_size=n_vllm))
        if monotone:
            pins = sorted(pins)
        vllm: dict[str, list[str]] = {}
        for j, p in enumerate(pins):
            v = f"0.{j + 1}.0"
            reqs = [f"torch=={torch_versions[p]}"]
            if draw(st.booleans()):
                reqs.append(f"tinylib>={tiny[draw(st.integers(0, len(tiny) - 1))]}")
            vllm[v] = reqs
            if hidden_builds and draw(st.booleans()):
                build[("vllm", v)] = cudas[draw(st.integers(0, len(cudas) - 1))]
        packages["vllm"] = vllm

    n_unsloth = draw(st.integers(0, max_versions))
    if n_unsloth:
        los = draw(st.lists(st.integers(0, n_torch - 1), min_size=n_unsloth, max_size=n_unsloth))
        widths = draw(st.lists(st.integers(1, n_torch), min_size=n_unsloth, max_size=n_unsloth))
        bounds = [(lo, min(lo + w, n_torch)) for lo, w in zip(los, widths, strict=True)]
        if monotone:
            los_sorted = sorted(b[0] for b in bounds)
            his_sorted = sorted(b[1] for b in bounds)
            bounds = [(lo, max(hi, lo + 1)) for lo, hi in zip(los_sorted, his_sorted, strict=True)]
        unsloth: dict[str, list[str]] = {}
        for j, (lo, hi) in enumerate(bounds):
            spec = f"torch>={torch_versions[lo]}"
            if hi < n_torch:
                spec += f",<{torch_versions[hi]}"
            unsloth[f"2026.{j + 1}"] = [spec]
        packages["unsloth"] = unsloth

    roots = ["torch", "tinylib", *(n for n in ("vllm", "unsloth") if n in packages)]
    n_members = draw(st.integers(1, max_members))
    member_map: dict[str, list[str]] = {}
    for name in ("serve", "train")[:n_members]:
        chosen = draw(st.sets(st.sampled_from(roots), min_size=1, max_size=len(roots)))
        reqs: list[str] = []
        for r in sorted(chosen):
            vs = sorted(torch_cuda, key=Version) if r == "torch" else sorted(packages[r], key=Version)
            if draw(st.integers(0, 3)) == 0:  # sometimes the member pins it, like the real repo does
                reqs.append(f"{r}=={vs[draw(st.integers(0, len(vs) - 1))]}")
            else:
                reqs.append(r)
        member_map[name] = reqs

    return make_world(
        torch_cuda,
        variants=variant_map,
        packages=packages,
        members=member_map,
        build_cuda=build,
        style13=draw(st.sampled_from(["toolkit", "runtime"])),
    )


# ---------------------------------------------------------------------------------------------------------------
# Wheels and indexes.
# ---------------------------------------------------------------------------------------------------------------


def metadata_text(dist: Dist) -> str:
    """The wheel's METADATA (core metadata 2.3)."""
    lines = ["Metadata-Version: 2.3", f"Name: {dist.name}", f"Version: {dist.version}"]
    if dist.requires_python:
        lines.append(f"Requires-Python: {dist.requires_python}")
    lines += [f"Provides-Extra: {e}" for e in dist.extras]
    lines += [f"Requires-Dist: {r}" for r in dist.requires]
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_files(dist: Dist) -> dict[str, bytes]:
    """The files inside the wheel, RECORD last."""
    pkg = dist.project.replace("-", "_")
    info = f"{pkg}-{dist.version}.dist-info"
    files: dict[str, bytes] = {f"{pkg}/__init__.py": f'__version__ = "{dist.version}"\n'.encode()}
    if dist.build_cuda:
        major, minor = cuda_key(dist.build_cuda)
        ident = f"Cuda compilation tools, release {major}.{minor}, V{major}.{minor}.0".encode()
        files[f"{pkg}/_C.so"] = elf_shared_object(
            [f"libcudart.so.{major}", "libc.so.6"], soname="_C.so", extra=b"\0" + ident + b"\0"
        )
    files[f"{info}/METADATA"] = metadata_text(dist).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pkgworld\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    return files


@functools.lru_cache(maxsize=4096)
def wheel_bytes(dist: Dist) -> bytes:
    """A tiny valid wheel, byte-for-byte deterministic (stored, fixed timestamps and permissions)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path, data in wheel_files(dist).items():
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.create_system = 3
            info.external_attr = (0o100755 if path.endswith(".so") else 0o100644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


@dataclass(frozen=True)
class IndexPaths:
    """Where `write_index` put each index: ``root/<label>/simple`` pages, ``root/<label>/files`` wheels."""

    root: Path
    simple: Mapping[str, Path]
    files: tuple[Path, ...] = field(default=())

    def file_urls(self) -> dict[str, str]:
        """label -> ``file:///.../simple`` URL, usable as a uv index URL."""
        return {label: path.resolve().as_uri() for label, path in self.simple.items()}

    def http_urls(self, base: str) -> dict[str, str]:
        """label -> URL under a server that serves `root` at `base` (see `serve_index`)."""
        return {label: f"{base.rstrip('/')}/{label}/simple" for label in self.simple}


def _page(title: str, links: Sequence[str]) -> str:
    body = "\n".join(f"    {link}<br/>" for link in links)
    return (
        '<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{html.escape(title)}</title></head>\n  <body>\n    <h1>{html.escape(title)}</h1>\n"
        f"{body}\n  </body>\n</html>\n"
    )


def write_index(world: World, directory: Path | str) -> IndexPaths:
    """Write every index of `world` under `directory` (created; existing index folders are replaced).

    Per index label: ``<label>/simple/index.html`` (project list), ``<label>/simple/<project>/index.html``
    (links with ``#sha256=``, ``data-upload-time``, ``data-requires-python``, ``data-core-metadata``), and
    ``<label>/files/<wheel>`` plus its PEP 658 ``<wheel>.metadata``.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    simple: dict[str, Path] = {}
    written: list[Path] = []
    for label in world.indexes:
        base = root / label
        if base.exists():
            shutil.rmtree(base)
        files_dir = base / "files"
        files_dir.mkdir(parents=True)
        by_project: dict[str, list[Dist]] = {}
        for d in world.on(label):
            by_project.setdefault(d.project, []).append(d)
        for project, dists in sorted(by_project.items()):
            links = []
            for d in sorted(dists, key=lambda d: Version(d.version)):
                data = wheel_bytes(d)
                path = files_dir / d.filename
                path.write_bytes(data)
                meta = metadata_text(d).encode()
                (files_dir / (d.filename + ".metadata")).write_bytes(meta)
                written.append(path)
                meta_hash = hashlib.sha256(meta).hexdigest()
                attrs = [
                    f'href="../../files/{quote(d.filename)}#sha256={hashlib.sha256(data).hexdigest()}"',
                    f'data-upload-time="{d.upload_time}"',
                    f'data-core-metadata="sha256={meta_hash}"',
                    f'data-dist-info-metadata="sha256={meta_hash}"',
                ]
                if d.requires_python:
                    attrs.append(f'data-requires-python="{html.escape(d.requires_python)}"')
                links.append(f"<a {' '.join(attrs)}>{html.escape(d.filename)}</a>")
            page_dir = base / "simple" / project
            page_dir.mkdir(parents=True)
            (page_dir / "index.html").write_text(_page(f"Links for {project}", links), encoding="utf-8")
        project_links = [f'<a href="{p}/">{p}</a>' for p in sorted(by_project)]
        (base / "simple" / "index.html").write_text(_page("Simple index", project_links), encoding="utf-8")
        simple[label] = base / "simple"
    return IndexPaths(root, simple, tuple(written))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()


@contextlib.contextmanager
def serve_index(directory: Path | str) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) in a daemon thread; yields the base URL, e.g.
    ``http://127.0.0.1:41234``. Pages are plain PEP 503 HTML; ``Cache-Control: no-cache`` so uv revalidates."""
    with serve_handler(functools.partial(_QuietHandler, directory=str(directory))) as url:
        yield url


@contextlib.contextmanager
def serve_handler(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (a free port) in a daemon thread; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="pkgworld-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------------------------
# Workspaces.
# ---------------------------------------------------------------------------------------------------------------


def write_workspace(
    world: World,
    root: Path | str,
    *,
    index_urls: Mapping[str, str],
    default_in_pyproject: bool = True,
    routes: Mapping[str, str] | None = None,
    constraints: Sequence[str] = (),
    exclude_newer: str | None = None,
    lockgen: Mapping[str, Any] | None = None,
) -> Path:
    """Write a uv workspace shaped like the real repo: a virtual root, members under ``workspaces/<name>``
    (hatchling packages, in conflict with each other when there are several), ``.python-version``.

    `index_urls`: label -> URL (from `IndexPaths.file_urls` or `.http_urls`). With `default_in_pyproject` the
    "pypi" URL is the ``default = true`` index named "local" (otherwise pass ``--default-index`` to uv). Variant
    labels in `routes` (project -> label) become explicit indexes named ``pytorch-<label>`` with
    ``[tool.uv.sources]`` routing. `lockgen` becomes ``[tool.lockgen]``. Returns the root.
    """
    root = Path(root)
    routes = routes or {}
    uv: dict[str, Any] = {
        "package": False,
        "preview-features": ["package-conflicts"],
        "environments": [
            "sys_platform == 'linux' and platform_machine == 'x86_64'",
            "sys_platform == 'linux' and platform_machine == 'aarch64'",
        ],
    }
    names = [m.name for m in world.members]
    if len(names) > 1:
        uv["conflicts"] = [[{"package": n} for n in names]]
    if constraints:
        uv["constraint-dependencies"] = list(constraints)
    if exclude_newer:
        uv["exclude-newer"] = exclude_newer
    indexes: list[dict[str, Any]] = []
    if default_in_pyproject:
        indexes.append({"name": "local", "url": index_urls[DEFAULT_INDEX], "default": True})
    for label in sorted(set(routes.values())):
        indexes.append({"name": f"pytorch-{label}", "url": index_urls[label], "explicit": True})
    if indexes:
        uv["index"] = indexes
    uv["workspace"] = {"members": [f"workspaces/{n}" for n in names]}
    sources: dict[str, Any] = {name: {"index": f"pytorch-{label}"} for name, label in sorted(routes.items())}
    if sources:
        uv["sources"] = sources
    doc: dict[str, Any] = {
        "project": {
            "name": "world-root",
            "version": "0.1.0",
            "requires-python": f">={PYTHON},<3.13",
            "dependencies": [],
        },
        "tool": {"uv": uv},
    }
    if lockgen is not None:
        doc["tool"]["lockgen"] = dict(lockgen)
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
    (root / ".python-version").write_text(PYTHON + "\n", encoding="utf-8")
    for m in world.members:
        mdir = root / "workspaces" / m.name
        (mdir / "src" / m.name).mkdir(parents=True, exist_ok=True)
        (mdir / "src" / m.name / "__init__.py").write_text("", encoding="utf-8")
        member_doc = {
            "project": {
                "name": m.name,
                "version": "0.1.0",
                "requires-python": f">={PYTHON},<3.13",
                "dependencies": list(m.requires),
            },
            "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        }
        (mdir / "pyproject.toml").write_text(tomlkit.dumps(member_doc), encoding="utf-8")
    return root


def uv_binary() -> str:
    """The uv to test with: the one lockgen itself would run ($UV, the `uv` package's binary, then PATH)."""
    from lockgen.seams.uvtool import find_uv

    return find_uv()


def uv_env(
    cache_dir: Path | str, base: Mapping[str, str] | None = None, *, offline: bool = False, guard: bool = True
) -> dict[str, str]:
    """An environment for running uv against local indexes: its own cache, no Python downloads, no progress bars.

    `offline` sets UV_OFFLINE (fine for file:// indexes; uv then refuses 127.0.0.1 too). `guard` points the
    proxies at a closed port with 127.0.0.1/localhost exempt, so a workspace that forgot its local default index
    fails fast instead of reaching PyPI.
    """
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key.startswith("UV_") and key != "UV_PYTHON":
            del env[key]
    env.update({"UV_CACHE_DIR": str(cache_dir), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"})
    if offline:
        env["UV_OFFLINE"] = "1"
    if guard:
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env[key] = "http://127.0.0.1:9"
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env["UV_HTTP_RETRIES"] = "0"
    # the interpreter: $UV_PYTHON when set (CI sets it), else the one running the tests (3.12 under `uv run`)
    env.setdefault("UV_PYTHON", sys.executable if sys.version_info[:2] == (3, 12) else PYTHON)
    return env


def use_uv_env(env: Mapping[str, str], monkeypatch: Any) -> dict[str, str]:
    """Make `env` (from uv_env) this process's uv environment too - for lockgen run in-process, which starts uv
    itself: every other UV_* variable removed, its UV_* and proxy variables set. Returns `env`."""
    for k in [k for k in os.environ if k.startswith("UV_") and k not in ("UV", "UV_PYTHON")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        if k.startswith("UV_") or k.lower().endswith("_proxy"):
            monkeypatch.setenv(k, v)
    return dict(env)


def locked_versions(lock_text: str) -> dict[str, tuple[str, ...]]:
    """name -> versions in a uv.lock (a package may be locked at several versions across conflicting members)."""
    data = tomllib.loads(lock_text)
    out: dict[str, list[str]] = {}
    for pkg in data.get("package", []):
        if "version" in pkg:
            out.setdefault(pkg["name"], []).append(pkg["version"])
    return {k: tuple(sorted(v, key=Version)) for k, v in out.items()}


def member_locked(lock_text: str, member: str, machine: str = "x86_64") -> dict[str, tuple[str, ...]]:
    """name -> versions `uv sync --package MEMBER` would install on Linux `machine`, walked from the lock's edges.

    Evaluates each edge's marker with the member's conflict extra (``project-<len>-<name>``) active, follows
    ``extra = [...]`` edges into optional-dependencies, and disambiguates by an edge's version/source. A small
    independent walker for tests (lockgen has its own in lockgen.model.projection).
    """
    data = tomllib.loads(lock_text)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for pkg in data.get("package", []):
        by_name.setdefault(pkg["name"], []).append(pkg)
    name = canonicalize_name(member)
    env = dict(ENV_LINUX_X86_64, platform_machine=machine, extra=f"project-{len(name)}-{name}")
    start = by_name.get(name, [])
    if not start:
        raise KeyError(f"member {member} is not in the lock")
    seen: set[tuple[str, str]] = set()
    queue: list[tuple[dict[str, Any], tuple[str, ...]]] = [(start[0], ())]
    found: dict[str, set[str]] = {}
    while queue:
        pkg, extras = queue.pop()
        edges = list(pkg.get("dependencies", []))
        for e in extras:
            edges += pkg.get("optional-dependencies", {}).get(e, [])
        for dep in edges:
            marker = dep.get("marker")
            if marker and not Marker(marker).evaluate(env):
                continue
            for cand in by_name.get(dep["name"], []):
                if "version" in dep and cand.get("version") != dep["version"]:
                    continue
                if "source" in dep and cand.get("source") != dep["source"]:
                    continue
                dep_extras = tuple(dep.get("extra", ()))
                key = (cand["name"], cand.get("version", "") + "[" + ",".join(dep_extras) + "]")
                if key in seen:
                    continue
                seen.add(key)
                if "version" in cand:
                    found.setdefault(cand["name"], set()).add(cand["version"])
                queue.append((cand, dep_extras))
    return {k: tuple(sorted(v, key=Version)) for k, v in found.items()}


def build_table_data(world: World) -> dict[str, Any]:
    """The world's hidden builds as a builds.toml-shaped mapping (for ``lockgen.seams.elfscan.parse_build_table``), so
    lockgen can be told what the generated wheels hide, as tables/data/builds.toml tells it for the real ecosystem."""
    rows = []
    for d in world.dists:
        if d.build_cuda:
            v = Version(d.version)
            row = {"package": d.name, "versions": f"=={v.public}", "cuda": d.build_cuda}
            if v.local:
                row["local"] = v.local
            row |= {"links": f"libcudart.so.{cuda_key(d.build_cuda)[0]}", "conf": "Y", "source": "pkgworld"}
            rows.append(row)
    return {"sources": {"pkgworld": "generated by tests/pkgworld.py (the wheel's _C.so says it)"}, "build": rows}


def exclusion_constraints(window: Collection[str]) -> list[str]:
    """Constraint lines that keep every runtime outside `window` out of a resolution: ``pkg!=version`` for each
    nvidia runtime and cuda-toolkit release of a CUDA minor not in the window. A blunt test-side instrument (not
    lockgen's caps) for checking the oracle against uv."""
    out: list[str] = []
    for cuda, rt in RUNTIMES.items():
        if cuda not in window:
            out.append(f"{rt.package}!={rt.version}")
            if rt.toolkit:
                out.append(f"cuda-toolkit!={rt.toolkit}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# The oracle: brute force over the world, no resolver heuristics, no lockgen code.
# ---------------------------------------------------------------------------------------------------------------

ENV_LINUX_X86_64: Mapping[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.1",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.1",
    "python_version": PYTHON,
    "sys_platform": "linux",
}


@dataclass(frozen=True)
class Solution:
    """One consistent install set for a member on Linux x86_64: (name, version, index) per project."""

    member: str
    picks: tuple[tuple[str, str, str], ...]
    torch: str | None
    cuda: str | None

    def version(self, name: str) -> str | None:
        """The version picked for `name`, or None."""
        project = canonicalize_name(name)
        return next((v for n, v, _ in self.picks if n == project), None)


@dataclass(frozen=True)
class OracleAnswer:
    """All solutions for one member inside the window, newest torch first."""

    member: str
    solutions: tuple[Solution, ...]

    @property
    def solvable(self) -> bool:
        """Whether any install set satisfies the member inside the window."""
        return bool(self.solutions)

    @property
    def newest_torch(self) -> str | None:
        """The newest torch (public version, local label dropped) of any solution; None if none uses torch."""
        versions = [Version(s.torch).public for s in self.solutions if s.torch]
        return max(versions, key=Version) if versions else None

    def cudas(self, torch: str | None = None) -> tuple[str, ...]:
        """The CUDA minors solutions reach (with that torch public version, if given), ascending."""
        found = {
            s.cuda for s in self.solutions if s.cuda and (torch is None or Version(s.torch or "0").public == torch)
        }
        return tuple(sorted(found, key=cuda_key))


def _env(extra: str = "") -> dict[str, str]:
    env = dict(ENV_LINUX_X86_64)
    env["extra"] = extra
    return env


def _applies(req: Requirement, extras: Collection[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate(_env(e)) for e in (extras or [""]))


def _deps(dist: Dist, extras: Collection[str]) -> list[Requirement]:
    reqs = [Requirement(text) for text in dist.requires]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate(_env(e)) for e in ("", *extras))]


def oracle_solutions(
    world: World,
    window: Collection[str] | None,
    *,
    members: Sequence[str] | None = None,
    routes: Mapping[str, str] | None = None,
    builds: bool = False,
    limit: int = 200_000,
) -> dict[str, OracleAnswer]:
    """Every install set per member whose torch CUDA lies in `window` ("X.Y" strings; None = no limit).

    A project comes from the index `routes` names for it (as uv's explicit index + source), else from "pypi".
    With `builds`, a dist's hidden build CUDA must also lie in the window, share torch's CUDA major and be no
    newer than torch's CUDA (a build against a newer toolkit than the runtime fails at import). Raises
    RuntimeError past `limit` solutions (draw smaller worlds).
    """
    routes = {canonicalize_name(k): v for k, v in (routes or {}).items()}
    allowed = None if window is None else {str(c) for c in window}
    torch_project = canonicalize_name(world.torch)
    by_project: dict[str, list[Dist]] = {}
    for d in world.dists:
        if d.index == routes.get(d.project, DEFAULT_INDEX):
            by_project.setdefault(d.project, []).append(d)
    for ds in by_project.values():
        ds.sort(key=lambda d: Version(d.version), reverse=True)

    def ok(d: Dist) -> bool:
        return allowed is None or d.cuda is None or d.cuda in allowed

    answers: dict[str, OracleAnswer] = {}
    for member in world.members:
        if members is not None and member.name not in members:
            continue
        found: dict[tuple[tuple[str, str, str], ...], Solution] = {}
        roots = [r for r in map(Requirement, member.requires) if _applies(r, ())]

        def search(chosen: dict[str, tuple[Dist, frozenset[str]]], queue: list[Requirement]) -> None:
            if not queue:
                picks = tuple(sorted((n, d.version, d.index) for n, (d, _) in chosen.items()))
                t = chosen.get(torch_project)
                sol = Solution(member.name, picks, t[0].version if t else None, t[0].cuda if t else None)  # noqa: B023
                if builds and not _builds_ok(chosen, sol.cuda, allowed):
                    return
                found[picks] = sol  # noqa: B023
                if len(found) > limit:  # noqa: B023
                    raise RuntimeError(f"more than {limit} solutions; draw a smaller world")
                return
            req, rest = queue[0], queue[1:]
            project = canonicalize_name(req.name)
            if project in chosen:
                dist, extras = chosen[project]
                if not req.specifier.contains(dist.version, prereleases=True):
                    return
                new = frozenset(req.extras) - extras
                if not new:
                    search(chosen, rest)
                    return
                chosen[project] = (dist, extras | new)
                search(chosen, rest + _deps(dist, new))  # re-checking base deps is harmless
                chosen[project] = (dist, extras)
                return
            for dist in by_project.get(project, []):
                if not req.specifier.contains(dist.version, prereleases=True) or not ok(dist):
                    continue
                extras = frozenset(req.extras)
                chosen[project] = (dist, extras)
                search(chosen, rest + _deps(dist, extras))
                del chosen[project]

        search({}, roots)
        ordered = sorted(found.values(), key=lambda s: (Version(s.torch) if s.torch else Version("0"), s.picks))
        answers[member.name] = OracleAnswer(member.name, tuple(reversed(ordered)))
    return answers


def _builds_ok(
    chosen: Mapping[str, tuple[Dist, frozenset[str]]], torch_cuda: str | None, allowed: set[str] | None
) -> bool:
    for dist, _ in chosen.values():
        b = dist.build_cuda
        if b is None:
            continue
        if allowed is not None and b not in allowed:
            return False
        if torch_cuda is None:
            continue
        if cuda_key(b)[0] != cuda_key(torch_cuda)[0] or cuda_key(b) > cuda_key(torch_cuda):
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# An independent CUDA window (hand copy of compat.md sections 1-2; do not derive from lockgen's data).
# ---------------------------------------------------------------------------------------------------------------

_CC_12_0 = ("5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9", "9.0")
_CC_11_8 = ("3.5", "3.7", *_CC_12_0)
_CC_12_8 = (*_CC_12_0, "10.0", "10.1", "12.0")
_CC_12_9 = (*_CC_12_8, "10.3", "12.1")
_CC_13 = ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "10.3", "11.0", "12.0", "12.1")

# CUDA -> (toolkit driver, family floor, targetable compute capabilities). 12.7 was never released; 13.4/13.5
# have no known Linux driver figure and stay out of every window.
REFERENCE_CUDA: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "11.8": ("520.61.05", "450.80.02", _CC_11_8),
    "12.0": ("525.60.13", "525.60.13", _CC_12_0),
    "12.1": ("530.30.02", "525.60.13", _CC_12_0),
    "12.2": ("535.54.03", "525.60.13", _CC_12_0),
    "12.3": ("545.23.06", "525.60.13", _CC_12_0),
    "12.4": ("550.54.14", "525.60.13", _CC_12_0),
    "12.5": ("555.42.02", "525.60.13", _CC_12_0),
    "12.6": ("560.28.03", "525.60.13", _CC_12_0),
    "12.8": ("570.26", "525.60.13", _CC_12_8),
    "12.9": ("575.51.03", "525.60.13", _CC_12_9),
    "13.0": ("580.65.06", "580.65.06", _CC_13),
    "13.1": ("590.44.01", "580.65.06", _CC_13),
    "13.2": ("595.45.04", "580.65.06", _CC_13),
    "13.3": ("610.43.02", "580.65.06", _CC_13),
}


def _driver_ok(have: str, need: str) -> bool:
    h = tuple(int(p) for p in have.split("."))
    n = tuple(int(p) for p in need.split("."))
    if len(h) == 1:  # a bare branch ("570") stands for some driver of that branch
        return h[0] >= n[0]
    return h >= n


def _runs_on(targets: Collection[str], cc: str) -> bool:
    """CUDA binary compatibility (NVIDIA's compatibility guides): code built for X.Y runs on X.Z with Z >= Y."""
    major, minor = (int(p) for p in cc.split("."))
    return any(int(t.split(".")[0]) == major and int(t.split(".")[1]) <= minor for t in targets)


def reference_window(driver: str, ccs: Collection[str] = (), policy: str = "toolkit") -> frozenset[str]:
    """The CUDA minors ("X.Y") a fleet with this driver and these GPU compute capabilities can run."""
    out = set()
    for cuda, (toolkit, floor, targets) in REFERENCE_CUDA.items():
        need = floor if policy == "minor" else toolkit
        if _driver_ok(driver, need) and all(_runs_on(targets, cc) for cc in ccs):
            out.add(cuda)
    return frozenset(out)


# ---------------------------------------------------------------------------------------------------------------
# A minimal ELF shared object (independent of lockgen.seams.elfscan, which reads it).
# ---------------------------------------------------------------------------------------------------------------


def elf_shared_object(
    needed: Sequence[str],
    *,
    soname: str | None = None,
    bits: int = 64,
    little: bool = True,
    extra: bytes = b"",
    sections: bool = True,
) -> bytes:
    """A minimal ELF shared object whose dynamic section lists `needed` (DT_NEEDED) and `soname`.

    Layout: header, PT_LOAD (whole file at vaddr 0) + PT_DYNAMIC, .dynstr, .dynamic, `extra` bytes in a
    .comment section (nvcc ident strings, PTX text), and - with `sections` - the section headers. Without
    them a reader must use the program headers, as for a stripped library.
    """
    e = "<" if little else ">"
    is64 = bits == 64
    ehdr_size, phent, shent = (64, 56, 64) if is64 else (52, 32, 40)
    dyn_fmt = e + ("qQ" if is64 else "iI")
    align = 8 if is64 else 4

    def pad(b: bytearray) -> None:
        while len(b) % align:
            b.append(0)

    dynstr = bytearray(b"\0")
    offsets = []
    for name in [*needed, *([soname] if soname else [])]:
        offsets.append(len(dynstr))
        dynstr += name.encode() + b"\0"
    phoff = ehdr_size
    body_start = phoff + 2 * phent
    out = bytearray(body_start)
    dynstr_off = len(out)
    out += dynstr
    pad(out)
    dyn_off = len(out)
    entries = [(1, off) for off in offsets[: len(needed)]]
    if soname:
        entries.append((14, offsets[-1]))
    entries += [(5, dynstr_off), (10, len(dynstr)), (0, 0)]
    for tag, val in entries:
        out += struct.pack(dyn_fmt, tag, val)
    dyn_size = len(out) - dyn_off
    comment_off = len(out)
    out += extra
    pad(out)
    shstr = bytearray(b"\0")
    names = {}
    for n in (".dynstr", ".dynamic", ".comment", ".shstrtab"):
        names[n] = len(shstr)
        shstr += n.encode() + b"\0"
    shstr_off = len(out)
    if sections:
        out += shstr
        pad(out)
    shoff = len(out) if sections else 0
    file_size = len(out) + (5 * shent if sections else 0)
    shdr_fmt = e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    if sections:
        rows = [
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            (names[".dynstr"], 3, 2, dynstr_off, dynstr_off, len(dynstr), 0, 0, 1, 0),
            (names[".dynamic"], 6, 3, dyn_off, dyn_off, dyn_size, 1, 0, align, 16 if is64 else 8),
            (names[".comment"], 1, 0, 0, comment_off, len(extra), 0, 0, 1, 0),
            (names[".shstrtab"], 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0),
        ]
        for row in rows:
            out += struct.pack(shdr_fmt, *row)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1, 0]) + b"\0" * 8
    machine = (62 if little else 21) if is64 else (3 if little else 20)
    ehdr = struct.pack(
        e + ("16sHHIQQQIHHHHHH" if is64 else "16sHHIIIIIHHHHHH"),
        ident,
        3,
        machine,
        1,
        0,
        phoff,
        shoff,
        0,
        ehdr_size,
        phent,
        2,
        shent,
        5 if sections else 0,
        4 if sections else 0,
    )
    if is64:
        ph = struct.pack(e + "IIQQQQQQ", 1, 5, 0, 0, 0, file_size, file_size, 0x1000)
        ph += struct.pack(e + "IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, dyn_size, dyn_size, 8)
    else:
        ph = struct.pack(e + "IIIIIIII", 1, 0, 0, 0, file_size, file_size, 5, 0x1000)
        ph += struct.pack(e + "IIIIIIII", 2, dyn_off, dyn_off, dyn_off, dyn_size, dyn_size, 6, 4)
    out[0:ehdr_size] = ehdr
    out[phoff : phoff + 2 * phent] = ph
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------
# `python tests/pkgworld.py bench [N]`: how fast real uv locks generated worlds.
# ---------------------------------------------------------------------------------------------------------------


def drawn_worlds(n: int, **kwargs: Any) -> list[World]:
    """`n` worlds drawn deterministically (hypothesis, derandomized) - for benchmarks, not for properties."""
    from hypothesis import HealthCheck, given, settings

    out: list[World] = []

    @settings(max_examples=n, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(worlds(**kwargs))
    def collect(world: World) -> None:
        if len(out) < n:
            out.append(world)

    collect()
    return out


def bench(n: int = 30, mode: str = "file") -> dict[str, float]:
    """Lock `n` drawn worlds with real uv, each with a cold cache; return timings in seconds."""
    import statistics
    import subprocess
    import tempfile
    import time

    worlds_ = drawn_worlds(n)
    times: list[float] = []
    failures = 0
    with tempfile.TemporaryDirectory() as tmp, serve_index(tmp) as base:
        t_all = time.perf_counter()
        for i, world in enumerate(worlds_):
            root = Path(tmp) / world.digest()
            paths = write_index(world, root)
            urls = paths.file_urls() if mode == "file" else paths.http_urls(f"{base}/{world.digest()}")
            ws = write_workspace(world, Path(tmp) / f"ws{i}", index_urls=urls)
            t = time.perf_counter()
            r = subprocess.run([uv_binary(), "lock"], cwd=ws, env=uv_env(Path(tmp) / f"cache{i}"), capture_output=True)
            times.append(time.perf_counter() - t)
            failures += r.returncode != 0
        total = time.perf_counter() - t_all
    return {
        "worlds": float(len(worlds_)),
        "uv_lock_median_s": statistics.median(times),
        "uv_lock_max_s": max(times),
        "unsolvable": float(failures),
        "per_world_total_s": total / len(worlds_),
        "uv_locks_per_minute": 60 / statistics.mean(times),
    }


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if not args or args[0] != "bench":
        raise SystemExit("usage: python tests/pkgworld.py bench [N] [file|http]")
    count = int(args[1]) if len(args) > 1 else 30
    for key, value in bench(count, args[2] if len(args) > 2 else "file").items():
        print(f"{key}: {value:.3f}")
