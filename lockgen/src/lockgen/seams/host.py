"""The one seam for what the machine says: NVIDIA driver and GPUs, libcuda, nvcc, CUDA_HOME, the installed
distributions and torch's build.

`probe_host` does the I/O and returns a frozen `HostReport`; everything it touches comes in as an argument
(PATH, the filesystem root holding /proc/driver/nvidia, an NVML module object, the site-packages directories,
the environment, the libcuda loader, the subprocess runner), so tests run it against fakes. Driver and GPU
sources, in order: NVML through nvidia-ml-py (`pynvml`) when importable, then `nvidia-smi --query-gpu=...`,
then /proc/driver/nvidia. Torch is read from its installed files (torch/version.py) and imported only with
`deep=True`, in a subprocess of the inspected environment's interpreter.

Only the standard library and lockgen.tables.versions are imported here: `python3 -m lockgen doctor` must run on a
bare GPU machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lockgen.tables.versions import DriverVersion

PROC_VERSION = "proc/driver/nvidia/version"
PROC_GPUS = "proc/driver/nvidia/gpus"
# Where the user-space driver (libcuda.so.1) usually lives: NixOS, Debian/Ubuntu, RHEL, NVIDIA containers.
DRIVER_LIB_DIRS = (
    "run/opengl-driver/lib",
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/local/nvidia/lib64",
    "usr/lib/wsl/lib",
)
SMI_QUERY = ("--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader")
SMI_QUERY_OLD = ("--query-gpu=name,driver_version", "--format=csv,noheader")  # drivers before compute_cap existed
TIMEOUT_S = 10.0
DEEP_TIMEOUT_S = 180.0
AUTO: Any = object()  # "find it yourself" for the injectable arguments

_DRIVER_IN_TEXT = re.compile(r"\b(\d{3}\.\d{1,3}(?:\.\d{1,3})?)\b")
_NVCC_RELEASE = re.compile(r"release (\d+\.\d+)")


@dataclass(frozen=True)
class HostGpu:
    """One GPU as the driver reports it. `cc` is None when the source gives no compute capability (/proc)."""

    index: int
    name: str
    cc: str | None


@dataclass(frozen=True)
class LibCuda:
    """Whether the dynamic loader finds the user-space driver, and what it says."""

    loadable: bool
    path: str | None = None
    error: str | None = None
    driver_cuda: str | None = None  # cuDriverGetVersion: the newest CUDA the driver runs, e.g. "13.0"
    found_in: tuple[str, ...] = ()  # copies of libcuda.so.1 in the usual directories (the loader may not see them)


@dataclass(frozen=True)
class Nvcc:
    """A CUDA compiler and the CUDA release it belongs to."""

    path: str
    cuda: str | None
    via: str  # "PATH" or "CUDA_HOME"


@dataclass(frozen=True)
class TorchBuild:
    """The installed torch, read from torch/version.py (no import). `arch_list` only with deep probing."""

    version: str
    cuda: str | None  # torch.version.cuda; None for a CPU build
    path: str
    arch_list: tuple[str, ...] | None = None  # torch.cuda.get_arch_list(), e.g. ("sm_75", ..., "compute_120")


@dataclass(frozen=True)
class DeepReport:
    """What importing torch in the inspected environment said (`--deep`)."""

    ok: bool
    cuda_available: bool | None = None
    device_count: int | None = None
    devices: tuple[tuple[str, str], ...] = ()  # (name, "9.0")
    arch_list: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()  # warnings and errors torch raised (CUDA initialization: ...)


@dataclass(frozen=True)
class HostReport:
    """Everything lockgen knows about this machine and the inspected Python environment."""

    driver: DriverVersion | None
    gpus: tuple[HostGpu, ...]
    gpu_source: str  # "nvml" | "nvidia-smi" | "/proc/driver/nvidia" | "none"
    libcuda: LibCuda
    nvcc: Nvcc | None
    cuda_home: str | None
    environment: str  # what was inspected: a venv, or "this interpreter's sys.path"
    python: str | None  # the inspected environment's Python (major.minor) when known
    distributions: Mapping[str, str] = field(default_factory=dict)  # normalized name -> version
    torch: TorchBuild | None = None
    deep: DeepReport | None = None
    notes: tuple[str, ...] = ()  # what each source said when it gave nothing

    @property
    def has_gpu(self) -> bool:
        """True when some source reported at least one GPU."""
        return bool(self.gpus)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "driver": str(self.driver) if self.driver else None,
            "gpus": [{"index": g.index, "name": g.name, "cc": g.cc} for g in self.gpus],
            "gpu_source": self.gpu_source,
            "libcuda": {
                "loadable": self.libcuda.loadable,
                "path": self.libcuda.path,
                "error": self.libcuda.error,
                "driver_cuda": self.libcuda.driver_cuda,
                "found_in": list(self.libcuda.found_in),
            },
            "nvcc": {"path": self.nvcc.path, "cuda": self.nvcc.cuda, "via": self.nvcc.via} if self.nvcc else None,
            "cuda_home": self.cuda_home,
            "environment": self.environment,
            "python": self.python,
            "distributions": len(self.distributions),
            "torch": {
                "version": self.torch.version,
                "cuda": self.torch.cuda,
                "arch_list": list(self.torch.arch_list) if self.torch.arch_list is not None else None,
            }
            if self.torch
            else None,
            "deep": None
            if self.deep is None
            else {
                "ok": self.deep.ok,
                "cuda_available": self.deep.cuda_available,
                "device_count": self.deep.device_count,
                "devices": [list(d) for d in self.deep.devices],
                "arch_list": list(self.deep.arch_list),
                "messages": list(self.deep.messages),
            },
            "notes": list(self.notes),
        }


Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    # errors="replace": a tool printing bytes that are not text (a broken driver install) is read, not a crash
    return subprocess.run(list(argv), capture_output=True, text=True, errors="replace", timeout=timeout, check=False)


# ---- driver and GPUs -------------------------------------------------------------------------------------------


def parse_proc_version(text: str) -> DriverVersion | None:
    """The driver version in /proc/driver/nvidia/version.

    The line reads "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  ..." (open modules: "... Open Kernel
    Module for x86_64  580.65.06 ...").
    """
    for line in text.splitlines():
        if line.startswith("NVRM version"):
            m = _DRIVER_IN_TEXT.search(line.split(":", 1)[-1])
            if m:
                return DriverVersion.parse(m.group(1))
    return None


def driver_version(proc_root: Path = Path("/")) -> DriverVersion | None:
    """The loaded NVIDIA kernel driver's version from /proc/driver/nvidia/version; None without a driver."""
    try:
        text = (proc_root / PROC_VERSION).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse_proc_version(text)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _cuda_from_int(v: int) -> str | None:
    """CUDA's integer encoding (12040 -> "12.4"); None for 0 or nonsense."""
    if not isinstance(v, int) or v <= 0:
        return None
    return f"{v // 1000}.{(v % 1000) // 10}"


def probe_nvml(nvml: Any) -> tuple[DriverVersion | None, tuple[HostGpu, ...], str | None]:
    """Driver, GPUs and the driver's CUDA from an NVML module (pynvml); raises whatever NVML raises."""
    nvml.nvmlInit()
    try:
        driver = DriverVersion.parse(_text(nvml.nvmlSystemGetDriverVersion()))
        gpus = []
        for i in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = _text(nvml.nvmlDeviceGetName(handle))
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                cc: str | None = f"{int(major)}.{int(minor)}"
            except Exception:  # old NVML without the call
                cc = None
            gpus.append(HostGpu(i, name, cc))
        try:
            cuda = _cuda_from_int(int(nvml.nvmlSystemGetCudaDriverVersion()))
        except Exception:
            cuda = None
        return driver, tuple(gpus), cuda
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def parse_smi(stdout: str, with_cc: bool = True) -> tuple[DriverVersion | None, tuple[HostGpu, ...]]:
    """Parse `nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader` output."""
    gpus: list[HostGpu] = []
    driver: DriverVersion | None = None
    for line in stdout.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.rsplit(",", 2 if with_cc else 1)]
        if len(parts) != (3 if with_cc else 2):
            continue
        name = parts[0]
        cc = parts[1] if with_cc and re.fullmatch(r"\d+\.\d+", parts[1]) else None
        try:
            driver = DriverVersion.parse(parts[-1])
        except ValueError:
            continue
        gpus.append(HostGpu(len(gpus), name, cc))
    return driver, tuple(gpus)


