"""`serve`: start `vllm serve` with one-GPU defaults and train-lora adapters. The I/O edge of serve.config.

The API key, if any, comes from vLLM's own VLLM_API_KEY environment variable (never on the command line).
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
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


def config_from_argv(argv: Sequence[str]) -> tuple[ServeConfig, bool, int]:
    """(the server config, dry run?, ready timeout) from a `serve` command line. Reads adapter configs."""
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
        tensor_parallel_size=ns.tensor_parallel_size,
        max_model_len=ns.max_model_len,
        served_model_name=ns.served_model_name,
        extra=extra,
    )
    return config, bool(ns.dry_run), int(ns.ready_timeout)


def ready_url(config: ServeConfig) -> str:
    """The OpenAI base URL clients use (a wildcard bind address is reached through localhost)."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.port}/v1"


def gpus_visible() -> int:
    """How many CUDA devices torch in this environment sees."""
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def run_server(command: list[str], url: str, timeout: float) -> int:
    """Start vLLM, print the ready URL once /health answers, then wait for it; Ctrl-C / SIGTERM stop it."""
    from serve.client import wait_ready

    proc = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    if wait_ready(url, alive=lambda: proc.poll() is None, timeout=timeout):
        print(f"serve: ready: {url} (try: serve-client --url {url})", file=sys.stderr, flush=True)
        print(url, flush=True)
    elif proc.poll() is None:
        print(f"serve: error: {url} did not answer /health within {timeout:g} s; stopping vLLM", file=sys.stderr)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 1
    code = proc.wait()
    if code != 0:
        print(f"serve: vllm exited with status {code}", file=sys.stderr)
    return 1 if code > 0 else 0 if code == 0 else 128 - code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `serve`: runs `vllm serve ...`, prints the ready URL on stdout once it answers /health."""
    try:
        config, dry_run, ready_timeout = config_from_argv(sys.argv[1:] if argv is None else argv)
        program = vllm_program()
    except UsageError as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 2
    command = [*program, *vllm_argv(config)]
    if dry_run:
        print(shlex.join(command))
        return 0
    gpus = gpus_visible()
    if gpus == 0:
        print(
            "serve: error: vLLM serving needs an NVIDIA GPU and torch sees none (check nvidia-smi, the driver and "
            "CUDA_VISIBLE_DEVICES; `lockgen doctor` compares them with the lock)",
            file=sys.stderr,
        )
        return 1
    if config.tensor_parallel_size > gpus:
        print(
            f"serve: error: --tensor-parallel-size {config.tensor_parallel_size} but torch sees {gpus} GPU(s)",
            file=sys.stderr,
        )
        return 2
    print(f"serve: {shlex.join(command)}", file=sys.stderr, flush=True)
    return run_server(command, ready_url(config), ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
