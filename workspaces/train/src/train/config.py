"""`train-lora` arguments and defaults. Pure: no torch, no file access.

`parse_train_args(argv)` turns a command line into a frozen `TrainConfig`; `precision(...)` decides 4-bit loading
and bf16/fp16 from what the host offers (passed in, so it is testable without a GPU).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Switch = Literal["auto", "on", "off"]

# A Hugging Face Hub repo id: "name" or "owner/name".
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


class UsageError(ValueError):
    """A bad command-line value; `str(e)` is one line that says what to do."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one LoRA SFT run needs, as given by the user (defaults filled in)."""

    model: str
    dataset: Path
    output: Path
    max_steps: int = 60
    max_seq_length: int = 2048
    learning_rate: float = 2e-4
    batch_size: int = 2
    grad_accum: int = 4
    lora_r: int = 16
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    load_in_4bit: Switch = "auto"
    bf16: Switch = "auto"
    seed: int = 3407
    local_files_only: bool = False
    progress: bool = True


@dataclass(frozen=True)
class Precision:
    """How weights are loaded and which autocast dtype training uses."""

    load_in_4bit: bool
    bf16: bool
    fp16: bool

    def describe(self) -> str:
        """One phrase for the progress line, e.g. "4-bit weights, bf16"."""
        weights = "4-bit weights" if self.load_in_4bit else "16-bit weights"
        compute = "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"
        return f"{weights}, {compute}"


def precision(config: TrainConfig, *, cuda: bool, bf16_supported: bool) -> Precision:
    """Defaults: 4-bit (QLoRA) on a GPU, 16-bit on CPU; bf16 where the device supports it, else fp16 on a GPU.

    Raises UsageError when the user forces something the device cannot do (bf16 on a GPU without it, 4-bit
    without a GPU is allowed: Unsloth's CPU backend falls back to 16-bit itself and says so).
    """
    load_4bit = cuda if config.load_in_4bit == "auto" else config.load_in_4bit == "on"
    if config.bf16 == "on" and not bf16_supported:
        raise UsageError("--bf16 on: this device has no bfloat16 support; use --bf16 auto or off")
    bf16 = bf16_supported if config.bf16 == "auto" else config.bf16 == "on"
    fp16 = cuda and not bf16
    return Precision(load_in_4bit=load_4bit, bf16=bf16, fp16=fp16)


def model_source(model: str, exists: bool) -> Literal["local", "hub"]:
    """Whether `model` names a local directory or a Hub repo id; UsageError for a missing path.

    `exists` tells whether `model` is an existing directory (the caller looks; this stays pure).
    """
    if exists:
        return "local"
    looks_like_path = model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model
    if looks_like_path or not _HUB_ID.match(model):
        raise UsageError(f"model {model!r}: no such directory (and it is not a Hub id like 'owner/name')")
    return "hub"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def build_parser(prog: str = "train-lora") -> argparse.ArgumentParser:
    """The `train-lora` argument parser."""
    d = TrainConfig(model="", dataset=Path(), output=Path())
    p = argparse.ArgumentParser(
        prog=prog,
        description="LoRA supervised fine-tuning with Unsloth + TRL. Writes a PEFT adapter (and the tokenizer) "
        "to --output. Defaults: 4-bit base weights on a GPU, bf16 where supported.",
    )
    p.add_argument("--model", required=True, help="local model directory or Hugging Face Hub id (owner/name)")
    p.add_argument(
        "--dataset",
        required=True,
        type=Path,
        help='JSONL file: one {"text": ...} or {"messages": [{"role", "content"}, ...]} object per line',
    )
    p.add_argument("--output", required=True, type=Path, help="directory the adapter is written to")
    p.add_argument(
        "--max-steps", type=_positive_int, default=d.max_steps, help=f"optimizer steps (default {d.max_steps})"
    )
    p.add_argument("--max-seq-length", type=_positive_int, default=d.max_seq_length, help="truncate examples to this")
    p.add_argument("--learning-rate", type=_positive_float, default=d.learning_rate)
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="per-device batch size")
    p.add_argument("--grad-accum", type=_positive_int, default=d.grad_accum, help="gradient accumulation steps")
    p.add_argument("--lora-r", type=_positive_int, default=d.lora_r)
    p.add_argument("--lora-alpha", type=_positive_int, default=d.lora_alpha)
    p.add_argument("--lora-dropout", type=_fraction, default=d.lora_dropout)
    p.add_argument(
        "--load-in-4bit",
        choices=("auto", "on", "off"),
        default=d.load_in_4bit,
        help="QLoRA: 4-bit base weights (auto: on with a GPU, off on CPU)",
    )
    p.add_argument("--bf16", choices=("auto", "on", "off"), default=d.bf16, help="bf16 compute (auto: where supported)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--local-files-only", action="store_true", help="never contact the Hub (offline machines)")
    p.add_argument("--no-progress", action="store_true", help="no per-step progress lines")
    return p


def config_from_args(ns: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from parsed arguments."""
    return TrainConfig(
        model=ns.model,
        dataset=ns.dataset,
        output=ns.output,
        max_steps=ns.max_steps,
        max_seq_length=ns.max_seq_length,
        learning_rate=ns.learning_rate,
        batch_size=ns.batch_size,
        grad_accum=ns.grad_accum,
        lora_r=ns.lora_r,
        lora_alpha=ns.lora_alpha,
        lora_dropout=ns.lora_dropout,
        load_in_4bit=ns.load_in_4bit,
        bf16=ns.bf16,
        seed=ns.seed,
        local_files_only=ns.local_files_only,
        progress=not ns.no_progress,
    )


def parse_train_args(argv: Sequence[str] | None) -> TrainConfig:
    """Parse a `train-lora` command line (argparse exits with status 2 on a usage error)."""
    return config_from_args(build_parser().parse_args(argv))
