"""The shapes of what lockgen reads from pyproject files, checked where they are read: one `InputError` naming the
file and the key for a value of the wrong type or an unsafe path, so nothing further down meets a surprise (an
"internal error" is left for real bugs). Pure functions over parsed TOML, plus the paths they name.

Checked here: `[tool]`, `[tool.uv]` (workspace members/exclude, index, constraint-dependencies), `[tool.lockgen]`
(managed entries, ranges, notebooks, cuda-index; the fleet keys are read by lockgen.model.fleet) and each member's
`[project]` (name, dependencies as PEP 508 requirements - an exact pin is `==`, `===` only with a real version) with
its `[tool.lockgen] managed-requirements` (requirements too).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lockgen.errors import InputError


def _table(value: Any, file: str, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(file, key, f"expected a table, got {_kind(value)}")
    return value


def _strings(value: Any, file: str, key: str, what: str = "strings") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(file, key, f"expected a list of {what}, got {_kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise InputError(file, f"{key}[{i}]", f"expected a string, got {_kind(item)}")
    return value


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    for t, name in names.items():
        if type(value) is t:
            return f"{name} ({value!r})" if t is not list else name
    return "a table" if isinstance(value, Mapping) else type(value).__name__


def tool_table(data: Mapping[str, Any], file: str) -> Mapping[str, Any]:
    """`[tool]` of a parsed pyproject ({} when absent); InputError when it is not a table."""
    return _table(data.get("tool"), file, "tool")


def inside(root: Path, rel: str, file: str, key: str) -> Path:
    """`root / rel` after resolving symlinks, refused (InputError naming file and key) unless it lies inside the
    root: no absolute paths, no `..` out of it, no symlink pointing elsewhere."""
    if not rel or "\0" in rel:
        raise InputError(file, key, f"{rel!r} is not a path")
    if Path(rel).is_absolute():
        raise InputError(file, key, f"{rel!r} is an absolute path: give a path inside the project, relative to it")
    try:
        real_root = root.resolve()
        target = (root / rel).resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise InputError(file, key, f"{rel!r} cannot be resolved: {e}") from None
    if target != real_root and not target.is_relative_to(real_root):
        raise InputError(
            file, key, f"{rel!r} leads outside the project ({target}); lockgen reads and writes only inside it"
        )
    return target


def validate_root(data: Mapping[str, Any], root: Path, file: str = "pyproject.toml") -> None:
    """The root pyproject's keys lockgen reads: `[tool.uv]` and `[tool.lockgen]` (fleet keys: lockgen.model.fleet)."""
    tool = tool_table(data, file)
    uv = _table(tool.get("uv"), file, "tool.uv")
    ws = _table(uv.get("workspace"), file, "tool.uv.workspace")
    for key in ("members", "exclude"):
        for i, pattern in enumerate(_strings(ws.get(key), file, f"tool.uv.workspace.{key}", "paths or globs")):
            where = f"tool.uv.workspace.{key}[{i}]"
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise InputError(file, where, f"{pattern!r} is not inside the workspace: give a path relative to it")
            if key == "members":
                matches = list(root.glob(pattern)) if any(c in pattern for c in "*?[") else [root / pattern]
                for m in matches:
                    inside(root, m.relative_to(root).as_posix() if m != root else ".", file, where)
    indexes = uv.get("index")
    if indexes is not None and not isinstance(indexes, list):
        raise InputError(file, "tool.uv.index", "expected an array of tables ([[tool.uv.index]])")
    for i, ix in enumerate(indexes or ()):
        if not isinstance(ix, Mapping) or not isinstance(ix.get("url", ""), str):
            raise InputError(file, f"tool.uv.index[{i}]", "expected a table with a `url` string")
    _strings(uv.get("extra-index-url"), file, "tool.uv.extra-index-url", "URLs")
    if uv.get("index-url") is not None and not isinstance(uv.get("index-url"), str):
        raise InputError(file, "tool.uv.index-url", "expected a URL string")
    _strings(uv.get("constraint-dependencies"), file, "tool.uv.constraint-dependencies", "requirements")
    lg = _table(tool.get("lockgen"), file, "tool.lockgen")
    for key in ("managed-constraints", "managed-sources"):
        _strings(lg.get(key), file, f"tool.lockgen.{key}")
    for name, spec in _table(lg.get("ranges"), file, "tool.lockgen.ranges").items():
        if not isinstance(spec, str):
            raise InputError(file, f"tool.lockgen.ranges.{name}", f"expected a specifier string, got {_kind(spec)}")
    if lg.get("cuda-index") is not None:
        from lockgen.model.cudaindex import cuda_index_from_config

        cuda_index_from_config(lg.get("cuda-index"), file)


def validate_member(data: Mapping[str, Any], file: str) -> None:
    """A member's `[project]`: a string name and PEP 508 requirement strings (an exact pin is `==VERSION`)."""
    project = _table(data.get("project"), file, "project")
    if not isinstance(project.get("name"), str) or not project["name"].strip():
        raise InputError(file, "project.name", "missing or not a string")
    for i, req in enumerate(_strings(project.get("dependencies"), file, "project.dependencies", "requirement strings")):
        check_requirement(req, file, f"project.dependencies[{i}]")
    for extra, reqs in _table(project.get("optional-dependencies"), file, "project.optional-dependencies").items():
        key = f"project.optional-dependencies.{extra}"
        for i, req in enumerate(_strings(reqs, file, key, "requirement strings")):
            check_requirement(req, file, f"{key}[{i}]")
    tool = tool_table(data, file)
    _table(_table(tool.get("uv"), file, "tool.uv").get("sources"), file, "tool.uv.sources")
    lg = _table(tool.get("lockgen"), file, "tool.lockgen")
    for i, req in enumerate(_strings(lg.get("managed-requirements"), file, "tool.lockgen.managed-requirements")):
        check_requirement(req, file, f"tool.lockgen.managed-requirements[{i}]")


def check_requirement(text: str, file: str, key: str) -> None:
    """A PEP 508 requirement; `===` (arbitrary equality, a string comparison) only with a PEP 440 version, so that
    `vllm===!!bad` is not taken for an exact pin."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        raise InputError(file, key, f"{text!r} is not a PEP 508 requirement ({e})") from None
    for spec in req.specifier:
        if spec.operator == "===":
            try:
                Version(spec.version)
            except InvalidVersion:
                raise InputError(
                    file,
                    key,
                    f"{text!r}: {spec.version!r} is not a version, so `===` matches nothing; pin with "
                    f"`{req.name}==VERSION`",
                ) from None
