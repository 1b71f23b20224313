"""Expose the host's NVIDIA driver libraries, and only those, to programs run from the Nix dev shell.

uv installs manylinux wheels (torch, vllm, the nvidia-* runtime wheels) that dlopen the *driver*
(libcuda.so.1, libnvidia-ml.so.1, libnvidia-ptxjitcompiler.so.1, ...). Inside a Nix shell the loader does not
search the host's /usr/lib, and putting all of /usr/lib on LD_LIBRARY_PATH would mix the host's libc, libstdc++
and friends into Nix programs. So:

- NixOS: the driver lives in /run/opengl-driver/lib (hardware.graphics + the nvidia video driver): print that.
- other distributions: find the directory holding the driver's libcuda.so.1 (from `ldconfig -p` of the host's
  /etc/ld.so.cache, else from known library directories), and make a directory of symlinks to exactly the driver
  libraries in it (libcuda*, libnvidia-*, libnvcuvid*, libnvoptix*, the *_nvidia GL vendor libraries; on WSL also
  libdxcore/libd3d12/libnvdxgdmal, which WSL's libcuda needs). Print that directory.
- GPU_WORKSPACE_DRIVER_DIR=/some/dir (or --driver-dir): take the driver from that directory, for layouts none of
  the above finds.
- no driver: print nothing (exit 0). When the kernel driver is loaded (/proc/driver/nvidia/version) but its
  libcuda.so.1 was not found, say so on stderr.

The printed directory goes first on LD_LIBRARY_PATH (flake.nix's shell hook does that). The symlink directory is
named by a hash of its content under the cache directory, so concurrent shells share it and it is never half-built.

Standard library only: it runs with the shell's Nix Python before any venv exists.
Usage: python3 driver_libs.py [--root /] [--cache-dir DIR] [--ldconfig-output FILE] [--driver-dir DIR]
                              [--machine x86_64] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NIXOS_DRIVER_DIR = "/run/opengl-driver/lib"
CUDA_SONAME = "libcuda.so.1"

# The user-space NVIDIA driver, by file name. Toolkit libraries (libcudart, libcublas, libnvrtc, libnvJitLink, ...)
# are NOT the driver: the wheels bring their own, and a host copy would shadow them.
_DRIVER_RE = re.compile(
    r"^(?:libcuda|libcudadebugger|libnvcuvid|libnvoptix"
    r"|libnvidia-(?!container)[A-Za-z0-9_.+-]+?"
    r"|lib(?:GLX|EGL|GLESv1_CM|GLESv2)_nvidia"
    r")\.so(?:\.[0-9]+)*$"
)
# On WSL the driver is /usr/lib/wsl/lib, and its libcuda loads these (they are part of the WSL GPU driver).
_WSL_RE = re.compile(r"^(?:libdxcore|libd3d12|libd3d12core|libnvdxgdmal|libnvwgf2umx)\.so(?:\.[0-9]+)*$")

# Where distributions and container runtimes put the driver when ldconfig does not say (relative to the root).
KNOWN_DIRS = {
    "x86_64": (
        "usr/lib/x86_64-linux-gnu",
        "usr/lib/x86_64-linux-gnu/nvidia/current",
        "usr/lib64",
        "usr/lib64/nvidia",
        "usr/lib",
        "usr/lib/nvidia",
        "usr/local/nvidia/lib64",
        "usr/lib/wsl/lib",
        "lib/x86_64-linux-gnu",
        "lib64",
    ),
    "aarch64": (
        "usr/lib/aarch64-linux-gnu",
        "usr/lib/aarch64-linux-gnu/nvidia/current",
        "usr/lib/aarch64-linux-gnu/tegra",
        "usr/lib64",
        "usr/lib64/nvidia",
        "usr/lib",
        "usr/lib/nvidia",
        "usr/local/nvidia/lib64",
        "usr/lib/wsl/lib",
        "lib/aarch64-linux-gnu",
        "lib64",
    ),
}
# ldconfig's architecture tag and the ELF e_machine of 64-bit libraries per machine.
LDCONFIG_TAG = {"x86_64": "x86-64", "aarch64": "AArch64"}
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}


@dataclass(frozen=True)
class DriverLibs:
    """What was found: kind ("nixos", "host", "none"), the directory for LD_LIBRARY_PATH, and the links to make."""

    kind: str
    directory: str | None = None  # the driver's own directory (host path)
    links: dict[str, str] = field(default_factory=dict)  # link name -> target path (host path)
    note: str = ""


def is_driver_lib(name: str, wsl: bool = False) -> bool:
    """Whether a file name is one of the NVIDIA driver's user-space libraries."""
    return bool(_DRIVER_RE.match(name) or (wsl and _WSL_RE.match(name)))