def probe_smi(exe: str, run: Runner) -> tuple[DriverVersion | None, tuple[HostGpu, ...], str | None]:
    """Ask nvidia-smi; returns (driver, gpus, failure note)."""
    try:
        res = run([exe, *SMI_QUERY], TIMEOUT_S)
        with_cc = True
        if res.returncode != 0 and "compute_cap" in (res.stdout + res.stderr):
            res = run([exe, *SMI_QUERY_OLD], TIMEOUT_S)
            with_cc = False
    except (OSError, subprocess.SubprocessError) as e:
        return None, (), f"nvidia-smi: {e}"
    if res.returncode != 0:
        first = (res.stdout.strip() or res.stderr.strip() or f"exit code {res.returncode}").splitlines()[0]
        return None, (), f"nvidia-smi: {first}"
    driver, gpus = parse_smi(res.stdout, with_cc)
    if driver is None:
        return None, (), "nvidia-smi: no GPU listed"
    return driver, gpus, None


def proc_gpus(proc_root: Path) -> tuple[HostGpu, ...]:
    """GPU models from /proc/driver/nvidia/gpus/*/information ("Model: Tesla T4"); no compute capability there."""
    base = proc_root / PROC_GPUS
    try:
        dirs = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError:
        return ()
    out: list[HostGpu] = []
    for d in dirs:
        try:
            text = (d / "information").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        m = re.search(r"^Model:\s*(.+?)\s*$", text, re.M)
        if m:
            out.append(HostGpu(len(out), m.group(1), None))
    return tuple(out)


