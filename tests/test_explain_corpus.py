"""`lockgen explain` on the repository's corpus of real error reports (tests/fixtures/errors/corpus.jsonl): every report
is a test (its category and the fix its thread confirmed), every class that the corpus covers is checked, and the
accuracy on the held-out split is held to the issue's goal.

The expected values come from the threads (category, `fix_keywords` written from the confirmed fix), never from the
code under test. Reports explain cannot get right from their text alone are listed in KNOWN_MISSES with the reason,
as strict xfails: when one starts passing, the test says so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from lockgen.ops.explain import explain, load_catalog

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "fixtures" / "errors" / "corpus.jsonl"
SHARED = Path("/work/shared/errors/corpus.jsonl")

KNOWN_MISSES = {
    "bld-xformers-603": "the report holds no error text ('15h trying to get this to compile'), only a screenshot",
    "bld-killed-fa-1549": "'Killed' alone, with no sign of a build in the text (the thread title says it)",
    "abi-fa-928": "the text has no .so path, so the failing package (flash-attn, from the thread title) is unknown",
    "abi-fa-854": "'ImportError: undefined symbol' names neither the library nor the symbol",
    "bld-killed-fa-389": "no error line: a `top` excerpt; MAX_JOBS appears only as the user's own experiment",
    "ren-encdec-cache-unique3d": "only the traceback frame `from transformers import ..., EncoderDecoderCache` "
    "survived; reading import frames as the error would misread every import-time failure",
    "res-uv-simpletuner-2812": "uv's message wrapped mid-sentence ('Because only vllm==... is available and') matches "
    "no resolver phrase",
}


def entries() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge(entry: dict) -> tuple[bool, bool, str]:
    """(category right, category and fix right, what explain answered)."""
    e = explain(entry["error_text"])
    text = " ".join([e.cause or "", *e.fix_uv, *e.fix_pip, *e.facts_needed]).lower()
    category_ok = e.recognised and e.category == entry["category"]
    fix_ok = category_ok and all(k.lower() in text for k in entry["fix_keywords"])
    return category_ok, fix_ok, f"{e.error_class} ({e.category}): {e.cause}"


# ---- the corpus itself ------------------------------------------------------------------------------------------


def test_corpus_has_provenance_for_every_report():
    rows = entries()
    assert len(rows) >= 150
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    urls = [r["url"] for r in rows]
    assert len(urls) == len(set(urls)), "one report per thread"
    categories = set(load_catalog().categories)
    for r in rows:
        assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+", r["url"]), r["id"]
        assert r["repo"] == "/".join(r["url"].split("/")[3:5])
        assert r["category"] in categories, r["id"]
        assert r["error_text"].strip() and r["fix"].strip() and r["fix_by"].strip() and r["fix_keywords"], r["id"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["retrieved"])
        assert r["split"] in ("train", "test")


def test_held_out_split_is_about_thirty_percent():
    split = Counter(r["split"] for r in entries())
    assert 0.25 <= split["test"] / sum(split.values()) <= 0.35


def test_corpus_does_not_copy_the_shared_corpus():
    if not SHARED.exists():
        pytest.skip("shared corpus not available")
    shared = {json.loads(line)["url"] for line in SHARED.read_text().splitlines() if line.strip()}
    assert not shared & {r["url"] for r in entries()}


def test_corpus_covers_the_seed_decision_tree():
    got = Counter(r["category"] for r in entries())
    for category in (
        "module_not_installed",
        "missing_optional_dependency",
        "import_error_version_mismatch",
        "undefined_symbol_abi_mismatch",
        "dependency_resolver_conflict",
        "build_isolation",
        "cuda_driver_too_old",
        "cuda_unavailable_cpu_torch",
        "cuda_unavailable_no_driver",
        "gpu_arch_unsupported",
        "cuda_oom",
        "nccl_cudnn_nvjitlink",
        "bitsandbytes_cuda_setup",
        "flash_attn_build_failure",
        "triton_error",
        "nan_inf_or_shape_mismatch",
        "dtype_mismatch",
        "tokenizer_chat_template",
        "colab_preinstalled",
    ):
        if category == "module_not_installed":
            continue  # a plain missing module needs no thread; test_explain covers it
        assert got[category] >= 2 or category == "cuda_driver_too_old" and got[category] >= 1, category


def test_the_five_examples_of_issue_14_are_in_the_corpus_and_recognised():
    by_id = {r["id"]: r for r in entries()}
    expected = {
        "res-vllm-pip-01": ("pip-broken-pins", "vllm 0.2.1.post1 requires torch==2.0.1"),
        "bnb-binary-cuda129-1688": ("bnb-binary-missing", "libbitsandbytes_cuda129.so"),
        "cpu-xformers-01": ("cpu-only-torch", "(you have 2.1.2+cpu)"),
        "ren-pretrainedconfig-01": ("renamed-pretrainedconfig", "name 'PreTrainedConfig' is not defined"),
        "ren-triton-common-01": ("renamed-triton-common", "No module named 'triton.common'"),
    }
    for rid, (cls, fragment) in expected.items():
        assert fragment in by_id[rid]["error_text"]
        assert explain(by_id[rid]["error_text"]).error_class == cls, rid


# ---- every report ----------------------------------------------------------------------------------------------


def _params():
    out = []
    for r in entries():
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[r["id"]])] if r["id"] in KNOWN_MISSES else []
        out.append(pytest.param(r, id=r["id"], marks=marks))
    return out


@pytest.mark.parametrize("entry", _params())
def test_report(entry):
    category_ok, fix_ok, said = judge(entry)
    assert category_ok, f"want {entry['category']}, got {said}"
    assert fix_ok, f"the fix lacks {entry['fix_keywords']} ({entry['fix']}); got {said}"


@pytest.mark.parametrize("split", ["train", "test"])
def test_accuracy_per_split(split):
    rows = [r for r in entries() if r["split"] == split]
    judged = [judge(r) for r in rows]
    fix_right = sum(f for _, f, _ in judged) / len(rows)
    category_right = sum(c for c, _, _ in judged) / len(rows)
    print(f"\n{split}: category {category_right:.0%}, category and fix {fix_right:.0%} of {len(rows)}")
    assert category_right >= 0.85 and fix_right >= 0.85  # issue 14's goal, on reports the knowledge was not tuned on


def test_every_category_of_the_corpus_has_a_right_answer_in_it():
    right = {r["category"] for r in entries() if judge(r)[1]}
    assert right == {r["category"] for r in entries()}


def test_an_import_frame_is_not_read_as_the_error():
    # a traceback through `from transformers import PretrainedConfig` that fails for another reason is that reason
    text = (
        '  File "train.py", line 3, in <module>\n    from transformers import PretrainedConfig\n'
        "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"
    )
    assert explain(text).error_class == "cudnn-missing"


def test_the_accuracy_script_reports_both_splits_and_the_truth_share(capsys):
    import runpy

    module = runpy.run_path(str(REPO / "scripts" / "explain_accuracy.py"))
    assert module["main"](["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"train", "test", "all"}
    assert doc["all"]["reports"] == len(entries())
    assert doc["test"]["truthful"] == doc["test"]["answered"]  # every answer passes the truth property


HEALTHY = [
    "Successfully installed torch-2.3.0 torchvision-0.18.0 triton-2.3.0\n"
    "Requirement already satisfied: numpy in ./venv/lib/python3.12/site-packages (1.26.4)",
    "{'loss': 1.2345, 'grad_norm': 0.87, 'learning_rate': 0.0002, 'epoch': 0.1}",
    "/venv/lib/python3.12/site-packages/torch/_utils.py:831: UserWarning: TypedStorage is deprecated.",
    "INFO 06-13 11:42:20 model_runner.py:1115] Loading model weights took 5.2032 GB",
    "==((====))==  Unsloth 2025.1.6: Fast Llama patching. Transformers: 4.48.0.\n"
    "O^O/ \\_/ \\    Torch: 2.5.1+cu121. CUDA: 7.5. CUDA Toolkit: 12.1. Triton: 3.1.0\n"
    "\\        /    Bfloat16 = FALSE. FA [Xformers = 0.0.28.post3. FA2 = False]",
    "Resolved 212 packages in 1.20s\nInstalled 3 packages in 40ms\n"
    " + torch==2.10.0\n + nvidia-cuda-runtime-cu12==12.8.90",
    "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 12.8, V12.8.93",
    "Building wheel for flash-attn (setup.py) ... done\nSuccessfully built flash-attn",
]


@pytest.mark.parametrize("text", HEALTHY)
def test_healthy_logs_are_not_read_as_errors(text):
    assert not explain(text).recognised
