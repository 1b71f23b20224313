"""`lockgen toolchain guard`: does the host driver run a member's CUDA? Plain words for the Nix shell's entry."""

from __future__ import annotations

from dataclasses import dataclass

from lockgen.tables.knowledge import Knowledge
from lockgen.tables.versions import CudaVersion, DriverVersion

# ---- the driver guard: does the host driver run a member's CUDA? ----


@dataclass(frozen=True)
class GuardVerdict:
    """The answer of `lockgen toolchain guard`: ok (exit 0) or not (exit 1), and what to tell the user."""

    ok: bool
    level: str  # "ok", "too-old", "minor-compat", "no-driver", "unknown"
    message: str
    required: DriverVersion | None = None


def guard_verdict(
    member: str, cuda: CudaVersion, driver: DriverVersion | None, knowledge: Knowledge, policy: str = "toolkit"
) -> GuardVerdict:
    """Compare a host driver with what `cuda` needs under `policy`; plain words for the shell's entry message.

    ok when the driver meets the policy's minimum: the toolkit driver of that CUDA ("toolkit"), or the
    minor-version-compatibility floor of its major family ("minor").
    """
    who = f"{member}'s CUDA {cuda}"
    if driver is None:
        return GuardVerdict(
            False,
            "no-driver",
            f"no NVIDIA driver found on this host: `uv sync` works, but torch in {member} will see no GPU (CPU only)",
        )
    toolkit = knowledge.required_driver(cuda, "toolkit")
    floor = knowledge.required_driver(cuda, "minor")
    if toolkit is None and floor is None:
        return GuardVerdict(
            True,
            "unknown",
            f"lockgen's tables do not know the minimum driver for CUDA {cuda}; host driver {driver} "
            f"was not checked against {member}'s needs",
        )
    if knowledge.driver_runs(driver, cuda, "toolkit"):
        return GuardVerdict(True, "ok", f"host driver {driver} runs {who} (needs >= {toolkit})", toolkit)
    if knowledge.driver_runs(driver, cuda, "minor"):
        ok = policy == "minor"
        own = f"CUDA {cuda}'s own driver is {toolkit}" if toolkit else f"CUDA {cuda}'s own driver is unknown"
        tail = (
            ""
            if ok
            else (
                f'. The fleet policy is "toolkit", which asks for >= {toolkit or "(unknown)"}: upgrade '
                'the driver, or set [tool.lockgen] policy = "minor" if that limit is acceptable'
            )
        )
        return GuardVerdict(
            ok,
            "minor-compat",
            f"host driver {driver} runs {who} only through minor-version compatibility ({own}; CUDA {cuda.major}.x "
            f"needs >= {floor}): code that JIT-compiles newer PTX fails with CUDA_ERROR_UNSUPPORTED_PTX_VERSION{tail}",
            floor if ok else toolkit,
        )
    required = floor if (policy == "minor" and floor is not None) or toolkit is None else toolkit
    best = knowledge.max_cuda_for_driver(driver, "minor" if policy == "minor" else "toolkit")
    runs = f"this driver runs CUDA <= {best}" if best else "lockgen knows no CUDA this driver runs"
    return GuardVerdict(
        False,
        "too-old",
        f"host NVIDIA driver {driver} is too old for {who}, which needs driver >= {required}. torch will fail with "
        f'"CUDA driver version is insufficient" ({runs}). Fix: upgrade the host driver to >= {required}, or lock '
        f'for this driver: set [tool.lockgen] driver = "{driver}" in pyproject.toml and run `lockgen lock`',
        required,
    )
