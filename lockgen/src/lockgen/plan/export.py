"""Exports of one member's locked environment for places that do not read uv.lock. Pure: values in, text out.

- `member_export(lock, member, ...)`: the member's exact pins (every package `uv sync --package member` installs,
  from lockgen.model.projection), each gated by the lock's environments (`sys_platform == 'linux' and platform_machine
  == ...`), the non-PyPI indexes they come from, and the lock's `exclude-newer`.
- PEP 723 (`# /// script` blocks, as marimo's `--sandbox` and `uv run` read them): `render_script_toml`,
  `find_script_block`, `update_script_block` - the rest of the file is kept byte for byte.
- Colab: `render_colab`, a Python cell that installs the x86_64 pins with `uv pip` (pip as the fallback).

Why markers and not `[tool.uv] environments`: uv reads `environments` only from a project's pyproject.toml; in a
script block it is an unknown field and uv refuses the whole block (uv 0.13.9: "unknown field `environments`"; the
script schema is `ToolUv` in crates/uv-scripts/src/lib.rs, with `deny_unknown_fields`). A requirement whose marker
is false everywhere else is never resolved there, so gating every requirement by the lock's environments gives the
effect on what is installed: nothing of another platform sneaks in. uv still resolves the other platforms, and a
package's requirement there can conflict with a pin (vllm 0.33.0 requires protobuf 7.36.1 on s390x, serve locks
7.36.2): so the pins are repeated as `[tool.uv] override-dependencies`, which replace every requirement on those
packages, and `uv lock --script` resolves exactly the pinned versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.items import Comment, Table

from lockgen.errors import InputError
from lockgen.model.lockfile import Lock, LockedPackage, normalize
from lockgen.model.projection import PLATFORMS, environment, marker_holds, member_packages
from lockgen.model.workspace import Workspace
from lockgen.plan.edit import keep_indexes

PYPI = "https://pypi.org/simple"
BANNER = "lockgen export --format pep723: exact pins of the {member} member from uv.lock; regenerate, do not edit"
_OPEN = "# /// script"
_CLOSE = "# ///"
_ANY_OPEN = re.compile(r"^# /// ([a-zA-Z0-9-]+)$")


@dataclass(frozen=True)
class Pin:
    """One package of the member's environment, exactly as locked."""

    name: str
    version: str
    marker: str | None = None  # None: on every supported platform
    index: str | None = None  # the registry URL when it is not PyPI
    url: str | None = None  # a direct reference (git or URL source) instead of a registry version

    def requirement(self) -> str:
        """PEP 508: `name==version`, or `name @ url`, with `; marker` when platform-specific."""
        text = f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"
        return f"{text} ; {self.marker}" if self.marker else text


@dataclass(frozen=True)
class Index:
    """A package index the pins need besides PyPI."""

    name: str
    url: str


@dataclass(frozen=True)
class MemberExport:
    """A member's environment as pins: what `uv sync --frozen --package member` installs on Linux."""

    member: str
    requires_python: str
    pins: tuple[Pin, ...]
    indexes: tuple[Index, ...]
    skipped: tuple[str, ...]  # workspace projects in the closure (installed from the checkout, not pinnable)
    machines: tuple[str, ...] = PLATFORMS  # the Linux machines of the lock's environments
    exclude_newer: str | None = None  # the lock's [options] exclude-newer
    constraints: tuple[str, ...] = ()  # the workspace's [tool.uv] constraint-dependencies
    overrides: tuple[str, ...] = ()  # the workspace's [tool.uv] override-dependencies

    def names(self) -> frozenset[str]:
        """Every pinned package name."""
        return frozenset(p.name for p in self.pins)

    @property
    def gate(self) -> str:
        """The marker of the lock's environments: every requirement of the script block carries it."""
        return gate(self.machines)


def gate(machines: Sequence[str]) -> str:
    """PEP 508 marker of Linux on `machines`: `sys_platform == 'linux' and platform_machine == 'x86_64'`."""
    ms = sorted(set(machines))
    if len(ms) == 1:
        return f"sys_platform == 'linux' and platform_machine == '{ms[0]}'"
    return "sys_platform == 'linux' and (" + " or ".join(f"platform_machine == '{m}'" for m in ms) + ")"