# ---- libcuda, nvcc ---------------------------------------------------------------------------------------------


def probe_libcuda(proc_root: Path = Path("/")) -> LibCuda:
    """Load libcuda.so.1 the way CUDA programs do (ctypes/dlopen) and ask it for the CUDA it supports."""
    import ctypes

    found = tuple(
        str(proc_root / d / "libcuda.so.1") for d in DRIVER_LIB_DIRS if (proc_root / d / "libcuda.so.1").exists()
    )
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        return LibCuda(False, None, str(e), None, found)
    cuda = None
    try:
        v = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
            cuda = _cuda_from_int(v.value)
    except (AttributeError, OSError):
        pass
    path = None
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            if "libcuda.so" in line:
                path = line.split()[-1]
                break
    except OSError:
        pass
    return LibCuda(True, path, None, cuda, found)


def nvcc_release(nvcc: Path, run: Runner) -> str | None:
    """The CUDA release of an nvcc: its toolkit's version.json when present, else `nvcc --version`."""
    for root in dict.fromkeys((nvcc.parent.parent, nvcc.resolve().parent.parent)):
        try:
            data = json.loads((root / "version.json").read_text())
            v = str(data["cuda"]["version"])
            return ".".join(v.split(".")[:2])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    try:
        res = run([str(nvcc), "--version"], TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    m = _NVCC_RELEASE.search(res.stdout)
    return m.group(1) if m else None


def probe_nvcc(path: str | None, environ: Mapping[str, str], run: Runner) -> tuple[Nvcc | None, str | None]:
    """The nvcc an extension build would use (torch.utils.cpp_extension: CUDA_HOME first, then PATH)."""
    cuda_home = environ.get("CUDA_HOME") or environ.get("CUDA_PATH") or None
    if cuda_home:
        candidate = Path(cuda_home) / "bin" / "nvcc"
        if candidate.is_file():
            return Nvcc(str(candidate), nvcc_release(candidate, run), "CUDA_HOME"), cuda_home
    found = shutil.which("nvcc", path=path)
    if found:
        return Nvcc(found, nvcc_release(Path(found), run), "PATH"), cuda_home
    return None, cuda_home


# ---- Python environment ----------------------------------------------------------------------------------------


def normalize(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(site_dirs: Sequence[Path]) -> dict[str, str]:
    """Installed distributions {normalized name: version}, read from *.dist-info / *.egg-info directory names
    (no metadata files opened, so it stays fast on environments with hundreds of packages). First one wins, as
    for imports."""
    out: dict[str, str] = {}
    for d in site_dirs:
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                stem = entry[: -len(".dist-info")]
            elif entry.endswith(".egg-info"):
                stem = re.sub(r"-py\d+(\.\d+)*$", "", entry[: -len(".egg-info")])
            else:
                continue
            if "-" not in stem:
                continue
            name, version = stem.split("-", 1)
            out.setdefault(normalize(name), version)
    return out


def parse_torch_version_py(text: str) -> tuple[str | None, str | None]:
    """(__version__, cuda) from the text of torch/version.py."""
    version = cuda = None
    m = re.search(r"^__version__\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if m:
        version = m.group(1)
    m = re.search(r"^cuda\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]*)['\"]|None)", text, re.M)
    if m and m.group(1):
        cuda = m.group(1)
    return version, cuda


def find_torch(site_dirs: Sequence[Path]) -> TorchBuild | None:
    """The first torch/version.py on the given directories."""
    for d in site_dirs:
        f = Path(d) / "torch" / "version.py"
        try:
            text = f.read_text(encoding="utf-8")
        except OSError:
            continue
        version, cuda = parse_torch_version_py(text)
        if version:
            return TorchBuild(version, cuda, str(f.parent))
    return None


def venv_site_packages(env: Path) -> list[Path]:
    """site-packages of a virtual environment directory (lib/pythonX.Y/site-packages), or `env` itself when it
    already is a site-packages directory."""
    if (env / "lib").is_dir():
        found = sorted((env / "lib").glob("python3*/site-packages")) + sorted(
            (env / "lib64").glob("python3*/site-packages")
        )
        if found:
            return found
    return [env]


def _python_of(site_dirs: Sequence[Path]) -> str | None:
    for d in site_dirs:
        m = re.search(r"python(\d+\.\d+)", str(d))
        if m:
            return m.group(1)
    return None


DEEP_SCRIPT = r"""
import os, sys
# `python -c` puts the current directory first on sys.path: a torch.py lying there must not stand in for torch
sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != os.path.realpath(os.getcwd())]
import json, warnings
out = {"ok": False, "messages": []}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import torch
        out["arch_list"] = list(torch.cuda.get_arch_list())
        out["cuda_available"] = bool(torch.cuda.is_available())
        n = torch.cuda.device_count() if out["cuda_available"] else 0
        out["device_count"] = n
        caps = [torch.cuda.get_device_capability(i) for i in range(n)]
        out["devices"] = [[torch.cuda.get_device_name(i), "%d.%d" % caps[i]] for i in range(n)]
        if n:
            torch.zeros(1, device="cuda").add_(1)
        out["ok"] = True
    except BaseException as e:
        out["messages"].append("%s: %s" % (type(e).__name__, e))
for w in caught:
    out["messages"].append(str(w.message))
print(json.dumps(out))
"""


def probe_deep(python: str, run: Runner) -> DeepReport:
    """Import torch in `python` (a subprocess) and ask it about CUDA."""
    try:
        res = run([python, "-c", DEEP_SCRIPT], DEEP_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as e:
        return DeepReport(False, messages=(f"could not run {python}: {e}",))
    line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    try:
        data = json.loads(line)
    except ValueError:
        tail = " | ".join(res.stderr.strip().splitlines()[-3:])
        return DeepReport(False, messages=(f"importing torch failed: {tail or 'no output'}",))
    return DeepReport(
        ok=bool(data.get("ok")),
        cuda_available=data.get("cuda_available"),
        device_count=data.get("device_count"),
        devices=tuple((str(n), str(c)) for n, c in data.get("devices", [])),
        arch_list=tuple(data.get("arch_list", [])),
        messages=tuple(str(m) for m in data.get("messages", [])),
    )


# ---- the seam --------------------------------------------------------------------------------------------------


def safe_sys_path(path: Sequence[str] | None = None, cwd: str | None = None) -> list[str]:
    """`sys.path` without the entries that mean "the current directory" ('' from `python -c`/the REPL, and the
    directory `python -m` prepends): code lying in the directory lockgen runs in (a project root, say) must not
    be imported in place of a library."""
    here = os.path.realpath(cwd or os.getcwd())
    out = []
    for p in sys.path if path is None else path:
        if p in ("", ".") or os.path.realpath(p) == here:
            continue
        out.append(p)
    return out


def _import_pynvml() -> Any:
    """The installed NVML binding (nvidia-ml-py), imported with `safe_sys_path` only: a `pynvml.py` in the current
    directory or project root is never executed. None when it is not installed or fails to import."""
    import importlib

    here = os.path.realpath(os.getcwd())
    loaded = sys.modules.get("pynvml")
    if loaded is not None:
        origin = os.path.realpath(getattr(loaded, "__file__", None) or "")
        if os.path.dirname(origin) != here:
            return loaded
        del sys.modules["pynvml"]  # someone imported the local one: do not reuse it
    saved = sys.path[:]
    sys.path[:] = safe_sys_path(saved)
    try:
        return importlib.import_module("pynvml")
    except Exception:  # not installed, or a broken install: fall back to nvidia-smi
        return None
    finally:
        sys.path[:] = saved


def probe_host(
    *,
    path: str | None = None,
    proc_root: Path = Path("/"),
    nvml: Any = AUTO,
    site_packages: Sequence[Path] | None = None,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    libcuda: Callable[[], LibCuda] | None = None,
    run: Runner = _run,
    deep: bool = False,
    python: str | None = None,
) -> HostReport:
    """Read the machine.

    path: PATH for nvidia-smi and nvcc (default: $PATH). proc_root: the filesystem root holding
    proc/driver/nvidia (default "/"). nvml: an NVML module object, None to skip NVML, AUTO to import pynvml.
    site_packages: the environment's directories (default: this interpreter's sys.path). environ: the
    environment variables (CUDA_HOME). libcuda: a probe for libcuda (default: dlopen it). run: the subprocess
    runner. deep: import torch with `python` (default: this interpreter).
    """
    environ = os.environ if environ is None else environ
    path = environ.get("PATH", os.defpath) if path is None else path
    notes: list[str] = []

    driver: DriverVersion | None = None
    gpus: tuple[HostGpu, ...] = ()
    source = "none"
    module = _import_pynvml() if nvml is AUTO else nvml
    if module is None:
        notes.append("NVML: nvidia-ml-py (pynvml) is not installed")
    else:
        try:
            driver, gpus, _ = probe_nvml(module)
            source = "nvml"
        except Exception as e:  # NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, ...
            notes.append(f"NVML: {e or type(e).__name__}")
    if source == "none":
        smi = shutil.which("nvidia-smi", path=path)
        if smi is None:
            notes.append("nvidia-smi: not on PATH")
        else:
            driver, gpus, note = probe_smi(smi, run)
            if note:
                notes.append(note)
            else:
                source = "nvidia-smi"
    if source == "none":
        driver = driver_version(proc_root)
        if driver is None:
            notes.append(f"/{PROC_VERSION}: missing (no NVIDIA kernel driver loaded)")
        else:
            gpus = proc_gpus(proc_root)
            source = "/proc/driver/nvidia"

    lib = libcuda() if libcuda is not None else probe_libcuda(proc_root)
    nvcc, cuda_home = probe_nvcc(path, environ, run)

    if site_packages is None:
        dirs = [Path(p) for p in sys.path if p and Path(p).is_dir()]
        where = environment or f"this interpreter ({sys.executable})"
        py = python or sys.executable
        pyver: str | None = f"{sys.version_info.major}.{sys.version_info.minor}"
    else:
        dirs = [Path(p) for p in site_packages]
        where = environment or ", ".join(map(str, dirs)) or "no site-packages directories"
        py = python or sys.executable
        pyver = _python_of(dirs)
    dists = distributions(dirs)
    torch = find_torch(dirs)
    deep_report = None
    if deep:
        deep_report = probe_deep(py, run)
        if torch is not None and deep_report.arch_list:
            torch = TorchBuild(torch.version, torch.cuda, torch.path, deep_report.arch_list)
    return HostReport(
        driver=driver,
        gpus=gpus,
        gpu_source=source,
        libcuda=lib,
        nvcc=nvcc,
        cuda_home=cuda_home,
        environment=where,
        python=pyver,
        distributions=MappingProxyType(dists),
        torch=torch,
        deep=deep_report,
        notes=tuple(notes),
    )
