"""nix/driver_libs.py against fake host roots: it must link exactly the NVIDIA driver's libraries, nothing else."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "nix" / "driver_libs.py"
X86, ARM = 62, 183


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("driver_libs", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["driver_libs"] = mod
    spec.loader.exec_module(mod)
    return mod


dl = _load()


def elf(path: Path, machine: int = X86, bits: int = 64) -> Path:
    """A file that starts like a shared library of that machine (what the helper checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1, 1]) + bytes(9) + (3).to_bytes(2, "little")
    path.write_bytes(head + machine.to_bytes(2, "little") + bytes(44))
    return path


def link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


# The driver 580.65.06 as Ubuntu's libnvidia-compute-580 & co. install it (real file + soname link).
DRIVER = {
    "libcuda.so.580.65.06": None,
    "libcuda.so.1": "libcuda.so.580.65.06",
    "libcuda.so": "libcuda.so.1",
    "libnvidia-ml.so.580.65.06": None,
    "libnvidia-ml.so.1": "libnvidia-ml.so.580.65.06",
    "libnvidia-ptxjitcompiler.so.580.65.06": None,
    "libnvidia-ptxjitcompiler.so.1": "libnvidia-ptxjitcompiler.so.580.65.06",
    "libnvidia-nvvm.so.580.65.06": None,
    "libnvidia-nvvm.so.4": "libnvidia-nvvm.so.580.65.06",
    "libnvidia-gpucomp.so.580.65.06": None,
    "libcudadebugger.so.580.65.06": None,
    "libcudadebugger.so.1": "libcudadebugger.so.580.65.06",
    "libnvcuvid.so.580.65.06": None,
    "libnvcuvid.so.1": "libnvcuvid.so.580.65.06",
    "libEGL_nvidia.so.580.65.06": None,
    "libEGL_nvidia.so.0": "libEGL_nvidia.so.580.65.06",
    "libGLX_nvidia.so.580.65.06": None,
    "libGLX_nvidia.so.0": "libGLX_nvidia.so.580.65.06",
}
# Everything else a host library directory holds: never linked.
DECOYS = [
    "libc.so.6",
    "libstdc++.so.6",
    "libz.so.1",
    "libGL.so.1",
    "libEGL.so.1",
    "libcudart.so.12",
    "libcudart.so.13",
    "libnvrtc.so.13",
    "libnvJitLink.so.13",
    "libcublas.so.13",
    "libcudnn.so.9",
    "libnvidia-container.so.1",
    "libnvidia-container-go.so.1",
]


def ubuntu_root(root: Path, libdir: str = "usr/lib/x86_64-linux-gnu", machine: int = X86) -> Path:
    d = root / libdir
    for name, target in DRIVER.items():
        if target is None:
            elf(d / name, machine)
        else:
            link(d / name, target)
    for name in DECOYS:
        elf(d / name, machine)
    (d / "libnvidia-ml.so.1.dpkg-old").write_text("not a library", encoding="utf-8")
    (d / "libnvidia-cfg.so.1").write_text("a linker script, not ELF", encoding="utf-8")
    # 32-bit driver for Steam & co., and the toolkit's link stub: both named libcuda, neither is the driver here
    elf(root / "usr/lib/i386-linux-gnu/libcuda.so.580.65.06", 3, bits=32)
    link(root / "usr/lib/i386-linux-gnu/libcuda.so.1", "libcuda.so.580.65.06")
    elf(root / "usr/local/cuda-13.0/targets/x86_64-linux/lib/stubs/libcuda.so", machine)
    return root


LDCONFIG_UBUNTU = """\
612 libs found in cache `/etc/ld.so.cache'
\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
\tlibcudart.so.13 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudart.so.13
\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1
\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
\tlibcuda.so (libc6,x86-64) => /usr/local/cuda-13.0/targets/x86_64-linux/lib/stubs/libcuda.so
\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
"""


def driver_names() -> set[str]:
    # the driver's files that are ELF libraries (the fake tree has no others)
    return set(DRIVER)


def assert_links_exactly(out: Path, libdir: Path, names: set[str]) -> None:
    assert sorted(os.listdir(out)) == sorted(names)
    for name in names:
        p = out / name
        assert p.is_symlink()
        assert os.readlink(p) == str(libdir / name)
        assert p.exists(), f"{name} dangles"


