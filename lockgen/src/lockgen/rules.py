"""Rules: small independent checks over a Workspace value. Each returns every violation it finds; none prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from packaging.requirements import InvalidRequirement, Requirement

from lockgen.cudadetect import is_cuda_linked, member_cuda_from
from lockgen.lockfile import normalize
from lockgen.projection import PLATFORMS, environment
from lockgen.workspace import Member, Workspace


@dataclass(frozen=True)
class Violation:
    """One finding: which rule, which file (and package/member), what is wrong, and what to do."""

    rule: str
    file: str
    message: str
    fix: str
    package: str | None = None
    member: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """A plain dict for --json output."""
        return asdict(self)


Rule = Callable[[Workspace], list[Violation]]


def is_exact_pin(req: Requirement) -> bool:
    """`==X` with no wildcard (or `===X`), and nothing else."""
    specs = list(req.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version


def _applies(req: Requirement, ws: Workspace, member: str) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate(environment(ws.lock, m, member)) for m in PLATFORMS)


def _lockgen_members(ws: Workspace) -> list[Member]:
    """Members that are in the lock (the root virtual project is not a member here)."""
    return [m for m in ws.members.values() if ws.lock.by_name(m.name)]


def rule_strict_pins(ws: Workspace) -> list[Violation]:
    """(a) Every CUDA-linked direct dependency of each member is pinned with ==."""
    out: list[Violation] = []
    for member in _lockgen_members(ws):
        installed = ws.installed(member.name)
        for i, text in enumerate(member.requirements):
            key = f"project.dependencies[{i}]"
            try:
                req = Requirement(text)
            except InvalidRequirement as e:
                out.append(
                    Violation(
                        "strict-pin",
                        member.pyproject_file,
                        f"{key}: invalid requirement {text!r}: {e}",
                        "fix the requirement string",
                        None,
                        member.name,
                    )
                )
                continue
            name = normalize(req.name)
            if not _applies(req, ws, member.name) or name not in installed:
                continue
            pkg = installed[name]
            if is_cuda_linked(pkg, installed) and not is_exact_pin(req):
                out.append(
                    Violation(
                        "strict-pin",
                        member.pyproject_file,
                        f"{key}: {text!r} is not an exact pin, and {name} is CUDA-linked: a re-lock could move it "
                        "to a build for another CUDA",
                        f'pin it to what uv.lock resolved: "{name}=={pkg.version}" (or run `lockgen bump {name}`)',
                        name,
                        member.name,
                    )
                )
    return out


def rule_one_cuda(ws: Workspace) -> list[Violation]:
    """(b) Each member resolves to one CUDA version across its CUDA-linked packages."""
    out: list[Violation] = []
    for member in _lockgen_members(ws):
        mc = member_cuda_from(member.name, ws.installed(member.name))
        if mc.consistent:
            continue
        ev = "; ".join(str(e) for e in mc.evidence)
        out.append(
            Violation(
                "one-cuda",
                "uv.lock",
                f"member {member.name} mixes CUDA builds: {ev}",
                "pin the CUDA-linked packages of this member to builds of one CUDA version "
                f"(`lockgen bump torch --member {member.name}` re-resolves the torch family together)",
                None,
                member.name,
            )
        )
    return out


def rule_cuda_window(ws: Workspace) -> list[Violation]:
    """(c) Each member's CUDA lies inside the fleet's window; otherwise name the driver or GPU that excludes it."""
    out: list[Violation] = []
    window = ws.window
    for member in _lockgen_members(ws):
        mc = member_cuda_from(member.name, ws.installed(member.name))
        problems: list[str] = []
        for v in mc.versions:
            why = window.why_excluded(v)
            if why:
                problems.append(why)
        full_majors = {v.major for v in mc.versions}
        for major in set(mc.majors) - full_majors:
            if not any(v.major == major for v in window.allowed):
                problems.append(f"CUDA {major}.x is outside the window {window}")
        if problems:
            newest = window.newest
            target = f"CUDA <= {newest}" if newest else "a CUDA the fleet supports"
            out.append(
                Violation(
                    "cuda-window",
                    "uv.lock",
                    f"member {member.name} is locked to CUDA {', '.join(map(str, mc.versions)) or mc.majors} "
                    f"(torch {mc.torch}), outside the fleet's window {window}: {'; '.join(problems)}",
                    f"re-lock inside the window with `lockgen lock` ({target}), or change the fleet in "
                    "pyproject.toml [tool.lockgen] (raise `driver`, or drop the GPU named above from `gpus`)",
                    "torch" if mc.torch else None,
                    member.name,
                )
            )
    return out


def rule_hashes_and_indexes(ws: Workspace) -> list[Violation]:
    """(d) Every locked artifact has a hash and comes from PyPI or an index the pyprojects declare."""
    out: list[Violation] = []
    allowed = {u.rstrip("/") for u in ws.indexes}
    for pkg in ws.lock.packages:
        if pkg.is_workspace:
            continue
        if pkg.source.kind == "registry":
            if pkg.source.value.rstrip("/") not in allowed:
                out.append(
                    Violation(
                        "index",
                        "uv.lock",
                        f"{pkg.name} {pkg.version} comes from {pkg.source.value}, which no pyproject declares",
                        "declare that index in [[tool.uv.index]] (explicit = true, routed with [tool.uv.sources]) or "
                        "re-lock against PyPI with `uv lock`",
                        pkg.name,
                    )
                )
        else:
            out.append(
                Violation(
                    "index",
                    "uv.lock",
                    f"{pkg.name} {pkg.version} comes from a {pkg.source.kind} source ({pkg.source.value}), "
                    "not an index",
                    "publish it to an index the workspace declares, or depend on a release from PyPI",
                    pkg.name,
                )
            )
        missing = [a.location for a in (*pkg.wheels, *([pkg.sdist] if pkg.sdist else [])) if not a.hash]
        if missing:
            out.append(
                Violation(
                    "hash",
                    "uv.lock",
                    f"{pkg.name} {pkg.version}: {len(missing)} artifact(s) without a hash, e.g. {missing[0]}",
                    "re-lock with `uv lock` from an index that serves hashes",
                    pkg.name,
                )
            )
    return out


RULES: tuple[Rule, ...] = (rule_strict_pins, rule_one_cuda, rule_cuda_window, rule_hashes_and_indexes)


def run_rules(ws: Workspace, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    """Run every rule and return all violations, in rule order."""
    out: list[Violation] = []
    for rule in rules:
        out.extend(rule(ws))
    return out


def lock_fresh_violations(returncode: int, stderr: str) -> list[Violation] | None:
    """(e) Interpret `uv lock --check`: [] when fresh, a violation when stale, None when uv failed otherwise."""
    if returncode == 0:
        return []
    text = stderr.lower()
    if "needs to be updated" in text or "lockfile" in text and "out of date" in text:
        return [
            Violation(
                "lock-fresh",
                "uv.lock",
                "uv.lock does not match the pyprojects (`uv lock --check` failed): " + _last_line(stderr),
                "run `lockgen lock` (or `uv lock`) and commit uv.lock",
            )
        ]
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
