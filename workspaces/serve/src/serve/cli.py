"""`serve`: start `vllm serve` with one-GPU defaults and train-lora adapters. The I/O edge of serve.config.

The API key, if any, comes from vLLM's own VLLM_API_KEY environment variable (never on the command line).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from serve.config import (
    Adapter,
    ServeConfig,
    UsageError,
    adapter_from_config,
    build_parser,
    pick_model,
    split_lora_arg,
    split_passthrough,
    vllm_argv,
)


def read_adapter(text: str) -> Adapter:
    """Parse `--lora NAME=PATH` and read PATH/adapter_config.json; UsageError in one line when unusable."""
    name, path = split_lora_arg(text)
    directory = Path(path).expanduser()
    config_file = directory / "adapter_config.json"
    if not directory.is_dir():
        raise UsageError(f"--lora {text}: {directory} is not a directory (expected a train-lora --output)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--lora {text}: {config_file} not found; is this a PEFT adapter directory?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"--lora {text}: {config_file} cannot be read as JSON ({e})") from None
    if not isinstance(config, dict):
        raise UsageError(f"--lora {text}: {config_file} is not a JSON object")
    return adapter_from_config(name, str(directory.resolve()), config)


def vllm_program() -> list[str]:
    """The `vllm` executable of this environment (next to this Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "vllm"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("vllm")
    if found:
        return [found]
    raise UsageError("vllm is not installed here: run `uv sync --frozen --package serve` and use its environment")


def gpu_visible() -> bool:
    """Whether torch in this environment sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def config_from_argv(argv: Sequence[str]) -> tuple[ServeConfig, bool]:
    """(the server config, dry run?) from a `serve` command line. Reads adapter configs."""
    ours, extra = split_passthrough(argv)
    ns = build_parser().parse_args(ours)
    adapters = tuple(read_adapter(text) for text in ns.lora)
    names = [a.name for a in adapters]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"--lora: adapter name(s) {', '.join(duplicates)} given twice")
    model = pick_model(ns.model, adapters)
    if ns.served_model_name and ns.served_model_name in names:
        raise UsageError(f"--served-model-name {ns.served_model_name!r} is also an adapter name")
    config = ServeConfig(
        model=model,
        adapters=adapters,
        host=ns.host,
        port=ns.port,
        gpu_memory_utilization=ns.gpu_memory_utilization,
        max_model_len=ns.max_model_len,
        served_model_name=ns.served_model_name,
        extra=extra,
    )
    return config, bool(ns.dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `serve`: replaces this process with `vllm serve ...`."""
    try:
        config, dry_run = config_from_argv(sys.argv[1:] if argv is None else argv)
        program = vllm_program()
    except UsageError as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 2
    command = [*program, *vllm_argv(config)]
    if dry_run:
        print(shlex.join(command))
        return 0
    if not gpu_visible():
        print(
            "serve: error: vLLM serving needs an NVIDIA GPU and torch sees none (check nvidia-smi, the driver and "
            "CUDA_VISIBLE_DEVICES; `lockgen doctor` compares them with the lock)",
            file=sys.stderr,
        )
        return 1
    print(f"serve: {shlex.join(command)}", file=sys.stderr, flush=True)
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
