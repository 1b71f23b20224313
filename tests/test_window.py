"""The CUDA window on the real tables: golden cases checked against NVIDIA's tables by hand, and properties."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lockgen.errors import InputError
from lockgen.model.fleet import Fleet, FleetGpu, fleet_from_config
from lockgen.model.window import cuda_window
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.versions import CudaVersion, DriverVersion

K = load_knowledge()
V = CudaVersion.parse


def window(driver: str, gpus: list[str], policy: str = "toolkit"):
    return cuda_window(fleet_from_config({"driver": driver, "gpus": gpus, "policy": policy}, K), K)


# Golden values: newest CUDA per driver, read off NVIDIA's Table 3 (shared/reference/compat.md section 1).
@pytest.mark.parametrize(
    ("driver", "newest"),
    [
        ("580.65.06", "13.0"),  # the default fleet: 13.0 GA needs exactly 580.65.06
        ("580.65.05", "12.9"),
        ("575.51.03", "12.9"),
        ("570", "12.8"),  # a bare branch: any 570 driver runs 12.8 (570.26)
        ("570.26", "12.8"),
        ("560.35.03", "12.6"),
        ("555.42.02", "12.5"),
        ("550.54.14", "12.4"),
        ("550.54.13", "12.3"),
        ("535.54.03", "12.2"),
        ("535", "12.2"),
        ("530.30.02", "12.1"),
        ("525.60.13", "12.0"),
        ("520.61.05", "11.8"),
        ("610.43.02", "13.3"),
        ("700.0", "13.3"),  # 13.4/13.5 have no known driver floor (conf U): never allowed by the toolkit policy
    ],
)
def test_newest_cuda_per_driver(driver: str, newest: str) -> None:
    assert window(driver, ["H100"]).newest == V(newest)


def test_driver_too_old_for_anything() -> None:
    w = window("470.57.02", ["A100"])
    assert w.allowed == ()
    assert "needs driver >= 520.61.05" in (w.why_excluded(V("11.8")) or "")


def test_default_fleet_window() -> None:
    w = window("580.65.06", ["T4", "L4", "A100", "H100"])
    assert [str(v) for v in w.allowed] == [
        "11.8",
        "12.0",
        "12.1",
        "12.2",
        "12.3",
        "12.4",
        "12.5",
        "12.6",
        "12.8",
        "12.9",
        "13.0",
    ]


def test_volta_excludes_cuda13_and_names_the_gpu() -> None:
    w = window("610.43.02", ["V100", "H100"])
    assert w.newest == V("12.9")
    why = w.why_excluded(V("13.0")) or ""
    assert "V100" in why and "7.0" in why


def test_blackwell_needs_12_8() -> None:
    w = window("580.65.06", ["B200"])
    assert w.oldest == V("12.8")
    assert "B200" in (w.why_excluded(V("12.6")) or "")


def test_rtx5090_and_gb10() -> None:
    assert window("580.65.06", ["RTX 5090"]).oldest == V("12.8")
    # GB10 is compute capability 12.1; CUDA 12.8 targets 12.0, whose cubins run on 12.1 (binary compatibility: same
    # major, newer minor; NVIDIA on pytorch/pytorch#164596: "compiled with 12.0 can directly run on 12.1 (Spark)").
    assert window("580.65.06", ["GB10"]).oldest == V("12.8")
    assert window("580.65.06", ["B300"]).oldest == V("12.8")  # 10.3: CUDA 12.8 targets 10.0
    assert window("580.65.06", ["11.0"]).oldest == V("13.0")  # Thor's 11.0: no 11.x target before CUDA 13


def test_gpu_given_as_compute_capability() -> None:
    assert window("580.65.06", ["7.0"]).newest == V("12.9")


def test_minor_policy_widens_and_warns() -> None:
    strict = window("535.54.03", ["A100"])
    minor = window("535.54.03", ["A100"], policy="minor")
    assert strict.newest == V("12.2")
    assert minor.newest == V("12.9")  # 12.x family floor 525.60.13
    assert not minor.allows(V("13.0"))  # 13.x needs the 580 family floor
    assert minor.warnings and "PTX" in minor.warnings[0] and "12.9" in minor.warnings[0]
    assert strict.warnings == ()


def test_unknown_gpu_suggests_the_nearest() -> None:
    with pytest.raises(InputError) as e:
        fleet_from_config({"driver": "580.65.06", "gpus": ["H10O"]}, K)
    assert "tool.lockgen.gpus[0]" in str(e.value) and "'H100'" in str(e.value)


@pytest.mark.parametrize("driver", ["latest", "580.x", "", "5.8.0.1"])
def test_driver_not_a_version(driver: str) -> None:
    with pytest.raises(InputError) as e:
        fleet_from_config({"driver": driver, "gpus": ["H100"]}, K)
    assert "tool.lockgen.driver" in str(e.value)


def test_policy_must_be_known() -> None:
    with pytest.raises(InputError, match="tool.lockgen.policy"):
        fleet_from_config({"driver": "580.65.06", "gpus": ["H100"], "policy": "yolo"}, K)


# ---- properties ----

RAW = tomllib.loads(resources.files("lockgen").joinpath("tables/data/cuda.toml").read_text())
drivers = st.tuples(st.integers(400, 700), st.integers(0, 200), st.integers(0, 20)).map(
    lambda t: DriverVersion.parse(".".join(map(str, t)))
)
ccs = sorted({g["cc"] for g in RAW["gpu"]})
fleet_gpus = st.lists(st.sampled_from(ccs), max_size=4).map(lambda cs: tuple(FleetGpu(c, c) for c in cs))


def runs_on(targets: list[str], cc: str) -> bool:
    """NVIDIA's binary compatibility, read off the guides by hand: code for X.Y runs on X.Z when Z >= Y."""
    major, minor = cc.split(".")
    return any(t.split(".")[0] == major and int(t.split(".")[1]) <= int(minor) for t in targets)


