"""The CUDA a compiled wheel was built with, read from its shared libraries - what its metadata hides.

Three kinds of evidence, from the bytes of each ELF shared object in a wheel:

- ``DT_NEEDED`` entries of the dynamic section: ``libcudart.so.12`` means the library loads the CUDA 12
  runtime (the SONAME major of cudart, cublas, cublasLt, nvrtc and nvJitLink is the CUDA major).
- nvcc ident strings: ``Cuda compilation tools, release 12.8, V12.8.93`` (the exact toolkit that compiled it).
- PTX headers: ``.version 8.7`` followed by ``.target sm_..``; the PTX ISA maps to the CUDA that emits it
  (table ``[ptx_isa]`` in tables/data/builds.toml). PTX inside compressed fatbins is invisible to this scan.

The ELF reader is pure Python (no pyelftools): 32/64-bit, little/big-endian, through the section headers
(``SHT_DYNAMIC`` and its linked string table) or, for stripped files, the program headers (``PT_DYNAMIC``,
``DT_STRTAB`` mapped through ``PT_LOAD``). Everything here is pure: bytes in, values out; `wheel_build_cuda`
also opens a path when given one.
"""

from __future__ import annotations

import io
import mmap
import re
import shutil
import struct
import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO

from lockgen.errors import LockgenError

ELF_MAGIC = b"\x7fELF"
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
SHT_DYNAMIC = 6
PT_LOAD, PT_DYNAMIC = 1, 2

# Libraries whose SONAME major is the CUDA major (cufft, curand, cusolver, cusparse, cudnn, nccl are versioned
# on their own and say nothing about it; libcuda.so.1 is the driver).
CUDA_MAJOR_LIBS = ("libcudart", "libcublas", "libcublasLt", "libnvrtc", "libnvJitLink")
_SONAME_RE = re.compile(r"^(?P<lib>lib[A-Za-z]+)\.so\.(?P<major>\d+)(?:\.\d+)*$")
NVCC_RE = re.compile(rb"Cuda compilation tools, release (\d+)\.(\d+), V(\d+\.\d+\.\d+)")
PTX_RE = re.compile(rb"\.version (\d+)\.(\d+)\s*\r?\n\s*\.target (sm_\d+[a-z]?|compute_\d+[a-z]?)")
SHARED_LIB_RE = re.compile(r"\.so(?:\.\d+)*$")
CHUNK = 1 << 20
SMALL = 8 << 20  # libraries up to this size are scanned in memory
Buffer = bytes | mmap.mmap


@dataclass(frozen=True)
class Limits:
    """Caps on what one `wheel-cuda` run reads, so a hostile wheel cannot take the machine's memory or time.

    The largest wheels of this repository's uv.lock, read from PyPI's central directories on 2026-11-29
    (`python benchmarks/wheelcuda_caps.py --real`): torch 2.10.0 (CUDA 12.8, x86_64) is 873 MiB with 12,417
    entries and 13 shared libraries unpacking to 1,587 MiB; torch 2.14.0 has 13,043 entries; bitsandbytes 0.50.2
    ships 16 libraries; the largest library-over-64-MiB ratio is 4.0:1 (vllm 0.33.0). The caps leave 3-5 times that.
    A single library is refused as a zip bomb when it is larger than `bomb_floor` and expands more than `max_ratio`
    times (deflate reaches about 1030:1; small libraries padded to 2 MiB pages expand more, the floor lets them by).
    """

    max_wheel_bytes: int = 4 << 30  # the wheel file (or download)
    max_uncompressed: int = 4 << 30  # all shared libraries read, unpacked
    max_entries: int = 50_000  # archive entries (or files under a directory)
    max_libraries: int = 2_000  # shared libraries scanned
    max_ratio: int = 100
    bomb_floor: int = 64 << 20


LIMITS = Limits()


class ElfError(LockgenError):
    """Bytes that are not an ELF file lockgen can read (not ELF, truncated, or corrupt)."""


