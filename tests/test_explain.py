"""`lockgen explain`: accuracy on the real error corpus, generalisation to errors outside it, honesty about errors
it does not know, answers made concrete with the lock and the host, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import WORKSPACE_CUDA13
from helpers import host_report
from lockgen.model.workspace import load_workspace
from lockgen.ops.explain import ExplainContext, MemberFacts, explain, load_catalog, match_classes, parse_catalog
from lockgen.seams.host import HostGpu, TorchBuild
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.versions import CudaVersion, DriverVersion

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "errors" / "corpus.jsonl"
if not CORPUS.exists():  # the shared folder sits beside the checkout in this project's layout
    CORPUS = Path("/work/shared/errors/corpus.jsonl")

# Labels written by reading each thread's established cause (the corpus "cause" field), independently of the code:
# the class that names that cause, and words the explained cause must contain.
LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bnb-01": ("bnb-cuda-setup", ("older releases", "upgrading")),
    "drv-01": ("driver-too-old", ("driver is older",)),
    "drv-02": ("driver-too-old", ("driver is older",)),
    "oom-01": ("cuda-oom", ("gradient checkpointing",)),
    "cpu-01": ("cpu-only-torch", ("CPU-only",)),
    "cpu-02": ("cpu-only-torch", ("CPU-only",)),
    "res-01": ("resolver-conflict", ("pins torch",)),
    "fab-01": ("build-slow-no-ninja", ("ninja",)),
    "fab-02": ("build-killed-oom", ("out-of-memory", "RAM")),
    "arch-01": ("gpu-arch-unsupported", ("no kernels",)),
    "arch-02": ("gpu-arch-unsupported", ("no kernels",)),
    "imp-01": ("import-name-missing", ("versions that do not fit",)),
    # the thread: transformers removed top_k_top_p_filtering (after 4.38.2) while trl still imported it - the renames
    # table names exactly that pair
    "imp-02": ("renamed-top-k-top-p-filtering", ("removed", "trl")),
    "dep-01": ("hf-missing-backend", ("sentencepiece",)),
    "dep-02": ("hf-missing-backend", ("protobuf",)),
    "nan-01": ("nan-fp16-overflow", ("65504",)),
    "nan-02": ("nan-bf16-params", ("fp32",)),
    "lib-01": ("nccl-shm-too-small", ("/dev/shm", "too small")),
    "lib-02": ("nccl-shm-permission", ("permission denied",)),
    "lib-03": ("nccl-shm-too-small", ("/dev/shm", "too small")),
    "tri-01": ("triton-ptxas-arch", ("ptxas", "sm_121a")),
    "abi-01": ("undefined-symbol-torch-abi", ("different torch",)),
    "abi-02": ("undefined-symbol-torch-abi", ("cxx11abi",)),
}


def corpus() -> list[dict]:
    if not CORPUS.exists():
        pytest.skip("shared/errors/corpus.jsonl is not available")
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def right(entry: dict) -> tuple[bool, bool]:
    """(category right, cause right) for one corpus entry."""
    e = explain(entry["error_text"])
    cls, words = LABELS[entry["id"]]
    category_ok = e.recognised and e.category == entry["category"]
    cause_ok = category_ok and e.error_class == cls and all(w.lower() in (e.cause or "").lower() for w in words)
    return category_ok, cause_ok


def test_every_corpus_entry_is_labelled():
    assert {e["id"] for e in corpus()} == set(LABELS)


@pytest.mark.parametrize("entry_id", sorted(LABELS))
def test_corpus_entry(entry_id):
    entry = next(e for e in corpus() if e["id"] == entry_id)
    category_ok, cause_ok = right(entry)
    assert category_ok, explain(entry["error_text"]).to_json()
    assert cause_ok, explain(entry["error_text"]).to_json()


def test_corpus_accuracy():
    entries = corpus()
    results = [right(e) for e in entries]
    category = sum(c for c, _ in results) / len(entries)
    cause = sum(k for _, k in results) / len(entries)
    print(f"\nexplain on {len(entries)} corpus errors: category {category:.0%}, category and cause {cause:.0%}")
    assert category >= 0.9 and cause >= 0.9


# ---- errors outside the corpus: the knowledge must generalise ---------------------------------------------------

HELD_OUT = [
    (
        "ImportError: /usr/local/lib/python3.10/dist-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
        "undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12",
        "nvjitlink-symbol",
    ),
    (
        '  File "/opt/venv/lib/python3.12/site-packages/torchvision/_meta_registrations.py", line 164\n'
        "RuntimeError: operator torchvision::nms does not exist",
        "torchvision-op-missing",
    ),
    ("A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.1.3 as it may crash.", "numpy-abi"),
    (
        "UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Error 804: forward "
        "compatibility was attempted on non supported HW",
        "forward-compat-unsupported",
    ),
    (
        "RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain.",
        "ptx-unsupported-toolchain",
    ),
    ("RuntimeError: FlashAttention only supports Ampere GPUs or newer.", "flash-attn-needs-ampere"),
    (
        "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
        "initializing the engine.",
        "vllm-kv-cache-memory",
    ),
    (
        "OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root.",
        "cuda-home-missing",
    ),
    (
        "nvcc error   : 'cicc' died due to signal 9 (Kill signal)\nninja: build stopped: subcommand failed.",
        "build-killed-oom",
    ),
    (
        "cudaGetDeviceCount returned 35\n-> CUDA driver version is insufficient for CUDA runtime version",
        "driver-too-old",
    ),
    (
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed "
        "a driver from http://www.nvidia.com/Download/index.aspx",
        "no-driver",
    ),
    (
        "ValueError: Your setup doesn't support bf16/gpu. You need torch>=1.10, using Ampere GPU with cuda>=11.0",
        "bf16-unsupported",
    ),
    (
        "RuntimeError:\nThe detected CUDA version (12.4) mismatches the version that was used to compile\nPyTorch "
        "(11.8). Please make sure to use the same CUDA versions.",
        "nvcc-torch-mismatch",
    ),
    (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
        "14.74 GiB of which 1.12 GiB is free.",
        "cuda-oom",
    ),
    ("ModuleNotFoundError: No module named 'flash_attn'", "module-not-found"),
    (
        "  × Getting requirements to build wheel did not run successfully.\n  │ exit code: 1\n"
        "  ╰─> [17 lines of output]\n      ModuleNotFoundError: No module named 'torch'",
        "build-isolation-torch",
    ),
    (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\nCUDA kernel errors might "
        "be asynchronously reported at some other API call",
        "gpu-arch-unsupported",
    ),
    (
        "  × No solution found when resolving dependencies:\n  ╰─▶ Because vllm==0.33.0 depends on torch==2.14.0 and "
        "you require torch==2.14.1, we can conclude that your requirements and vllm==0.33.0 are incompatible.",
        "resolver-conflict",
    ),
    (
        "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory",
        "cuda-lib-soname-missing",
    ),
    (
        "ImportError: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by "
        "/venv/lib/python3.12/site-packages/vllm/_C.abi3.so)",
        "glibcxx-too-old",
    ),
    (
        "../aten/src/ATen/native/cuda/Indexing.cu:1284: indexSelectLargeIndex: block: [0,0,0], thread: [0,0,0] "
        "Assertion `srcIndex < srcSelectDimSize` failed.\nRuntimeError: CUDA error: device-side assert triggered",
        "device-side-assert",
    ),
    (
        "RuntimeError: Error(s) in loading state_dict for LlamaForCausalLM:\n\tsize mismatch for "
        "model.embed_tokens.weight: copying a param with shape torch.Size([32001, 4096]) from checkpoint",
        "shape-mismatch",
    ),
    (
        "ValueError: The checkpoint you are trying to load has model type `qwen9` but Transformers does not recognize "
        "this architecture.",
        "transformers-unknown-architecture",
    ),
    (
        "ptxas fatal   : Value 'sm_120' is not defined for option 'gpu-name'\n"
        "error: command '/usr/local/cuda/bin/nvcc' failed with exit code 255",
        "nvcc-unknown-arch",
    ),
    (
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/",
        "resolver-conflict",
    ),
    (
        "/usr/lib/python3/dist-packages/torch/cuda/__init__.py:52: UserWarning: CUDA initialization: Found no NVIDIA "
        "driver on your system.",
        "no-driver",
    ),
    ("AssertionError: Torch not compiled with CUDA enabled", "cpu-only-torch"),
    ("RuntimeError: No CUDA GPUs are available", "no-driver"),
]


@pytest.mark.parametrize(("text", "expected"), HELD_OUT, ids=[h[1] + f"-{i}" for i, h in enumerate(HELD_OUT)])
def test_errors_outside_the_corpus(text, expected):
    e = explain(text)
    assert e.recognised and e.error_class == expected, e.to_json()


NOT_KNOWN = [
    "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\nKeyError: 'labels'",
    '  File "x.py", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax',
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded",
    "CUDA available: True\nGPU: NVIDIA H100 80GB HBM3\nloss: 0.532, grad_norm: 1.21, learning_rate: 2e-4",
    "Killed",
    '  File "train.py", line 9, in build_model\n    model = load()\nKilled',  # host OOM at run time, not a build
    "ImportError: cannot import name 'Trainer' from partially initialized module 'mylib' (most likely due to a "
    "circular import)",
    "",
]


@pytest.mark.parametrize("text", NOT_KNOWN)
def test_unknown_errors_are_not_recognised_and_say_what_was_checked(text):
    e = explain(text)
    assert not e.recognised and e.error_class is None and e.cause is None
    assert e.checked and all(":" in c for c in e.checked)
    assert any("CUDA / GPU errors" in c for c in e.checked)


def test_last_error_line_is_reported():
    e = explain(NOT_KNOWN[0])
    assert e.last_error == "KeyError: 'labels'"


# ---- the knowledge file ----------------------------------------------------------------------------------------


def test_every_class_cites_a_source_and_fits_the_decision_tree():
    cat = load_catalog()
    assert len(cat.classes) >= 30
    branches = {c.branch.split(" > ")[0].split(" (")[0] for c in cat.categories.values()}
    assert {
        "ImportError / ModuleNotFoundError",
        "CUDA / GPU errors",
        "Build/Compilation errors",
        "Runtime errors during training/inference",
    } <= branches
    for c in cat.classes:
        assert "https://" in c.source and c.fix_uv and c.fix_pip and c.category in cat.categories


def test_patterns_are_not_copies_of_the_corpus():
    # generalise: no pattern may be longer than a library's own message fragment
    for c in load_catalog().classes:
        for p in c.patterns:
            assert len(p.pattern) <= 160, (c.id, p.pattern)


def test_catalog_rejects_bad_rows():
    good = {
        "id": "x",
        "category": "c",
        "title": "t",
        "patterns": ["a"],
        "cause": "c",
        "fix_uv": ["u"],
        "fix_pip": ["p"],
        "source": "https://example.org",
    }
    cats = {"c": {"title": "t", "branch": "b"}}
    assert parse_catalog({"categories": cats, "class": [good]}).classes[0].id == "x"
    with pytest.raises(ValueError, match="source must cite a URL"):
        parse_catalog({"categories": cats, "class": [{**good, "source": "a forum"}]})
    with pytest.raises(ValueError, match="invalid regex"):
        parse_catalog({"categories": cats, "class": [{**good, "patterns": ["("]}]})
    with pytest.raises(ValueError, match="unknown category"):
        parse_catalog({"categories": cats, "class": [{**good, "category": "nope"}]})
    with pytest.raises(ValueError, match="fix_pip: missing"):
        parse_catalog({"categories": cats, "class": [{k: v for k, v in good.items() if k != "fix_pip"}]})


def test_specific_classes_win_over_generic_ones():
    text = "flash_attn_2_cuda.so: undefined symbol: __nvJitLinkAddData_12_1"
    assert [m.cls.id for m in match_classes(text, load_catalog())][0] == "nvjitlink-symbol"
    text = "NCCL error in ProcessGroupNCCL.cpp: unhandled system error\nshm_open failed : Permission denied"
    ids = [m.cls.id for m in match_classes(text, load_catalog())]
    assert ids[0] == "nccl-shm-permission" and "nccl-unhandled" in ids


# ---- concrete answers with the lock and the host ---------------------------------------------------------------


@pytest.fixture
def ctx_parts():
    ws = load_workspace(WORKSPACE_CUDA13)
    members = []
    for name in ("serve", "train"):
        installed = ws.installed(name)
        members.append(
            MemberFacts(
                name,
                CudaVersion(13, 0),
                installed["torch"].version,
                {n: p.version for n, p in installed.items() if p.version},
            )
        )
    return ws, tuple(members)


host = host_report


def test_driver_answer_names_the_driver_the_lock_and_the_fix(ctx_parts):
    ws, members = ctx_parts
    ctx = ExplainContext(
        load_knowledge(), members, focus="serve", fleet=ws.fleet, driver=DriverVersion.parse("550.54.14")
    )
    e = explain("RuntimeError: The NVIDIA driver on your system is too old (found version 12040).", ctx=ctx)
    here = " | ".join(e.details)
    assert "driver 550.54.14 supports CUDA <= 12.4" in here
    assert "serve is locked to CUDA 13.0" in here
    assert "lower the fleet's driver to 550 and run `lockgen lock`" in here
    assert e.fix_uv[0].startswith("upgrade the NVIDIA driver to >= 580.65.06 (what serve's CUDA 13.0 needs")
    # torch 2.14.0 has no build for CUDA <= 12.4 (its builds: cu126, cu130, cu132): issue 14 - the old answer paired
    # torch==2.14.0 with a cu124 index that has no such build. The newest torch release with a build for CUDA <= 12.4
    # is 2.7 (cu118; 2.7's builds are cu118, cu126, cu128 - PyTorch RELEASE.md).
    assert not any("torch==2.14.0" in f for f in e.fix_pip)
    assert any("torch 2.14.0 has no build for CUDA <= 12.4" in f for f in e.fix_pip)
    assert any("pip install torch==2.7.1 --index-url https://download.pytorch.org/whl/cu118" in f for f in e.fix_pip)


def test_driver_fixes_neither_repeat_nor_offer_a_fleet_driver_that_runs_no_known_cuda(ctx_parts):
    """Found by the newcomer trial on Yuan-2.0#65 (found version 11000): the pip fixes said "upgrade the NVIDIA
    driver" twice, and the uv fixes offered lowering the fleet's driver to one that runs CUDA 11.0, below every CUDA
    release in the tables (the oldest is 11.8), so `lockgen lock` could only fail."""
    ws, members = ctx_parts
    ctx = ExplainContext(load_knowledge(), members, focus="serve", fleet=ws.fleet)
    old = explain("RuntimeError: The NVIDIA driver on your system is too old (found version 11000).", ctx=ctx)
    assert sum("upgrade the NVIDIA driver" in f for f in old.fix_pip) == 1, old.fix_pip
    assert not any("lower the fleet's driver" in f for f in old.fix_uv), old.fix_uv
    assert old.fix_uv and old.fix_uv[0].startswith("upgrade the NVIDIA driver to >= 580.65.06")
    # a driver that runs CUDA 12.4 can be the fleet's: lowering it stays on offer
    newer = explain("RuntimeError: The NVIDIA driver on your system is too old (found version 12040).", ctx=ctx)
    assert any("lower the fleet's driver" in f for f in newer.fix_uv), newer.fix_uv


def test_driver_answer_when_the_driver_is_new_enough_points_at_the_environment(ctx_parts):
    ws, members = ctx_parts
    ctx = ExplainContext(load_knowledge(), members, fleet=ws.fleet, driver=DriverVersion.parse("590.44.01"))
    e = explain("CUDA driver version is insufficient for CUDA runtime version", ctx=ctx)
    assert any("new enough" in d and "lockgen doctor" in d for d in e.details)


def test_arch_answer_for_a_v100_against_the_cuda13_lock(ctx_parts):
    ws, members = ctx_parts
    h = host(driver=DriverVersion.parse("580.65.06"), gpus=(HostGpu(0, "Tesla V100-SXM2-16GB", "7.0"),))
    ctx = ExplainContext(load_knowledge(), members, focus="serve", fleet=ws.fleet, host=h, driver=h.driver)
    e = explain("RuntimeError: CUDA error: no kernel image is available for execution on the device", ctx=ctx)
    here = " | ".join(e.details)
    assert "compute capability 7.0" in here and "serve is locked to CUDA 13.0, which cannot target 7.0" in here
    assert "CUDA 11.8-12.9" in here  # adding Volta to the fleet caps the window at 12.9


def test_arch_answer_from_the_error_itself_without_a_host(ctx_parts):
    ws, members = ctx_parts
    text = (
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch "
        "installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 "
        "sm_86 sm_90."
    )
    e = explain(text, ctx=ExplainContext(load_knowledge(), members, fleet=ws.fleet))
    here = " | ".join(e.details)
    assert "sm_120 (compute capability 12.0): CUDA 12.8-" in here  # Blackwell needs CUDA 12.8+
    assert "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90" in here
    assert "the failing build is not the locked one" in here  # CUDA 13.0 targets 12.0


def test_cpu_torch_answer_uses_the_locked_torch_and_cuda(ctx_parts):
    ws, members = ctx_parts
    h = host(torch=TorchBuild("2.14.0+cpu", None, "/t"))
    ctx = ExplainContext(load_knowledge(), members, focus="serve", fleet=ws.fleet, host=h)
    e = explain("AssertionError: Torch not compiled with CUDA enabled", ctx=ctx)
    assert e.fix_uv[0].startswith("uv sync --frozen --package serve --reinstall-package torch")
    assert e.fix_pip == ("pip install torch==2.14.0 --index-url https://download.pytorch.org/whl/cu130",)
    assert "installed here: torch 2.14.0+cpu (CPU-only)" in e.details


def test_module_answer_says_whether_the_lock_has_it(ctx_parts):
    ws, members = ctx_parts
    ctx = ExplainContext(load_knowledge(), members, focus="train", fleet=ws.fleet)
    e = explain("ModuleNotFoundError: No module named 'cv2'", ctx=ctx)
    assert e.fix_pip == ("pip install opencv-python",)
    assert any("opencv-python is not in uv.lock for train" in d for d in e.details)
    e = explain("ModuleNotFoundError: No module named 'peft'", ctx=ctx)
    assert any("peft is in uv.lock for train" in d and "uv sync --frozen --package train" in d for d in e.details)


def test_resolver_answer_names_both_pins():
    corpus_entry = next(e for e in corpus() if e["id"] == "res-01")
    e = explain(corpus_entry["error_text"])
    assert "vllm 0.5.4 pins torch==2.4.0" in e.details
    assert "the requirements also ask for torch==2.1.1" in e.details


def test_without_a_workspace_no_placeholder_is_printed_and_the_answer_says_what_to_run():
    # issue 14: without --member the old answer printed a literal `torch==<torch>`
    e = explain("AssertionError: Torch not compiled with CUDA enabled")
    printed = " ".join(e.fix_uv + e.fix_pip + e.facts_needed)
    assert "<" not in printed and "{" not in printed
    assert e.fix_uv == ("uv sync --frozen --reinstall-package torch",)
    assert any("torch.version.cuda" in f for f in e.facts_needed)


# ---- the command -----------------------------------------------------------------------------------------------


def test_cli_explain_file_json_and_exit_codes(tmp_path, capsys):
    from lockgen.cli import main

    err = tmp_path / "err.txt"
    err.write_text("RuntimeError: The NVIDIA driver on your system is too old (found version 12040).\n")
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(err), "--driver", "550.54.14", "--member", "serve"]) == 0
    out = capsys.readouterr().out
    assert "category: cuda_driver_too_old" in out and "lower the fleet's driver to 550" in out
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(err), "--no-host", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["recognised"] and doc["class"] == "driver-too-old" and doc["source"].startswith("https://")
    err.write_text("KeyError: 'labels'\n")
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(err)]) == 1
    assert "not recognised" in capsys.readouterr().out
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(tmp_path / "missing.txt")]) == 2
    err.write_text("   \n")
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(err)]) == 2
    assert main(["-C", str(WORKSPACE_CUDA13), "explain", str(err), "--driver", "five"]) == 2


def test_answers_stay_on_the_member_in_question():
    members = (
        MemberFacts("serve", CudaVersion(13, 0), "2.14.0"),
        MemberFacts("train", CudaVersion(12, 8), "2.10.0"),
    )
    text = "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory"
    about_train = explain(text, ctx=ExplainContext(load_knowledge(), members, focus="train"))
    assert about_train.details == ()  # CUDA 12 is train's own major
    about_serve = explain(text, ctx=ExplainContext(load_knowledge(), members, focus="serve"))
    assert about_serve.details == (
        "libcudart.so.12 is CUDA 12; serve is locked to CUDA 13.0: something in the environment was built for CUDA 12",
    )
