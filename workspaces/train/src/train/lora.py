"""The LoRA SFT run itself: Unsloth loads the model and adds the adapter, TRL's SFTTrainer trains it.

This is the one training code path: `train-lora` and `train-smoke` both end up in `train_lora`. Heavy imports
(unsloth, torch, trl, datasets) happen inside the functions, so the rest of the package stays importable without
them. Unsloth must be imported before transformers/TRL/PEFT so that its patches apply; `import_unsloth` does that.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from train.config import Precision, TrainConfig, UsageError, precision
from train.dataset import Dataset, render, render_responses

Say = Callable[[str], None]

SUMMARY_FILE = "train_summary.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


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
    eval_examples: int = 0
    eval_loss: float | None = None
    loss_on: str = "all"
    loss_token_fraction: float | None = None
    resumed_from: str | None = None
    saved: tuple[str, ...] = ()


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


# bitsandbytes (>= 0.48) on a CPU with AVX512-BF16 logs at import that it failed to load a 4-bit CPU kernel and says
# to `pip install kernels` (which would fetch that kernel from the Hub at import). train-lora trains in 16 bits on a
# CPU (4-bit: GPU only), so the kernel is never used, and pip installing into a locked environment is the wrong
# advice: the line is dropped (bitsandbytes/backends/cpu/ops.py, the `logger.warning` after `get_kernel`).
BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_CPU_KERNEL_WARNING = "Failed to load CPU gemm_4bit_forward from kernels-community"


def _not_bnb_cpu_kernel_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(BNB_CPU_KERNEL_WARNING)


def quiet_bnb_cpu_kernel_warning() -> None:
    """Drop bitsandbytes' "pip install kernels" warning (see BNB_CPU_KERNEL_WARNING); every other line stays."""
    logger = logging.getLogger(BNB_CPU_LOGGER)
    if _not_bnb_cpu_kernel_warning not in logger.filters:
        logger.addFilter(_not_bnb_cpu_kernel_warning)


def import_unsloth() -> Any:
    """Import unsloth first (it patches transformers, TRL and PEFT), without its usage-statistics download."""
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    quiet_bnb_cpu_kernel_warning()
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


def llama_cpp_dir(env: dict[str, str] | None = None) -> Path:
    """Where Unsloth looks for llama.cpp: $UNSLOTH_LLAMA_CPP_PATH, else ~/.unsloth/llama.cpp (unsloth_zoo.llama_cpp)."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("UNSLOTH_LLAMA_CPP_PATH") or Path(env.get("HOME") or Path.home()) / ".unsloth" / "llama.cpp")


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint-N directory with the highest N under `directory`, or None."""
    if not directory.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in directory.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return max(found)[1] if found else None


def preflight(config: TrainConfig, env: dict[str, str] | None = None) -> Path | None:
    """Checks that need no heavy import, before any model loads; returns the checkpoint to resume from.

    Raises UsageError for: --resume with no checkpoint, --save gguf without a built llama.cpp (Unsloth would try
    to download and build it), --push-to-hub without $HF_TOKEN or with --local-files-only.
    """
    env = dict(os.environ) if env is None else env
    resume: Path | None = None
    if config.resume is not None:
        if config.resume == "latest":
            resume = latest_checkpoint(config.checkpoints)
            if resume is None:
                raise UsageError(f"--resume: no checkpoint-N directory in {config.checkpoints} (run without --resume)")
        else:
            resume = Path(config.resume).expanduser()
            if not (resume / "trainer_state.json").is_file():
                raise UsageError(f"--resume {config.resume}: not a checkpoint directory (no trainer_state.json)")
    if "gguf" in config.save:
        where = Path(
            env.get("UNSLOTH_LLAMA_CPP_PATH") or Path(env.get("HOME", str(Path.home()))) / ".unsloth/llama.cpp"
        )
        quantize = where / "llama-quantize"
        converters = [where / n for n in ("convert_hf_to_gguf.py", "convert-hf-to-gguf.py")]
        if not (quantize.is_file() and os.access(quantize, os.X_OK) and any(c.is_file() for c in converters)):
            raise UsageError(
                f"--save gguf needs a built llama.cpp in {where} (llama-quantize and convert_hf_to_gguf.py; set "
                "UNSLOTH_LLAMA_CPP_PATH to another checkout). Without it Unsloth would download and build llama.cpp, "
                "so train-lora stops here, before training; --save merged16 needs nothing extra"
            )
    if config.push_to_hub is not None:
        if config.local_files_only:
            raise UsageError("--push-to-hub and --local-files-only: an offline run cannot upload")
        if not env.get("HF_TOKEN"):
            raise UsageError("--push-to-hub: set HF_TOKEN to a Hugging Face token with write access")
    return resume


