"""Build CUDA that metadata hides: the ELF reader on real gcc-built libraries, wheels holding them, malformed
inputs, the cited table (tables/data/builds.toml) and `lockgen wheel-cuda`."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pkgworld as pw
import pytest
from lockgen.cli import main
from lockgen.errors import InputError
from lockgen.seams.elfscan import (
    ElfError,
    dt_needed,
    load_build_table,
    lookup_build,
    parse_build_table,
    ptx_isa_table,
    read_elf,
    wheel_build_cuda,
)

GCC = shutil.which("gcc")
READELF = shutil.which("readelf")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")

CUDART = "int cudaRuntimeGetVersion(int *v) { *v = 12080; return 0; }\n"
EXT = """
extern int cudaRuntimeGetVersion(int *v);
static const char ident[] __attribute__((used)) = "Cuda compilation tools, release 12.8, V12.8.93";
static const char ptx[] __attribute__((used)) = "//\\n.version 8.7\\n.target sm_90a\\n.address_size 64\\n";
int ext(void) { int v; cudaRuntimeGetVersion(&v); return v; }
"""


def gcc(tmp: Path, out: str, source: str, *args: str) -> Path:
    src = tmp / (out + ".c")
    src.write_text(source)
    subprocess.run([GCC or "gcc", "-shared", "-fPIC", "-o", str(tmp / out), str(src), *args], check=True, cwd=tmp)
    return tmp / out


@pytest.fixture
def libs(tmp_path: Path) -> dict[str, Path]:
    """Stub CUDA runtimes (SONAMEs libcudart.so.12 / .13) and extensions linking them, built with gcc."""
    if GCC is None:
        pytest.skip("gcc is not installed")
    out = {
        "cudart12": gcc(tmp_path, "libcudart.so.12", CUDART, "-Wl,-soname,libcudart.so.12"),
        "cudart13": gcc(tmp_path, "libcudart.so.13", CUDART, "-Wl,-soname,libcudart.so.13"),
        "cufft": gcc(tmp_path, "libcufft.so.11", "int cufftPlan1d(void){return 0;}\n", "-Wl,-soname,libcufft.so.11"),
    }
    link = ("-L.", "-Wl,--no-as-needed", "-Wl,-rpath,$ORIGIN")
    out["ext12"] = gcc(tmp_path, "ext12.so", EXT, *link, "-l:libcudart.so.12", "-l:libcufft.so.11")
    out["ext13"] = gcc(tmp_path, "ext13.so", "int f(void){return 0;}\n", *link, "-l:libcudart.so.13")
    return out


def readelf_needed(path: Path) -> list[str]:
    """DT_NEEDED as binutils' readelf sees it (an independent reader)."""
    out = subprocess.run([READELF or "readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def strip_section_headers(data: bytes) -> bytes:
    """Zero e_shoff/e_shnum/e_shstrndx of a 64-bit LE ELF: the reader must fall back to the program headers."""
    b = bytearray(data)
    struct.pack_into("<Q", b, 0x28, 0)
    struct.pack_into("<HH", b, 0x3C, 0, 0)
    return bytes(b)


def make_wheel(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ ELF reader


def test_dt_needed_of_a_gcc_built_extension(libs: dict[str, Path]) -> None:
    data = libs["ext12"].read_bytes()
    assert dt_needed(data) == ("libcudart.so.12", "libcufft.so.11", "libc.so.6")
    info = read_elf(data)
    assert info.bits == 64 and info.little_endian and info.runpath == ("$ORIGIN",)
    assert read_elf(libs["cudart12"].read_bytes()).soname == "libcudart.so.12"
    if READELF:
        assert list(dt_needed(data)) == readelf_needed(libs["ext12"])


def test_program_headers_are_enough(libs: dict[str, Path]) -> None:
    stripped = strip_section_headers(libs["ext12"].read_bytes())
    assert dt_needed(stripped) == ("libcudart.so.12", "libcufft.so.11", "libc.so.6")


@needs_gcc
def test_system_libraries_agree_with_readelf() -> None:
    if READELF is None:
        pytest.skip("readelf is not installed")
    candidates = [Path(p) for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libssl.so.3")]
    candidates += sorted(Path("/usr/lib/x86_64-linux-gnu").glob("libstdc++.so.6*"))[:1]
    found = [p for p in candidates if p.exists()]
    if not found:
        pytest.skip("no system libraries to compare with")
    for path in found:
        assert list(dt_needed(path.read_bytes(), str(path))) == readelf_needed(path), path


@pytest.mark.parametrize(("bits", "little"), [(64, True), (64, False), (32, True), (32, False)])
@pytest.mark.parametrize("sections", [True, False])
def test_all_classes_and_byte_orders(bits: int, little: bool, sections: bool, tmp_path: Path) -> None:
    needed = ["libcudart.so.12", "libcublasLt.so.12", "libc.so.6"]
    data = pw.elf_shared_object(needed, soname="_C.so", bits=bits, little=little, sections=sections)
    info = read_elf(data)
    assert info.needed == tuple(needed) and info.soname == "_C.so"
    assert (info.bits, info.little_endian) == (bits, little)
    if READELF and sections:  # the synthetic writer itself is checked against binutils
        (tmp_path / "x.so").write_bytes(data)
        assert readelf_needed(tmp_path / "x.so") == needed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an ELF file"),
        (b"#!/bin/sh\necho not a library\n", "not an ELF file"),
        (b"\x7fELF\x03\x01" + b"\0" * 60, "unknown ELF class 3"),
        (b"\x7fELF\x02\x07" + b"\0" * 60, "unknown ELF data encoding 7"),
        (pw.elf_shared_object(["libcudart.so.12"])[:40], "truncated"),
    ],
)
def test_malformed_inputs_give_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(ElfError, match=message) as e:
        read_elf(data, "x.so")
    assert str(e.value).startswith("x.so: ") and "\n" not in str(e.value)


def test_corrupt_string_index_and_truncated_tables() -> None:
    good = bytearray(pw.elf_shared_object(["libcudart.so.12"]))
    needed_entry = good.index(struct.pack("<qQ", 1, 1))
    bad = bytearray(good)
    struct.pack_into("<qQ", bad, needed_entry, 1, 10_000)  # DT_NEEDED pointing past .dynstr
    with pytest.raises(ElfError, match="corrupt ELF file"):
        read_elf(bytes(bad), "x.so")
    with pytest.raises(ElfError, match="truncated"):
        read_elf(bytes(good[: len(good) - 10]), "x.so")  # section headers cut off


def test_a_file_without_dynamic_section_has_no_needed(libs: dict[str, Path], tmp_path: Path) -> None:
    obj = tmp_path / "plain.o"
    (tmp_path / "plain.c").write_text("int x(void){return 1;}\n")
    subprocess.run([GCC or "gcc", "-c", "-o", str(obj), str(tmp_path / "plain.c")], check=True)
    assert dt_needed(obj.read_bytes()) == ()


# ------------------------------------------------------------------------------------------------ wheels


def test_wheel_build_cuda(libs: dict[str, Path]) -> None:
    wheel = make_wheel(
        {
            "pkg/__init__.py": b"",
            "pkg/_C.so": libs["ext12"].read_bytes(),
            "pkg/libs/libcufft.so.11": libs["cufft"].read_bytes(),
            "pkg/libfake.so": b"/* GNU ld script */ INPUT(-lc)\n",
            "pkg-1.0.dist-info/METADATA": b"Name: pkg\nVersion: 1.0\n",
        }
    )
    build = wheel_build_cuda(wheel)
    assert build.majors == (12,)
    assert build.nvcc == ("12.8",)
    assert build.ptx == (("8.7", "12.8"),)
    assert build.cuda == "12.8" and not build.mixed_majors
    assert set(build.scanned) == {"pkg/_C.so", "pkg/libs/libcufft.so.11"}
    assert len(build.skipped) == 1 and build.skipped[0].startswith("pkg/libfake.so: not an ELF file")
    needed = [e for e in build.evidence if e.kind == "needed"]
    assert [(e.file, e.text, e.cuda) for e in needed] == [("pkg/_C.so", "libcudart.so.12", "12")]


def test_mixed_majors_and_link_only_evidence(libs: dict[str, Path], tmp_path: Path) -> None:
    wheel = tmp_path / "mix-1.0-py3-none-any.whl"
    wheel.write_bytes(make_wheel({"a/_a.so": libs["ext12"].read_bytes(), "b/_b.so": libs["ext13"].read_bytes()}))
    build = wheel_build_cuda(wheel)
    assert build.majors == (12, 13) and not build.mixed_majors
    assert build.bundles == ("12.8", "13") and build.cuda is None  # two libraries, one major each
    assert build.per_file == (("a/_a.so", "12.8"), ("b/_b.so", "13"))
    both = gcc(
        tmp_path,
        "both.so",
        "int g(void){return 0;}\n",
        "-L.",
        "-Wl,--no-as-needed",
        "-l:libcudart.so.12",
        "-l:libcudart.so.13",
    )
    broken = wheel_build_cuda(make_wheel({"c/_c.so": both.read_bytes()}))
    assert broken.mixed_majors and broken.bundles == ()
    only13 = wheel_build_cuda(make_wheel({"b/_b.so": libs["ext13"].read_bytes()}))
    assert only13.cuda == "13" and only13.nvcc == () and only13.ptx == ()


def test_large_libraries_go_through_mmap(libs: dict[str, Path]) -> None:
    big = libs["ext12"].read_bytes() + b"\0" * (9 << 20) + b"Cuda compilation tools, release 12.9, V12.9.86\0"
    build = wheel_build_cuda(make_wheel({"pkg/_C.so": big}))
    assert build.majors == (12,) and build.nvcc == ("12.8", "12.9") and build.cuda == "12.9"


def test_unpacked_wheel_directory(libs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "archive-v0" / "abc123"
    (root / "xformers").mkdir(parents=True)
    (root / "xformers-0.0.35.dist-info").mkdir()
    shutil.copy(libs["ext12"], root / "xformers" / "_C.so")
    build = wheel_build_cuda(root)
    assert build.scanned == ("xformers/_C.so",) and build.cuda == "12.8"


def test_not_a_wheel(tmp_path: Path) -> None:
    bad = tmp_path / "x.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ElfError, match="not a wheel"):
        wheel_build_cuda(bad)
    with pytest.raises(ElfError, match="no such file"):
        wheel_build_cuda(tmp_path / "missing.whl")


def test_generated_world_wheels_reveal_their_hidden_build() -> None:
    w = pw.make_world(
        {"2.11.0": "13.0"},
        packages={"vllm": {"0.2.0": ["torch==2.11.0"]}},
        build_cuda={("vllm", "0.2.0"): "12.9"},
    )
    build = wheel_build_cuda(pw.wheel_bytes(w.dist("vllm", "0.2.0")))
    assert build.majors == (12,) and build.cuda == "12.9"
    assert wheel_build_cuda(pw.wheel_bytes(w.dist("torch", "2.11.0"))).cuda is None


# ------------------------------------------------------------------------------------------------ the table


def test_a_worlds_hidden_builds_as_a_table() -> None:
    w = pw.make_world(
        {"2.9.0": "12.8", "2.11.0": "13.0"},
        packages={"vllm": {"0.1.0": ["torch==2.9.0"], "0.2.0": ["torch==2.11.0"]}},
        build_cuda={("vllm", "0.2.0"): "12.9"},
    )
    rows = parse_build_table(pw.build_table_data(w), "pkgworld")
    assert lookup_build("vllm", "0.2.0", rows).cuda == "12.9"  # type: ignore[union-attr]
    assert lookup_build("vllm", "0.1.0", rows) is None
    # and what the table says is what the wheel's library says
    assert wheel_build_cuda(pw.wheel_bytes(w.dist("vllm", "0.2.0"))).cuda == "12.9"


def test_table_rows_from_compat_md() -> None:
    xf = lookup_build("xformers", "0.0.35")
    assert xf is not None and (xf.cuda, xf.links, xf.conf) == ("12.8", "libcudart.so.12", "Y")
    assert lookup_build("xformers", "0.0.30") is None  # build CUDA never read: no row
    assert lookup_build("vllm", "0.19.1").cuda == "12.9"  # type: ignore[union-attr]
    assert lookup_build("vllm", "0.20.0").cuda == "13.0"  # type: ignore[union-attr]
    assert lookup_build("vllm", "0.9.0.1").cuda == "12.8"  # type: ignore[union-attr]
    assert lookup_build("vllm", "0.6.5").cuda == "12.1"  # type: ignore[union-attr]
    assert lookup_build("VLLM", "0.20.0+cu129").cuda == "12.9"  # type: ignore[union-attr]
    assert lookup_build("vllm", "0.5.0") is None
    bnb = lookup_build("bitsandbytes", "0.50.2")
    assert bnb is not None and bnb.cuda is None
    assert bnb.cuda_for_torch("13.0") == "13.0"
    assert bnb.cuda_for_torch("12.9") == "12.8"  # newest older of the same major
    assert bnb.cuda_for_torch("13.1") == "13.0"
    assert lookup_build("bitsandbytes", "0.47.0").cuda_for_torch("13.0") is None  # type: ignore[union-attr]
    fi = lookup_build("flashinfer-python", "0.6.8.post1")
    assert fi is not None and fi.jit and fi.cuda is None and fi.cuda_for_torch("13.0") == "13.0"
    fa = lookup_build("flash-attn", "2.8.3.post2")
    assert fa is not None and fa.cuda_for_torch("13.0") == "13.0" and fa.cuda_for_torch("12.8") == "12.3"


def test_every_row_is_cited_and_rows_do_not_overlap() -> None:
    rows = load_build_table()
    assert len(rows) >= 15
    assert all(r.source and r.conf in ("Y", "S", "U") for r in rows)
    probe = {
        "vllm": ["0.6.0", "0.6.3.post1", "0.7.3", "0.8.5.post1", "0.11.2", "0.12.0", "0.19.1", "0.26.0", "0.33.0"],
        "xformers": ["0.0.29.post2", "0.0.32.post1", "0.0.33", "0.0.34", "0.0.35"],
        "bitsandbytes": ["0.45.5", "0.47.0", "0.49.2", "0.50.0"],
    }
    for package, versions in probe.items():
        for v in versions:
            hits = [r for r in rows if r.matches(package, v)]
            assert len(hits) == 1, (package, v, hits)


def test_ptx_table() -> None:
    table = ptx_isa_table()
    assert (table["8.1"], table["8.4"], table["8.7"], table["8.8"], table["9.0"]) == (
        "12.1",
        "12.4",
        "12.8",
        "12.9",
        "13.0",
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"build": [{"package": "x", "versions": "==1", "conf": "Y", "source": "nowhere", "cuda": "12.8"}]}, "source"),
        ({"build": [{"package": "x", "versions": "=>1", "conf": "Y", "source": "https://e", "cuda": "1"}]}, "versions"),
        ({"build": [{"package": "x", "versions": "==1", "conf": "Q", "source": "https://e", "cuda": "1"}]}, "conf"),
        ({"build": [{"package": "x", "versions": "==1", "conf": "Y", "source": "https://e"}]}, "build[0]"),
        ({"build": [{"versions": "==1", "conf": "Y", "source": "https://e", "cuda": "1"}]}, "package"),
    ],
)
def test_malformed_table_rows(data: dict[str, object], key: str) -> None:
    with pytest.raises(InputError, match=re.escape(key)) as e:
        parse_build_table(data, "builds.toml")
    assert str(e.value).startswith("builds.toml: build[0]")


