"""Editing pyproject.toml text with tomlkit: comments and layout survive, only the named keys change.

Every function is pure: TOML text in, TOML text out. lockgen owns some entries of the user's tables and
records which in `[tool.lockgen]` (`managed-constraints`, `managed-sources`; in a member, `managed-requirements`),
so it never touches the user's own entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tomlkit
from packaging.requirements import Requirement
from tomlkit.items import Array

from lockgen.model.lockfile import normalize


def _table(parent: Any, key: str) -> Any:
    if key not in parent:
        parent[key] = tomlkit.table()
    return parent[key]


def keep_indexes(uv: Any, keep: Sequence[Any]) -> None:
    """Set `[[tool.uv.index]]` of the `uv` table to `keep` (the index tables that stay), or remove it when none do."""
    if keep:
        aot = tomlkit.aot()
        for table in keep:
            aot.append(table)
        uv["index"] = aot
    else:
        del uv["index"]


def _array(items: Iterable[str]) -> Array:
    arr = tomlkit.array()
    arr.multiline(True)
    for it in items:
        arr.append(it)
    return arr


def set_managed_constraints(text: str, entries: Iterable[str]) -> str:
    """Replace lockgen's own entries of `[tool.uv] constraint-dependencies` with `entries`; keep the user's."""
    doc = tomlkit.parse(text)
    tool = _table(doc, "tool")
    uv = _table(tool, "uv")
    lg = _table(tool, "lockgen")
    old_owned = set(lg.get("managed-constraints", []))
    user = [str(c) for c in uv.get("constraint-dependencies", []) if str(c) not in old_owned]
    new = list(dict.fromkeys(entries))
    if user or new:
        uv["constraint-dependencies"] = _array(user + [e for e in new if e not in user])
    elif "constraint-dependencies" in uv:
        del uv["constraint-dependencies"]
    if new:
        lg["managed-constraints"] = _array(new)
    elif "managed-constraints" in lg:
        del lg["managed-constraints"]
    return tomlkit.dumps(doc)


def managed_constraints(data: Mapping[str, Any]) -> tuple[str, ...]:
    """lockgen's own constraint entries, from a parsed root pyproject."""
    return tuple(data.get("tool", {}).get("lockgen", {}).get("managed-constraints", ()))


def managed_requirements(data: Mapping[str, Any]) -> tuple[str, ...]:
    """lockgen's own entries of a member's `[project] dependencies` (exclusions scoped to that member), from its
    parsed pyproject; they are not the user's requirements (`requirement_names` and `set_requirements` skip them)."""
    tool = data.get("tool", {})
    lg = tool.get("lockgen", {}) if isinstance(tool, Mapping) else {}
    return tuple(lg.get("managed-requirements", ())) if isinstance(lg, Mapping) else ()


def set_managed_requirements(text: str, entries: Iterable[str]) -> str:
    """Replace lockgen's own entries of a member's `[project] dependencies` with `entries` (recorded in
    `[tool.lockgen] managed-requirements`); the user's entries and the text around them stay as they are."""
    new = list(dict.fromkeys(entries))
    doc = tomlkit.parse(text)
    project = doc.get("project")
    if project is None:
        return text
    tool = doc.get("tool")
    lg = tool.get("lockgen") if tool is not None else None
    old = [str(e) for e in lg.get("managed-requirements", [])] if lg is not None else []
    deps = project.get("dependencies")
    present = [str(d) for d in deps] if deps is not None else []
    if old == new and all(e in present for e in new):
        return text  # nothing to change: the text stays byte for byte
    if deps is None:
        project["dependencies"] = deps = _array([])
    owned = set(old)
    for i in reversed(range(len(deps))):
        if str(deps[i]) in owned:
            del deps[i]
    user = {str(d) for d in deps}
    for e in new:
        if e not in user:
            deps.append(e)
    lg = _table(_table(doc, "tool"), "lockgen")
    if new:
        lg["managed-requirements"] = _array(new)
    elif "managed-requirements" in lg:
        del lg["managed-requirements"]
    return tomlkit.dumps(doc)


def set_exclude_newer(text: str, stamp: str) -> str:
    """Set `[tool.uv] exclude-newer` (an RFC 3339 timestamp) so re-locks are reproducible."""
    doc = tomlkit.parse(text)
    uv = _table(_table(doc, "tool"), "uv")
    uv["exclude-newer"] = stamp
    return tomlkit.dumps(doc)


