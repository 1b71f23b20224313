"""`train-smoke`: prove the train environment trains, offline, in seconds.

Builds a tiny random Llama (2 layers, hidden 128) and a word-level tokenizer made with `tokenizers`, writes a small
chat dataset as JSONL, and trains through `train.cli.run` - the same path `train-lora` takes - twice: a first run of
STEPS-2 steps that checkpoints every 2 steps, then a run to STEPS that resumes from the latest checkpoint and saves
the merged 16-bit model. Passes when every logged loss and the eval loss are finite, the loss covered the assistant
responses only (some but not all tokens), the resume started from the first run's last checkpoint and reached STEPS,
the saved adapter's LoRA B matrices moved off their zero init, and the merged model holds no LoRA tensors.
On a machine without a GPU, Unsloth 2026.10 trains on CPU.

The output directory keeps `model/` (base model + tokenizer, which `serve-smoke` loads), `adapter/` (with
`checkpoints/`, `merged16/` and `train_summary.json`) and `data.jsonl`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from train.config import TrainConfig, UsageError
from train.dataset import DatasetError, to_jsonl
from train.lora import TrainingError, TrainResult, import_unsloth, save_tokenizer, set_offline

PROG = "train-smoke"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "gpu-workspace-smoke"

SPECIAL = ("<pad>", "<unk>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>")
# fmt: off
WORDS = (
    "the", "a", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "cat", "dog",
    "bird", "fish", "tree", "river", "stone", "cloud", "sun", "moon", "red", "blue", "green", "small", "big",
    "fast", "slow", "runs", "sees", "eats", "sleeps", "flies", "swims", "sings", "and", "or", "not", "is",
    "are", "what", "which", "who", "where", "count", "colour", "name", "answer", "hello", "yes", "no", "please",
    "thanks",
)
# fmt: on
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# Small enough to train in a second on CPU; head_dim 64 so GPU attention backends (vLLM's too) accept it.
TINY = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def vocabulary() -> dict[str, int]:
    """Special tokens first, then the words; ids are positions."""
    return {tok: i for i, tok in enumerate((*SPECIAL, *WORDS))}


def conversations(n: int) -> list[dict[str, Any]]:
    """`n` deterministic chat examples over the tiny vocabulary (each word is one token)."""
    numbers = WORDS[2:12]
    things = ["cat", "dog", "bird", "fish", "tree", "river", "stone", "cloud", "sun", "moon"]
    colours = ["red", "blue", "green"]
    rows = []
    for i in range(n):
        thing, colour, number = things[i % len(things)], colours[i % len(colours)], numbers[i % len(numbers)]
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"what colour is the {thing} please"},
                    {"role": "assistant", "content": f"the {thing} is {colour} and {number} {thing} are big"},
                ]
            }
        )
    return rows


def build_tokenizer(directory: Path) -> Any:
    """A word-level fast tokenizer with a chat template, saved to `directory`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = vocabulary()
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="<|end|>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
        model_max_length=TINY["max_position_embeddings"],
    )
    tok.chat_template = CHAT_TEMPLATE
    save_tokenizer(tok, directory)
    return tok


