#!/usr/bin/env bash
# Run `lockgen doctor` (and `lockgen explain` on a real CUDA error) once on a GPU machine, without uv or network.
# Needs: python3 (with torch installed is the interesting case), this checkout. Writes everything to stdout and to
# gpu-doctor.out next to the repository root; paste that file into notes/issue6.md.
#   usage: scripts/gpu-doctor.sh [python3]
set -u
cd "$(dirname "$0")/.."
PY="${1:-python3}"
OUT="gpu-doctor.out"
exec > >(tee "$OUT") 2>&1

echo "== machine"
date -u +%Y-%m-%dT%H:%M:%SZ
uname -srm
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
head -1 /proc/driver/nvidia/version 2>/dev/null
"$PY" --version
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1 | tail -1
"$PY" -c "import pynvml; print('nvidia-ml-py (pynvml) importable: NVML is the first source')" 2>/dev/null \
  || echo "pynvml not importable: nvidia-smi is the first source"

# lockgen's doctor needs only the standard library and `packaging`. Where `packaging` is missing, borrow the copy
# vendored in pip (or setuptools) through a throwaway directory on PYTHONPATH.
SHIM=""
if ! "$PY" -c "import packaging.version, packaging.specifiers, packaging.markers" 2>/dev/null; then
  for mod in pip._vendor.packaging setuptools._vendor.packaging; do
    dir=$("$PY" -c "import os, $mod as p; print(os.path.dirname(p.__file__))" 2>/dev/null) || continue
    SHIM=$(mktemp -d)
    ln -s "$dir" "$SHIM/packaging"
    echo "packaging borrowed from $mod ($dir)"
    break
  done
fi
export PYTHONPATH="$PWD/lockgen/src${SHIM:+:$SHIM}${PYTHONPATH:+:$PYTHONPATH}"
LG=("$PY" -m lockgen)

run() {  # run a command, show its exit code and wall time
  echo
  echo "== $*"
  local t0 t1 rc
  t0=$(date +%s%N)
  "$@"
  rc=$?
  t1=$(date +%s%N)
  echo "-- exit $rc, $(( (t1 - t0) / 1000000 )) ms"
}

run "${LG[@]}" doctor
run "${LG[@]}" doctor --member serve
run "${LG[@]}" doctor --member train
run "${LG[@]}" doctor --json
run "${LG[@]}" doctor --deep
run "$PY" -m lockgen.commands.doctor --require-gpu   # the standalone entry point

echo
echo "== explain on real CUDA errors from this machine"
ERR=$(mktemp)
CUDA_VISIBLE_DEVICES="" "$PY" -c "import torch; torch.zeros(1, device='cuda')" >"$ERR" 2>&1
tail -3 "$ERR"
run "${LG[@]}" explain "$ERR"
"$PY" - >"$ERR" 2>&1 <<'PYEOF'
import torch
# an index out of range on the GPU (a token id >= the vocabulary size)
y = torch.nn.functional.embedding(torch.tensor([7], device="cuda"), torch.zeros(4, 2, device="cuda"))
torch.cuda.synchronize()
PYEOF
tail -3 "$ERR"
run "${LG[@]}" explain "$ERR"
rm -f "$ERR"
[ -n "$SHIM" ] && rm -rf "$SHIM"
echo
echo "wrote $OUT"