def split_eval(items: list[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """(train, eval): a seeded shuffle, then round(fraction * n) items held out (at least 1 when fraction > 0).

    No eval split when there are fewer than 2 items or the fraction is 0."""
    if fraction <= 0 or len(items) < 2:
        return list(items), []
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(items) - 1, max(1, round(fraction * len(items))))
    held = set(order[:n_eval])
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def _sft_config(config: TrainConfig, prec: Precision, cuda: bool, *, evaluate: bool, responses: bool) -> Any:
    from trl import SFTConfig

    steps = config.max_steps if config.epochs is None else -1
    return SFTConfig(
        output_dir=str(config.checkpoints),
        max_steps=steps,
        num_train_epochs=config.epochs if config.epochs is not None else 1.0,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        warmup_steps=min(5, config.max_steps // 10) if config.epochs is None else 0,
        lr_scheduler_type="linear",
        weight_decay=0.001,
        optim="adamw_8bit" if cuda else "adamw_torch",
        bf16=prec.bf16,
        fp16=prec.fp16,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.save_steps if evaluate else None,
        per_device_eval_batch_size=config.batch_size,
        report_to="none",
        seed=config.seed,
        dataset_text_field="text",
        completion_only_loss=responses,
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

    responses = config.responses_only(dataset.kind)
    rows: list[dict[str, str]]
    if responses:
        if not template:
            raise UsageError(f"{dataset.file}: chat messages but the model has no chat template")

        def apply2(turns: list[dict[str, str]], generation: bool) -> str:
            return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=generation)

        rows = [{"prompt": p, "completion": c} for p, c in render_responses(dataset, apply2)]
    else:
        if config.loss == "responses":
            raise UsageError("--loss responses: the dataset is plain text; responses need chat messages")
        rows = [{"text": t} for t in render(dataset, apply)]
    train_rows, eval_rows = split_eval(rows, config.eval_fraction, config.seed)
    model = unsloth.FastLanguageModel.get_peft_model(
        model,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
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
        train_dataset=HFDataset.from_list(train_rows),
        eval_dataset=HFDataset.from_list(eval_rows) if eval_rows else None,
        args=_sft_config(config, prec, cuda, evaluate=bool(eval_rows), responses=responses),
        callbacks=[Progress()],
    )
    if trainer.args.disable_tqdm:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # our Progress lines replace its raw dicts
    fraction = loss_token_fraction(trainer)
    length = f"{config.epochs:g} epochs" if config.epochs is not None else f"{config.max_steps} steps"
    loss_on = "assistant responses" if responses else "all tokens"
    say(
        f"training {length} on {len(train_rows)} {'responses' if responses else 'examples'} "
        f"({len(eval_rows)} held out for eval), loss on {loss_on} ({fraction:.0%} of the first examples' tokens)"
    )
    resume = preflight(config)
    if resume is not None:
        say(f"resuming from {resume}")
    state = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    steps = int(getattr(state, "global_step", 0))
    eval_loss = None
    if eval_rows:
        eval_loss = float(trainer.evaluate()["eval_loss"])
        say(f"eval loss {eval_loss:.4f} on {len(eval_rows)} held-out examples")
    config.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(config.output))
    save_tokenizer(tokenizer, config.output)
    saved = export(model, tokenizer, config, say)
    result = TrainResult(
        adapter_dir=config.output,
        steps=steps,
        losses=tuple(losses),
        device=device,
        precision=prec,
        examples=len(train_rows),
        seconds=round(time.monotonic() - start, 1),
        eval_examples=len(eval_rows),
        eval_loss=eval_loss,
        loss_on="responses" if responses else "all",
        loss_token_fraction=round(fraction, 4),
        resumed_from=str(resume) if resume is not None else None,
        saved=saved,
    )
    (config.output / SUMMARY_FILE).write_text(json.dumps(summary(config, result), indent=2) + "\n", encoding="utf-8")
    return result


def loss_token_fraction(trainer: Any) -> float:
    """Share of the real (non-padding) tokens of the first training examples that count in the loss (labels != -100).

    Collates the first batch's worth of examples directly (no dataloader: its sampler would draw from the random
    state that training, and a resume, rely on)."""
    dataset = trainer.train_dataset
    size = min(len(dataset), max(1, int(trainer.args.per_device_train_batch_size)))
    batch = trainer.data_collator([dataset[i] for i in range(size)])
    labels = batch["labels"]
    real = batch["attention_mask"].sum() if "attention_mask" in batch else labels.numel()
    return float((labels != -100).sum()) / max(1.0, float(real))


def export(model: Any, tokenizer: Any, config: TrainConfig, say: Say) -> tuple[str, ...]:
    """--save merged16 / gguf with Unsloth's exporters, then --push-to-hub; returns the directories written."""
    saved = []
    if "merged16" in config.save:
        target = config.output / "merged16"
        say(f"saving base + adapter merged in 16 bits to {target}")
        model.save_pretrained_merged(str(target), tokenizer, save_method="merged_16bit")
        save_tokenizer(tokenizer, target)
        saved.append(str(target))
    if "gguf" in config.save:
        target = config.output / "gguf"
        say(f"saving GGUF ({config.gguf_quantization}) with llama.cpp in {llama_cpp_dir()} to {target}")
        model.save_pretrained_gguf(str(target), tokenizer, quantization_method=config.gguf_quantization)
        saved.append(str(target))
    if config.push_to_hub is not None:
        token = os.environ["HF_TOKEN"]  # preflight checked it
        say(f"uploading the adapter to https://huggingface.co/{config.push_to_hub}")
        model.push_to_hub(config.push_to_hub, token=token)
        tokenizer.push_to_hub(config.push_to_hub, token=token)
    return tuple(saved)


def summary(config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """The JSON record written next to the adapter (what was trained, on what, how it went)."""
    return {
        "base_model": config.model,
        "dataset": str(config.dataset),
        "steps": result.steps,
        "epochs": config.epochs,
        "losses": list(result.losses),
        "loss_on": result.loss_on,
        "loss_token_fraction": result.loss_token_fraction,
        "train_examples": result.examples,
        "eval_examples": result.eval_examples,
        "eval_loss": result.eval_loss,
        "resumed_from": result.resumed_from,
        "checkpoints": str(config.checkpoints),
        "saved": list(result.saved),
        "target_modules": list(config.target_modules),
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