def lock_machines(lock: Lock) -> tuple[str, ...]:
    """The Linux machines (of x86_64, aarch64) the lock's `supported-markers` admit; all of them when it has none."""
    if not lock.supported_markers:
        return PLATFORMS
    out = tuple(
        m for m in PLATFORMS if any(marker_holds(s, environment(lock, m, None)) for s in lock.supported_markers)
    )
    return out or PLATFORMS


def gate_requirement(text: str, marker: str) -> str:
    """`text` restricted to where `marker` holds (its own marker, if any, kept): `pkg ; (own) and (marker)`."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return text
    if req.marker is None:
        return f"{text} ; {marker}"
    base, _, own = text.rpartition(";")
    return f"{base.rstrip()} ; ({own.strip()}) and ({marker})"


def _machine_marker(machines: Sequence[str]) -> str | None:
    if set(machines) >= set(PLATFORMS):
        return None
    return " or ".join(f"platform_machine == '{m}'" for m in sorted(machines))


def _index_name(url: str, names: Mapping[str, str]) -> str:
    known = names.get(url.rstrip("/"))
    if known:
        return known
    tail = [part for part in re.split(r"[/:.]+", url) if part and part not in ("https", "http", "simple", "www")]
    slug = re.sub(r"[^a-z0-9-]+", "-", "-".join(tail[-2:]).lower()).strip("-")
    return f"lockgen-{slug or 'index'}"


def _pin(pkg: LockedPackage, machines: Sequence[str], lock_file: str, gated: bool = False) -> Pin:
    kind, value = pkg.source.kind, pkg.source.value
    marker = gate(machines) if gated else _machine_marker(machines)
    if kind == "registry":
        if pkg.version is None:
            raise InputError(lock_file, f"package {pkg.name}", "registry package without a version")
        index = None if value.rstrip("/") == PYPI else value.rstrip("/")
        return Pin(pkg.name, pkg.version, marker, index)
    if kind in ("git", "url"):
        url = f"git+{value}" if kind == "git" and not value.startswith("git+") else value
        return Pin(pkg.name, pkg.version or "", marker, None, url)
    raise InputError(
        lock_file, f"package {pkg.name}", f"comes from a local {kind} ({value}); a script header cannot pin it"
    )


def member_export(
    lock: Lock,
    member: str,
    index_names: Mapping[str, str] | None = None,
    lock_file: str = "uv.lock",
    constraints: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> MemberExport:
    """The member's pins, from lockgen.model.projection per Linux platform of the lock (x86_64, aarch64), each gated by
    the marker of the platforms it is installed on.

    `index_names` maps index URLs to the names the workspace gives them (`[[tool.uv.index]]`), so the script header
    uses the same names; unknown indexes get a name made from their URL. `constraints` and `overrides`: the
    workspace's `[tool.uv] constraint-dependencies` / `override-dependencies`, carried into the block as they are.
    """
    names = {k.rstrip("/"): v for k, v in (index_names or {}).items()}
    seen: dict[tuple[str, str | None, object], tuple[LockedPackage, list[str]]] = {}
    skipped: set[str] = set()
    machines = lock_machines(lock)
    for machine in machines:
        for pkg in member_packages(lock, member, machine=machine).values():
            if pkg.is_workspace:
                if pkg.name != member:
                    skipped.add(pkg.name)
                continue
            seen.setdefault(pkg.key, (pkg, []))[1].append(machine)
    pins = sorted(
        (_pin(pkg, ms, lock_file, gated=True) for pkg, ms in seen.values()), key=lambda p: (p.name, p.marker or "")
    )
    urls = sorted({p.index for p in pins if p.index})
    indexes = tuple(Index(_index_name(u, names), u) for u in urls)
    exclude_newer = lock.options.get("exclude-newer")
    return MemberExport(
        member,
        lock.requires_python,
        tuple(pins),
        indexes,
        tuple(sorted(skipped)),
        machines,
        exclude_newer if isinstance(exclude_newer, str) else None,
        tuple(constraints),
        tuple(overrides),
    )


# --- PEP 723 -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptBlock:
    """Where a `# /// script` block sits in a text: [start, end) character offsets, and its TOML content."""

    start: int
    end: int  # just past the closing line's line ending
    toml: str
    final_newline: bool  # whether the closing `# ///` line ends with a newline (False: it ends the file)


def _lines(text: str) -> list[tuple[int, str, str]]:
    """(offset, line without its ending, ending) for each line."""
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append((pos, body, raw[len(body) :]))
        pos += len(raw)
    return out


def find_script_block(text: str, file: str = "notebook") -> ScriptBlock | None:
    """The PEP 723 `script` block of `text`, or None. InputError for two blocks or an unclosed one.

    As in PEP 723's reference regex: the block runs from `# /// script` over consecutive comment lines (`#` or
    `# ...`) to the last `# ///` among them.
    """
    lines = _lines(text)
    found: list[ScriptBlock] = []
    i = 0
    while i < len(lines):
        m = _ANY_OPEN.match(lines[i][1])
        if not m:
            i += 1
            continue
        last_close = None
        j = i + 1
        while j < len(lines) and (lines[j][1] == "#" or lines[j][1].startswith("# ")):
            if lines[j][1] == _CLOSE:
                last_close = j
            j += 1
        if last_close is None:
            raise InputError(file, f"line {i + 1}", f"`# /// {m.group(1)}` block is never closed with `# ///`")
        if m.group(1) == "script":
            content = "".join(("" if body == "#" else body[2:]) + "\n" for _, body, _ in lines[i + 1 : last_close])
            end_offset, _, ending = lines[last_close]
            found.append(ScriptBlock(lines[i][0], end_offset + len(_CLOSE) + len(ending), content, bool(ending)))
        i = last_close + 1
    if len(found) > 1:
        raise InputError(file, "# /// script", "appears more than once (PEP 723 allows one script block)")
    return found[0] if found else None


def check_block(data: Mapping[str, Any], file: str = "notebook") -> None:
    """The keys of a parsed `# /// script` block that lockgen reads or rewrites have the types PEP 723 and uv give
    them; InputError naming the notebook and the key otherwise (never a crash further down)."""
    where = "# /// script"

    def table(value: Any, key: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise InputError(file, f"{where} {key}", "expected a table")
        return value

    def strings(value: Any, key: str) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise InputError(file, f"{where} {key}", "expected an array of strings")

    if data.get("requires-python") is not None and not isinstance(data.get("requires-python"), str):
        raise InputError(file, f"{where} requires-python", 'expected a string such as ">=3.12"')
    strings(data.get("dependencies"), "dependencies")
    tool = table(data.get("tool"), "tool")
    uv = table(tool.get("uv"), "tool.uv")
    index = uv.get("index")
    if index is not None and (not isinstance(index, list) or not all(isinstance(ix, Mapping) for ix in index)):
        raise InputError(file, f"{where} tool.uv.index", "expected an array of tables ([[tool.uv.index]])")
    table(uv.get("sources"), "tool.uv.sources")
    export = table(table(tool.get("lockgen"), "tool.lockgen").get("export"), "tool.lockgen.export")
    strings(export.get("extra"), "tool.lockgen.export.extra")
    strings(export.get("extra-pins"), "tool.lockgen.export.extra-pins")


def _parse_block(toml: str, file: str) -> dict[str, Any]:
    """A script block's TOML, parsed and checked (InputError naming the notebook otherwise)."""
    import tomllib

    try:
        data = tomllib.loads(toml)
    except tomllib.TOMLDecodeError as e:
        raise InputError(file, "# /// script", f"the block is not valid TOML ({e})") from None
    check_block(data, file)
    return data