# ---- Ubuntu / Debian ----


def test_ubuntu_with_ldconfig_links_exactly_the_driver(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root")
    libs, out = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    assert libs.kind == "host" and libs.directory == "/usr/lib/x86_64-linux-gnu"
    assert out is not None and Path(out).parent == tmp_path / "cache"
    assert_links_exactly(Path(out), root / "usr/lib/x86_64-linux-gnu", driver_names())


def test_ubuntu_without_ldconfig_finds_the_driver_in_the_usual_directory(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root")
    libs, out = dl.resolve(root, tmp_path / "cache", None, "x86_64")
    assert libs.kind == "host"
    assert_links_exactly(Path(out), root / "usr/lib/x86_64-linux-gnu", driver_names())


def test_ldconfig_decides_the_directory_when_two_hold_a_driver(tmp_path: Path) -> None:
    # a stale copy in /usr/lib/x86_64-linux-gnu, the live driver in /usr/lib64 (what the cache says): no mixing
    root = ubuntu_root(tmp_path / "root")
    elf(root / "usr/lib64/libcuda.so.590.44.01")
    link(root / "usr/lib64/libcuda.so.1", "libcuda.so.590.44.01")
    elf(root / "usr/lib64/libnvidia-ml.so.1")
    elf(root / "usr/lib64/libssl.so.3")
    text = "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib64/libcuda.so.1\n"
    libs, out = dl.resolve(root, tmp_path / "cache", text, "x86_64")
    assert libs.directory == "/usr/lib64"
    assert_links_exactly(Path(out), root / "usr/lib64", {"libcuda.so.590.44.01", "libcuda.so.1", "libnvidia-ml.so.1"})


def test_debian_alternatives_layout(tmp_path: Path) -> None:
    # Debian's nvidia packages: the libraries in nvidia/current, soname links in the main directory
    root = tmp_path / "root"
    main = root / "usr/lib/x86_64-linux-gnu"
    elf(main / "nvidia/current/libcuda.so.535.216.01")
    link(main / "nvidia/current/libcuda.so.1", "libcuda.so.535.216.01")
    elf(main / "nvidia/current/libnvidia-ptxjitcompiler.so.535.216.01")
    link(main / "libcuda.so.1", "nvidia/current/libcuda.so.1")
    link(main / "libnvidia-ptxjitcompiler.so.1", "nvidia/current/libnvidia-ptxjitcompiler.so.535.216.01")
    elf(main / "libz.so.1")
    text = "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
    _, out = dl.resolve(root, tmp_path / "cache", text, "x86_64")
    assert_links_exactly(Path(out), main, {"libcuda.so.1", "libnvidia-ptxjitcompiler.so.1"})


def test_aarch64_host_takes_only_aarch64_libraries(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root", "usr/lib/aarch64-linux-gnu", machine=ARM)
    elf(root / "usr/lib/x86_64-linux-gnu/libcuda.so.1", X86)  # a foreign-architecture copy
    text = (
        "\tlibcuda.so.1 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libcuda.so.1\n"
        "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
    )
    libs, out = dl.resolve(root, tmp_path / "cache", text, "aarch64")
    assert libs.directory == "/usr/lib/aarch64-linux-gnu"
    assert_links_exactly(Path(out), root / "usr/lib/aarch64-linux-gnu", driver_names())
    # the same tree seen from an x86_64 host: the x86 copy is the only x86 libcuda
    libs, out = dl.resolve(root, tmp_path / "cache2", text, "x86_64")
    assert libs.directory == "/usr/lib/x86_64-linux-gnu"
    assert_links_exactly(Path(out), root / "usr/lib/x86_64-linux-gnu", {"libcuda.so.1"})


def test_wsl_includes_the_libraries_wsls_libcuda_loads(tmp_path: Path) -> None:
    root = tmp_path / "root"
    d = root / "usr/lib/wsl/lib"
    for name in (
        "libcuda.so.1.1",
        "libdxcore.so",
        "libd3d12.so",
        "libd3d12core.so",
        "libnvdxgdmal.so.1",
        "libnvidia-ml.so.1",
        "libnvidia-ptxjitcompiler.so.1",
        "libnvwgf2umx.so",
    ):
        elf(d / name)
    link(d / "libcuda.so.1", "libcuda.so.1.1")
    elf(d / "libfoo.so.2")
    libs, out = dl.resolve(root, tmp_path / "cache", None, "x86_64")
    assert libs.directory == "/usr/lib/wsl/lib"
    assert "libfoo.so.2" not in os.listdir(out)
    assert {"libcuda.so.1", "libdxcore.so", "libnvdxgdmal.so.1"} <= set(os.listdir(out))


def test_dxcore_is_not_taken_outside_wsl(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root")
    elf(root / "usr/lib/x86_64-linux-gnu/libdxcore.so")
    _, out = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    assert "libdxcore.so" not in os.listdir(out)


# ---- NixOS ----


def test_nixos_uses_run_opengl_driver_lib_and_makes_no_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    elf(root / "run/opengl-driver/lib/libcuda.so.580.65.06")
    link(root / "run/opengl-driver/lib/libcuda.so.1", "libcuda.so.580.65.06")
    elf(root / "run/opengl-driver/lib/libGL.so.1")
    ubuntu_root(root)  # even with another copy around: NixOS's driver link wins
    libs, out = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    assert libs.kind == "nixos" and libs.links == {}
    assert out == str(root / "run/opengl-driver/lib")
    assert not (tmp_path / "cache").exists()


def test_nixos_without_nvidia_has_no_driver(tmp_path: Path) -> None:
    root = tmp_path / "root"
    elf(root / "run/opengl-driver/lib/libGL.so.1")  # mesa only
    libs, out = dl.resolve(root, tmp_path / "cache", None, "x86_64")
    assert (libs.kind, out) == ("none", None)


# ---- no driver; override ----


def test_no_driver_at_all(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name in DECOYS:
        elf(root / "usr/lib/x86_64-linux-gnu" / name)
    text = "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
    libs, out = dl.resolve(root, tmp_path / "cache", text, "x86_64")
    assert (libs.kind, out) == ("none", None)
    assert not (tmp_path / "cache").exists()


def test_driver_dir_override(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root", "opt/nvidia/lib")
    libs, out = dl.resolve(root, tmp_path / "cache", None, "x86_64", driver_dir="/opt/nvidia/lib")
    assert libs.directory == "/opt/nvidia/lib"
    assert_links_exactly(Path(out), root / "opt/nvidia/lib", driver_names())


# ---- names, parsing, the link directory ----


@pytest.mark.parametrize(
    "name",
    [
        "libcuda.so",
        "libcuda.so.1",
        "libcuda.so.580.65.06",
        "libnvidia-ml.so.1",
        "libnvidia-ptxjitcompiler.so.580.65.06",
        "libnvidia-egl-wayland.so.1.1.13",
        "libGLX_nvidia.so.0",
        "libnvcuvid.so.1",
        "libnvoptix.so.1",
    ],
)
def test_driver_names(name: str) -> None:
    assert dl.is_driver_lib(name)


@pytest.mark.parametrize(
    "name",
    [
        "libcudart.so.12",
        "libcudnn.so.9",
        "libnvrtc.so.13",
        "libnvJitLink.so.13",
        "libnvidia-container.so.1",
        "libcuda.so.1.dpkg-old",
        "libcuda.txt",
        "libGL.so.1",
        "libdxcore.so",
        "libz.so.1",
    ],
)
def test_not_driver_names(name: str) -> None:
    assert not dl.is_driver_lib(name)


def test_parse_ldconfig_keeps_this_machines_abi_in_order() -> None:
    got = dl.parse_ldconfig(LDCONFIG_UBUNTU, "x86_64")
    assert got[0] == ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1")
    assert ("libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1") not in got
    assert ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6") in got
    assert dl.parse_ldconfig(LDCONFIG_UBUNTU, "aarch64") == []


def test_the_link_directory_is_reused_and_named_by_content(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root")
    _, first = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    _, again = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    assert first == again and os.listdir(tmp_path / "cache") == [Path(first).name]
    elf(root / "usr/lib/x86_64-linux-gnu/libnvidia-tls.so.580.65.06")
    _, changed = dl.resolve(root, tmp_path / "cache", LDCONFIG_UBUNTU, "x86_64")
    assert changed != first and "libnvidia-tls.so.580.65.06" in os.listdir(changed)


# ---- the command line (what the shell hook runs) ----


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "GPU_WORKSPACE_DRIVER_DIR"} | (env or {})
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=60, check=False
    )


def test_cli_prints_only_the_directory(tmp_path: Path) -> None:
    root = ubuntu_root(tmp_path / "root")
    (tmp_path / "ldconfig.txt").write_text(LDCONFIG_UBUNTU, encoding="utf-8")
    res = run_cli(
        "--root",
        str(root),
        "--cache-dir",
        str(tmp_path / "c"),
        "--ldconfig-output",
        str(tmp_path / "ldconfig.txt"),
        "--machine",
        "x86_64",
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout.strip()
    assert res.stdout == out + "\n" and Path(out).parent == tmp_path / "c"
    assert_links_exactly(Path(out), root / "usr/lib/x86_64-linux-gnu", driver_names())


def test_cli_without_driver_prints_nothing_and_warns_only_for_a_loaded_kernel_driver(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    args = ("--root", str(root), "--cache-dir", str(tmp_path / "c"), "--machine", "x86_64")
    res = run_cli(*args)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    (root / "proc/driver/nvidia").mkdir(parents=True)
    (root / "proc/driver/nvidia/version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06\n")
    res = run_cli(*args)
    assert res.returncode == 0 and res.stdout == ""
    assert "kernel driver is loaded" in res.stderr and "GPU_WORKSPACE_DRIVER_DIR" in res.stderr


def test_cli_reads_the_override_from_the_environment(tmp_path: Path) -> None:
    d = tmp_path / "drv"
    elf(d / "libcuda.so.1")
    elf(d / "libz.so.1")
    res = run_cli("--cache-dir", str(tmp_path / "c"), "--machine", "x86_64", env={"GPU_WORKSPACE_DRIVER_DIR": str(d)})
    assert res.returncode == 0, res.stderr
    assert os.listdir(res.stdout.strip()) == ["libcuda.so.1"]


def test_cli_rejects_an_unknown_machine(tmp_path: Path) -> None:
    res = run_cli("--machine", "riscv64", "--cache-dir", str(tmp_path))
    assert res.returncode == 2 and "riscv64" in res.stderr


# ---- a real ld.so.cache, built by the real ldconfig in a chroot ----


def _can_build_cache() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root (ldconfig -r chroots)"
    if not (shutil.which("gcc") and any(os.access(p, os.X_OK) for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig"))):
        return "needs gcc and ldconfig"
    if os.uname().machine not in ("x86_64", "aarch64"):
        return "x86_64 or aarch64 only"
    return None


@pytest.mark.skipif(_can_build_cache() is not None, reason=str(_can_build_cache()))
def test_real_ldconfig_cache(tmp_path: Path) -> None:
    machine = os.uname().machine
    libdir_rel = f"usr/lib/{machine}-linux-gnu"
    root = tmp_path / "root"
    libdir = root / libdir_rel
    libdir.mkdir(parents=True)
    (tmp_path / "x.c").write_text("int x(void) { return 1; }\n", encoding="utf-8")
    libs = {
        "libcuda.so.580.65.06": "libcuda.so.1",
        "libnvidia-ml.so.580.65.06": "libnvidia-ml.so.1",
        "libcudart.so.13.0.96": "libcudart.so.13",
        "libfoo.so.1.2": "libfoo.so.1",
    }
    for filename, soname in libs.items():
        subprocess.run(
            ["gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(libdir / filename), str(tmp_path / "x.c")],
            check=True,
            capture_output=True,
            timeout=120,
        )
    (root / "etc").mkdir()
    (root / "etc/ld.so.conf").write_text(f"/{libdir_rel}\n", encoding="utf-8")
    ldconfig = "/sbin/ldconfig" if os.access("/sbin/ldconfig", os.X_OK) else "/usr/sbin/ldconfig"
    subprocess.run([ldconfig, "-r", str(root)], check=True, capture_output=True, timeout=120)
    assert (root / "etc/ld.so.cache").is_file() and (libdir / "libcuda.so.1").is_symlink()
    res = run_cli("--root", str(root), "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert_links_exactly(
        Path(res.stdout.strip()),
        libdir,
        {"libcuda.so.580.65.06", "libcuda.so.1", "libnvidia-ml.so.580.65.06", "libnvidia-ml.so.1"},
    )
