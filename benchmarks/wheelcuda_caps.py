"""`lockgen wheel-cuda` on hostile inputs, against its caps (seams.elfscan.Limits): for each input the wall time,
the peak memory of the lockgen process, the exit code and the first line it printed on stderr, next to a baseline
run on an honest wheel in the same run. Run: `uv run python benchmarks/wheelcuda_caps.py`.

Inputs (built in a temporary directory): a 2 MiB zip bomb that unpacks to 2 GiB, a wheel of 100,000 empty `.so`
entries, /dev/zero, a FIFO nobody writes to, and a wheel whose `.so` unpacks past the total cap while each entry
looks honest. Every hostile case must end with exit 2 within seconds and well under the caps' memory.

`--real` (needs PyPI) shows the other side of the caps: the largest wheels in this repository's uv.lock, read
through HTTP range requests (only each wheel's zip central directory, about 1 MB, is fetched): size, entries,
shared libraries, their unpacked size and the largest unpacked/compressed ratio of a library over 64 MiB.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lockgen" / "src"))


def bomb(path: Path, size: int = 2 << 30) -> None:
    """One `.so` entry of `size` zero bytes, deflated (about 1030:1)."""
    info = zipfile.ZipInfo("pkg/_C.so")
    info.compress_type = zipfile.ZIP_DEFLATED
    chunk = b"\0" * (16 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(info, "w", force_zip64=True) as f,
    ):
        for _ in range(size // len(chunk)):
            f.write(chunk)


def many_entries(path: Path, n: int = 100_000, libraries: int | None = None) -> None:
    """n entries, the first `libraries` of them (all by default) `.so` files holding a minimal ELF header."""
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 57
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            is_lib = libraries is None or i < libraries
            zf.writestr(f"pkg/lib{i}.so" if is_lib else f"pkg/data{i}.txt", elf if is_lib else b"")


def over_total(path: Path, n: int = 5, each: int = 1 << 30) -> None:
    """n libraries of `each` bytes (5 GiB unpacked) that each look honest: 16 KiB of random bytes per MiB, so
    about 60:1, under the zip-bomb ratio; only the total cap stops them (checked from the headers, before any
    library is unpacked)."""
    block = os.urandom(16 << 10) + b"\0" * ((1 << 20) - (16 << 10))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(n):
            info = zipfile.ZipInfo(f"pkg/lib{i}.so")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as f:
                for _ in range(each >> 20):
                    f.write(block)


def honest(path: Path) -> None:
    """A wheel with one 64 MiB ELF-looking library of incompressible bytes: the baseline."""
    data = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + os.urandom(64 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("pkg/_C.so", data)


# lockgen's main, then the process's own peak resident memory (VmHWM: per address space, so not inherited from
# this benchmark the way getrusage's ru_maxrss is across fork and exec) written to $HWM_FILE.
CHILD = """
import os, sys
from lockgen.cli import main
code = main(sys.argv[1:])
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
open(os.environ["HWM_FILE"], "w").write(hwm)
sys.exit(code)
"""


def run(target: str) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS of that lockgen process in MiB, exit code, its error line)."""
    with tempfile.TemporaryFile("w+") as err, tempfile.NamedTemporaryFile("w+") as hwm:
        env = {**os.environ, "PYTHONPATH": str(REPO / "lockgen" / "src"), "HWM_FILE": hwm.name}
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, "wheel-cuda", target],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t > 120:
                proc.kill()
                pid, status, _ = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
        hwm.seek(0)
        peak_kib = hwm.read().strip()
    lines = [line for line in text.splitlines() if line.startswith("lockgen: error")]
    message = lines[0] if lines else (text.strip().splitlines() or [""])[-1]
    return wall, int(peak_kib) / 1024 if peak_kib else float("nan"), proc.returncode, message


REAL = (
    "torch-2.10.0-cp312-cp312-manylinux_2_28_x86_64.whl",
    "torch-2.14.0-cp312-cp312-manylinux_2_28_x86_64.whl",
    "vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl",
    "nvidia_cudnn_cu12-9.10.2.21-py3-none-manylinux_2_27_x86_64.whl",
    "nvidia_cublas_cu12-12.8.4.1-py3-none-manylinux_2_27_x86_64.whl",
    "xformers-0.0.34-cp39-abi3-manylinux_2_28_x86_64.whl",
    "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl",
)


