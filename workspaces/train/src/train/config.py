"""`train-lora` arguments and defaults. Pure: no torch, no file access.

`parse_train_args(argv)` turns a command line into a frozen `TrainConfig`; `precision(...)` decides 4-bit loading
and bf16/fp16 from what the host offers (passed in, so it is testable without a GPU).
"""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Switch = Literal["auto", "on", "off"]
Loss = Literal["auto", "responses", "all"]
# Unsloth's usual LoRA targets for Llama-style models (attention and MLP projections).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SAVE_FORMATS = ("merged16", "gguf")

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
    epochs: float | None = None
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
    loss: Loss = "auto"
    eval_fraction: float = 0.1
    save_steps: int = 50
    save_total_limit: int = 2
    resume: str | None = None
    save: tuple[str, ...] = ()
    gguf_quantization: str = "q8_0"
    push_to_hub: str | None = None
    target_modules: tuple[str, ...] = TARGET_MODULES

    @property
    def checkpoints(self) -> Path:
        """Where the trainer writes checkpoint-N directories (what --resume reads)."""
        return self.output / "checkpoints"

    def responses_only(self, kind: str) -> bool:
        """Whether the loss covers the assistant responses only: the default for chat data, never for plain text."""
        return kind == "messages" and self.loss in ("auto", "responses")


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


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" only where there is a value to show: not for a required flag, a None/False/empty
    default, or a help text that already says what its default means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if action.required or default is None or default is False or default == [] or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser(prog: str = "train-lora") -> argparse.ArgumentParser:
    """The `train-lora` argument parser."""
    d = TrainConfig(model="", dataset=Path(), output=Path())
    p = argparse.ArgumentParser(
        prog=prog,
        description="LoRA supervised fine-tuning with Unsloth + TRL. Writes a PEFT adapter (and the tokenizer) "
        "to --output, checkpoints to OUTPUT/checkpoints, and train_summary.json. Defaults: 4-bit base weights on a "
        "GPU, bf16 where supported, loss on the assistant responses only for chat data.",
        epilog="--config FILE: a TOML file whose keys are these flags' long names (dashes or underscores), e.g. "
        'lora-r = 32, save = ["merged16"], local-files-only = true. Flags on the command line override it.',
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, help="TOML file of flag values (see below)")
    p.add_argument("--model", required=True, help="local model directory or Hugging Face Hub id (owner/name)")
    p.add_argument(
        "--dataset",
        required=True,
        type=Path,
        help='JSONL file: one {"text": ...} or {"messages": [{"role", "content"}, ...]} object per line',
    )
    p.add_argument("--output", required=True, type=Path, help="directory the adapter is written to")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--max-steps", type=_positive_int, default=d.max_steps, help="optimizer steps")
    length.add_argument("--epochs", type=_positive_float, default=None, help="passes over the data (instead of steps)")
    p.add_argument("--max-seq-length", type=_positive_int, default=d.max_seq_length, help="truncate examples to this")
    p.add_argument("--learning-rate", type=_positive_float, default=d.learning_rate, help="peak learning rate")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="per-device batch size")
    p.add_argument("--grad-accum", type=_positive_int, default=d.grad_accum, help="gradient accumulation steps")
    p.add_argument("--lora-r", type=_positive_int, default=d.lora_r, help="LoRA rank")
    p.add_argument("--lora-alpha", type=_positive_int, default=d.lora_alpha, help="LoRA scaling alpha")
    p.add_argument("--lora-dropout", type=_fraction, default=d.lora_dropout, help="LoRA dropout")
    p.add_argument(
        "--target-modules", type=_names, default=",".join(d.target_modules), help="comma-separated module names"
    )
    p.add_argument(
        "--loss",
        choices=("auto", "responses", "all"),
        default=d.loss,
        help="tokens the loss covers: responses = assistant turns only; all = every token; auto = responses for "
        "chat data, all for plain text",
    )
    p.add_argument(
        "--eval-fraction",
        type=_fraction,
        default=d.eval_fraction,
        help="share of examples held out for eval loss (0: none; at least 1 example when above 0)",
    )
    p.add_argument("--save-steps", type=_positive_int, default=d.save_steps, help="checkpoint (and eval) every N steps")
    p.add_argument("--save-total-limit", type=_positive_int, default=d.save_total_limit, help="checkpoints kept")
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from a checkpoint: a checkpoint-N directory, or no value for the latest in OUTPUT/checkpoints",
    )
    p.add_argument(
        "--save",
        action="append",
        choices=SAVE_FORMATS,
        default=None,
        help="also write OUTPUT/merged16 (base + adapter, 16-bit safetensors) or OUTPUT/gguf (needs llama.cpp; "
        "without it train-lora stops before training); repeatable",
    )
    p.add_argument("--gguf-quantization", default=d.gguf_quantization, help="llama.cpp quantization for --save gguf")
    p.add_argument(
        "--push-to-hub",
        metavar="OWNER/NAME",
        default=None,
        help="upload the adapter and tokenizer to this Hub repo (off by default); token from $HF_TOKEN",
    )
    p.add_argument(
        "--load-in-4bit",
        choices=("auto", "on", "off"),
        default=d.load_in_4bit,
        help="QLoRA: 4-bit base weights (auto: on with a GPU, off on CPU)",
    )
    p.add_argument("--bf16", choices=("auto", "on", "off"), default=d.bf16, help="bf16 compute (auto: where supported)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--local-files-only", action="store_true", help="never contact the Hub (offline machines)")
    p.add_argument("--no-progress", action="store_true", help="no per-step progress lines")
    return p


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or not all(re.fullmatch(r"[A-Za-z0-9_.]+", n) for n in names):
        raise argparse.ArgumentTypeError(f"expected comma-separated module names like q_proj,v_proj, got {text!r}")
    return names