def parse_ldconfig(text: str, machine: str) -> list[tuple[str, str]]:
    """(name, path) for each `ldconfig -p` entry of this machine's 64-bit ABI, in cache order."""
    tag = LDCONFIG_TAG.get(machine)
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s+(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*)$", line)
        if not m:
            continue
        flags = [f.strip() for f in m.group(2).split(",")]
        if tag and tag not in flags:
            continue
        out.append((m.group(1), m.group(3).strip()))
    return out


def elf_machine(path: Path) -> int | None:
    """e_machine of a 64-bit little-endian ELF file (following symlinks); None when it is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return None
    return int.from_bytes(head[18:20], "little")


def _in_root(root: Path, host_path: str) -> Path:
    return root / host_path.lstrip("/")


def _fits(root: Path, host_path: str, machine: str) -> bool:
    want = ELF_MACHINE.get(machine)
    return want is not None and elf_machine(_in_root(root, host_path)) == want


def _nixos(root: Path) -> DriverLibs | None:
    d = _in_root(root, NIXOS_DRIVER_DIR)
    try:
        names = os.listdir(d)
    except OSError:
        return None
    if any(n.startswith("libcuda.so") for n in names):
        return DriverLibs("nixos", NIXOS_DRIVER_DIR, {}, "NixOS driver link (hardware.graphics)")
    return None


def _driver_home(root: Path, entries: list[tuple[str, str]], machine: str) -> str | None:
    """The host directory holding the driver's libcuda.so.1: ldconfig's answer first, then the known directories."""
    for name, path in entries:
        if name == CUDA_SONAME and _fits(root, path, machine):
            return os.path.dirname(path)
    for rel in KNOWN_DIRS.get(machine, ()):
        host = "/" + rel
        if _fits(root, f"{host}/{CUDA_SONAME}", machine):
            return host
    return None


def find_driver_libs(root: Path, ldconfig_text: str | None, machine: str, driver_dir: str | None = None) -> DriverLibs:
    """Locate the host driver under `root` (the host is root "/"); pure apart from reading that tree.

    `driver_dir` (a host path) overrides the search: the driver libraries are taken from that directory.
    """
    if driver_dir:
        home: str | None = "/" + driver_dir.strip("/")
    else:
        nixos = _nixos(root)
        if nixos:
            return nixos
        home = _driver_home(root, parse_ldconfig(ldconfig_text or "", machine), machine)
    if home is None:
        note = "no libcuda.so.1 for this machine in the ldconfig cache or the usual directories"
        return DriverLibs("none", note=note)
    wsl = home.rstrip("/").endswith("wsl/lib")
    links: dict[str, str] = {}
    try:
        names = sorted(os.listdir(_in_root(root, home)))
    except OSError:
        names = []
    for name in names:
        path = f"{home.rstrip('/')}/{name}"
        if is_driver_lib(name, wsl) and _fits(root, path, machine):
            links[name] = str(_in_root(root, path)) if root != Path("/") else path
    return DriverLibs("host", home, links, f"driver libraries from {home}")


def read_ldconfig(root: Path) -> str | None:
    """`ldconfig -p` of the host's cache (root/etc/ld.so.cache); None when there is no ldconfig or no cache.

    The host's own ldconfig is preferred: a Nix glibc's ldconfig reads Nix's cache, not the host's.
    """
    cache = _in_root(root, "/etc/ld.so.cache")
    if not cache.is_file():
        return None
    candidates = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "/usr/bin/ldconfig", "/bin/ldconfig"]
    which = shutil.which("ldconfig")
    if which:
        candidates.append(which)
    for exe in candidates:
        if not os.access(exe, os.X_OK):
            continue
        try:
            res = subprocess.run([exe, "-p", "-C", str(cache)], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if res.returncode == 0:
            return res.stdout
    return None


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/gpu-workspace/driver-libs (or ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gpu-workspace" / "driver-libs"


def materialize(libs: DriverLibs, cache_dir: Path) -> Path:
    """The directory of symlinks for `libs.links`, created once per content (atomic rename of a filled temp dir)."""
    digest = hashlib.sha256(json.dumps(sorted(libs.links.items())).encode()).hexdigest()[:16]
    final = cache_dir / digest
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        for name, target in libs.links.items():
            os.symlink(target, tmp / name)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # another shell won the race when final exists; anything else is an error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve(
    root: Path, cache_dir: Path, ldconfig_text: str | None, machine: str, driver_dir: str | None = None
) -> tuple[DriverLibs, str | None]:
    """Find the driver and return (what was found, the directory to put first on LD_LIBRARY_PATH or None)."""
    libs = find_driver_libs(root, ldconfig_text, machine, driver_dir)
    if libs.kind == "nixos":
        return libs, str(_in_root(root, NIXOS_DRIVER_DIR)) if root != Path("/") else NIXOS_DRIVER_DIR
    if libs.kind == "host" and libs.links:
        return libs, str(materialize(libs, cache_dir))
    return libs, None


def main(argv: list[str] | None = None) -> int:
    """Print the driver directory for LD_LIBRARY_PATH (nothing when there is no driver); exit 2 on bad arguments."""
    p = argparse.ArgumentParser(prog="driver_libs.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path("/"), help="host root (tests use a fake one)")
    p.add_argument("--cache-dir", type=Path, default=None, help="where the symlink directories live")
    p.add_argument(
        "--ldconfig-output",
        type=Path,
        default=None,
        help="read this file as `ldconfig -p` output instead of running ldconfig",
    )
    p.add_argument(
        "--driver-dir",
        default=os.environ.get("GPU_WORKSPACE_DRIVER_DIR") or None,
        help="take the driver libraries from this host directory (default: $GPU_WORKSPACE_DRIVER_DIR)",
    )
    p.add_argument("--machine", default=platform.machine(), help="x86_64 or aarch64 (default: this machine)")
    p.add_argument("--json", action="store_true", help="print what was found as JSON")
    args = p.parse_args(argv)
    if args.machine not in ELF_MACHINE:
        print(f"driver_libs.py: unsupported machine {args.machine!r} (x86_64 or aarch64)", file=sys.stderr)
        return 2
    if args.ldconfig_output is not None:
        try:
            text: str | None = args.ldconfig_output.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            print(f"driver_libs.py: --ldconfig-output: {e}", file=sys.stderr)
            return 2
    else:
        text = read_ldconfig(args.root)
    libs, directory = resolve(args.root, args.cache_dir or default_cache_dir(), text, args.machine, args.driver_dir)
    if args.json:
        json.dump(
            {
                "kind": libs.kind,
                "driver_dir": libs.directory,
                "ld_library_path": directory,
                "links": libs.links,
                "note": libs.note,
            },
            sys.stdout,
            indent=2,
        )
        print()
        return 0
    if directory:
        print(directory)
    elif args.driver_dir:
        print(
            f"gpu-workspace: WARNING: no NVIDIA driver library for {args.machine} in {args.driver_dir} "
            "(GPU_WORKSPACE_DRIVER_DIR)",
            file=sys.stderr,
        )
    elif (args.root / "proc/driver/nvidia/version").is_file():
        print(
            "gpu-workspace: WARNING: the NVIDIA kernel driver is loaded, but its libcuda.so.1 was not found "
            f"({libs.note}); torch will not see the GPU. Set GPU_WORKSPACE_DRIVER_DIR to the directory that holds "
            "libcuda.so.1 and re-enter the shell",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