class _Ranged(io.RawIOBase):
    """A remote file read with HTTP Range requests (what zipfile needs: seek, tell, read)."""

    def __init__(self, url: str) -> None:
        import urllib.request

        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=60) as r:
            self.size = int(r.headers["Content-Length"])
        self.url, self.pos = url, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def readinto(self, b: Any) -> int:
        import urllib.request

        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        req = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{self.pos + n - 1}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
        b[: len(data)] = data
        self.pos += len(data)
        return len(data)


def real() -> None:
    """The largest wheels of uv.lock against the caps (central directories only, through HTTP range requests)."""
    import re

    from lockgen.seams.elfscan import LIMITS, SHARED_LIB_RE

    lock = (REPO / "uv.lock").read_text()
    print(f"{'wheel (from uv.lock)':66} {'size':>9} {'entries':>7} {'.so':>4} {'.so unpacked':>12} {'ratio':>5}")
    for name in REAL:
        m = re.search(rf'url = "(https://[^"]*/{re.escape(name)})"', lock)
        if not m:
            print(f"{name}: not in uv.lock")
            continue
        with zipfile.ZipFile(io.BufferedReader(_Ranged(m.group(1)), buffer_size=1 << 20)) as zf:
            infos = zf.infolist()
            size = zf.fp.raw.size  # type: ignore[union-attr]
        libs = [i for i in infos if SHARED_LIB_RE.search(i.filename.rsplit("/", 1)[-1])]
        ratios = [i.file_size / max(i.compress_size, 1) for i in libs if i.file_size > LIMITS.bomb_floor]
        unpacked = sum(i.file_size for i in libs)
        print(
            f"{name:66} {size >> 20:>5} MiB {len(infos):>7} {len(libs):>4} {unpacked >> 20:>8} MiB "
            f"{max(ratios, default=0):>5.1f}"
        )
    print(
        f"caps: {LIMITS.max_wheel_bytes >> 20} MiB, {LIMITS.max_entries} entries, {LIMITS.max_libraries} .so, "
        f"{LIMITS.max_uncompressed >> 20} MiB unpacked, ratio {LIMITS.max_ratio}"
    )


def main() -> None:
    if "--real" in sys.argv[1:]:
        real()
        return
    from lockgen.seams.elfscan import LIMITS

    print(
        f"caps: wheel {LIMITS.max_wheel_bytes >> 20} MiB, unpacked {LIMITS.max_uncompressed >> 20} MiB, "
        f"{LIMITS.max_entries} entries, {LIMITS.max_libraries} libraries, zip bomb {LIMITS.max_ratio}:1 above "
        f"{LIMITS.bomb_floor >> 20} MiB"
    )
    with tempfile.TemporaryDirectory(prefix="lockgen-caps-") as tmp:
        d = Path(tmp)
        cases: list[tuple[str, str]] = []
        t = time.perf_counter()
        honest(d / "honest-1.0-py3-none-any.whl")
        cases.append(("baseline: honest wheel, 64 MiB library", str(d / "honest-1.0-py3-none-any.whl")))
        bomb(d / "bomb-1.0-py3-none-any.whl")
        size = (d / "bomb-1.0-py3-none-any.whl").stat().st_size
        cases.append((f"zip bomb: {size >> 10} KiB -> 2 GiB", str(d / "bomb-1.0-py3-none-any.whl")))
        many_entries(d / "many-1.0-py3-none-any.whl")
        cases.append(("100,000 .so entries", str(d / "many-1.0-py3-none-any.whl")))
        many_entries(d / "atcap-1.0-py3-none-any.whl", LIMITS.max_entries, LIMITS.max_libraries)
        cases.append(("at the caps: 50,000 entries, 2,000 .so", str(d / "atcap-1.0-py3-none-any.whl")))
        over_total(d / "big-1.0-py3-none-any.whl")
        cases.append(("5 libraries of 1 GiB (5 GiB unpacked)", str(d / "big-1.0-py3-none-any.whl")))
        cases.append(("/dev/zero", "/dev/zero"))
        os.mkfifo(d / "fifo.whl")
        cases.append(("a FIFO nobody writes to", str(d / "fifo.whl")))
        print(f"(inputs built in {time.perf_counter() - t:.1f}s)\n")
        print(f"{'input':42} {'wall':>7} {'peak RSS':>9} {'exit':>4}  message")
        base_wall = None
        for label, target in cases:
            wall, peak, code, message = run(target)
            base_wall = base_wall or wall
            ratio = f"{wall / base_wall:5.2f}x" if base_wall else ""
            print(f"{label:42} {wall:6.2f}s {peak:7.0f}MiB {code:>4}  ({ratio} of baseline) {message[:150]}")


if __name__ == "__main__":
    main()
