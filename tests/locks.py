"""Hand-written small uv.lock documents for rule tests, built as plain mappings (the shape uv writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockgen.model.fleet import fleet_from_config
from lockgen.model.lockfile import parse_lock
from lockgen.model.workspace import PYPI, Member, Workspace
from lockgen.tables.knowledge import load_knowledge

PYPI_SRC = {"registry": PYPI}


def extra_of(member: str) -> str:
    """uv's conflict marker extra for a package-conflict item (written out by hand, as uv.lock shows it)."""
    return {"train": "project-5-train", "serve": "project-5-serve"}[member]


def wheel(name: str, version: str, hashed: bool = True) -> dict[str, Any]:
    w: dict[str, Any] = {"url": f"https://files.pythonhosted.org/packages/xx/{name}-{version}-py3-none-any.whl"}
    if hashed:
        w["hash"] = "sha256:" + "0" * 64
    return w


def pkg(
    name: str,
    version: str,
    deps: list[dict[str, Any]] | None = None,
    source: dict[str, str] | None = None,
    hashed: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "version": version,
        "source": source or PYPI_SRC,
        "wheels": [wheel(name, version, hashed)],
    }
    if deps:
        out["dependencies"] = deps
    out.update(extra)
    return out


def dep(name: str, member: str | None = None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, **kw}
    if member:
        d["marker"] = f"extra == '{extra_of(member)}'"
    return d


def runtime(cuda: str) -> dict[str, Any]:
    """The CUDA runtime wheel a torch build declares: cu12 naming for 12.x, unsuffixed for 13.x."""
    name = "nvidia-cuda-runtime-cu12" if cuda.startswith("12.") else "nvidia-cuda-runtime"
    return pkg(name, f"{cuda}.90")


def lock_doc(packages: list[dict[str, Any]], members: list[str]) -> dict[str, Any]:
    return {
        "version": 1,
        "revision": 3,
        "requires-python": "==3.12.*",
        "conflicts": [[{"package": m} for m in members]] if len(members) > 1 else [],
        "manifest": {"members": sorted(members)},
        "package": packages,
    }


def workspace(
    doc: dict[str, Any],
    requirements: dict[str, list[str]],
    driver: str = "580.65.06",
    gpus: tuple[str, ...] = ("T4", "L4", "A100", "H100"),
    indexes: tuple[str, ...] = (PYPI,),
) -> Workspace:
    k = load_knowledge()
    members = {
        m: Member(m, f"workspaces/{m}", f"workspaces/{m}/pyproject.toml", tuple(reqs))
        for m, reqs in requirements.items()
    }
    return Workspace(
        root=Path("/nonexistent"),
        pyproject={"tool": {"lockgen": {"driver": driver, "gpus": list(gpus)}}},
        fleet=fleet_from_config({"driver": driver, "gpus": list(gpus)}, k),
        knowledge=k,
        lock=parse_lock(doc),
        members=members,
        indexes=indexes,
        python_version="3.12",
    )


def member_pkg(member: str, deps: list[str]) -> dict[str, Any]:
    return {
        "name": member,
        "version": "0.1.0",
        "source": {"editable": f"workspaces/{member}"},
        "dependencies": [dep(d, member) for d in deps],
    }
