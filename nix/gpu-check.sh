#!/usr/bin/env bash
# Check nix/driver_libs.py on a real NVIDIA host (no Nix needed; not run by the test suite).
# It must find the driver, link only driver libraries, and the linked libcuda/libnvidia-ml must load and answer.
# Usage: nix/gpu-check.sh            (exit 0 = pass; prints the driver and the links)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
dir=$("$py" -I nix/driver_libs.py --cache-dir "$cache")
[ -n "$dir" ] || { echo "FAIL: driver_libs.py found no NVIDIA driver on this host" >&2; exit 1; }
echo "driver directory for LD_LIBRARY_PATH: $dir"
ls -l "$dir"
"$py" -I - "$dir" <<'PY'
import ctypes, importlib.util, os, sys
d = sys.argv[1]
spec = importlib.util.spec_from_file_location("dl", "nix/driver_libs.py")
dl = importlib.util.module_from_spec(spec); sys.modules["dl"] = dl; spec.loader.exec_module(dl)
names = os.listdir(d)
if d != dl.NIXOS_DRIVER_DIR:
    bad = [n for n in names if not dl.is_driver_lib(n, wsl="wsl" in os.path.realpath(os.path.join(d, n)))]
    assert not bad, f"FAIL: not driver libraries: {bad}"
for need in ("libcuda.so.1", "libnvidia-ml.so.1"):
    assert need in names, f"FAIL: {need} missing from {d}"
cuda = ctypes.CDLL(os.path.join(d, "libcuda.so.1"))
assert cuda.cuInit(0) == 0, "FAIL: cuInit"
v = ctypes.c_int()
assert cuda.cuDriverGetVersion(ctypes.byref(v)) == 0
nvml = ctypes.CDLL(os.path.join(d, "libnvidia-ml.so.1"))
assert nvml.nvmlInit_v2() == 0, "FAIL: nvmlInit"
buf = ctypes.create_string_buffer(96)
assert nvml.nvmlSystemGetDriverVersion(buf, 96) == 0
print(f"PASS: {len(names)} links; driver {buf.value.decode()}, driver CUDA {v.value // 1000}.{v.value % 1000 // 10}")
PY
if command -v lockgen >/dev/null 2>&1; then
  lockgen toolchain guard --member train || true
fi
