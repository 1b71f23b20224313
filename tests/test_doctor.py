"""`lockgen doctor`: the host seam against fakes of every source, the pure checklist, and the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from fakes import FAKES, PROC_550, WORKSPACE_CUDA13
from fakes.nvml import FakeNVML
from helpers import host_report
from lockgen.errors import InputError
from lockgen.model.workspace import load_workspace
from lockgen.ops.diagnose import check_libcuda, check_nvcc, diagnose
from lockgen.seams import host as hostmod
from lockgen.seams.host import HostGpu, LibCuda, Nvcc, TorchBuild, driver_version, probe_host
from lockgen.tables.knowledge import load_knowledge
from lockgen.tables.torch_arch import ArchTable, arch_supported, load_arch_table, parse_arch_table
from lockgen.tables.versions import CudaVersion, DriverVersion

REPO = Path(__file__).resolve().parent.parent
NO_LIBCUDA = LibCuda(False, None, "libcuda.so.1: cannot open shared object file: No such file or directory")


@pytest.fixture
def ws():
    """The frozen workspace (train: CUDA 13.0 torch 2.14.1; serve: CUDA 13.0 torch 2.14.0; fleet 580.65.06)."""
    return load_workspace(WORKSPACE_CUDA13)


@pytest.fixture
def knowledge():
    return load_knowledge()


def probe(tmp_path: Path, **kw):
    """probe_host with every source faked: no NVML, fakes on PATH, an empty /proc, no libcuda, no site-packages."""
    args = dict(
        path=str(FAKES), proc_root=tmp_path, nvml=None, site_packages=[], environ={}, libcuda=lambda: NO_LIBCUDA
    )
    args.update(kw)
    return probe_host(**args)


# A HostReport built by hand (diagnose is pure, so its tests need no probing).
report = partial(host_report, libcuda=NO_LIBCUDA)


def by_name(result, prefix: str):
    return [c for c in result.checks if c.name.startswith(prefix)]


# ---- host: every source ----------------------------------------------------------------------------------------


def test_nvml_is_read_first_and_shut_down(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_GPUS", "Tesla T4, 7.5, 535.104.05")  # must not be used: NVML answers first
    nvml = FakeNVML(driver="580.65.06", gpus=(("NVIDIA H100 80GB HBM3", (9, 0)), ("NVIDIA L4", (8, 9))), as_bytes=True)
    h = probe(tmp_path, nvml=nvml)
    assert h.gpu_source == "nvml"
    assert h.driver == DriverVersion.parse("580.65.06")
    assert [(g.name, g.cc) for g in h.gpus] == [("NVIDIA H100 80GB HBM3", "9.0"), ("NVIDIA L4", "8.9")]
    assert nvml.initialised == 1 and nvml.shut_down == 1


def test_nvml_failure_falls_back_to_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_GPUS", "Tesla V100-SXM2-16GB, 7.0, 535.104.05")
    h = probe(tmp_path, nvml=FakeNVML(fail="Driver Not Loaded"))
    assert h.gpu_source == "nvidia-smi"
    assert h.driver == DriverVersion.parse("535.104.05")
    assert h.gpus == (HostGpu(0, "Tesla V100-SXM2-16GB", "7.0"),)
    assert any("NVML: Driver Not Loaded" in n for n in h.notes)


def test_nvidia_smi_of_an_old_driver_without_compute_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_GPUS", "Tesla T4, 7.5, 470.82.01\nTesla T4, 7.5, 470.82.01")
    monkeypatch.setenv("FAKE_SMI_MODE", "old")
    h = probe(tmp_path)
    assert h.gpu_source == "nvidia-smi"
    assert h.driver == DriverVersion.parse("470.82.01")
    assert [(g.index, g.name, g.cc) for g in h.gpus] == [(0, "Tesla T4", None), (1, "Tesla T4", None)]


def test_proc_is_the_last_source(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_MODE", "nodriver")  # nvidia-smi present but failing
    h = probe(tmp_path, proc_root=PROC_550)
    assert h.gpu_source == "/proc/driver/nvidia"
    assert h.driver == DriverVersion.parse("550.54.14")
    assert h.gpus == (HostGpu(0, "Tesla T4", None),)
    assert any("couldn't communicate with the NVIDIA driver" in n for n in h.notes)


def test_no_gpu_at_all_names_every_source_tried(tmp_path):
    h = probe(tmp_path, path=str(tmp_path))  # no nvidia-smi on PATH, empty /proc, no NVML
    assert h.gpu_source == "none" and h.driver is None and h.gpus == ()
    notes = " | ".join(h.notes)
    assert "NVML" in notes and "nvidia-smi: not on PATH" in notes and "/proc/driver/nvidia/version" in notes


def test_driver_version_reads_proc(tmp_path):
    assert driver_version(PROC_550) == DriverVersion.parse("550.54.14")
    assert driver_version(tmp_path) is None
    open_module = (
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16)\n"
    )
    assert hostmod.parse_proc_version(open_module) == DriverVersion.parse("580.65.06")


def test_installed_distributions_and_torch_from_files(tmp_path):
    site = tmp_path / "lib" / "python3.12" / "site-packages"
    for d in (
        "torch-2.14.1.dist-info",
        "vllm-0.33.0.dist-info",
        "Flash_Attn-2.8.3.dist-info",
        "oldpkg-1.0-py3.12.egg-info",
    ):
        (site / d).mkdir(parents=True)
    (site / "torch").mkdir()
    (site / "torch" / "version.py").write_text(
        "from typing import Optional\n__version__ = '2.14.1+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n"
    )
    h = probe(tmp_path, site_packages=hostmod.venv_site_packages(tmp_path))
    assert h.distributions == {"torch": "2.14.1", "vllm": "0.33.0", "flash-attn": "2.8.3", "oldpkg": "1.0"}
    assert h.torch is not None and (h.torch.version, h.torch.cuda) == ("2.14.1+cu130", "13.0")
    assert h.python == "3.12"
    (site / "torch" / "version.py").write_text("__version__ = '2.14.1+cpu'\ncuda: Optional[str] = None\n")
    assert probe(tmp_path, site_packages=[site]).torch.cuda is None


def test_nvcc_from_path_and_cuda_home_first(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NVCC_RELEASE", "12.8")
    h = probe(tmp_path)
    assert h.nvcc == Nvcc(str(FAKES / "nvcc"), "12.8", "PATH")
    home = tmp_path / "cuda-13.0"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "nvcc").symlink_to(FAKES / "nvcc")
    (home / "version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "13.0.2"}}')
    h = probe(tmp_path, environ={"CUDA_HOME": str(home)})
    assert (h.nvcc.via, h.nvcc.cuda, h.cuda_home) == ("CUDA_HOME", "13.0", str(home))


def test_probe_on_this_machine_does_not_crash():
    h = probe_host()
    assert h.gpu_source in ("nvml", "nvidia-smi", "/proc/driver/nvidia", "none")
    json.dumps(h.to_json())


# ---- diagnose: the Done-when cases -----------------------------------------------------------------------------


def test_no_gpu_says_so_and_checks_the_rest(ws, knowledge):
    result = diagnose(report(), ws, knowledge)
    gpu = by_name(result, "gpu")[0]
    assert gpu.status == "warn" and "no NVIDIA GPU" in gpu.detail
    names = {c.name.split("[")[0] for c in result.checks}
    assert {"driver", "torch", "drift", "nvcc", "libcuda", "python"} <= names
    assert result.exit_code == 0
    assert diagnose(report(), ws, knowledge, require_gpu=True).exit_code == 1


def test_no_member_installed_points_at_the_members_own_environments(ws, knowledge):
    # newcomer trial: after the README's `lockgen run train/serve`, `lockgen doctor` (root .venv) advised
    # `uv sync --frozen --package serve` - installing a member into the root environment, which the README forbids
    drift = by_name(diagnose(report(), ws, knowledge), "drift")[0]
    assert drift.status == "warn" and "uv sync" not in drift.fix
    assert "`lockgen doctor --env .venv-serve`" in drift.fix and "`lockgen sync serve`" in drift.fix


def test_driver_535_fails_and_names_the_driver_the_lock_needs(ws, knowledge, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_GPUS", "NVIDIA H100 80GB HBM3, 9.0, 535.104.05")
    result = diagnose(probe(tmp_path), ws, knowledge)
    drivers = by_name(result, "driver[")
    assert {c.name for c in drivers} == {"driver[serve]", "driver[train]"}
    for c in drivers:
        assert c.status == "fail"
        assert "580.65.06" in c.detail and "535.104.05" in c.detail and "CUDA 13.0" in c.detail
        assert "580.65.06" in c.fix
    assert "supports CUDA <= 12.2" in drivers[0].detail  # 535.104.05 >= 12.2's 535.54.03, < 12.3's 545.23.06
    assert result.exit_code == 1


def test_v100_against_a_cuda13_lock_fails_on_the_architecture(ws, knowledge, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_GPUS", "Tesla V100-SXM2-16GB, 7.0, 580.65.06")
    result = diagnose(probe(tmp_path), ws, knowledge, member="serve")
    arch = by_name(result, "arch[serve:gpu0]")[0]
    assert arch.status == "fail"
    assert "7.0" in arch.detail and "CUDA 13.0" in arch.detail and "Volta" in arch.detail
    assert '"V100"' in arch.fix and "lockgen lock" in arch.fix and "12.9" in arch.fix  # CUDA 12.9 still targets Volta
    assert by_name(result, "driver[serve]")[0].status == "ok"
    fleet = by_name(result, "fleet[gpu0]")[0]
    assert fleet.status == "warn" and "not in the fleet" in fleet.detail
    assert result.exit_code == 1


def test_h100_with_the_locked_serve_environment_is_all_ok(ws, knowledge):
    locked = {n: p.version for n, p in ws.installed("serve").items() if p.version}
    h = report(
        driver=DriverVersion.parse("580.95.05"),
        gpus=(HostGpu(0, "NVIDIA H100 80GB HBM3", "9.0"),),
        gpu_source="nvml",
        libcuda=LibCuda(True, "/usr/lib/x86_64-linux-gnu/libcuda.so.1", None, "13.0"),
        nvcc=Nvcc("/nix/store/x-cuda-13.0/bin/nvcc", "13.0", "PATH"),
        distributions=locked,
        torch=TorchBuild("2.14.0", "13.0", "/site/torch"),
    )
    result = diagnose(h, ws, knowledge)
    assert [t.member for t in result.targets] == ["serve"]
    bad = [c for c in result.checks if c.status != "ok"]
    assert bad == [], bad
    assert result.exit_code == 0
    # drift: one package off is named with both versions and the fix syncs the member
    drifted = diagnose(replace(h, distributions={**locked, "vllm": "0.32.0"}), ws, knowledge)
    drift = by_name(drifted, "drift[serve]")[0]
    assert drift.status == "fail" and "vllm 0.32.0 (locked 0.33.0)" in drift.detail
    assert drift.fix == "uv sync --frozen --package serve" and "vllm==0.33.0" in drift.alt_fix


def test_cpu_only_torch_and_wrong_cuda_torch_fail(ws, knowledge):
    h = report(distributions={"serve": "0.1.0", "torch": "2.14.0"}, torch=TorchBuild("2.14.0+cpu", None, "/t"))
    torch = by_name(diagnose(h, ws, knowledge), "torch[serve]")[0]
    assert torch.status == "fail" and "CPU-only" in torch.detail
    assert torch.fix == "uv sync --frozen --package serve --reinstall-package torch"
    assert torch.alt_fix == "pip install torch==2.14.0 --index-url https://download.pytorch.org/whl/cu130"
    h = replace(h, torch=TorchBuild("2.14.0+cu126", "12.6", "/t"))
    torch = by_name(diagnose(h, ws, knowledge), "torch[serve]")[0]
    assert torch.status == "fail" and "CUDA 12.6" in torch.detail and "CUDA 13.0" in torch.detail


def test_unknown_member_is_bad_input(ws, knowledge):
    with pytest.raises(InputError, match="not a workspace member"):
        diagnose(report(), ws, knowledge, member="nope")


def test_outside_a_workspace_the_installed_torch_is_the_target(knowledge):
    h = report(
        driver=DriverVersion.parse("550.54.14"),
        gpus=(HostGpu(0, "Tesla T4", "7.5"),),
        torch=TorchBuild("2.14.1", "13.0", "/t"),
    )
    result = diagnose(h, None, knowledge)
    drv = by_name(result, "driver[installed torch]")[0]
    assert drv.status == "fail" and "580.65.06" in drv.detail


def test_nvcc_against_torch(knowledge):
    torch13 = TorchBuild("2.14.1", "13.0", "/t")
    assert check_nvcc(report(torch=torch13, nvcc=Nvcc("/x/nvcc", "12.4", "PATH")), None).status == "fail"
    assert check_nvcc(report(torch=torch13, nvcc=Nvcc("/x/nvcc", "13.1", "PATH")), None).status == "warn"
    assert check_nvcc(report(torch=torch13, nvcc=Nvcc("/x/nvcc", "13.0", "CUDA_HOME")), None).status == "ok"
    assert check_nvcc(report(torch=torch13), None).status == "skip"


def test_libcuda_not_resolving_with_a_driver_points_at_the_copy():
    lib = LibCuda(
        False, None, "libcuda.so.1: cannot open shared object file", None, ("/run/opengl-driver/lib/libcuda.so.1",)
    )
    c = check_libcuda(report(driver=DriverVersion.parse("580.65.06"), gpus=(HostGpu(0, "L4", "8.9"),), libcuda=lib))
    assert c.status == "fail" and c.fix.startswith("export LD_LIBRARY_PATH=/run/opengl-driver/lib")
    assert check_libcuda(report()).status == "skip"


# ---- architecture rules and table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cc", "archs", "ok"),
    [
        ("8.9", ("8.0", "8.6"), True),  # same major, older minor cubin runs (L4 on an sm_86 build)
        ("12.1", ("7.5", "12.0+PTX"), True),  # GB10 on a cu130 build
        ("7.0", ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0+PTX"), False),  # V100 on CUDA 13
        ("12.0", ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"), False),  # RTX 5090 on cu126: no sm_120, no PTX
        ("12.0", ("8.0", "9.0+PTX"), True),  # PTX of an older architecture is JIT-compiled
        ("8.6", ("sm_37", "sm_50", "sm_60", "sm_70"), False),  # the RTX 3090 report
        ("9.0", ("sm_80", "sm_90a"), True),
        # architecture-specific code runs on its own compute capability only; family-specific (f) like plain
        # (tables/data/cuda.toml [sources] arch_specific)
        ("10.3", ("sm_80", "sm_100a"), False),
        ("10.3", ("sm_80", "sm_100f"), True),
        ("10.3", ("sm_80", "sm_100"), True),
        ("9.0", ("sm_80", "compute_90a"), True),
        ("10.0", ("sm_80", "compute_90a"), False),  # arch-specific PTX is not JIT-compiled for another architecture
        ("10.0", ("sm_80", "compute_90"), True),
    ],
)
def test_arch_supported(cc, archs, ok):
    assert arch_supported(cc, archs)[0] is ok


def test_arch_table_rows():
    table = load_arch_table()
    row = table.lookup("2.14.1+cu130", CudaVersion(13, 0))
    assert row is not None and row.conf == "Y" and "7.0" not in row.archs
    assert table.lookup("2.9.0", CudaVersion(12, 8)).archs[0] == "7.0"  # 2.8-2.10 cu128 kept Volta
    assert table.lookup("2.11.0", CudaVersion(12, 8)).archs[0] == "7.5"  # 2.11 dropped it
    assert table.lookup("1.13.0", CudaVersion(11, 7)) is None
    with pytest.raises(ValueError, match="build\\[0\\]"):
        parse_arch_table({"build": [{"cuda": ["13.0"], "torch": ">=2", "archs": ["sm9"], "conf": "Y", "source": "x"}]})


def test_torch_arch_failure_uses_the_table_when_cuda_itself_fits(ws, knowledge):
    # A GPU CUDA 13.0 targets (sm_75 is in its list) with a torch whose table row lacks it.
    table = ArchTable(
        parse_arch_table(
            {"build": [{"cuda": ["13.0"], "torch": ">=2.9", "archs": ["8.0", "9.0"], "conf": "Y", "source": "test"}]}
        ).rows
    )
    h = report(
        driver=DriverVersion.parse("580.65.06"),
        gpus=(HostGpu(0, "Tesla T4", "7.5"),),
        distributions={"train": "0.1.0"},
        torch=TorchBuild("2.14.1", "13.0", "/t"),
    )
    arch = by_name(diagnose(h, ws, knowledge, table=table), "arch[train:gpu0]")[0]
    assert arch.status == "fail" and "has no kernels" in arch.detail


# ---- the command -----------------------------------------------------------------------------------------------


@pytest.fixture
def faked_host(monkeypatch, tmp_path):
    """Make the command's probe_host read the fakes instead of this machine."""
    fake = partial(probe_host, path=str(FAKES), proc_root=tmp_path, nvml=None, libcuda=lambda: NO_LIBCUDA)
    monkeypatch.setattr(hostmod, "probe_host", fake)


