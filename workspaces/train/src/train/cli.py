"""`train-lora`: the command-line edge. User mistakes end as one line on stderr and exit 2; a failed run exits 1."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from train.config import TrainConfig, UsageError, model_source, parse_train_args
from train.dataset import DatasetError, read_dataset
from train.lora import Say, TrainingError, TrainResult, check_result, preflight, train_lora


def stderr_say(prog: str) -> Say:
    """A progress printer: one flushed line on stderr per call, prefixed with the program name."""

    def say(message: str) -> None:
        print(f"{prog}: {message}", file=sys.stderr, flush=True)

    return say


def check_output_dir(output: Path) -> None:
    """UsageError when --output exists and is not a directory."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output}: exists and is not a directory")


def run(config: TrainConfig, say: Say) -> TrainResult:
    """Validate the inputs (cheap, before any heavy import), train, and check the result.

    Raises UsageError / DatasetError for bad input and TrainingError for an unusable run.
    """
    source = model_source(config.model, Path(config.model).expanduser().is_dir())
    if source == "local":
        # absolute, so the adapter's base_model_name_or_path (what `serve` loads) works from any directory
        config = replace(config, model=str(Path(config.model).expanduser().resolve()))
    if source == "hub" and config.local_files_only:
        say(f"{config.model} is not a local directory; looking for it in the Hub cache only (--local-files-only)")
    check_output_dir(config.output)
    preflight(config)
    dataset = read_dataset(config.dataset)
    say(f"{config.dataset}: {len(dataset)} {dataset.kind} examples")
    result = train_lora(config, dataset, say)
    check_result(result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `train-lora`."""
    say = stderr_say("train-lora")
    try:
        config = parse_train_args(argv)
        result = run(config, say)
    except (UsageError, DatasetError) as e:
        print(f"train-lora: error: {e}", file=sys.stderr)
        return 2
    except TrainingError as e:
        print(f"train-lora: failed: {e}", file=sys.stderr)
        return 1
    first, last = result.losses[0], result.losses[-1]
    evaluated = f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""
    say(
        f"done: {result.steps} steps on {result.device} in {result.seconds:.0f} s, "
        f"loss {first:.4f} -> {last:.4f}{evaluated}"
    )
    print(result.adapter_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
