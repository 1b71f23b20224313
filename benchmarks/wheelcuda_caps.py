"""`lockgen wheel-cuda` on hostile inputs, against its caps (lockgen.elfscan.Limits): for each input the wall time,
the peak memory of the lockgen process, the exit code and the first line it printed on stderr, next to a baseline
run on an honest wheel in the same run. Run: `uv run python benchmarks/wheelcuda_caps.py`.

Inputs (built in a temporary directory): a 2 MiB zip bomb that unpacks to 2 GiB, a wheel of 100,000 empty `.so`
entries, /dev/zero, a FIFO nobody writes to, and a wheel whose `.so` unpacks past the total cap while each entry
looks honest. Every hostile case must end with exit 2 within seconds and well under the caps' memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

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


def main() -> None:
    from lockgen.elfscan import LIMITS

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
