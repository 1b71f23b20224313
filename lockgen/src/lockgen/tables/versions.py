"""Small version values: CUDA versions (major.minor) and NVIDIA driver versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

# ASCII digits only: `\d` would take "٥٨٠" (Arabic-Indic digits), which int() then reads as 580.
_CUDA_RE = re.compile(r"^(?:cu(?P<packed>[0-9]{3,4})|(?P<major>[0-9]+)\.(?P<minor>[0-9]+)(?:\.[0-9]+)*)$")
_DRIVER_RE = re.compile(r"^[0-9]{1,4}(?:\.[0-9]{1,4}){0,2}$")


@dataclass(frozen=True, order=True)
class CudaVersion:
    """A CUDA toolkit version reduced to what compatibility depends on: major.minor."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> CudaVersion:
        """Parse "12.8", "12.8.90" (a runtime wheel's version) or "cu128" (a local version label)."""
        m = _CUDA_RE.fullmatch(str(text).strip())
        if not m:
            raise ValueError(f"not a CUDA version: {text!r}")
        if m.group("packed"):
            packed = m.group("packed")
            return cls(int(packed[:-1]), int(packed[-1]))
        return cls(int(m.group("major")), int(m.group("minor")))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def label(self) -> str:
        """The local-version label PyTorch's indexes use: 12.8 -> "cu128"."""
        return f"cu{self.major}{self.minor}"


@total_ordering
@dataclass(frozen=True)
class DriverVersion:
    """An NVIDIA Linux driver version such as 580.65.06, or a bare branch such as 570.

    A bare branch stands for "some driver of that branch": it satisfies a requirement when its
    branch is at least the required driver's branch. A full version compares component-wise.
    """

    parts: tuple[int, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> DriverVersion:
        """Parse "580.65.06", "570.26" or "570"; raise ValueError for anything else."""
        t = str(text).strip()
        if not _DRIVER_RE.fullmatch(t):
            raise ValueError(f"not an NVIDIA driver version: {text!r} (expected e.g. 580.65.06 or 570)")
        return cls(tuple(int(p) for p in t.split(".")), t)

    @property
    def branch(self) -> int:
        """The driver branch (R580 -> 580)."""
        return self.parts[0]

    @property
    def is_branch(self) -> bool:
        """True for a bare branch such as "570"."""
        return len(self.parts) == 1

    def satisfies(self, required: DriverVersion) -> bool:
        """Whether a host with this driver meets a minimum of `required`."""
        if self.is_branch or required.is_branch:
            return self.branch >= required.branch
        return self.parts >= required.parts

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.parts < other.parts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __str__(self) -> str:
        return self.text


def parse_cc(text: str) -> tuple[int, int]:
    """Parse a compute capability such as "9.0" into (9, 0)."""
    m = re.fullmatch(r"([0-9]+)\.([0-9]+)", str(text).strip())
    if not m:
        raise ValueError(f"not a compute capability: {text!r}")
    return int(m.group(1)), int(m.group(2))
