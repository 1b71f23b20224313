"""One fact, one answer: `check`/`lock` (the window), `doctor`, `explain`, steering and the toolchain guard agree on
"does CUDA X run on this GPU" and "does this driver run CUDA X under this policy".

Before tables.knowledge answered both, the window required an exact target while doctor and explain accepted a
same-major older one: for GB10 (compute capability 12.1) `check` excluded CUDA 12.8 while `doctor` said it runs; and
under policy "minor" steering judged a CUDA minor missing from the tables by its family floor where doctor said
"unknown". The truth (NVIDIA's binary compatibility, tables/data/cuda.toml [sources] binary_compat): code for X.Y runs
on X.Z with Z >= Y, so CUDA 12.8 (which targets 12.0) runs on 12.1.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lockgen.model.fleet import Fleet, FleetGpu
from lockgen.model.window import cuda_window
from lockgen.ops.diagnose import Target, check_arch, check_driver
from lockgen.ops.explain import ExplainContext, MemberFacts, explain
from lockgen.ops.toolchain import guard_verdict
from lockgen.plan.steering import _driver_runs
from lockgen.seams.host import HostGpu, HostReport, LibCuda
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.torch_arch import load_arch_table
from lockgen.tables.versions import CudaVersion, DriverVersion

K = load_knowledge()
V = CudaVersion.parse
D = DriverVersion.parse
NEW_DRIVER = D("700.0")  # runs every CUDA with a known driver: only the GPU decides


def host(driver: DriverVersion | None = None, cc: str | None = None) -> HostReport:
    gpus = (HostGpu(0, f"GPU {cc}", cc),) if cc else ()
    return HostReport(driver, gpus, "nvml", LibCuda(False, None, "n/a"), None, None, "test-env", "3.12")


def window_allows(driver: DriverVersion, ccs: tuple[str, ...], cuda: CudaVersion, policy: str = "toolkit") -> bool:
    fleet = Fleet(driver, tuple(FleetGpu(c, c) for c in ccs), policy)  # type: ignore[arg-type]
    return cuda_window(fleet, K).allows(cuda)


def doctor_arch_ok(cuda: CudaVersion, cc: str) -> bool:
    checks = check_arch(host(NEW_DRIVER, cc), Target("train", cuda, None), K, None, load_arch_table())
    assert len(checks) == 1
    return checks[0].status != "fail"


def explain_arch_ok(cuda: CudaVersion, cc: str) -> bool:
    sm = cc.replace(".", "")
    text = f"RuntimeError: GPU with CUDA capability sm_{sm} is not compatible with the current PyTorch installation."
    ctx = ExplainContext(K, (MemberFacts("train", cuda, None),), "train", Fleet(NEW_DRIVER, (), "toolkit"))
    details = " | ".join(explain(text, ctx=ctx).details)
    says_runs = f"CUDA {cuda}, which targets {cc}" in details
    says_not = f"CUDA {cuda}, which cannot target {cc}" in details
    assert says_runs != says_not, details
    return says_runs


def test_gb10_runs_cuda_12_8_for_check_doctor_and_explain() -> None:
    assert K.cuda_targets(V("12.8"), "12.1") is True
    assert window_allows(NEW_DRIVER, ("12.1",), V("12.8"))
    assert doctor_arch_ok(V("12.8"), "12.1")
    assert explain_arch_ok(V("12.8"), "12.1")


def test_an_older_minor_never_runs_newer_code() -> None:
    # 13.0 targets 12.1, but nothing targets 12.0 that 12.1 code would run on in reverse: sm_121 code is not for 12.0
    assert K.cuda_targets(V("12.6"), "12.0") is False  # 12.6 has no 12.x target at all
    assert not window_allows(NEW_DRIVER, ("12.0",), V("12.6"))
    assert not doctor_arch_ok(V("12.6"), "12.0")
    assert not explain_arch_ok(V("12.6"), "12.0")


@pytest.mark.parametrize("cc", sorted(K.known_ccs, key=lambda c: tuple(map(int, c.split(".")))))
def test_window_doctor_and_explain_agree_on_every_gpu(cc: str) -> None:
    for release in K.releases:
        if release.toolkit_driver is None:
            continue  # no known driver: outside every window whatever the GPU
        v = release.version
        verdicts = {
            "check": window_allows(NEW_DRIVER, (cc,), v),
            "doctor": doctor_arch_ok(v, cc),
            "explain": explain_arch_ok(v, cc),
        }
        assert len(set(verdicts.values())) == 1, f"CUDA {v} on {cc}: {verdicts}"


DRIVERS = ("525.60.13", "530", "530.30.01", "530.30.02", "555.42.02", "570", "570.26", "575.51.02", "580.65.06")
CUDAS = ("12.0", "12.1", "12.5", "12.7", "12.8", "12.9", "13.0")  # 12.7 never shipped: not in the tables


@pytest.mark.parametrize("policy", ["toolkit", "minor"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_driver_verdicts_agree(driver: str, policy: str) -> None:
    d = D(driver)
    fleet = Fleet(d, (), policy)  # type: ignore[arg-type]
    ws = SimpleNamespace(knowledge=K, fleet=fleet)
    for cuda in map(V, CUDAS):
        # NVIDIA's rule, read off the rows: "minor" needs the family floor (Table 2, every minor of the family),
        # "toolkit" the release's own GA driver (Table 3; unknown for a minor not in the tables)
        release = K.release(cuda)
        need = K.family_floor(cuda.major) if policy == "minor" else release.toolkit_driver if release else None
        if need is None:
            continue
        runs = d.satisfies(need)
        verdicts = {
            "doctor": check_driver(host(d), Target("train", cuda, None), K, fleet).status == "ok",
            "guard": guard_verdict("train", cuda, d, K, policy).ok,
            "steering": _driver_runs(str(cuda), ws),  # type: ignore[arg-type]
        }
        if K.release(cuda) is not None:
            verdicts["check"] = window_allows(d, (), cuda, policy)
        assert set(verdicts.values()) == {runs}, f"driver {driver}, CUDA {cuda}, policy {policy}: {verdicts}"


def test_minor_policy_judges_an_unlisted_minor_by_its_family_floor() -> None:
    # 12.7 is not in the tables; minor-version compatibility covers every 12.x from the 12 family floor
    assert K.required_driver(V("12.7"), "minor") == K.family_floor(12)
    assert K.required_driver(V("12.7"), "toolkit") is None
    fleet = Fleet(D("530"), (), "minor")
    assert check_driver(host(D("530")), Target("train", V("12.7"), None), K, fleet).status == "ok"