def _dependencies_array(extras: Sequence[str], pins: Sequence[Pin], extra_pins: Sequence[str]) -> tomlkit.items.Array:
    arr = tomlkit.array()
    for e in extras:
        arr.append(e)
    for p in pins:
        arr.append(p.requirement())
    for e in extra_pins:
        arr.append(e)
    return arr.multiline(True)


def _requirement_name(text: str) -> str | None:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return normalize(Requirement(text).name)
    except InvalidRequirement:
        return None


def _is_exact_pin(text: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        specs = list(Requirement(text).specifier)
    except InvalidRequirement:
        return False
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version


def _ungate(text: str, marker: str) -> str:
    """`gate_requirement` undone (a requirement lockgen gated and the user later left in `dependencies`)."""
    suffix = f" ; {marker}"
    if text.endswith(suffix):
        return text[: -len(suffix)]
    m = re.fullmatch(r"(.*) ; \((.*)\) and \(" + re.escape(marker) + r"\)", text)
    return f"{m.group(1)} ; {m.group(2)}" if m else text


def _export_table(data: Mapping[str, Any]) -> Mapping[str, Any]:
    table = data.get("tool", {}).get("lockgen", {}).get("export", {})
    return table if isinstance(table, Mapping) else {}


def recorded_extra_pins(existing: str | None, file: str = "notebook") -> tuple[str, ...]:
    """`[tool.lockgen.export] extra-pins` of a block: the exact pins, resolved once by uv, of what the user's own
    requirements (marimo, ipython) add beyond the member's lock."""
    if not existing:
        return ()
    return tuple(str(x) for x in _export_table(_parse_block(existing, file)).get("extra-pins") or ())


def classify_requirements(
    existing: str | None, export: MemberExport, file: str = "notebook"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kept, dropped): the requirements of an existing block that are the user's (kept, ahead of the pins), and
    those that go because they are neither the user's nor covered by the lock now.

    The user's are: those recorded in `[tool.lockgen.export] extra`, and any requirement that is not an exact `==`
    pin (an exact pin lockgen did not record is taken for one of its own earlier pins). In a block lockgen has not
    written before, every requirement the lock does not cover is the user's (marimo, say). A requirement on a
    package the member locks always gives way to the exact pin, and the member itself is never listed. The pins
    recorded in `extra-pins` are lockgen's too (neither kept nor dropped here). Requirements are compared without
    the environment marker lockgen adds to them.
    """
    if not existing:
        return (), ()
    data = _parse_block(existing, file)
    marker = export.gate
    deps = [str(d) for d in data.get("dependencies") or []]
    table = _export_table(data)
    recorded = table.get("extra")
    pins = {str(x) for x in table.get("extra-pins") or []}
    locked = export.names() | {normalize(export.member)}
    if isinstance(recorded, list):
        previous = [str(x) for x in recorded]
        ours = set(previous) | {gate_requirement(x, marker) for x in previous} | pins
        candidates = previous + [_ungate(d, marker) for d in deps if d not in ours and not _is_exact_pin(d)]
    else:
        candidates = [_ungate(d, marker) for d in deps]
    kept: list[str] = []
    for d in candidates:
        name = _requirement_name(d)
        if name is not None and name not in locked and d not in kept:
            kept.append(d)
    forms = set(kept) | {gate_requirement(k, marker) for k in kept} | pins
    dropped = tuple(d for d in deps if d not in forms and _requirement_name(d) not in locked)
    return tuple(kept), dropped


def render_script_toml(
    export: MemberExport, existing: str | None = None, file: str = "notebook", extra_pins: Sequence[str] | None = None
) -> str:
    """The TOML of the script block: `requires-python`, `dependencies` (the user's own requirements, the member's
    exact pins, the extras' pins), `[tool.uv]` with the lock's `exclude-newer`, the workspace's
    `constraint-dependencies`, the pins again as `override-dependencies` (with the workspace's overrides of
    packages not pinned) and, when pins come from another index,
    `[[tool.uv.index]]` + `[tool.uv.sources]`. Every requirement carries the lock's environment marker.

    Other keys of `existing` are kept, and so are its requirements that are the user's (`classify_requirements`).
    `extra_pins`: a fresh resolution of the user's requirements (`lockgen.commands.export.resolve_extra_pins`);
    None keeps the block's recorded `extra-pins` (less any the member's lock now pins itself)."""
    extras, _ = classify_requirements(existing, export, file)  # also checks the block's types
    try:
        old = tomlkit.parse(existing) if existing else tomlkit.document()
    except Exception as e:  # tomlkit raises its own ParseError subclasses
        raise InputError(file, "# /// script", f"the block is not valid TOML ({e})") from None
    locked = export.names() | {normalize(export.member)}
    source = recorded_extra_pins(existing, file) if extra_pins is None else tuple(extra_pins)
    more = sorted(dict.fromkeys(p for p in source if _requirement_name(p) not in locked), key=lambda p: p.lower())
    # The managed keys first (under lockgen's banner), then everything else of the old block in its order.
    doc = tomlkit.document()
    doc.add(tomlkit.comment(BANNER.format(member=export.member)))
    doc["requires-python"] = export.requires_python
    doc["dependencies"] = _dependencies_array([gate_requirement(e, export.gate) for e in extras], export.pins, more)
    for key, item in old.body:
        if key is None:
            if not (isinstance(item, Comment) and "lockgen export" in item.as_string()):
                doc.add(item)
        elif key.key not in ("requires-python", "dependencies"):
            doc.append(key, item)
    _record_export(doc, export.member, extras, more)
    ours = {ix.url for ix in export.indexes}
    tool = doc.get("tool")
    uv = tool.get("uv") if isinstance(tool, Table) else None
    if isinstance(uv, Table):
        old_indexes = uv.get("index")
        if old_indexes is not None:
            dropped = {
                str(t.get("name"))
                for t in old_indexes
                if str(t.get("url", "")).rstrip("/") in ours or str(t.get("name", "")).startswith("lockgen-")
            }
            keep_indexes(uv, [t for t in old_indexes if str(t.get("name")) not in dropped])
            sources = uv.get("sources")
            if isinstance(sources, MutableMapping):
                for name in [
                    k for k, v in sources.items() if isinstance(v, Mapping) and str(v.get("index")) in dropped
                ]:
                    del sources[name]
                if not sources:
                    del uv["sources"]
    pinned = [p.requirement() for p in export.pins] + more
    pinned_names = {_requirement_name(p) for p in pinned}
    settings: dict[str, Any] = {
        "exclude-newer": export.exclude_newer,
        "constraint-dependencies": list(export.constraints),
        # the pins again as overrides: uv resolves a script for every platform, and another platform's requirement
        # (vllm 0.33.0 pins protobuf 7.36.1 on s390x) would otherwise make `uv lock --script` fail
        "override-dependencies": [o for o in export.overrides if _requirement_name(o) not in pinned_names] + pinned,
    }
    if any(settings.values()) or export.indexes:
        if not isinstance(tool, Table):
            doc["tool"] = tool = tomlkit.table(is_super_table=True)
        if not isinstance(uv, Table):
            tool["uv"] = uv = tomlkit.table()
    if isinstance(uv, Table):
        for setting, value in settings.items():
            if isinstance(value, list) and value:
                array = tomlkit.array()
                array.extend(value)
                uv[setting] = array.multiline(len(value) > 1)
            elif value:
                uv[setting] = value
            elif setting in uv:
                del uv[setting]
    if export.indexes and isinstance(uv, Table):  # always a table here: created above when there are indexes
        aot = uv.get("index") or tomlkit.aot()
        for index in export.indexes:
            entry = tomlkit.table()
            entry["name"] = index.name
            entry["url"] = index.url
            entry["explicit"] = True
            aot.append(entry)
        uv["index"] = aot
        sources = uv.get("sources") or tomlkit.table()
        by_url = {ix.url: ix.name for ix in export.indexes}
        for p in export.pins:
            if p.index:
                t = tomlkit.inline_table()
                t["index"] = by_url[p.index]
                sources[p.name] = t
        uv["sources"] = sources
    return _tidy(tomlkit.dumps(doc))


def _tidy(toml: str) -> str:
    """At most one blank line between items and none at the end, so repeated exports give the same block
    (tomlkit keeps the blank lines of tables it re-renders). Left as is when it holds multi-line strings."""
    if '"""' in toml or "'''" in toml:
        return toml
    return re.sub(r"\n{3,}", "\n\n", toml).rstrip("\n") + "\n"


def _record_export(doc: tomlkit.TOMLDocument, member: str, extras: Sequence[str], extra_pins: Sequence[str]) -> None:
    """`[tool.lockgen.export]`: the member, the user's own requirements (so the next export tells them apart) and
    the pins uv resolved for them (`extra-pins`, when there are any)."""
    tool = doc.get("tool")
    if not isinstance(tool, Table):
        doc["tool"] = tool = tomlkit.table(is_super_table=True)
    lockgen = tool.get("lockgen")
    if not isinstance(lockgen, Table):
        tool["lockgen"] = lockgen = tomlkit.table(is_super_table=True)
    table = tomlkit.table()
    table["member"] = member
    table["extra"] = tomlkit.array()
    for e in extras:
        table["extra"].append(e)
    if extra_pins:
        table["extra-pins"] = tomlkit.array()
        for e in extra_pins:
            table["extra-pins"].append(e)
        table["extra-pins"].multiline(True)
    lockgen["export"] = table


def comment_block(toml: str, newline: str = "\n") -> str:
    """`# /// script` ... `# ///` around `toml`, each line commented as PEP 723 requires."""
    body = [("#" if not line else f"# {line}") for line in toml.rstrip("\n").split("\n")]
    return newline.join([_OPEN, *body, _CLOSE]) + newline


def _newline_of(text: str) -> str:
    m = re.search(r"\r\n|\n", text)
    return m.group(0) if m else "\n"


def update_script_block(
    text: str, export: MemberExport, file: str = "notebook", extra_pins: Sequence[str] | None = None
) -> str:
    """`text` with its `# /// script` block set to the member's pins (inserted at the top, after a shebang or
    encoding line, when there is none). Everything outside the block is returned unchanged."""
    newline = _newline_of(text)
    block = find_script_block(text, file)
    if block is not None:
        new = comment_block(render_script_toml(export, block.toml, file, extra_pins), newline)
        if not block.final_newline:
            new = new[: -len(newline)]  # the old block ended the file without a newline: keep it that way
        return text[: block.start] + new + text[block.end :]
    new = comment_block(render_script_toml(export), newline)
    head_end = 0
    for offset, body, ending in _lines(text)[:2]:
        if body.startswith("#!") or re.match(r"^#.*coding[:=]", body):
            head_end = offset + len(body) + len(ending)
        else:
            break
    rest = text[head_end:]
    sep = newline if rest and not rest.startswith(("\n", "\r\n")) else ""
    return text[:head_end] + new + sep + rest


def script_pins(text: str, file: str = "notebook") -> tuple[str, ...] | None:
    """The `dependencies` of the script block in `text` (None when there is no block)."""
    block = find_script_block(text, file)
    if block is None:
        return None
    return tuple(_parse_block(block.toml, file).get("dependencies") or ())


# --- Colab -------------------------------------------------------------------------------------------------------


def render_colab(lock: Lock, member: str, lock_file: str = "uv.lock", fleet: Any = None) -> str:
    """A Python cell that installs the member's x86_64 Linux pins (Colab's machines): `uv pip install --no-deps`
    (pip when there is no uv) after clearing the variables through which Colab pins its own packages
    (lockgen.plan.colab.install_cell). `fleet`: the lockgen.plan.colab.FleetSpec the lock was checked against.

    `--no-deps`: the list is the whole closure, so the installer installs exactly it and resolves nothing.
    """
    from lockgen.plan.colab import DEFAULT_CLEAR, install_cell

    pins: list[Pin] = []
    for pkg in member_packages(lock, member, machine="x86_64").values():
        if pkg.is_workspace:
            continue
        pins.append(_pin(pkg, PLATFORMS, lock_file))
    pins.sort(key=lambda p: p.name)
    indexes = sorted({p.index for p in pins if p.index})
    title = [
        f"lockgen export --member {member} --format colab: exact x86_64 pins from uv.lock "
        f"(Python {lock.requires_python}); regenerate, do not edit.",
    ]
    if fleet is not None:
        title.append(f"Checked against {fleet.name}: {fleet.fleet.describe()} ({fleet.file}).")
    title.append("Paste into the first cell; restart the runtime afterwards so the new versions are imported.")
    clear = fleet.clear if fleet is not None else DEFAULT_CLEAR
    return install_cell(title, [p.requirement() for p in pins], indexes, lock.requires_python, clear)


# --- a workspace's member, as `lockgen export` and the notebook rule render it ------------------------------------


def index_names(pyproject: Mapping[str, Any]) -> dict[str, str]:
    """URL -> name of the root pyproject's `[[tool.uv.index]]` entries."""
    out = {}
    for ix in pyproject.get("tool", {}).get("uv", {}).get("index", []) or []:
        if isinstance(ix, dict) and "url" in ix and "name" in ix:
            out[str(ix["url"]).rstrip("/")] = str(ix["name"])
    return out


def member_export_of(ws: Workspace, member: str) -> MemberExport:
    """`member_export` with the workspace's index names and `[tool.uv]` constraints/overrides."""
    uv = ws.uv_config
    constraints = [str(c) for c in uv.get("constraint-dependencies", []) or []]
    overrides = [str(c) for c in uv.get("override-dependencies", []) or []]
    return member_export(ws.lock, member, index_names(ws.pyproject), "uv.lock", constraints, overrides)


def pep723_text(
    ws: Workspace, member: str, current: str | None, file: str = "notebook", extra_pins: Sequence[str] | None = None
) -> str:
    """The member's PEP 723 export: with `current` (a file's text, named `file` in errors) the whole file with its
    `# /// script` header replaced, else the header alone (`extra_pins`: a fresh resolution of the block's own
    requirements, else the recorded ones)."""
    export = member_export_of(ws, member)
    if current is None:
        return comment_block(render_script_toml(export))
    return update_script_block(current, export, file, extra_pins)