def config_file_args(path: Path, parser: argparse.ArgumentParser) -> list[str]:
    """The command-line tokens a TOML config file stands for (placed before the real flags, which win).

    Raises UsageError naming the file and the key for an unreadable file, an unknown key or a wrongly typed value.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config {path}: not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--config {path}: cannot be read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config {path}: not valid TOML ({e})") from None
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    tokens: list[str] = []
    for key, value in data.items():
        dest = key.replace("-", "_")
        if dest in ("no_progress", "progress") and isinstance(value, bool):
            if (dest == "progress") != value:
                tokens.append("--no-progress")
            continue
        action = actions.get(dest)
        if action is None or dest in ("config", "help"):
            raise UsageError(f"--config {path}: unknown key {key!r} (keys are train-lora's long flag names)")
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                raise UsageError(f"--config {path}: key {key!r} must be true or false")
            if value:
                tokens.append(flag)
            continue
        values = value if isinstance(value, list) and isinstance(action, argparse._AppendAction) else [value]
        if dest == "target_modules" and isinstance(value, list):
            values = [",".join(map(str, value))]
        for v in values:
            if isinstance(v, bool):
                v = "on" if v else "off"  # the auto/on/off switches
            if not isinstance(v, (str, int, float)):
                raise UsageError(f"--config {path}: key {key!r} must be a string or a number")
            tokens += [flag, str(v)]
    return tokens


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
        epochs=ns.epochs,
        loss=ns.loss,
        eval_fraction=ns.eval_fraction,
        save_steps=ns.save_steps,
        save_total_limit=ns.save_total_limit,
        resume=ns.resume,
        save=tuple(dict.fromkeys(ns.save or ())),
        gguf_quantization=ns.gguf_quantization,
        push_to_hub=ns.push_to_hub,
        target_modules=ns.target_modules if isinstance(ns.target_modules, tuple) else _names(ns.target_modules),
    )


def parse_train_args(argv: Sequence[str] | None) -> TrainConfig:
    """Parse a `train-lora` command line, after the --config file's values (argparse exits 2 on a usage error).

    Raises UsageError for a bad config file."""
    argv = list(argv) if argv is not None else None
    parser = build_parser()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    if known.config is not None:
        import sys

        argv = config_file_args(known.config, parser) + (argv if argv is not None else sys.argv[1:])
    return config_from_args(parser.parse_args(argv))