@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic section of one ELF file says."""

    bits: int
    little_endian: bool
    needed: tuple[str, ...]
    soname: str | None
    runpath: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """One fact about a build: where it was found, what kind, what it says, and the CUDA it implies.

    `kind` is "needed" (a DT_NEEDED SONAME; `cuda` is a major such as "12"), "provides" (the library's own
    SONAME is a CUDA library, as in the nvidia runtime wheels), "nvcc" (an ident string; `cuda` "12.8") or "ptx"
    (a PTX header; `cuda` from the PTX ISA table, None when the table does not know it).
    """

    file: str
    kind: str
    text: str
    cuda: str | None


@dataclass(frozen=True)
class BuildCuda:
    """The build CUDA of a wheel: CUDA majors its libraries load, nvcc releases, PTX ISA -> CUDA, and evidence."""

    majors: tuple[int, ...]
    nvcc: tuple[str, ...]
    ptx: tuple[tuple[str, str | None], ...]
    evidence: tuple[Evidence, ...]
    scanned: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def cuda(self) -> str | None:
        """The best single answer, "X.Y" or "X": the newest nvcc release, else the newest PTX CUDA, else the
        linked major. None when no CUDA evidence was found (a pure-Python or CPU-only wheel), and for a bundle
        of libraries built for different CUDA majors (see `bundles`)."""
        if self.bundles:
            return None
        return _best(self.evidence)

    @property
    def per_file(self) -> tuple[tuple[str, str], ...]:
        """(library, its best CUDA answer) for every library with build evidence, in scan order."""
        files = list(dict.fromkeys(e.file for e in self.evidence if e.kind != "provides"))
        out = []
        for f in files:
            best = _best(e for e in self.evidence if e.file == f)
            if best:
                out.append((f, best))
        return tuple(out)

    @property
    def mixed_majors(self) -> bool:
        """Whether one library links two CUDA majors: it cannot load at all."""
        files = {e.file for e in self.evidence}
        return any(len({e.cuda for e in self.evidence if e.file == f and e.kind == "needed"}) > 1 for f in files)

    @property
    def bundles(self) -> tuple[str, ...]:
        """The CUDAs of a bundle: different libraries link different CUDA majors, one each. That is how
        bitsandbytes ships one library per CUDA and loads the one matching torch - or a wheel whose libraries
        cannot all load. Empty otherwise. PTX-derived values are lower bounds (CUDA 12.6 still emits ISA 8.5)."""
        if self.mixed_majors or len(self.majors) < 2:
            return ()
        return tuple(sorted({c for _, c in self.per_file}, key=_key))


def _best(evidence: Iterable[Evidence]) -> str | None:
    ev = list(evidence)
    nvcc = [e.cuda for e in ev if e.kind == "nvcc" and e.cuda]
    if nvcc:
        return max(nvcc, key=_key)
    ptx = [e.cuda for e in ev if e.kind == "ptx" and e.cuda]
    if ptx:
        return max(ptx, key=_key)
    majors = [e.cuda for e in ev if e.kind == "needed" and e.cuda]
    return max(majors, key=_key) if majors else None


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


# ------------------------------------------------------------------------------------------------ ELF reading


def read_elf(data: Buffer, name: str = "<bytes>") -> ElfInfo:
    """Parse the dynamic section of an ELF file: DT_NEEDED, DT_SONAME, DT_RUNPATH/DT_RPATH.

    Raises ElfError (one line naming `name`) for anything that is not a well-formed ELF file. A file without a
    dynamic section (a static executable, an object file) yields empty results.
    """
    if len(data) < 16 or data[:4] != ELF_MAGIC:
        raise ElfError(f"{name}: not an ELF file (no \\x7fELF magic)")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2):
        raise ElfError(f"{name}: unknown ELF class {ei_class} (expected 1 = 32-bit or 2 = 64-bit)")
    if ei_data not in (1, 2):
        raise ElfError(f"{name}: unknown ELF data encoding {ei_data} (expected 1 = little or 2 = big endian)")
    is64, e = ei_class == 2, "<" if ei_data == 1 else ">"
    return _Reader(data, name, is64, e).info()


def dt_needed(data: bytes, name: str = "<bytes>") -> tuple[str, ...]:
    """The DT_NEEDED entries (libraries the dynamic loader must load) of an ELF shared object, in order."""
    return read_elf(data, name).needed


class _Reader:
    def __init__(self, data: Buffer, name: str, is64: bool, e: str) -> None:
        self.data, self.name, self.is64, self.e = data, name, is64, e

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        size = struct.calcsize(self.e + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise ElfError(f"{self.name}: truncated ELF file ({what} at offset {offset} is past the end)")
        return struct.unpack_from(self.e + fmt, self.data, offset)

    def info(self) -> ElfInfo:
        hdr = "HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH"
        (_, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = self.unpack(hdr, 16, "the header")
        dyn = self._dynamic_from_sections(shoff, shentsize, shnum) if shoff else None
        if dyn is None and phoff:
            dyn = self._dynamic_from_segments(phoff, phentsize, phnum)
        if dyn is None:
            return ElfInfo(64 if self.is64 else 32, self.e == "<", (), None, ())
        entries, strtab = dyn
        needed: list[str] = []
        runpath: list[str] = []
        soname: str | None = None
        for tag, val in entries:
            if tag == DT_NEEDED:
                needed.append(self.string(strtab, val))
            elif tag == DT_SONAME:
                soname = self.string(strtab, val)
            elif tag in (DT_RUNPATH, DT_RPATH):
                runpath.extend(p for p in self.string(strtab, val).split(":") if p)
        return ElfInfo(64 if self.is64 else 32, self.e == "<", tuple(needed), soname, tuple(runpath))

    def string(self, strtab: tuple[int, int], index: int) -> str:
        start, size = strtab
        at = start + index
        if index < 0 or index >= size or at >= len(self.data):
            raise ElfError(f"{self.name}: corrupt ELF file (string index {index} outside the dynamic string table)")
        end = self.data.find(b"\0", at, start + size)
        if end < 0:
            raise ElfError(f"{self.name}: corrupt ELF file (unterminated string in the dynamic string table)")
        return self.data[at:end].decode("utf-8", "replace")

    def entries(self, offset: int, size: int) -> list[tuple[int, int]]:
        fmt, step = ("qQ", 16) if self.is64 else ("iI", 8)
        out = []
        for at in range(offset, offset + size - step + 1, step):
            tag, val = self.unpack(fmt, at, "a dynamic entry")
            if tag == DT_NULL:
                break
            out.append((tag, val))
        return out

    def _dynamic_from_sections(
        self, shoff: int, shentsize: int, shnum: int
    ) -> tuple[list[tuple[int, int]], tuple[int, int]] | None:
        fmt = "IIQQQQIIQQ" if self.is64 else "IIIIIIIIII"
        if shentsize < struct.calcsize(self.e + fmt):
            raise ElfError(f"{self.name}: corrupt ELF file (section header size {shentsize})")
        if shnum > 65535 or shoff + shnum * shentsize > len(self.data):
            raise ElfError(f"{self.name}: truncated ELF file (section headers past the end)")
        sections = [self.unpack(fmt, shoff + i * shentsize, "a section header") for i in range(shnum)]
        for sh in sections:
            if sh[1] != SHT_DYNAMIC:
                continue
            link = sh[6]
            if link >= len(sections):
                raise ElfError(f"{self.name}: corrupt ELF file (dynamic section links to section {link})")
            strtab = sections[link]
            st_off, st_size = strtab[4], strtab[5]
            if st_off + st_size > len(self.data):
                raise ElfError(f"{self.name}: truncated ELF file (dynamic string table past the end)")
            return self.entries(sh[4], sh[5]), (st_off, st_size)
        return None

    def _dynamic_from_segments(
        self, phoff: int, phentsize: int, phnum: int
    ) -> tuple[list[tuple[int, int]], tuple[int, int]] | None:
        if self.is64:
            fmt, idx = "IIQQQQQQ", {"type": 0, "offset": 2, "vaddr": 3, "filesz": 5}
        else:
            fmt, idx = "IIIIIIII", {"type": 0, "offset": 1, "vaddr": 2, "filesz": 4}
        if phentsize < struct.calcsize(self.e + fmt):
            raise ElfError(f"{self.name}: corrupt ELF file (program header size {phentsize})")
        headers = [self.unpack(fmt, phoff + i * phentsize, "a program header") for i in range(phnum)]
        dynamic = [h for h in headers if h[idx["type"]] == PT_DYNAMIC]
        if not dynamic:
            return None
        d = dynamic[0]
        entries = self.entries(d[idx["offset"]], d[idx["filesz"]])
        addr = next((v for t, v in entries if t == DT_STRTAB), None)
        size = next((v for t, v in entries if t == DT_STRSZ), None)
        if addr is None or size is None:
            raise ElfError(f"{self.name}: corrupt ELF file (dynamic section without DT_STRTAB/DT_STRSZ)")
        for h in headers:
            if h[idx["type"]] == PT_LOAD and h[idx["vaddr"]] <= addr < h[idx["vaddr"]] + h[idx["filesz"]]:
                return entries, (addr - h[idx["vaddr"]] + h[idx["offset"]], size)
        raise ElfError(f"{self.name}: corrupt ELF file (DT_STRTAB address {addr:#x} is in no loaded segment)")


# ------------------------------------------------------------------------------------------------ strings


@cache
def ptx_isa_table() -> Mapping[str, str]:
    """PTX ISA version -> the CUDA release that introduced it, from tables/data/builds.toml ``[ptx_isa]``."""
    text = resources.files("lockgen").joinpath("tables/data/builds.toml").read_text(encoding="utf-8")
    rows = tomllib.loads(text).get("ptx_isa", {})
    return {isa: str(row["cuda"]) for isa, row in rows.items()}


def cuda_major_of(soname: str) -> int | None:
    """The CUDA major a DT_NEEDED SONAME implies ("libcudart.so.12" -> 12), or None for other libraries."""
    m = _SONAME_RE.match(soname)
    if not m or m.group("lib") not in CUDA_MAJOR_LIBS:
        return None
    return int(m.group("major"))


def scan_strings(data: Buffer, file: str) -> list[Evidence]:
    """nvcc ident strings and PTX headers in a buffer (bytes or an mmap), deduplicated, in order of appearance."""
    table = ptx_isa_table()
    seen: dict[tuple[str, str], Evidence] = {}
    for m in NVCC_RE.finditer(data):
        text = m.group(0).decode()
        seen.setdefault(("nvcc", text), Evidence(file, "nvcc", text, f"{int(m.group(1))}.{int(m.group(2))}"))
    for m in PTX_RE.finditer(data):
        isa = f"{int(m.group(1))}.{int(m.group(2))}"
        text = f".version {isa}"
        seen.setdefault(("ptx", text), Evidence(file, "ptx", text, table.get(isa)))
    return list(seen.values())


def scan_library(data: Buffer, file: str) -> list[Evidence]:
    """All evidence in one shared library (bytes or an mmap). Raises ElfError when it is not ELF."""
    info = read_elf(data, file)
    out = [
        Evidence(file, "needed", lib, str(major)) for lib in info.needed if (major := cuda_major_of(lib)) is not None
    ]
    if info.soname and (major := cuda_major_of(info.soname)) is not None:
        out.append(Evidence(file, "provides", info.soname, str(major)))
    return out + scan_strings(data, file)


def summarize(evidence: Iterable[Evidence], scanned: Iterable[str] = (), skipped: Iterable[str] = ()) -> BuildCuda:
    """Fold evidence into a BuildCuda."""
    ev = tuple(evidence)
    majors = sorted({int(e.cuda) for e in ev if e.kind == "needed" and e.cuda})
    nvcc = sorted({e.cuda for e in ev if e.kind == "nvcc" and e.cuda}, key=_key)
    ptx = sorted({(e.text.split()[-1], e.cuda) for e in ev if e.kind == "ptx"}, key=lambda p: _key(p[0]))
    return BuildCuda(tuple(majors), tuple(nvcc), tuple(ptx), ev, tuple(scanned), tuple(skipped))


# ------------------------------------------------------------------------------------------------ wheels


def _is_library(name: str) -> bool:
    return bool(SHARED_LIB_RE.search(name.rsplit("/", 1)[-1]))


def _scan_file(name: str, f: IO[bytes], scanned: list[str], skipped: list[str]) -> list[Evidence]:
    """Scan one library from an open binary file: small ones in memory, large ones through a temporary file
    and mmap (a vLLM _C.so is hundreds of MB uncompressed; the page cache holds it, not the heap)."""
    head = f.read(SMALL)
    if len(head) < SMALL:
        return _scan_buffer(name, head, scanned, skipped)
    if head[:4] != ELF_MAGIC:
        skipped.append(f"{name}: not an ELF file (no \\x7fELF magic)")
        return []
    with tempfile.TemporaryFile() as tmp:
        tmp.write(head)
        shutil.copyfileobj(f, tmp, CHUNK)
        tmp.flush()
        with mmap.mmap(tmp.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _scan_buffer(name, mm, scanned, skipped)


def _scan_buffer(name: str, data: Buffer, scanned: list[str], skipped: list[str]) -> list[Evidence]:
    try:
        found = scan_library(data, name)
    except ElfError as e:
        skipped.append(str(e))
        return []
    scanned.append(name)
    return found


def regular_file_size(path: Path, limits: Limits | None = None) -> int:
    """The size of `path` when it is a regular file within the wheel cap; ElfError naming it otherwise (a device
    such as /dev/zero, a FIFO or a socket is never opened: reading one never ends or blocks)."""
    import os
    import stat

    limits = limits or LIMITS
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ElfError(f"{path}: no such file") from None
    except OSError as e:
        raise ElfError(f"{path}: cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise ElfError(f"{path}: is {kind}, not a wheel file; lockgen reads only regular files")
    if st.st_size > limits.max_wheel_bytes:
        raise ElfError(
            f"{path}: {st.st_size >> 20} MiB is over the cap of {limits.max_wheel_bytes >> 20} MiB for a wheel"
        )
    return st.st_size


def _check_entry(name: str, size: int, compressed: int, total: int, limits: Limits, label: str) -> None:
    if size > limits.bomb_floor and size > limits.max_ratio * max(compressed, 1):
        raise ElfError(
            f"{label}: {name} expands {size // max(compressed, 1)} times ({compressed} -> {size} bytes): "
            f"refused as a zip bomb (cap {limits.max_ratio}:1 above {limits.bomb_floor >> 20} MiB)"
        )
    if total + size > limits.max_uncompressed:
        raise ElfError(
            f"{label}: its shared libraries unpack to more than the cap of {limits.max_uncompressed >> 20} MiB"
        )


def wheel_build_cuda(wheel: bytes | str | Path | IO[bytes], limits: Limits | None = None) -> BuildCuda:
    """The build CUDA of a wheel (bytes, a path, or a binary file object), or of an unpacked wheel directory
    (as in uv's cache, ``archive-v0/<id>/``). Scans every ``*.so`` / ``*.so.N``; files that are not ELF are
    listed in `skipped`. Raises ElfError when the input is not a zip archive or directory, is not a regular file
    (a device, a FIFO), or goes over one of `limits` (size, unpacked size, entries, libraries, zip-bomb ratio)."""
    limits = limits or LIMITS
    scanned: list[str] = []
    skipped: list[str] = []
    evidence: list[Evidence] = []
    label = str(wheel) if isinstance(wheel, (str, Path)) else "<wheel>"
    if isinstance(wheel, (str, Path)) and Path(wheel).is_dir():
        root = Path(wheel)
        libraries: list[Path] = []
        for entries, p in enumerate(root.rglob("*"), start=1):
            if entries > limits.max_entries:
                raise ElfError(f"{label}: more than {limits.max_entries} files; refused (cap on entries)")
            if _is_library(p.name) and p.is_file():  # is_file: regular files only (no FIFO, no device)
                libraries.append(p)
        if len(libraries) > limits.max_libraries:
            raise ElfError(f"{label}: {len(libraries)} shared libraries, over the cap of {limits.max_libraries}")
        total = 0
        for path in sorted(libraries):
            size = path.stat().st_size
            _check_entry(path.name, size, size, total, limits, label)
            total += size
            with path.open("rb") as f:
                evidence += _scan_file(path.relative_to(root).as_posix(), f, scanned, skipped)
        return summarize(evidence, scanned, skipped)
    if isinstance(wheel, (str, Path)):
        regular_file_size(Path(wheel), limits)
    elif isinstance(wheel, bytes) and len(wheel) > limits.max_wheel_bytes:
        raise ElfError(f"{label}: over the cap of {limits.max_wheel_bytes >> 20} MiB for a wheel")
    source: IO[bytes] | str | Path = io.BytesIO(wheel) if isinstance(wheel, bytes) else wheel
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile as e:
        raise ElfError(f"{label}: not a wheel (not a zip archive: {e})") from None
    except FileNotFoundError:
        raise ElfError(f"{label}: no such file") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise ElfError(f"{label}: {len(infos)} archive entries, over the cap of {limits.max_entries}")
        libraries_in = [i for i in infos if not i.is_dir() and _is_library(i.filename)]
        if len(libraries_in) > limits.max_libraries:
            raise ElfError(f"{label}: {len(libraries_in)} shared libraries, over the cap of {limits.max_libraries}")
        total = 0
        for info in libraries_in:
            _check_entry(info.filename, info.file_size, info.compress_size, total, limits, label)
            total += info.file_size
            try:
                with zf.open(info) as f:  # reads at most info.file_size bytes (zipfile stops there)
                    evidence += _scan_file(info.filename, f, scanned, skipped)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
                skipped.append(f"{info.filename}: cannot be unpacked ({e})")
    return summarize(evidence, scanned, skipped)


# ------------------------------------------------------------------------------------------------ the cited table

BUILDS_FILE = "lockgen/tables/data/builds.toml"
CONFS = ("Y", "S", "U")


@dataclass(frozen=True)
class BuildRow:
    """One row of tables/data/builds.toml: the build CUDA of some published versions of a compiled package."""

    package: str
    versions: str
    cuda: str | None
    links: str | None = None
    local: str | None = None
    bundled: tuple[str, ...] = ()
    follows_torch: bool = False
    by_major: tuple[tuple[str, str], ...] = ()
    jit: bool = False
    torch: str | None = None
    evidence: str = ""
    conf: str = "U"
    source: str = ""

    def matches(self, package: str, version: str) -> bool:
        """Whether this row covers `package==version` (the local label must match the row's, or both be absent)."""
        from packaging.specifiers import SpecifierSet
        from packaging.utils import canonicalize_name
        from packaging.version import InvalidVersion, Version

        if canonicalize_name(package) != canonicalize_name(self.package):
            return False
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        if (v.local or None) != self.local:
            return False
        return SpecifierSet(self.versions).contains(v.public, prereleases=True)

    def cuda_for_torch(self, torch_cuda: str) -> str | None:
        """The build CUDA this package ends up with next to a torch of CUDA `torch_cuda` ("X.Y"): its own for a
        plain row; torch's for `jit`; for `follows_torch`, the build its CI makes for torch's major; for `bundled`,
        the library bitsandbytes' rule picks (exact, else the newest older of the same major, else the oldest
        newer of it)."""
        major = torch_cuda.split(".")[0]
        if self.jit:  # no binary in the wheel: kernels are compiled at run time for torch's CUDA
            return torch_cuda
        if self.follows_torch:
            return dict(self.by_major).get(major)
        if self.bundled:
            same = [c for c in self.bundled if c.split(".")[0] == major]
            if torch_cuda in same:
                return torch_cuda
            older = [c for c in same if _key(c) < _key(torch_cuda)]
            newer = [c for c in same if _key(c) > _key(torch_cuda)]
            return max(older, key=_key) if older else (min(newer, key=_key) if newer else None)
        return self.cuda


def parse_build_table(data: Mapping[str, object], file: str = BUILDS_FILE) -> tuple[BuildRow, ...]:
    """The rows of a parsed builds table. Pure; InputError (file, key, message) for a malformed row."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from lockgen.errors import InputError

    sources = data.get("sources", {})
    if not isinstance(sources, Mapping):
        raise InputError(file, "sources", "must be a table of name = citation")
    rows = data.get("build", [])
    if not isinstance(rows, list):
        raise InputError(file, "build", "must be an array of tables ([[build]])")
    out: list[BuildRow] = []
    for i, row in enumerate(rows):
        key = f"build[{i}]"
        if not isinstance(row, Mapping):
            raise InputError(file, key, "must be a table")
        for field in ("package", "versions", "conf", "source"):
            if not isinstance(row.get(field), str) or not row[field]:
                raise InputError(file, f"{key}.{field}", "is required (a non-empty string)")
        try:
            SpecifierSet(row["versions"])
        except InvalidSpecifier:
            raise InputError(file, f"{key}.versions", f"not a PEP 440 specifier set: {row['versions']!r}") from None
        if row["conf"] not in CONFS:
            raise InputError(file, f"{key}.conf", f"must be one of {', '.join(CONFS)}")
        for ref in (s.strip() for s in row["source"].split(";")):
            if ref and not ref.startswith("http") and ref not in sources:
                raise InputError(file, f"{key}.source", f"{ref!r} is neither a URL nor a key of [sources]")
        cuda = row.get("cuda")
        bundled = tuple(row.get("bundled", ()))
        follows = bool(row.get("follows_torch", False))
        jit = bool(row.get("jit", False))
        if not cuda and not bundled and not follows and not jit:
            raise InputError(file, key, "needs one of cuda, bundled, follows_torch or jit")
        out.append(
            BuildRow(
                package=row["package"],
                versions=row["versions"],
                cuda=str(cuda) if cuda else None,
                links=row.get("links"),
                local=row.get("local"),
                bundled=bundled,
                follows_torch=follows,
                by_major=tuple(sorted((str(k), str(v)) for k, v in dict(row.get("by_major", {})).items())),
                jit=jit,
                torch=row.get("torch"),
                evidence=str(row.get("evidence", "")),
                conf=row["conf"],
                source=row["source"],
            )
        )
    return tuple(out)


@cache
def load_build_table() -> tuple[BuildRow, ...]:
    """The packaged tables/data/builds.toml (read once)."""
    text = resources.files("lockgen").joinpath("tables/data/builds.toml").read_text(encoding="utf-8")
    return parse_build_table(tomllib.loads(text))


@cache
def _rows_by_package() -> dict[str, tuple[BuildRow, ...]]:
    from packaging.utils import canonicalize_name

    index: dict[str, list[BuildRow]] = {}
    for row in load_build_table():
        index.setdefault(canonicalize_name(row.package), []).append(row)
    return {k: tuple(v) for k, v in index.items()}


def lookup_build(package: str, version: str, rows: Iterable[BuildRow] | None = None) -> BuildRow | None:
    """The row covering `package==version`, or None when the table does not know that build."""
    if rows is None:
        from packaging.utils import canonicalize_name

        rows = _rows_by_package().get(canonicalize_name(package), ())
    for row in rows:
        if row.matches(package, version):
            return row
    return None