def set_cuda_index(text: str, name: str | None, url: str | None, packages: Iterable[str]) -> str:
    """Declare (or, with name None, remove) lockgen's explicit CUDA index and route `packages` to it.

    The index is an explicit `[[tool.uv.index]]` (only routed packages use it); the routing entries in
    `[tool.uv.sources]` are recorded in `[tool.lockgen] managed-sources` so the user's own sources survive.
    """
    doc = tomlkit.parse(text)
    tool = _table(doc, "tool")
    uv = _table(tool, "uv")
    lg = _table(tool, "lockgen")
    indexes = uv.get("index")
    if indexes is not None:
        keep_indexes(uv, [ix for ix in indexes if not str(ix.get("name", "")).startswith("lockgen-")])
    sources = uv.get("sources")
    for pkg in lg.get("managed-sources", []):
        if sources is not None and pkg in sources:
            del sources[pkg]
    if sources is not None and not sources:
        del uv["sources"]
    pkgs = [normalize(p) for p in packages]
    if name and url:
        entry = tomlkit.table()
        entry["name"] = name
        entry["url"] = url
        entry["explicit"] = True
        if "index" not in uv:
            uv["index"] = tomlkit.aot()
        uv["index"].append(entry)
        sources = _table(uv, "sources")
        for p in pkgs:
            t = tomlkit.inline_table()
            t["index"] = name
            sources[p] = t
        lg["managed-sources"] = _array(pkgs)
    elif "managed-sources" in lg:
        del lg["managed-sources"]
    return tomlkit.dumps(doc)


def _with_specifier(req: Requirement, spec: str) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}{spec}{marker}"


def set_requirements(text: str, specs: Mapping[str, str | None], record_ranges: bool = True) -> str:
    """Rewrite `[project] dependencies` entries by name: `specs[name]` is the new specifier ("==2.10.0", ">=2.4",
    "" for none) and None means "relax": restore the user's range from `[tool.lockgen] ranges` (or no specifier).

    When a range is replaced by an exact pin, the range is remembered in `[tool.lockgen] ranges` so a later
    relax can give it back - the pins are lockgen's, the ranges are the user's.
    """
    doc = tomlkit.parse(text)
    project = doc.get("project")
    if project is None or "dependencies" not in project:
        return text
    deps = project["dependencies"]
    owned = set(managed_requirements(doc))
    wanted = {normalize(k): v for k, v in specs.items()}
    tool = doc.get("tool", {})
    ranges = dict(tool.get("lockgen", {}).get("ranges", {})) if tool else {}
    changed_ranges = False
    for i, item in enumerate(list(deps)):
        if str(item) in owned:
            continue  # lockgen's scoped exclusion, not the user's requirement
        req = Requirement(str(item))
        name = normalize(req.name)
        if name not in wanted:
            continue
        spec = wanted[name]
        current = str(req.specifier)
        if spec is None:
            spec = ranges.get(name, "")
        elif record_ranges and spec.startswith("==") and current and not _is_pin(current) and name not in ranges:
            ranges[name] = current
            changed_ranges = True
        new = _with_specifier(req, spec)
        if new != str(item):
            deps[i] = new
    if changed_ranges:
        lg = _table(_table(doc, "tool"), "lockgen")
        rt = tomlkit.inline_table()
        for k in sorted(ranges):
            rt[k] = ranges[k]
        lg["ranges"] = rt
    return tomlkit.dumps(doc)


def add_requirements(text: str, names: list[str]) -> str:
    """Append bare requirements for `names` not yet in `[project] dependencies` (lockgen pins them afterwards)."""
    doc = tomlkit.parse(text)
    project = doc.get("project")
    if project is None:
        return text
    if "dependencies" not in project:
        project["dependencies"] = _array([])
    deps = project["dependencies"]
    owned = set(managed_requirements(doc))
    have = {normalize(Requirement(str(d)).name) for d in deps if str(d) not in owned}
    added = False
    for n in names:
        if normalize(n) not in have:
            deps.append(n)
            added = True
    return tomlkit.dumps(doc) if added else text


def _is_pin(spec: str) -> bool:
    return spec.startswith("==") and "," not in spec and "*" not in spec


def requirement_names(data: Mapping[str, Any]) -> dict[str, str]:
    """name -> specifier text of a parsed pyproject's `[project] dependencies` (the user's: lockgen's scoped
    exclusions, `managed_requirements`, are left out)."""
    out = {}
    owned = set(managed_requirements(data))
    for text in data.get("project", {}).get("dependencies", []):
        if text in owned:
            continue
        req = Requirement(text)
        out[normalize(req.name)] = str(req.specifier)
    return out
