"""The LoRA SFT run itself: Unsloth loads the model and adds the adapter, TRL's SFTTrainer trains it.

This is the one training code path: `train-lora` and `train-smoke` both end up in `train_lora`. Heavy imports
(unsloth, torch, trl, datasets) happen inside the functions, so the rest of the package stays importable without
them. Unsloth must be imported before transformers/TRL/PEFT so that its patches apply; `import_unsloth` does that.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from train.config import Precision, TrainConfig, UsageError, precision
from train.dataset import Dataset, render

Say = Callable[[str], None]

# Unsloth's usual LoRA targets for Llama-style models (attention and MLP projections).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SUMMARY_FILE = "train_summary.json"


class TrainingError(RuntimeError):
    """Training ran but its result is unusable (non-finite loss, no steps); one line for the user."""


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    adapter_dir: Path
    steps: int
    losses: tuple[float, ...]
    device: str
    precision: Precision
    examples: int
    seconds: float


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (or its type name)."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def portable_tokenizer_config(data: dict[str, Any]) -> dict[str, Any]:
    """tokenizer_config.json as Transformers 4 and 5 both read it. Transformers 5 writes its generic fast tokenizer
    as "TokenizersBackend" and extra special tokens as a list, which Transformers 4 cannot load ("Tokenizer class
    TokenizersBackend does not exist"): what serve meets on a fleet whose vLLM caps transformers below 5 (vLLM
    0.11.2 on a 570 fleet, lockgen verify, notes/issue11.md). Both majors read the Transformers 4 spelling."""
    out = dict(data)
    if out.get("tokenizer_class") == "TokenizersBackend":
        out["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = out.get("extra_special_tokens")
    if isinstance(extra, list):
        del out["extra_special_tokens"]
        have = list(out.get("additional_special_tokens") or [])
        out["additional_special_tokens"] = have + [t for t in extra if t not in have]
    return out


def save_tokenizer(tokenizer: Any, directory: Path) -> None:
    """`tokenizer.save_pretrained(directory)`, with a tokenizer_config.json every Transformers major can load."""
    tokenizer.save_pretrained(str(directory))
    config_file = directory / "tokenizer_config.json"
    if config_file.is_file():
        data = json.loads(config_file.read_text(encoding="utf-8"))
        portable = portable_tokenizer_config(data)
        if portable != data:
            config_file.write_text(json.dumps(portable, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def set_offline(offline: bool) -> None:
    """Forbid Hub downloads for this process (must run before huggingface_hub is imported to take effect)."""
    if offline:
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ[var] = "1"


def import_unsloth() -> Any:
    """Import unsloth first (it patches transformers, TRL and PEFT), without its usage-statistics download."""
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    import unsloth

    return unsloth


def device_name() -> tuple[bool, str]:
    """(cuda available, a human name for the device)."""
    import torch

    if torch.cuda.is_available():
        return True, f"cuda:0 ({torch.cuda.get_device_name(0)})"
    return False, "cpu"


def progress_bar(config: TrainConfig) -> bool:
    """Whether the trainer's own progress bar is shown (on a terminal); elsewhere (CI logs) one line per step."""
    return config.progress and sys.stderr.isatty()


def _sft_config(config: TrainConfig, prec: Precision, cuda: bool) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(config.output),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        warmup_steps=min(5, config.max_steps // 10),
        lr_scheduler_type="linear",
        weight_decay=0.001,
        optim="adamw_8bit" if cuda else "adamw_torch",
        bf16=prec.bf16,
        fp16=prec.fp16,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        dataset_text_field="text",
        max_length=config.max_seq_length,
        packing=False,
        disable_tqdm=not progress_bar(config),
    )


def train_lora(config: TrainConfig, dataset: Dataset, say: Say) -> TrainResult:
    """Load `config.model` with Unsloth, add LoRA, run SFT on `dataset`, save the adapter to `config.output`."""
    import time

    start = time.monotonic()
    set_offline(config.local_files_only)
    unsloth = import_unsloth()
    import torch
    from datasets import Dataset as HFDataset
    from transformers import TrainerCallback
    from trl import SFTTrainer

    cuda, device = device_name()
    prec = precision(config, cuda=cuda, bf16_supported=bool(unsloth.is_bfloat16_supported()))
    dtype = torch.bfloat16 if prec.bf16 else torch.float16 if prec.fp16 else torch.float32
    say(f"loading {config.model} on {device} ({prec.describe()})")
    try:
        model, tokenizer = unsloth.FastLanguageModel.from_pretrained(
            model_name=config.model,
            max_seq_length=config.max_seq_length,
            dtype=dtype,
            load_in_4bit=prec.load_in_4bit,
        )
    except (OSError, ValueError) as e:  # missing files, unknown repo, offline without a cache, bad config
        raise UsageError(f"cannot load model {config.model!r}: {first_line(e)}") from None
    template = getattr(tokenizer, "chat_template", None)
    apply = None
    if template:

        def apply(turns: list[dict[str, str]]) -> str:
            return tokenizer.apply_chat_template(turns, tokenize=False)

    texts = render(dataset, apply)
    model = unsloth.FastLanguageModel.get_peft_model(
        model,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(TARGET_MODULES),
        bias="none",
        use_gradient_checkpointing="unsloth",
        random_state=config.seed,
    )

    losses: list[float] = []

    class Progress(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                loss = float(logs["loss"])
                losses.append(loss)
                if config.progress and not progress_bar(config):  # one line per step where there is no bar
                    say(f"step {state.global_step}/{state.max_steps} loss {loss:.4f}")

    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=HFDataset.from_dict({"text": texts}),
        args=_sft_config(config, prec, cuda),
        callbacks=[Progress()],
    )
    if trainer.args.disable_tqdm:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # our Progress lines replace its raw dicts
    say(f"training {config.max_steps} steps on {len(texts)} {dataset.kind} examples")
    state = trainer.train()
    steps = int(getattr(state, "global_step", 0))
    config.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(config.output))
    save_tokenizer(tokenizer, config.output)
    result = TrainResult(
        adapter_dir=config.output,
        steps=steps,
        losses=tuple(losses),
        device=device,
        precision=prec,
        examples=len(texts),
        seconds=round(time.monotonic() - start, 1),
    )
    (config.output / SUMMARY_FILE).write_text(json.dumps(summary(config, result), indent=2) + "\n", encoding="utf-8")
    return result


def summary(config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """The JSON record written next to the adapter (what was trained, on what, how it went)."""
    return {
        "base_model": config.model,
        "dataset": str(config.dataset),
        "steps": result.steps,
        "losses": list(result.losses),
        "device": result.device,
        "precision": asdict(result.precision),
        "lora_r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "max_seq_length": config.max_seq_length,
        "seconds": result.seconds,
    }


def check_result(result: TrainResult) -> None:
    """Raise TrainingError unless the run took steps and every logged loss is finite."""
    if result.steps == 0 or not result.losses:
        raise TrainingError("training finished without a logged step: check --max-steps and the dataset size")
    bad = [i for i, loss in enumerate(result.losses, start=1) if not math.isfinite(loss)]
    if bad:
        raise TrainingError(
            f"loss became {result.losses[bad[0] - 1]} at logged step {bad[0]}: lower --learning-rate, or try --bf16 off"
        )
