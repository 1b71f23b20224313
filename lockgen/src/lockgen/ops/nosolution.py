"""When uv finds no solution: say why in the user's terms (which pin, which part of the fleet) and the ways out.

Pure: uv's message and what lockgen asked for come in; a text goes out, with uv's own message below it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lockgen.model.window import Window
from lockgen.model.workspace import Workspace
from lockgen.plan.constraints import RUNTIME_GENERATIONS
from lockgen.tables.knowledge import Knowledge
from lockgen.tables.versions import CudaVersion


@dataclass(frozen=True)
class Attempt:
    """What lockgen asked uv for: the managed constraints, the pins written per member file, the request."""

    window: Window
    constraints: tuple[str, ...]
    pins: Mapping[str, Mapping[str, str]]  # pyproject file -> name -> specifier
    package: str | None = None
    to: str | None = None


def _cause_lines(uv_message: str) -> list[str]:
    return [ln.strip() for ln in uv_message.splitlines() if ln.strip()]


def explain_failure(uv_message: str, attempt: Attempt, knowledge: Knowledge) -> str:
    """A paragraph naming the pin or fleet property that makes the request impossible, and the ways out."""
    text = uv_message
    low = text.lower()
    reasons: list[str] = []
    ways: list[str] = []
    window = attempt.window
    fleet = window.fleet
    # 1. a version that does not exist
    if attempt.package and attempt.to:
        pat = re.escape(attempt.package) + r"\s*==\s*" + re.escape(attempt.to)
        if re.search(r"no (?:version|versions) of " + pat, text, re.I) or re.search(
            r"only [^\n]*?(?:is|are) available and [^\n]*?" + pat, text, re.I
        ):
            avail = re.search(
                r"only " + re.escape(attempt.package) + r"([<>=!~][^ ]+) (?:is|are) available", text, re.I
            )
            more = f" (the indexes offer only {attempt.package}{avail.group(1)})" if avail else ""
            reasons.append(f"{attempt.package} {attempt.to} is not published on the indexes this workspace uses{more}")
            ways.append(f"pick a version that exists: `lockgen bump {attempt.package}` (newest the fleet allows)")
    # 2. the fleet: a runtime cap lockgen wrote
    caps = [c for c in attempt.constraints if any(c.startswith(g.name) for g in RUNTIME_GENERATIONS)]
    hit = [c for c in caps if _mentions_runtime(text, c)]
    needed = _cuda_in_message(text)
    if hit or ("nvidia-cuda-runtime" in low or "cuda-toolkit" in low):
        target = needed if needed is not None and not window.allows(needed) else _next_cuda(window, knowledge)
        drv = knowledge.required_driver(target, fleet.policy) if target is not None else None
        gpu_limits = sorted({e.detail for e in window.excluded if e.reason == "gpu"})
        reasons.append(
            f"the fleet ({fleet.describe()}) allows CUDA {window} only, and what was asked needs a build for "
            + (f"CUDA {needed}" if needed is not None and not window.allows(needed) else "a newer CUDA")
            + f" (uv met lockgen's fleet cap{'s' if len(hit) != 1 else ''} {', '.join(hit or caps)})"
        )
        if drv:
            ways.append(
                f"raise the fleet's driver in pyproject.toml [tool.lockgen] `driver` to >= {drv} "
                "(and upgrade the machines' drivers)"
            )
        if gpu_limits:
            ways.append("drop the GPU that bounds the window from [tool.lockgen] `gpus`: " + "; ".join(gpu_limits))
        ways.append("add a CUDA index PyPI lacks (e.g. PyTorch's cuXYZ builds) in [tool.lockgen] `cuda-index`")
    # 3. a strict pin written in a member pyproject
    for file, pins in attempt.pins.items():
        for name, spec in pins.items():
            if spec.startswith("==") and re.search(re.escape(name) + r"\s*" + re.escape(spec) + r"(?![\d.])", text):
                if attempt.package and name == attempt.package and spec == f"=={attempt.to}":
                    continue
                reasons.append(f"the pin {name}{spec} in {file} conflicts with the request")
                ways.append(f"move it with the request: `lockgen bump {name}` (or relax it in {file})")
    # 4. an excluded build
    for c in attempt.constraints:
        if "!=" in c and c.split("!=")[0] in text:
            reasons.append(f"lockgen excluded builds of {c.split('!=')[0]} whose CUDA disagrees with torch ({c})")
    if not reasons:
        reasons.append("uv found no set of versions that satisfies every pin and the fleet's constraints")
        ways.append("bump something else first, or loosen a pin in a member pyproject; uv's explanation is below")
    ways = list(dict.fromkeys(ways))
    out = ["no solution: " + "; ".join(dict.fromkeys(reasons)) + "."]
    if ways:
        out.append("ways out:")
        out.extend(f"  - {w}" for w in ways)
    out.append("uv said:")
    out.extend(f"  {ln}" for ln in _cause_lines(text)[-25:])
    return "\n".join(out)


def _cuda_in_message(text: str) -> CudaVersion | None:
    """The newest CUDA runtime a package in uv's message pins (`cuda-toolkit[cudart]==13.0.2` -> 13.0)."""
    found = re.findall(r"(?:nvidia-cuda-runtime(?:-cu1\d)?|cuda-toolkit)(?:\[[^\]]*\])?==(\d+)\.(\d+)", text)
    versions = [CudaVersion(int(a), int(b)) for a, b in found]
    return max(versions) if versions else None