def brute_force(driver: DriverVersion, gpus: tuple[FleetGpu, ...], policy: str) -> list[str]:
    """An independent reading of the raw data file: same rules, no lockgen code."""
    out = []
    for row in RAW["cuda"]:
        if policy == "minor":
            need = RAW["family_floor"][row["version"].split(".")[0]]["driver"]
        else:
            need = row["toolkit_driver"] if row["conf"] != "U" else ""
        if not need:
            continue
        need_t = tuple(int(x) for x in need.split("."))
        if driver.parts < need_t:
            continue
        if all(runs_on(row["ccs"], g.cc) for g in gpus):
            out.append(row["version"])
    return out


@given(drivers, fleet_gpus, st.sampled_from(["toolkit", "minor"]))
def test_window_equals_brute_force(driver: DriverVersion, gpus: tuple[FleetGpu, ...], policy: str) -> None:
    w = cuda_window(Fleet(driver, gpus, policy), K)  # type: ignore[arg-type]
    assert [str(v) for v in w.allowed] == brute_force(driver, gpus, policy)


@given(drivers, drivers, fleet_gpus, st.sampled_from(["toolkit", "minor"]))
def test_window_monotone_in_driver(a: DriverVersion, b: DriverVersion, gpus: tuple[FleetGpu, ...], policy: str) -> None:
    lo, hi = sorted([a, b])
    w_lo = cuda_window(Fleet(lo, gpus, policy), K)  # type: ignore[arg-type]
    w_hi = cuda_window(Fleet(hi, gpus, policy), K)  # type: ignore[arg-type]
    assert set(w_lo.allowed) <= set(w_hi.allowed)


@given(drivers, fleet_gpus, fleet_gpus)
def test_adding_gpus_never_widens(driver: DriverVersion, g1: tuple[FleetGpu, ...], g2: tuple[FleetGpu, ...]) -> None:
    assert set(cuda_window(Fleet(driver, g1 + g2), K).allowed) <= set(cuda_window(Fleet(driver, g1), K).allowed)


@given(drivers, fleet_gpus)
def test_every_excluded_version_has_a_reason(driver: DriverVersion, gpus: tuple[FleetGpu, ...]) -> None:
    w = cuda_window(Fleet(driver, gpus), K)
    for r in K.releases:
        assert (w.why_excluded(r.version) is None) == w.allows(r.version)


def test_every_row_cites_a_source() -> None:
    for row in RAW["cuda"] + RAW["gpu"]:
        assert row["source"].strip() and row["conf"] in ("Y", "S", "U")
    for major in ("11", "12", "13"):
        assert RAW["family_floor"][major]["source"]


def test_design_card_gpus_are_known() -> None:
    for name in [
        "P100",
        "V100",
        "T4",
        "A10G",
        "L4",
        "L40S",
        "A100",
        "H100",
        "H200",
        "GH200",
        "B200",
        "GB200",
        "RTX 3090",
        "RTX 4090",
        "RTX 5090",
    ]:
        assert K.gpu(name) is not None, name
    assert K.gpu("NVIDIA H100 80GB HBM3").cc == "9.0"  # what nvidia-smi prints