def test_cli_doctor_json_with_a_fake_driver_535(faked_host, monkeypatch, capsys):
    from lockgen.cli import main

    monkeypatch.setenv("FAKE_SMI_GPUS", "NVIDIA A100-SXM4-80GB, 8.0, 535.104.05")
    code = main(["-C", str(WORKSPACE_CUDA13), "doctor", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False
    assert doc["host"]["driver"] == "535.104.05" and doc["host"]["gpu_source"] == "nvidia-smi"
    failed = {c["name"]: c for c in doc["checks"] if c["status"] == "fail"}
    assert "580.65.06" in failed["driver[train]"]["detail"]


def test_cli_doctor_text_and_bad_member(faked_host, monkeypatch, capsys):
    from lockgen.cli import main

    loads = LibCuda(True, "/usr/lib/x86_64-linux-gnu/libcuda.so.1", None, "13.0")
    monkeypatch.setattr(hostmod, "probe_host", partial(hostmod.probe_host, libcuda=lambda: loads))
    monkeypatch.setenv("FAKE_NVCC_RELEASE", "13.0")

    monkeypatch.setenv("FAKE_SMI_GPUS", "NVIDIA L4, 8.9, 580.65.06")
    code = main(["-C", str(WORKSPACE_CUDA13), "doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ok    gpu" in out and "NVIDIA L4 (8.9)" in out and "0 failed" in out
    assert "nvcc 13.0" in out and "matches the lock (CUDA 13.0)" in out
    assert main(["-C", str(WORKSPACE_CUDA13), "doctor", "--member", "nope"]) == 2
    assert "not a workspace member" in capsys.readouterr().err


@pytest.mark.skipif(
    Path("/proc/driver/nvidia/version").exists()
    or any((Path(p) / "nvidia-smi").exists() for p in os.environ.get("PATH", "").split(os.pathsep) if p),
    reason="this machine has an NVIDIA driver",
)
def test_real_doctor_on_this_gpu_less_machine_reports_no_gpu_without_traceback():
    env = {**os.environ, "PYTHONPATH": str(REPO / "lockgen" / "src")}
    for argv in (
        ["-m", "lockgen", "-C", str(WORKSPACE_CUDA13), "doctor"],
        ["-m", "lockgen.commands.doctor", "-C", str(WORKSPACE_CUDA13)],
    ):
        res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "no NVIDIA GPU or driver found" in res.stdout
        assert "Traceback" not in res.stdout + res.stderr


def test_deep_report_is_checked_and_explained(ws, knowledge):
    from lockgen.seams.host import DeepReport

    gpus = (HostGpu(0, "NVIDIA H100 80GB HBM3", "9.0"),)
    fine = DeepReport(True, True, 1, (("NVIDIA H100 80GB HBM3", "9.0"),), ("sm_75", "sm_90", "compute_120"))
    torch = TorchBuild("2.14.0", "13.0", "/t")
    ok = [c for c in diagnose(report(gpus=gpus, deep=fine, torch=torch), ws, knowledge).checks if c.name == "deep"][0]
    assert ok.status == "ok" and "sm_90" in ok.detail
    broken = DeepReport(
        False,
        False,
        0,
        messages=("CUDA initialization: The NVIDIA driver on your system is too old (found version 12020).",),
    )
    bad = [c for c in diagnose(report(gpus=gpus, deep=broken, torch=torch), ws, knowledge).checks if c.name == "deep"][
        0
    ]
    assert bad.status == "fail" and "driver is older" in bad.detail and "driver" in bad.fix
    assert not [c for c in diagnose(report(gpus=gpus), ws, knowledge).checks if c.name == "deep"]
    absent = [c for c in diagnose(report(gpus=gpus, deep=broken), ws, knowledge).checks if c.name == "deep"][0]
    assert absent.status == "skip" and "not installed" in absent.detail


def test_doctor_and_explain_run_without_tomlkit(tmp_path):
    # The GPU machine has python3 + torch but no tomlkit: nothing on doctor's (or explain's) import path may need it.
    err = tmp_path / "err.txt"
    err.write_text("RuntimeError: CUDA error: no kernel image is available for execution on the device\n")
    code = (
        "import sys; sys.modules['tomlkit'] = None\n"
        "from lockgen.cli import main\n"
        "a = main(['-C', sys.argv[1], 'doctor', '--json'])\n"
        "b = main(['-C', sys.argv[1], 'explain', sys.argv[2], '--json'])\n"
        "sys.exit(10 * a + b)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "lockgen" / "src")}
    res = subprocess.run(
        [sys.executable, "-c", code, str(WORKSPACE_CUDA13), str(err)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode in (0, 10), res.stderr  # doctor 0 or 1 (this machine), explain 0 (recognised)
    assert "tomlkit" not in res.stderr and "internal error" not in res.stderr