def _mentions_runtime(text: str, constraint: str) -> bool:
    name = re.match(r"[A-Za-z0-9_.-]+", constraint)
    if name is None:
        return False
    return re.search(re.escape(name.group(0)) + r"(?![\w-])", text) is not None


def _next_cuda(window: Window, knowledge: Knowledge) -> CudaVersion | None:
    newer = [r.version for r in knowledge.releases if window.newest is None or r.version > window.newest]
    known = [v for v in newer if knowledge.required_driver(v, window.fleet.policy) is not None]
    return known[0] if known else window.newest


def summarize_pins(pins: Mapping[str, Mapping[str, str]]) -> Sequence[str]:
    """Lines `file: name==v` for messages."""
    return [f"{f}: {n}{s}" for f, ps in pins.items() for n, s in ps.items()]


def explain_uv_failure(failure: object, uv_message: str) -> str:
    """A uv failure that is not "no solution" (lockgen.seams.uvtool.UvFailure): what failed and what helps, then uv's
    own words once."""
    kind = getattr(failure, "kind", "other")
    summary = getattr(failure, "summary", "")
    ways = {
        "network": [
            "check the connection to that host (a proxy, a VPN, a firewall)",
            "retry; or use a mirror (`UV_INDEX_URL`/`[[tool.uv.index]]`) or `--offline` with a warm uv cache",
        ],
        "offline": ["run once with the network available so uv's cache holds the packages"],
        "build": [
            "uv builds a package's metadata when no wheel carries it: install its build dependencies, or declare "
            "them (`[tool.uv] extra-build-dependencies`), or pin a version that ships a wheel",
        ],
    }.get(kind, ["read uv's message below; `uv lock -v` shows more"])
    title = {
        "network": "uv could not reach the network",
        "offline": "uv's cache cannot answer offline",
        "build": "a package failed to build",
    }.get(kind, "uv failed")
    out = [f"{title}: {summary}.", "ways out:", *(f"  - {w}" for w in ways), "uv said:"]
    out.extend(f"  {ln}" for ln in _cause_lines(uv_message)[-25:])
    return "\n".join(out)


def floor_conflicts(ws: Workspace) -> list[str]:
    """A member's own floor (`[tool.lockgen] ranges`, what its code needs) that the fleet excludes, in the user's
    terms: "serve needs vllm>=0.8.5.post1 ..., which is a CUDA 12.4 build: driver 535 cannot run serve"."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from lockgen.plan import steering
    from lockgen.seams.elfscan import lookup_build
    from lockgen.tables.versions import CudaVersion

    pre = steering.pre_exclude(ws)
    out = []
    for name, member in ws.members.items():
        ranges = member.data.get("tool", {}).get("lockgen", {}).get("ranges", {})
        for pkg, spec in sorted(ranges.items()):
            floor = next((s.version for s in SpecifierSet(spec) if s.operator in (">=", "==")), None)
            if floor is None:
                continue
            caps = [(c, r) for n, c, r in pre if n == pkg]
            cap = next(
                ((c, r) for c, r in caps if not Requirement(c).specifier.contains(Version(floor), prereleases=True)),
                None,
            )
            if cap is None:
                continue
            constraint, reason = cap
            row = lookup_build(pkg, floor)
            need = None
            if row is not None and row.cuda:
                need = ws.knowledge.required_driver(CudaVersion.parse(row.cuda), ws.fleet.policy)
            built = f", which is a CUDA {row.cuda} build" if row is not None and row.cuda else ""
            driver = f" (it needs driver >= {need})" if need else ""
            out.append(
                f"{name} needs {pkg}{spec} ({member.pyproject_file} [tool.lockgen] ranges: what its own code "
                f"needs){built}{driver}: the fleet's driver {ws.fleet.driver} cannot run {name} - lockgen allows only "
                f"{constraint} ({reason})"
            )
    return out
