"""The fleet: the oldest NVIDIA driver and the GPUs the environments must run on ([tool.lockgen])."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from lockgen.errors import InputError
from lockgen.tables.knowledge import POLICIES, Knowledge, Policy
from lockgen.tables.versions import DriverVersion

DEFAULT_DRIVER = "580.65.06"
DEFAULT_GPUS = ("T4", "L4", "A100", "H100")
_CC_RE = re.compile(r"^[0-9]+\.[0-9]+$")
# A driver branch this far beyond the newest lockgen's tables know is a typo, not a driver (NVIDIA's branches
# have grown by about 40 a year: R535 in 2023, R580 in 2025).
BRANCH_SLACK = 100
_CUDA_LIKE_BRANCH = 100  # below this, "12.4" or "13" is a CUDA version, not a driver


@dataclass(frozen=True)
class FleetGpu:
    """One GPU of the fleet: what the user wrote and its compute capability."""

    label: str
    cc: str

    def __str__(self) -> str:
        return self.label if self.label == self.cc else f"{self.label} ({self.cc})"


@dataclass(frozen=True)
class Fleet:
    """The machines a lock must run on."""

    driver: DriverVersion
    gpus: tuple[FleetGpu, ...]
    policy: Policy = "toolkit"

    def describe(self) -> str:
        """One line: driver, GPUs, policy."""
        gpus = ", ".join(str(g) for g in self.gpus) or "no GPUs listed"
        return f"driver {self.driver}, GPUs {gpus}, policy {self.policy}"


def fleet_from_config(table: Mapping[str, Any], knowledge: Knowledge, file: str = "pyproject.toml") -> Fleet:
    """Read `[tool.lockgen]` (already parsed); raise InputError naming the file and key on bad values."""
    key = "tool.lockgen"
    raw_driver = table.get("driver", DEFAULT_DRIVER)
    if not isinstance(raw_driver, (str, int)) or isinstance(raw_driver, bool):
        raise InputError(
            file, f"{key}.driver", f'expected a driver version string like "580.65.06", got {raw_driver!r}'
        )
    driver = check_driver(str(raw_driver), knowledge, file, f"{key}.driver")
    raw_gpus = table.get("gpus", list(DEFAULT_GPUS))
    if not isinstance(raw_gpus, list) or not all(isinstance(g, str) for g in raw_gpus):
        raise InputError(
            file, f"{key}.gpus", 'expected a list of GPU names or compute capabilities, e.g. ["H100", "8.9"]'
        )
    if not raw_gpus:
        raise InputError(
            file,
            f"{key}.gpus",
            'lists no GPU: name the fleet\'s GPUs (e.g. ["H100", "L4"]), or leave `gpus` out for the default '
            f"({', '.join(DEFAULT_GPUS)})",
        )
    gpus = []
    for i, label in enumerate(raw_gpus):
        if _CC_RE.match(label.strip()):
            cc = label.strip()
            if cc not in knowledge.known_ccs:
                raise InputError(file, f"{key}.gpus[{i}]", f"unknown compute capability {label!r}")
            gpus.append(FleetGpu(cc, cc))
            continue
        gpu = knowledge.gpu(label)
        if gpu is None:
            hint = knowledge.suggest_gpu(label)
            more = f"; did you mean {hint!r}?" if hint else '; give its compute capability instead, e.g. "9.0"'
            raise InputError(file, f"{key}.gpus[{i}]", f"unknown GPU {label!r}{more}")
        gpus.append(FleetGpu(label, gpu.cc))
    policy = table.get("policy", "toolkit")
    if not isinstance(policy, str) or policy not in POLICIES:
        raise InputError(file, f"{key}.policy", f"expected one of {', '.join(POLICIES)}, got {policy!r}")
    return Fleet(driver=driver, gpus=tuple(gpus), policy=cast(Policy, policy))


def check_driver(text: str, knowledge: Knowledge, file: str, key: str) -> DriverVersion:
    """The fleet's driver from `text`; InputError naming file and key for anything that is not a plausible NVIDIA
    Linux driver: not a version, a CUDA version written by mistake ("12.4"), or a branch far beyond any lockgen
    knows ("999.99")."""
    try:
        driver = DriverVersion.parse(text)
    except ValueError as e:
        raise InputError(file, key, str(e)) from None
    if driver.branch < _CUDA_LIKE_BRANCH:
        needs = ""
        try:
            from lockgen.tables.versions import CudaVersion

            required = knowledge.required_driver(CudaVersion.parse(text))
            if required is not None:
                needs = f"; CUDA {CudaVersion.parse(text)} needs at least {required}"
        except ValueError:
            pass
        raise InputError(
            file,
            key,
            f"{text!r} looks like a CUDA version, not an NVIDIA driver version: write the oldest driver your machines "
            f'run, e.g. driver = "550.54.15" (`nvidia-smi` prints it){needs}',
        )
    newest = max((r.toolkit_driver.branch for r in knowledge.releases if r.toolkit_driver), default=None)
    if newest is not None and driver.branch > newest + BRANCH_SLACK:
        raise InputError(
            file,
            key,
            f"{text!r} is not an NVIDIA driver lockgen can place: the newest branch its tables know is R{newest} "
            f"(tables/data/cuda.toml); write the oldest driver your machines run, as `nvidia-smi` prints it",
        )
    return driver
