"""Fakes for every host source lockgen.seams.host reads: nvidia-smi and nvcc scripts (put this directory on PATH), a
/proc tree (proc_550: driver 550.54.14 with a Tesla T4) and an NVML module (nvml.FakeNVML).

workspace_cuda13 is this repository's workspace as committed in "Foundation" (6ced96a), frozen so the tests do not
move with the live lock: train (CUDA 13.0, torch 2.14.1), serve (CUDA 13.0, torch 2.14.0, vllm 0.33.0), fleet driver
580.65.06 with T4, L4, A100, H100 (toolkit policy)."""

from pathlib import Path

FAKES = Path(__file__).resolve().parent
PROC_550 = FAKES / "proc_550"
WORKSPACE_CUDA13 = FAKES / "workspace_cuda13"
