"""Advice that is always true (issue 14): every command `lockgen explain` prints names only index URLs, torch builds,
driver figures and versions that lockgen's tables, the lock or the error itself back - and never a placeholder.

The property is checked for every class of the knowledge, under drawn drivers, GPUs, members (locked torch and CUDA
from the torch index table, and ones outside it) and captures; the checker itself is tested against planted lies.
The three false answers named in the issue each have a test that failed before the fix.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from helpers import host_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lockgen.ops.explain import (
    ExplainContext,
    Match,
    MemberFacts,
    advice_problems,
    answer,
    explain,
    load_catalog,
)
from lockgen.seams.host import HostGpu, HostReport
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.versions import CudaVersion, DriverVersion

CATALOG = load_catalog()
KNOWLEDGE = load_knowledge()
INDEX = CATALOG.index
assert INDEX is not None

# Drivers: every figure in the tables, branches, and drivers older or newer than any of them.
DRIVERS = sorted(
    {str(r.toolkit_driver) for r in KNOWLEDGE.releases if r.toolkit_driver}
    | {str(d) for _, d in KNOWLEDGE.family_floors}
    | {"390.157", "470.86", "550.54.14", "570", "700.10.01"}
)
GPU_CCS = sorted({g.cc for g in KNOWLEDGE.gpus})
# Locked (torch, CUDA) pairs: every build in the index table, plus a torch the table does not list.
BUILDS = [(v, label) for r in INDEX.releases for v in r.versions for label in r.variants] + [
    ("2.15.0", "cu132"),
    ("2.3.1", "cu121"),
]


def host_with(cc: str | None) -> HostReport:
    return host_report(gpus=(HostGpu(0, "GPU", cc),) if cc else (), gpu_source="test")


@st.composite
def situations(draw):
    cls = draw(st.sampled_from(CATALOG.classes))
    builds = draw(st.lists(st.sampled_from(BUILDS), min_size=0, max_size=2, unique=True))
    names = ["train", "serve"]
    members = tuple(
        MemberFacts(names[i], CudaVersion.parse(label), torch, {"torch": torch})
        for i, (torch, label) in enumerate(builds)
    )
    focus = draw(st.sampled_from([None, *[m.name for m in members]]))
    driver = draw(st.sampled_from([None, *DRIVERS]))
    cc = draw(st.sampled_from([None, *GPU_CCS]))
    found = draw(st.sampled_from([None, "9010", "11040", "11080", "12020", "12040", "12080", "13000"]))
    captures = {
        "module": "flash_attn",
        "lib": "sentencepiece",
        "so": "flash_attn_2_cuda.cpython-310-x86_64-linux-gnu",
        "provider": "transformers",
        "name": "top_k_top_p_filtering",
        "pinner": "vllm",
        "pinner_version": "0.5.4",
        "pinned": "torch",
        "pinned_version": "2.4.0",
        "have": "2.3.0",
        "req": "torch",
        "req_version": draw(st.sampled_from(["2.7.0+cu128", "2.1.2", "2.6.0+cpu"])),
        "local_label": draw(st.sampled_from(["cu128", "cpu", "cu114"])),
        "build_pkg": "flash-attn",
        "bnb_cuda": "129",
        "major": "12",
    }
    if found:
        captures["found_cuda"] = found
    if cc and draw(st.booleans()):
        captures["sm"] = "sm_" + cc.replace(".", "")
    ctx = None
    if draw(st.booleans()) or members:
        ctx = ExplainContext(
            KNOWLEDGE,
            members,
            focus=focus,
            host=host_with(cc),
            driver=DriverVersion.parse(driver) if driver else None,
        )
    return cls, ctx, captures


def locked_versions(ctx: ExplainContext | None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m in ctx.members if ctx else ():
        for n, v in m.packages.items():
            out[n].add(v)
    return out


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations())
def test_every_printed_command_is_backed_by_the_tables_the_lock_or_the_error(situation):
    cls, ctx, captures = situation
    e = answer(Match(cls, 1, captures, "evidence"), ctx, CATALOG)
    quoted = " ".join(f"=={v} {v}" for v in captures.values())
    lines = [*e.fix_uv, *e.fix_pip, *e.facts_needed, *e.details]
    assert advice_problems(lines, CATALOG, KNOWLEDGE, locked_versions(ctx), quoted=quoted) == [], (cls.id, lines)


@pytest.mark.parametrize("cls", CATALOG.classes, ids=[c.id for c in CATALOG.classes])
def test_every_class_answers_without_any_context_and_without_placeholders(cls):
    e = answer(Match(cls, 1, {}, "evidence"), None, CATALOG)
    printed = " ".join([e.cause or "", *e.fix_uv, *e.fix_pip, *e.facts_needed])
    assert not re.search(r"\{\w+\}|<\w+>", printed), printed  # shell's ${VAR:+...} is not a placeholder
    assert e.fix_uv or e.fix_pip or e.facts_needed, "an answer with nothing to do"
    assert advice_problems([*e.fix_uv, *e.fix_pip, *e.facts_needed], CATALOG, KNOWLEDGE) == []


# ---- the checker catches lies (planted) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("pip install torch==2.10.0 --index-url https://download.pytorch.org/whl/cu114", "cu114"),
        ("pip install torch==<torch> --index-url https://download.pytorch.org/whl/cu128", "placeholder"),
        ("pip install torch=={torch}", "placeholder"),
        ("pip install torch==2.14.0 --index-url https://download.pytorch.org/whl/cu124", "has no cu124 build"),
        ("pip install torch==2.99.0", "not a release"),
        ("upgrade the NVIDIA driver to >= 581.1", "driver 581.1"),
        ('uv add "peft<0.11"', "peft<0.11"),
        ("use the cu114 build", "cu114"),
    ],
)
def test_the_truth_checker_flags_planted_lies(line, why):
    problems = advice_problems([line], CATALOG, KNOWLEDGE)
    assert problems and any(why in p for p in problems), problems


@pytest.mark.parametrize(
    "line",
    [
        "pip install torch==2.10.0 --index-url https://download.pytorch.org/whl/cu128",
        "pip install torch==2.6.0 triton==3.2.0",
        "upgrade the NVIDIA driver to >= 570.26",
        'uv add "peft<0.10"',
        "uv sync --frozen --package train --reinstall-package torch",
    ],
)
def test_the_truth_checker_accepts_true_lines(line):
    assert advice_problems([line], CATALOG, KNOWLEDGE) == []


# ---- the false answers named in issue 14 (each failed before the fix) -------------------------------------------


def members_12_8_and_13_0():
    return (
        MemberFacts("serve", CudaVersion(13, 0), "2.14.0", {"torch": "2.14.0"}),
        MemberFacts("train", CudaVersion(12, 8), "2.10.0", {"torch": "2.10.0"}),
    )


def test_no_cu114_index_for_a_driver_limited_to_cuda_11_4():
    ctx = ExplainContext(KNOWLEDGE, members_12_8_and_13_0(), focus="train")
    e = explain("RuntimeError: The NVIDIA driver on your system is too old (found version 11040).", ctx=ctx)
    printed = " ".join([*e.fix_uv, *e.fix_pip, *e.details])
    assert "cu114" not in printed
    # no torch build in the tables runs on CUDA 11.4: the oldest is cu118, whose toolkit driver is 520.61.05
    assert any("no torch build in lockgen's tables runs on CUDA <= 11.4" in f and "520.61.05" in f for f in e.fix_pip)


def test_no_placeholder_when_the_member_is_not_known():
    ctx = ExplainContext(KNOWLEDGE, members_12_8_and_13_0())  # two members, neither named
    e = explain("AssertionError: Torch not compiled with CUDA enabled", ctx=ctx)
    printed = " ".join([*e.fix_uv, *e.fix_pip, *e.facts_needed])
    assert "<" not in printed and "{" not in printed and "torch==" not in printed
    assert any("--member" in f and "serve, train" in f for f in e.facts_needed)


def test_each_member_is_paired_with_its_own_cudas_driver():
    ctx = ExplainContext(KNOWLEDGE, members_12_8_and_13_0(), driver=DriverVersion.parse("550.54.14"))
    e = explain("RuntimeError: The NVIDIA driver on your system is too old", ctx=ctx)
    here = " | ".join(e.details)
    assert "train is locked to CUDA 12.8 (needs driver >= 570.26)" in here  # NVIDIA RN table 3: 12.8 GA needs 570.26
    assert "serve is locked to CUDA 13.0 (needs driver >= 580.65.06)" in here
    assert "12.8, which needs driver >= 580.65.06" not in here
    assert e.fix_uv[0] == (
        "upgrade the NVIDIA driver to >= 580.65.06 (what serve's CUDA 13.0 needs; train's CUDA 12.8 needs >= 570.26)"
    )


def test_cpu_torch_answer_names_a_build_that_exists_for_the_locked_torch():
    ctx = ExplainContext(KNOWLEDGE, members_12_8_and_13_0(), focus="train")
    e = explain("AssertionError: Torch not compiled with CUDA enabled", ctx=ctx)
    assert e.fix_pip == ("pip install torch==2.10.0 --index-url https://download.pytorch.org/whl/cu128",)
    # a locked torch the index table does not list gets no index URL, and says what to run instead
    ctx = ExplainContext(KNOWLEDGE, (MemberFacts("train", CudaVersion(13, 2), "2.15.0"),), focus="train")
    e = explain("AssertionError: Torch not compiled with CUDA enabled", ctx=ctx)
    assert "download.pytorch.org" not in " ".join(e.fix_pip)


def test_arch_answer_names_a_build_with_kernels_for_the_gpu():
    text = (
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation."
    )
    e = explain(text)
    (line,) = e.fix_pip
    # torch_arch.toml: CUDA 13.x builds of torch >= 2.9 carry 12.0+PTX; 2.14.1 is the newest release in the tables
    assert line.startswith("pip install torch==2.14.1 --index-url https://download.pytorch.org/whl/cu13")
    # on a 570 driver (CUDA <= 12.8) the answer stays within what the driver runs: 2.11 is the newest release with a
    # cu128 build (2.12 dropped it), and its cu128 build has sm_120 kernels (torch_arch.toml)
    ctx = ExplainContext(KNOWLEDGE, (), driver=DriverVersion.parse("570.26"))
    e = explain(text, ctx=ctx)
    assert e.fix_pip[0].startswith("pip install torch==2.11.0 --index-url https://download.pytorch.org/whl/cu128")
