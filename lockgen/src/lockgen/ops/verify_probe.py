"""The probes `lockgen verify` runs inside a member's throwaway venv. Standard library only: this file is run by that
venv's Python (`python verify_probe.py < spec.json`), where lockgen itself is not installed.

Input (stdin, JSON): {"dists": [distribution names], "torch_cuda": "12.8" or null, "skip_modules": [...]}.
Output (stdout): one JSON object per line, {"probe", "status", "detail", "error"}; status is "ok", "needs-gpu"
(decided by lockgen, from the error) or "broken". Each probe catches its own failure, so one broken import does not
hide the others; a crash of the interpreter (a segfault in a native library) ends the run, and lockgen reports the
probes that never answered.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import traceback
from importlib import metadata

# Names that distributions ship by accident (test suites, examples) or that are not importable modules.
NOT_MODULES = {"tests", "test", "testing", "benchmarks", "benchmark", "examples", "docs", "scripts", "bin", "share"}


def emit(probe: str, status: str, detail: str = "", error: str = "") -> None:
    print(json.dumps({"probe": probe, "status": status, "detail": detail, "error": error}), flush=True)


def top_level_modules(dist: metadata.Distribution) -> list[str]:
    """The importable top-level names a distribution installs: top_level.txt, else its RECORD's first path parts."""
    names: set[str] = set()
    text = dist.read_text("top_level.txt")
    if text:
        names = {line.strip().replace("/", ".") for line in text.splitlines() if line.strip()}
        names = {n for n in names if "." not in n}
    if not names:
        for f in dist.files or ():
            parts = f.parts
            if not parts or parts[0] in ("..", "") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
                continue
            first = parts[0]
            if len(parts) == 1:
                if first.endswith(".py"):
                    names.add(first[:-3])
                elif first.endswith((".so", ".pyd")):
                    names.add(first.split(".")[0])
            elif first.isidentifier():
                names.add(first)
    return sorted(
        n for n in names if n.isidentifier() and not n.startswith("_") and n not in NOT_MODULES and n != "__pycache__"
    )


def probe(name: str, fn) -> object:  # type: ignore[no-untyped-def]
    try:
        detail = fn()
    except BaseException as e:  # noqa: BLE001 - a probe reports every failure, SystemExit from a library included
        emit(name, "broken", "", "".join(traceback.format_exception(type(e), e, e.__traceback__))[-4000:])
        return None
    emit(name, "ok", str(detail or ""))
    return detail


def tokenizer_round_trip() -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[PAD]": 1, "hello": 2, "gpu": 3, "world": 4}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    ids = fast("hello gpu world")["input_ids"]
    text = fast.decode(ids)
    if ids != [2, 3, 4] or text != "hello gpu world":
        raise AssertionError(f"round trip gave ids {ids} and text {text!r}")
    return f"{type(fast).__name__}: 'hello gpu world' -> {ids} -> {text!r}"


def vllm_tokenizer() -> str:
    """vLLM's own tokenizer loading on a saved tokenizer (where vLLM 0.11 meets Transformers 5)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[PAD]": 1, "hello": 2, "world": 3}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    get_tokenizer = None
    for mod in ("vllm.tokenizers", "vllm.transformers_utils.tokenizer"):
        try:
            get_tokenizer = importlib.import_module(mod).get_tokenizer
            break
        except (ImportError, AttributeError):
            continue
    if get_tokenizer is None:
        return "skipped: this vLLM has neither vllm.tokenizers nor vllm.transformers_utils.tokenizer"
    with tempfile.TemporaryDirectory(prefix="lockgen-verify-tok-") as d:
        fast.save_pretrained(d)
        loaded = get_tokenizer(d)
        ids = loaded.encode("hello world", add_special_tokens=False)
    if list(ids) != [2, 3]:
        raise AssertionError(f"vLLM's tokenizer gave {list(ids)} for 'hello world'")
    return f"{get_tokenizer.__module__}.get_tokenizer: 'hello world' -> {list(ids)}"


def main() -> int:
    spec = json.load(sys.stdin)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    skip = set(spec.get("skip_modules", []))
    installed = {}
    for name in spec["dists"]:
        try:
            installed[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            emit(f"import {name}", "broken", "", f"PackageNotFoundError: {name} is not installed in the venv")
    # torch first: most of the stack imports it, and its failure explains theirs
    order = sorted(installed, key=lambda n: (n != "torch", n))
    # the stack probes look at what the venv has, direct or not (serve gets transformers through vllm)
    for name in ("torch", "transformers", "tokenizers", "vllm"):
        if name not in installed:
            try:
                installed[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
    for name in order:
        mods = [m for m in top_level_modules(installed[name]) if m not in skip]
        if not mods:
            emit(f"import {name}", "ok", "no importable top-level module")
        for mod in mods:
            probe(f"import {mod}", lambda mod=mod: getattr(importlib.import_module(mod), "__name__", mod))
    if "torch" in installed:
        want = spec.get("torch_cuda")

        def torch_cuda() -> str:
            import torch

            got = torch.version.cuda
            if want and got != want and not (got or "").startswith(want + "."):
                raise AssertionError(f"torch {torch.__version__} is built with CUDA {got}; the lock says CUDA {want}")
            return f"torch {torch.__version__}: CUDA {got}"

        probe("torch CUDA", torch_cuda)

        def device() -> str:
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError(f"NEEDS-GPU: torch {torch.__version__} sees no CUDA device")
            return str(torch.cuda.get_device_name(0))

        probe("GPU visible", device)
    if "transformers" in installed:

        def sees_torch() -> str:
            from transformers.utils import is_torch_available

            if "torch" in installed and not is_torch_available():
                raise AssertionError("transformers does not see torch (is_torch_available() is False)")
            return "is_torch_available() is True" if "torch" in installed else "no torch in this environment"

        probe("transformers sees torch", sees_torch)
        probe("tokenizer round trip", tokenizer_round_trip)
        if "vllm" in installed:
            probe("vllm tokenizer", vllm_tokenizer)
    emit("done", "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
