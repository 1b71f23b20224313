"""Fleet -> uv constraints, on the real tables (expected caps written out by hand)."""

from __future__ import annotations

import pytest
from lockgen.model.fleet import fleet_from_config
from lockgen.model.window import cuda_window
from lockgen.plan.constraints import exclusion_constraints, runtime_constraints
from lockgen.tables.knowledge import load_knowledge

K = load_knowledge()


def caps(driver: str, gpus: list[str]) -> tuple[str, ...]:
    return runtime_constraints(cuda_window(fleet_from_config({"driver": driver, "gpus": gpus}, K), K))


@pytest.mark.parametrize(
    ("driver", "gpus", "expected"),
    [
        (
            "580.65.06",
            ["T4", "H100"],
            ("nvidia-cuda-runtime-cu11>=11.8", "nvidia-cuda-runtime<13.1", "cuda-toolkit<13.1"),
        ),
        (
            "570",
            ["T4"],
            (
                "nvidia-cuda-runtime-cu11>=11.8",
                "nvidia-cuda-runtime-cu12<12.9",
                "nvidia-cuda-runtime<0",
                "cuda-toolkit<12.9",
            ),
        ),
        (
            "535.54.03",
            ["A100"],
            (
                "nvidia-cuda-runtime-cu11>=11.8",
                "nvidia-cuda-runtime-cu12<12.3",
                "nvidia-cuda-runtime<0",
                "cuda-toolkit<12.3",
            ),
        ),
        (
            "580.65.06",
            ["B200"],
            (
                "nvidia-cuda-runtime-cu11<0",
                "nvidia-cuda-runtime-cu12>=12.8",
                "nvidia-cuda-runtime<13.1",
                "cuda-toolkit>=12.8,<13.1",
            ),
        ),
        (
            "610.43.02",
            ["V100"],
            (
                "nvidia-cuda-runtime-cu11>=11.8",
                "nvidia-cuda-runtime-cu12<12.10",
                "nvidia-cuda-runtime<0",
                "cuda-toolkit<12.10",
            ),
        ),
        (
            "520.61.05",
            ["T4"],
            (
                "nvidia-cuda-runtime-cu11>=11.8,<11.9",
                "nvidia-cuda-runtime-cu12<0",
                "nvidia-cuda-runtime<0",
                "cuda-toolkit<0",
            ),
        ),
    ],
)
def test_runtime_caps(driver: str, gpus: list[str], expected: tuple[str, ...]) -> None:
    assert caps(driver, gpus) == expected


def test_caps_admit_exactly_the_window_runtime_versions() -> None:
    from packaging.requirements import Requirement

    # runtime wheel versions seen on PyPI (compat.md 3a): each must be admitted iff its CUDA is in the window
    runtimes = {
        "nvidia-cuda-runtime-cu12": ["12.1.105", "12.4.127", "12.6.77", "12.8.90", "12.9.79"],
        "nvidia-cuda-runtime": ["13.0.96", "13.2.86"],
    }
    w = cuda_window(fleet_from_config({"driver": "570.124.06", "gpus": ["L4"]}, K), K)
    reqs = {Requirement(c).name: Requirement(c).specifier for c in runtime_constraints(w)}
    for name, versions in runtimes.items():
        for v in versions:
            cuda = ".".join(v.split(".")[:2])
            assert reqs[name].contains(v) == (cuda in {str(x) for x in w.allowed}), (name, v)


def test_exclusions_are_grouped_and_sorted() -> None:
    assert exclusion_constraints([("xformers", "0.0.35"), ("vllm", "0.19.1"), ("xformers", "0.0.34")]) == (
        "vllm!=0.19.1.*",
        "xformers!=0.0.34.*,!=0.0.35.*",
    )
