"""The shape of a JSON document as `path -> types`, for pinning lockgen's --json fields (docs/json.md).

Paths: `a.b` for an object's field, `a[]` for a list's items, `a{}` for the values of a map whose keys are data
(member names, package names). Types: null, bool, int, float, str, list, object.
"""

from __future__ import annotations

from typing import Any


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    for t, name in ((int, "int"), (float, "float"), (str, "str"), (list, "list"), (dict, "object")):
        if isinstance(value, t):
            return name
    raise TypeError(f"not a JSON value: {value!r}")


def shape(
    doc: Any, maps: frozenset[str] | set[str], path: str = "", out: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every path in `doc` with the types seen there; objects at a path in `maps` are maps (keys are data)."""
    out = {} if out is None else out
    if path:
        out.setdefault(path, set()).add(type_name(doc))
    if isinstance(doc, dict):
        for k, v in doc.items():
            child = f"{path}{{}}" if path in maps else (f"{path}.{k}" if path else k)
            shape(v, maps, child, out)
    elif isinstance(doc, list):
        for v in doc:
            shape(v, maps, f"{path}[]", out)
    return out


def merge(*shapes: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s in shapes:
        for k, v in s.items():
            out.setdefault(k, set()).update(v)
    return out


def compare(observed: dict[str, set[str]], pinned: dict[str, list[str]]) -> list[str]:
    """Differences between the fields a run produced and the pinned ones: a field added or gone, a type not pinned.
    A pinned type not seen is fine (a field that is null in one run and a string in another)."""
    problems = [
        f"new field {p} ({', '.join(sorted(t))}): pin it and document it"
        for p, t in observed.items()
        if p not in pinned
    ]
    problems += [f"field {p} is gone (pinned: {', '.join(pinned[p])})" for p in pinned if p not in observed]
    for p, types in observed.items():
        extra = types - set(pinned.get(p, types))
        if extra:
            problems.append(f"field {p} has type {', '.join(sorted(extra))}; pinned: {', '.join(pinned[p])}")
    return sorted(problems)
