#!/usr/bin/env bash
# A short GPU check for a machine that has an NVIDIA GPU and a python3 with a CUDA torch, but no network and neither
# vllm nor unsloth (so the locked environments cannot be installed there). Run from the repository root:
#   bash scripts/gpu-members.sh
# What it can prove, on such a machine:
#   - the driver is at least the fleet's ([tool.lockgen] driver) and the GPU is one the fleet names;
#   - a CUDA 13.0 torch build (the CUDA both members are locked to) runs on this driver and GPU: the device is visible,
#     torch was built for its architecture, and a small bf16 LoRA-style training loop on the GPU gives finite,
#     falling losses;
#   - train's own precision policy (workspaces/train/src/train/config.py) picks 4-bit + bf16 on this GPU;
#   - lockgen doctor's view of the host (informational: the locked packages are not installed there).
# What it cannot prove: that the locked torch/unsloth/vllm wheels install and run (train-smoke and serve-smoke on a
# GPU) - that is the GPU workflow's job (.github/workflows/gpu.yml).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
py="${PYTHON:-python3}"
failed=0
ok() { echo "gpu-members: ok: $*"; }
fail() {
  echo "gpu-members: FAIL: $*"
  failed=1
}

if out=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>&1); then
  ok "nvidia-smi: $out"
else
  fail "nvidia-smi: $out"
fi

"$py" - <<'EOF' || failed=1
import re
import sys
import tomllib

sys.path.insert(0, "workspaces/train/src")
fleet = tomllib.load(open("pyproject.toml", "rb"))["tool"]["lockgen"]
problems = []


def say(ok, message):
    print(f"gpu-members: {'ok' if ok else 'FAIL'}: {message}", flush=True)
    if not ok:
        problems.append(message)


import torch

import json

locked = {m: v["cuda"] for m, v in json.load(open("nix/toolchain.json"))["members"].items()}
same = sorted(m for m, c in locked.items() if torch.version.cuda and torch.version.cuda.startswith(c))
say(bool(same), f"torch {torch.__version__} is a CUDA {torch.version.cuda} build; members locked to that CUDA: "
    f"{', '.join(same) or 'none'} (lock: {locked})")
say(torch.cuda.is_available(), f"torch sees {torch.cuda.device_count()} CUDA device(s)")
if not torch.cuda.is_available():
    sys.exit(1)

name = torch.cuda.get_device_name(0)
major, minor = torch.cuda.get_device_capability(0)
driver = None
try:
    import subprocess
    driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                            capture_output=True, text=True, check=True).stdout.split()[0]
except Exception as e:  # reported below
    print(f"gpu-members: note: driver version unknown ({e})")
if driver:
    have = tuple(int(x) for x in driver.split("."))
    need = tuple(int(x) for x in str(fleet["driver"]).split("."))
    say(have[: len(need)] >= need, f"driver {driver} >= the fleet's {fleet['driver']}")
gpus = [str(g).lower() for g in fleet.get("gpus", [])]
say(any(g in name.lower() or g == f"{major}.{minor}" for g in gpus), f"{name} (sm_{major}{minor}) is in the fleet {fleet.get('gpus')}")
say(f"sm_{major}{minor}" in torch.cuda.get_arch_list(), f"torch was built for sm_{major}{minor} ({' '.join(torch.cuda.get_arch_list())})")

# A LoRA-style step: frozen bf16 base weight, trainable low-rank A/B, AdamW; the loss must be finite and fall.
torch.manual_seed(0)
dev = "cuda"
base = torch.randn(1024, 1024, device=dev, dtype=torch.bfloat16) / 32
a = (torch.randn(16, 1024, device=dev) / 32).requires_grad_()
b = torch.zeros(1024, 16, device=dev, requires_grad=True)
x = torch.randn(256, 1024, device=dev, dtype=torch.bfloat16)
target = x @ (base + 0.05 * torch.randn_like(base)).T
opt = torch.optim.AdamW([a, b], lr=1e-2)
losses = []
for _ in range(30):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = x @ base.T + (x @ a.T.to(x.dtype)) @ b.T.to(x.dtype)
        loss = torch.nn.functional.mse_loss(y.float(), target.float())
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
torch.cuda.synchronize()
finite = all(l == l and abs(l) != float("inf") for l in losses)
say(finite and losses[-1] < losses[0], f"bf16 LoRA-style training on {name}: loss {losses[0]:.5f} -> {losses[-1]:.5f}")

from pathlib import Path
from train.config import TrainConfig, precision

p = precision(TrainConfig(model="m", dataset=Path("d"), output=Path("o")), cuda=True,
              bf16_supported=torch.cuda.is_bf16_supported())
say(p.load_in_4bit and p.bf16 and not p.fp16, f"train-lora's defaults on this GPU: {p.describe()}")
sys.exit(1 if problems else 0)
EOF

if "$py" -c 'import packaging, tomlkit' 2>/dev/null; then
  echo "gpu-members: lockgen doctor --member train (informational: the train environment is not installed here)"
  PYTHONPATH=lockgen/src "$py" -m lockgen doctor --member train || true
else
  echo "gpu-members: skip: lockgen doctor (this python3 lacks packaging/tomlkit)"
fi

if [ "$failed" = 0 ]; then
  echo "gpu-members: passed"
else
  echo "gpu-members: FAILED"
fi
exit "$failed"