# ------------------------------------------------------------------------------------------------ the command


def wheel_file(tmp: Path, name: str, so: bytes) -> Path:
    path = tmp / name
    path.write_bytes(make_wheel({"pkg/_C.so": so}))
    return path


def test_command_agrees_with_the_table(
    libs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = wheel_file(tmp_path, "xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl", libs["ext12"].read_bytes())
    assert main(["wheel-cuda", str(whl), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["package"], out["version"], out["build_cuda"]) == ("xformers", "0.0.35", "12.8")
    assert out["majors"] == [12] and out["table"]["cuda"] == "12.8" and out["disagreement"] is None
    assert 'versions = "==0.0.35"' in out["toml_row"] and 'links = "libcudart.so.12"' in out["toml_row"]


def test_command_flags_a_disagreement(
    libs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = wheel_file(tmp_path, "vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl", libs["ext12"].read_bytes())
    assert main(["wheel-cuda", str(whl)]) == 1
    out = capsys.readouterr().out
    assert "DISAGREES: the table says CUDA 13.0, the wheel was built with 12.8" in out
    assert '[[build]]\npackage = "vllm"\nversions = "==0.33.0"\ncuda = "12.8"' in out


def test_command_prints_a_row_for_unknown_versions(
    libs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whl = wheel_file(tmp_path, "deep_ep-1.2.0-cp312-cp312-linux_x86_64.whl", libs["ext12"].read_bytes())
    assert main(["wheel-cuda", str(whl)]) == 0
    out = capsys.readouterr().out
    assert "no row for this version" in out and 'package = "deep-ep"' in out
    jit = wheel_file(tmp_path, "flashinfer_python-0.6.4-py3-none-any.whl", libs["ext12"].read_bytes())
    assert main(["wheel-cuda", str(jit)]) == 1
    assert "the table says it ships no binary (JIT)" in capsys.readouterr().out


def test_command_reads_uv_cache(libs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "uvcache"
    unpacked = cache / "archive-v0" / "Xyz"
    (unpacked / "xformers").mkdir(parents=True)
    (unpacked / "xformers-0.0.35.dist-info").mkdir()
    shutil.copy(libs["ext12"], unpacked / "xformers" / "_C.so")
    assert main(["wheel-cuda", "xformers==0.0.35", "--cache-dir", str(cache), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["wheel"] == str(unpacked) and out["build_cuda"] == "12.8"


def test_command_streams_a_url(libs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served = tmp_path / "srv"
    served.mkdir()
    wheel_file(served, "xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl", libs["ext12"].read_bytes())
    with pw.serve_index(served) as base:
        code = main(["wheel-cuda", f"{base}/xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl", "--json"])
        missing = main(["wheel-cuda", f"{base}/nothere-1.0-py3-none-any.whl"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out.split("\n}\n")[0] + "}")["build_cuda"] == "12.8"
    assert missing == 2 and "download failed: HTTP 404" in captured.err


def test_command_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wheel-cuda", str(tmp_path / "nope.whl")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"garbage")
    assert main(["wheel-cuda", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a wheel" in err and "Traceback" not in err


XFORMERS_035 = (
    "https://files.pythonhosted.org/packages/a4/85/6d71f9b16f2ac647877e66ed4af723b3fbd477806ab8b8a89d39a362b85f/"
    "xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl"
)


@pytest.mark.network
@pytest.mark.slow
def test_real_xformers_wheel_from_pypi(capsys: pytest.CaptureFixture[str]) -> None:
    """3 MB wheel; compat.md: xformers 0.0.35 links libcudart.so.12 (CUDA 12.8) although it accepts torch >= 2.10."""
    assert main(["wheel-cuda", XFORMERS_035, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["majors"] == [12] and out["build_cuda"] == "12.8"
    assert any(e["text"] == "libcudart.so.12" and e["file"] == "xformers/_C.so" for e in out["evidence"])