def build_tiny_model(directory: Path, seed: int = 0) -> None:
    """Write a random-weight LlamaForCausalLM (bf16) and its tokenizer to `directory`. No downloads."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(directory)
    vocab_size = 64 * math.ceil(len(tok) / 64)  # rows past the tokenizer are never produced by it
    config = LlamaConfig(
        vocab_size=vocab_size,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        **TINY,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(directory))


def adapter_moved(adapter_dir: Path) -> tuple[int, int]:
    """(LoRA B tensors that are non-zero, all LoRA B tensors) in the saved adapter. B starts at zero."""
    from safetensors.torch import load_file

    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    b = [t for name, t in tensors.items() if "lora_B" in name]
    return sum(1 for t in b if float(t.float().abs().sum()) > 0), len(b)


def build_parser() -> argparse.ArgumentParser:
    """The `train-smoke` argument parser."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"work directory (default {DEFAULT_OUT})")
    p.add_argument("--steps", type=int, default=6, help="LoRA SFT steps in all, at least 3 (default 6)")
    p.add_argument("--require-gpu", action="store_true", help="fail instead of training on CPU (GPU runners)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `train-smoke`."""
    from train.cli import run, stderr_say

    args = build_parser().parse_args(argv)
    say = stderr_say(PROG)
    if args.steps < 3:
        print(f"{PROG}: error: --steps must be at least 3 (a run, a checkpoint, a resume)", file=sys.stderr)
        return 2
    set_offline(True)  # the smoke must never download anything
    import_unsloth()  # before transformers, as on the real path
    import torch

    if args.require_gpu and not torch.cuda.is_available():
        print(f"{PROG}: failed: --require-gpu but torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 1
    out: Path = args.out
    model_dir, adapter_dir, data = out / "model", out / "adapter", out / "data.jsonl"
    build_tiny_model(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    data.write_text(to_jsonl(conversations(20)), encoding="utf-8")
    say(f"tiny Llama and word-level tokenizer written to {model_dir}")
    first_steps = args.steps - 1 if args.steps % 2 else args.steps - 2  # even: the last checkpoint is its end
    config = TrainConfig(
        model=str(model_dir),
        dataset=data,
        output=adapter_dir,
        max_steps=first_steps,
        max_seq_length=64,
        learning_rate=5e-3,
        batch_size=4,
        grad_accum=1,
        lora_r=8,
        lora_alpha=16,
        local_files_only=True,
        eval_fraction=0.1,
        save_steps=2,
    )
    try:
        say(f"run 1: {first_steps} steps, a checkpoint every 2")
        first = run(config, say)
        say(f"run 2: resume from the latest checkpoint to {args.steps} steps, then save merged16")
        result = run(replace(config, max_steps=args.steps, resume="latest", save=("merged16",)), say)
    except (UsageError, DatasetError, TrainingError) as e:
        print(f"{PROG}: failed: {e}", file=sys.stderr)
        return 1
    problems = check_runs(first, result, config.checkpoints / f"checkpoint-{first_steps}", args.steps)
    moved, total = adapter_moved(adapter_dir)
    if total == 0 or moved == 0:
        problems.append(f"adapter has {total} LoRA B tensors and none moved from zero")
    problems += merged_problems(adapter_dir / "merged16", model_dir)
    if problems:
        for problem in problems:
            print(f"{PROG}: failed: {problem}", file=sys.stderr)
        return 1
    losses = ", ".join(f"{x:.3f}" for x in (*first.losses, *result.losses))
    print(
        f"{PROG}: ok: {result.steps} steps on {result.device} ({result.precision.describe()}), losses {losses}; "
        f"loss on responses ({result.loss_token_fraction:.0%} of tokens), eval loss {result.eval_loss:.3f} on "
        f"{result.eval_examples} held out; resumed from {result.resumed_from}; {moved}/{total} LoRA B tensors "
        f"trained; adapter in {adapter_dir}, merged 16-bit model in {adapter_dir / 'merged16'}"
    )
    return 0


def check_runs(first: TrainResult, second: TrainResult, checkpoint: Path, steps: int) -> list[str]:
    """What is wrong with the two smoke runs (empty when nothing): responses-only loss, eval, checkpoint, resume."""
    problems = []
    for name, r in (("run 1", first), ("run 2", second)):
        if r.loss_on != "responses" or not (r.loss_token_fraction is not None and 0 < r.loss_token_fraction < 1):
            problems.append(f"{name}: loss on {r.loss_on} over {r.loss_token_fraction} of the tokens, not responses")
        if r.eval_examples == 0 or r.eval_loss is None or not math.isfinite(r.eval_loss):
            problems.append(f"{name}: eval loss {r.eval_loss} on {r.eval_examples} held-out examples")
    if not (checkpoint / "trainer_state.json").is_file():
        problems.append(f"run 1 left no checkpoint at {checkpoint}")
    if second.resumed_from != str(checkpoint):
        problems.append(f"run 2 resumed from {second.resumed_from}, not {checkpoint}")
    if second.steps != steps or len(second.losses) != steps - first.steps:
        problems.append(f"run 2 ended at step {second.steps} after {len(second.losses)} logged steps")
    return problems


def merged_problems(directory: Path, base_dir: Path) -> list[str]:
    """What is wrong with a merged16 save: plain safetensors weights, no LoRA tensors, the base's tensor names, and
    the trained projections changed from the base's (the adapter was merged in)."""
    from safetensors.torch import load_file

    files = sorted(directory.glob("*.safetensors"))
    if not (directory / "config.json").is_file() or not files:
        return [f"merged16: no config.json and safetensors weights in {directory}"]
    merged = {name: t for f in files for name, t in load_file(str(f)).items()}
    base = {name: t for f in sorted(base_dir.glob("*.safetensors")) for name, t in load_file(str(f)).items()}
    lora = [n for n in merged if "lora_" in n]
    if lora or set(merged) != set(base):
        return [f"merged16: {len(lora)} LoRA tensors, {len(set(merged) ^ set(base))} names differ from the base's"]
    changed = [n for n in merged if "q_proj" in n and not bool((merged[n].float() == base[n].float()).all())]
    if not changed:
        return ["merged16: every q_proj weight equals the base's: the adapter was not merged"]
    return []


if __name__ == "__main__":
    sys.exit(main())
