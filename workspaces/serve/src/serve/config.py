"""`serve` arguments and the vLLM command line they become. Pure: no vllm, no torch, no file access.

`vllm_argv(config)` is the whole policy: one GPU unless --tensor-parallel-size says more, 90% of its memory, LoRA
enabled with a rank bucket that fits every adapter given, and anything after `--` passed to `vllm serve` untouched.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

# vLLM's accepted --max-lora-rank values (vllm.config.lora.MaxLoRARanks: the same in 0.12.0, serve's floor, and 0.33).
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UsageError(ValueError):
    """A bad command-line value or adapter; `str(e)` is one line that says what to do."""


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter written by train-lora (a PEFT directory), served under `name`."""

    name: str
    path: str
    rank: int
    base_model: str | None


@dataclass(frozen=True)
class ServeConfig:
    """One vLLM OpenAI-compatible server."""

    model: str
    adapters: tuple[Adapter, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    gpu_memory_utilization: float = 0.90
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    served_model_name: str | None = None
    extra: tuple[str, ...] = ()


def split_lora_arg(text: str) -> tuple[str, str]:
    """`NAME=PATH` or just `PATH` (the name is then the directory's last part) -> (name, path)."""
    if "=" in text:
        name, path = text.split("=", 1)
    else:
        path = text
        name = PurePath(text.rstrip("/")).name
    if not path:
        raise UsageError(f"--lora {text!r}: no adapter path; use NAME=PATH")
    if not _NAME.match(name):
        raise UsageError(f"--lora {text!r}: adapter name {name!r} must be letters, digits, '.', '_' or '-'")
    return name, path


def adapter_from_config(name: str, path: str, config: Mapping[str, Any]) -> Adapter:
    """An Adapter from the parsed `adapter_config.json`; UsageError when it is not a LoRA vLLM can load."""
    where = f"--lora {name}={path}: adapter_config.json"
    if config.get("peft_type") != "LORA":
        raise UsageError(f"{where}: peft_type is {config.get('peft_type')!r}, vLLM serves LORA adapters only")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise UsageError(f"{where}: r (the LoRA rank) is {rank!r}, expected a positive integer")
    patterns = config.get("rank_pattern") or {}
    ranks = [rank, *(v for v in patterns.values() if isinstance(v, int))]
    if config.get("bias", "none") != "none":
        raise UsageError(f"{where}: bias is {config.get('bias')!r}; vLLM serves adapters trained with bias='none'")
    if config.get("modules_to_save"):
        raise UsageError(f"{where}: modules_to_save {config.get('modules_to_save')!r} is not supported by vLLM LoRA")
    base = config.get("base_model_name_or_path")
    return Adapter(name=name, path=path, rank=max(ranks), base_model=base if isinstance(base, str) and base else None)


def lora_rank_bucket(rank: int) -> int:
    """The smallest --max-lora-rank vLLM accepts that fits `rank`."""
    for bucket in LORA_RANKS:
        if bucket >= rank:
            return bucket
    raise UsageError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({LORA_RANKS[-1]})")


def pick_model(model: str | None, adapters: Sequence[Adapter]) -> str:
    """--model, or else the one base model every adapter was trained on (from adapter_config.json)."""
    if model:
        return model
    bases = {a.base_model for a in adapters}
    if len(bases) == 1 and None not in bases:
        (only,) = bases
        assert only is not None
        return only
    if not adapters:
        raise UsageError("no model: pass --model (a local directory or Hub id) or --lora with a train-lora adapter")
    raise UsageError(
        f"--model is needed: the adapters name different base models ({', '.join(sorted(map(str, bases)))})"
    )


def vllm_argv(config: ServeConfig) -> list[str]:
    """The `vllm serve ...` arguments (without the program name) for this config."""
    argv = [
        "serve",
        config.model,
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--tensor-parallel-size",
        str(config.tensor_parallel_size),
        "--gpu-memory-utilization",
        f"{config.gpu_memory_utilization:g}",
    ]
    if config.max_model_len is not None:
        argv += ["--max-model-len", str(config.max_model_len)]
    if config.served_model_name:
        argv += ["--served-model-name", config.served_model_name]
    if config.adapters:
        argv += [
            "--enable-lora",
            "--max-loras",
            str(len(config.adapters)),
            "--max-lora-rank",
            str(lora_rank_bucket(max(a.rank for a in config.adapters))),
            "--lora-modules",
            *(f"{a.name}={a.path}" for a in config.adapters),
        ]
    return argv + list(config.extra)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def _utilization(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.9, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" only where there is a value to show: not for a required flag, a None/False/empty
    default, or a help text that already says what its default means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if action.required or default is None or default is False or default == [] or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser(prog: str = "serve") -> argparse.ArgumentParser:
    """The `serve` argument parser. Arguments after `--` go to `vllm serve` as they are."""
    d = ServeConfig(model="")
    p = argparse.ArgumentParser(
        prog=prog,
        description="Start vLLM's OpenAI-compatible server (one GPU unless --tensor-parallel-size), optionally "
        "with LoRA adapters from train-lora, wait until it answers /health and print its ready URL on stdout. "
        "Arguments after `--` are passed to `vllm serve` unchanged.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--model", help="local model directory or Hub id (default: the base model of the --lora adapters)")
    p.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="serve a train-lora adapter under NAME (repeatable); requests select it with model=NAME",
    )
    p.add_argument("--host", default=d.host, help="bind address (0.0.0.0 to expose it)")
    p.add_argument("--port", type=_port, default=d.port, help="port")
    p.add_argument(
        "--tensor-parallel-size", type=_positive, default=d.tensor_parallel_size, help="GPUs the model is split over"
    )
    p.add_argument(
        "--gpu-memory-utilization",
        type=_utilization,
        default=d.gpu_memory_utilization,
        help="share of each GPU's memory vLLM may take",
    )
    p.add_argument("--max-model-len", type=_positive, help="context length (default: the model's own)")
    p.add_argument("--served-model-name", help="the name clients use for the base model (default: --model)")
    p.add_argument("--ready-timeout", type=_positive, default=900, help="seconds to wait for /health before giving up")
    p.add_argument("--dry-run", action="store_true", help="print the vllm command and exit")
    return p


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """(our arguments, the ones after `--` for vllm)."""
    args = list(argv)
    if "--" in args:
        i = args.index("--")
        return args[:i], tuple(args[i + 1 :])
    return args, ()
