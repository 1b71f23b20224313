"""Families: the packages that must move together with one package, found from the lock's dependency graph.

The family of P: P itself; every package that depends on P directly (unsloth, peft, torchvision, vllm ...);
every package that depends on P transitively and is compiled (ships platform wheels) or carries CUDA
evidence (xformers through a dependent, flash-attn ...); and P's own compiled or CUDA-linked dependencies (for
torch: triton and the nvidia runtime wheels it pins). Pure-Python packages that reach P only through others are not
in it: they do not need to move when P moves - except, for torch, the packages whose compatibility follows torch's
version although their metadata does not say so (transformers, trl, peft, accelerate, torchao, vLLM's stack ...:
tables/data/hidden.toml [[follows-torch]], each with its reason), when the member installs them.
"""

from __future__ import annotations

from lockgen.model.cudadetect import RUNTIME_PACKAGES, is_cuda_linked, own_evidence
from lockgen.model.lockfile import LockedPackage, normalize


def is_compiled(pkg: LockedPackage) -> bool:
    """Whether the package ships platform-specific wheels (a compiled extension), judged from wheel names."""
    for w in pkg.wheels:
        name = w.location.rsplit("/", 1)[-1]
        if name.endswith(".whl") and not name[: -len(".whl")].endswith("-any"):
            return True
    return False


def family_of(package: str, installed: dict[str, LockedPackage]) -> set[str]:
    """The family of `package` among `installed` (one member's projection); empty when it is not installed."""
    root = normalize(package)
    if root not in installed:
        return set()
    dependents: dict[str, set[str]] = {}
    for pkg in installed.values():
        for dep in pkg.dependencies:
            if dep.name in installed:
                dependents.setdefault(dep.name, set()).add(pkg.name)
    out = {root}
    out |= {d for d in dependents.get(root, ()) if not installed[d].is_workspace}
    seen = {root}
    stack = [root]
    while stack:
        for parent in dependents.get(stack.pop(), ()):
            p = installed[parent]
            if parent in seen or p.is_workspace:
                continue
            seen.add(parent)
            stack.append(parent)
            if is_compiled(p) or own_evidence(p):
                out.add(parent)
    if root == "torch":
        from lockgen.tables.hidden import follows_torch

        out |= {n for n in follows_torch() if n in installed and not installed[n].is_workspace}
    for dep in installed[root].dependencies:
        target = installed.get(dep.name)
        if target is None:
            continue
        cuda_dep = dep.name in RUNTIME_PACKAGES or dep.name.startswith("nvidia-")
        if cuda_dep or is_compiled(target) or is_cuda_linked(target, installed):
            out.add(dep.name)
    return out
