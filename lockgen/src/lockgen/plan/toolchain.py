"""The Nix toolchain file: which CUDA toolkit (`cudaPackages_X_Y`) and Python each member's dev shell gets.

`nix/toolchain.json` is written by lockgen from the lock (`lockgen toolchain --write`) and read by flake.nix, so
moving CUDA never needs a hand edit in Nix. It carries no knowledge of its own: the nixpkgs attribute per CUDA
comes from tables/data/cuda.toml, the sets each pinned nixpkgs revision has from tables/data/nixpkgs.toml.

The flake pins several nixpkgs inputs (flake.lock). Each member's set comes from the first pinned input that has
it (`choose_input`: the main `nixpkgs` input first, then the others, newest revision first). When none has it the
entry says so (`"input": null` and a `"missing"` message): `check` warns, `lock` still writes a correct lock, and
`nix develop` for that member stops with the same message. Nix never vetoes a lock that is right for the fleet.

The file also lists, per member and Linux system, the locked wheels the member installs (`images`), so that
`nix build .#<member>-image` installs exactly them from uv.lock's URLs and hashes without running a resolver.

Pure core: `toolchain_expected`, `choose_input`, `image_wheels`. I/O at the edges: `toolchain_for`,
`write_toolchain`, `read_json_file` (they read flake.lock and nix/toolchain.json next to the workspace). The check
(`compare_toolchain`, `rule_toolchain`, `toolchain_warnings`) is lockgen.rules.toolchain; the driver guard is
lockgen.ops.toolchain.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from lockgen.errors import InputError
from lockgen.model.cudadetect import member_cuda
from lockgen.model.workspace import Workspace
from lockgen.tables.knowledge import Knowledge
from lockgen.tables.versions import CudaVersion

SCHEMA = "lockgen-toolchain/2"
TOOLCHAIN_FILE = "nix/toolchain.json"
FLAKE_LOCK = "flake.lock"
FLAKE_NIX = "flake.nix"
MAIN_INPUT = "nixpkgs"  # the flake input Python, uv and the shells come from
COMMENT = "Written by lockgen from uv.lock (lockgen toolchain --write, lockgen lock); read by flake.nix. Do not edit."


# ---- the nixpkgs table: which cudaPackages_X_Y sets a nixpkgs revision has ----


@dataclass(frozen=True)
class NixpkgsRevision:
    """A nixpkgs revision lockgen knows, with the versioned CUDA sets it has."""

    rev: str
    branch: str
    date: str
    cuda_sets: frozenset[str]
    conf: str
    source: str


def parse_nixpkgs_table(
    data: Mapping[str, Any], file: str = "lockgen/tables/data/nixpkgs.toml"
) -> tuple[NixpkgsRevision, ...]:
    """Build the revision rows from the parsed data file; ValueError naming the row on a bad entry."""
    out = []
    for i, row in enumerate(data.get("revision", [])):
        try:
            rev = str(row["rev"])
            if len(rev) != 40 or any(c not in "0123456789abcdef" for c in rev):
                raise ValueError(f"rev {rev!r} is not a full 40-hex git revision")
            sets = frozenset(str(s) for s in row["cuda_sets"])
            for s in sets:
                _cuda_of_attr(s)
            out.append(
                NixpkgsRevision(rev, str(row["branch"]), str(row["date"]), sets, str(row["conf"]), str(row["source"]))
            )
        except (KeyError, ValueError, TypeError) as e:
            raise ValueError(f"{file}: revision[{i}]: {e}") from e
    return tuple(out)


@cache
def load_nixpkgs_table() -> tuple[NixpkgsRevision, ...]:
    """Read the packaged nixpkgs table (once per process)."""
    text = resources.files("lockgen").joinpath("tables/data/nixpkgs.toml").read_text(encoding="utf-8")
    return parse_nixpkgs_table(tomllib.loads(text))


def find_revision(rev: str, table: tuple[NixpkgsRevision, ...]) -> NixpkgsRevision | None:
    """The row for a full revision, or None."""
    for row in table:
        if row.rev == rev:
            return row
    return None


def _cuda_of_attr(attr: str) -> CudaVersion:
    """cudaPackages_13_0 -> CUDA 13.0; ValueError for anything else."""
    prefix = "cudaPackages_"
    parts = attr[len(prefix) :].split("_") if attr.startswith(prefix) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{attr!r} is not a versioned CUDA set name like cudaPackages_13_0")
    return CudaVersion(int(parts[0]), int(parts[1]))


def nixpkgs_rev(flake_lock: Mapping[str, Any]) -> str | None:
    """The locked revision of the root flake's `nixpkgs` input in a parsed flake.lock, or None."""
    for name, rev in pinned_revisions(flake_lock):
        if name == MAIN_INPUT:
            return rev
    return None


def _locked_node(flake_lock: Mapping[str, Any], ref: Any) -> Mapping[str, Any] | None:
    """The node an input of the root points at: a node name, or a "follows" path walked from the root."""
    nodes = flake_lock.get("nodes")
    if not isinstance(nodes, Mapping):
        return None
    root = nodes.get(str(flake_lock.get("root", "root")), {})
    if isinstance(ref, list):
        node: Any = root
        for step in ref:
            name = node.get("inputs", {}).get(step) if isinstance(node, Mapping) else None
            node = nodes.get(name) if isinstance(name, str) else None
        return node if isinstance(node, Mapping) else None
    target = nodes.get(ref) if isinstance(ref, str) else None
    return target if isinstance(target, Mapping) else None


def pinned_revisions(flake_lock: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(input name, locked revision) of every root input of a parsed flake.lock that pins NixOS/nixpkgs."""
    nodes = flake_lock.get("nodes")
    if not isinstance(nodes, Mapping):
        return []
    root = nodes.get(str(flake_lock.get("root", "root")), {})
    inputs = root.get("inputs", {}) if isinstance(root, Mapping) else {}
    out = []
    for name, ref in sorted(inputs.items()) if isinstance(inputs, Mapping) else []:
        node = _locked_node(flake_lock, ref)
        locked = node.get("locked", {}) if node else {}
        if not isinstance(locked, Mapping) or not isinstance(locked.get("rev"), str):
            continue
        is_nixpkgs = str(locked.get("owner", "")).lower() == "nixos" and locked.get("repo") == "nixpkgs"
        if is_nixpkgs or (name == MAIN_INPUT and "owner" not in locked):
            out.append((str(name), str(locked["rev"])))
    return out


# ---- which pinned input gives a member its CUDA set ----


@dataclass(frozen=True)
class PinnedInput:
    """A nixpkgs input of the flake: its name in flake.nix, the revision flake.lock pins, and lockgen's row for it."""

    name: str
    rev: str
    row: NixpkgsRevision | None

    def describe(self) -> str:
        """`nixpkgs-cuda-legacy (nixos-25.05 ac62194c3917)`."""
        where = self.row.branch if self.row else "a revision lockgen's table does not know"
        return f"{self.name} ({where} {self.rev[:12]})"


def pinned_inputs(flake_lock: Mapping[str, Any], table: tuple[NixpkgsRevision, ...]) -> tuple[PinnedInput, ...]:
    """The flake's nixpkgs inputs in the order lockgen tries them: `nixpkgs` first, then newest revision first."""
    found = [PinnedInput(name, rev, find_revision(rev, table)) for name, rev in pinned_revisions(flake_lock)]
    main = [p for p in found if p.name == MAIN_INPUT]
    others = sorted((p for p in found if p.name != MAIN_INPUT), key=lambda p: p.name)
    others.sort(key=lambda p: p.row.date if p.row else "", reverse=True)  # stable: ties stay in name order
    return tuple(main + others)


def choose_input(nix_attr: str, inputs: tuple[PinnedInput, ...]) -> PinnedInput | None:
    """The first input (in `pinned_inputs` order) whose revision lockgen's table says has `nix_attr`; else None."""
    for p in inputs:
        if p.row is not None and nix_attr in p.row.cuda_sets:
            return p
    return None


def missing_message(cuda: str, nix_attr: str, who: str, inputs: tuple[PinnedInput, ...]) -> str:
    """What to tell the user when no pinned input has the set: what the pins have, and exactly what to add."""
    have = "; ".join(
        f"{p.describe()} has {', '.join(sorted(p.row.cuda_sets, key=_cuda_of_attr)) if p.row else 'unknown sets'}"
        for p in inputs
    )
    return (
        f"no pinned nixpkgs input has {nix_attr} (CUDA {cuda}, {who}): {have or 'flake.lock pins no nixpkgs'}. "
        f"The lock is right for the fleet; only the Nix shell lacks its toolkit. To add it: pin a nixpkgs revision "
        f"that has {nix_attr} as a new input in flake.nix (inputs.nixpkgs-cuda-{cuda.replace('.', '-')}.url = "
        f'"github:NixOS/nixpkgs/<rev>"; nixpkgs master for new sets, a release branch such as nixos-25.05 for '
        f"removed ones, or an overlay such as nixos-cuda/cuda-legacy), run `nix flake lock`, add the revision's row "
        f"to lockgen/src/lockgen/tables/data/nixpkgs.toml, then `lockgen toolchain --write`"
    )


# ---- the toolchain value ----


def python_minor(version: str | None) -> str:
    """ "3.12" or "3.12.1" (the content of .python-version) -> "3.12"; InputError otherwise."""
    text = (version or "").strip()
    parts = text.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise InputError(
            ".python-version",
            None,
            f"expected a Python version like 3.12, got {text!r}"
            if text
            else "missing: write the Python minor version the members use (e.g. 3.12)",
        )
    return f"{parts[0]}.{parts[1]}"


def _entry(cuda: CudaVersion, knowledge: Knowledge, member: str) -> dict[str, str]:
    release = knowledge.release(cuda)
    if release is None:
        raise InputError(
            "uv.lock",
            member,
            f"resolves to CUDA {cuda}, which lockgen's tables (tables/data/cuda.toml) do "
            "not know, so there is no nixpkgs attribute for it",
        )
    return {"cuda": str(cuda), "nix_attr": release.nix_attr}


class MemberEntries(NamedTuple):
    """The toolchain entries the lock gives (member -> its CUDA and nixpkgs set), and why the others have none."""

    entries: dict[str, dict[str, str]]
    problems: dict[str, str]  # member -> why it has no entry


def member_entries(ws: Workspace) -> MemberEntries:
    """Per member with CUDA-linked packages: its CUDA and nixpkgs set; and per member that has none to give, why.

    Members without any CUDA-linked package (CPU-only, like lockgen itself) get no entry and no problem.
    """
    entries: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    for name in sorted(ws.members):
        if not ws.lock.by_name(name):
            continue
        mc = member_cuda(ws.lock, name)
        if not mc.versions and not mc.majors:
            continue
        if mc.cuda is None:
            what = ", ".join(map(str, mc.versions)) or "/".join(f"{m}.x" for m in mc.majors)
            problems[name] = (
                f"member {name} has no single CUDA version in uv.lock ({what}); "
                "fix the lock first (`lockgen check` says how)"
            )
            continue
        try:
            entries[name] = _entry(mc.cuda, ws.knowledge, name)
        except InputError as e:
            problems[name] = e.message
    return MemberEntries(entries, problems)


def with_input(entry: Mapping[str, str], who: str, inputs: tuple[PinnedInput, ...] | None) -> dict[str, Any]:
    """A member (or default-shell) entry with the input that gives its set: {"input": name}, or
    {"input": None, "missing": why}. `inputs` None: no flake.lock yet, so the main input is assumed."""
    out: dict[str, Any] = dict(entry)
    if inputs is None:
        out["input"] = MAIN_INPUT
        return out
    chosen = choose_input(entry["nix_attr"], inputs)
    if chosen is None:
        out["input"] = None
        out["missing"] = missing_message(entry["cuda"], entry["nix_attr"], who, inputs)
    else:
        out["input"] = chosen.name
    return out


# ---- images: the wheels each member installs, per Linux system ----

NIX_SYSTEMS = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}
# glibc of the images' nixpkgs is 2.40 (nixos-26.05); manylinux tags up to it are installable
_MANYLINUX_MAX = 40


@cache
def _supported_tags(machine: str, python: str) -> dict[Any, int]:
    """Wheel tags CPython `python` on Linux `machine` accepts, most preferred first (as pip orders them)."""
    from packaging import tags

    major, minor = (int(x) for x in python.split(".")[:2])
    platforms = [f"manylinux_2_{m}_{machine}" for m in range(_MANYLINUX_MAX, 16, -1)] + [f"manylinux2014_{machine}"]
    if machine == "x86_64":
        platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    abi = f"cp{major}{minor}"
    found = list(tags.cpython_tags((major, minor), abis=[abi], platforms=platforms))
    found += list(tags.compatible_tags((major, minor), abi, platforms))
    return {t: i for i, t in enumerate(dict.fromkeys(found))}


def choose_wheel(wheels: tuple[Any, ...], machine: str, python: str) -> int | None:
    """Index (in uv.lock's order) of the wheel pip would pick on Linux `machine` for CPython `python`, or None."""
    from urllib.parse import unquote

    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    supported = _supported_tags(machine, python)
    best: tuple[int, int] | None = None
    for i, w in enumerate(wheels):
        try:
            _, _, _, wheel_tags = parse_wheel_filename(unquote(w.location.rsplit("/", 1)[-1]))
        except InvalidWheelFilename:
            continue
        ranks = [supported[t] for t in wheel_tags if t in supported]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), i)
    return None if best is None else best[1]


def image_wheels(lock: Any, member: str, machine: str, python: str, root: Path | None = None) -> list[str]:
    """What `nix build .#<member>-image` installs on Linux `machine`, as sorted strings nix/image.nix reads:
    `name==version#i` (the i-th wheel of that package in uv.lock), `name@path` (a workspace project, built from its
    source), `name==version#none` (no installable wheel: the image derivation refuses with that name)."""
    from lockgen.model.projection import member_packages

    out = []
    for name, pkg in sorted(member_packages(lock, member, machine).items()):
        if pkg.is_workspace:
            out.append(f"{name}@{pkg.source.value}")
            continue
        i = choose_wheel(pkg.wheels, machine, python)
        out.append(f"{name}=={pkg.version}#{'none' if i is None else i}")
    return out


def toolchain_for(ws: Workspace) -> dict[str, Any]:
    """The toolchain the lock needs, as the JSON-ready dict flake.nix reads (reads flake.lock next to the lock).

    Keys: schema, python ("3.12"), driver_policy (the fleet's), members ({member: {cuda, nix_attr, input[, missing]}}),
    default (the newest member CUDA a pinned input has, for the workspace's default shell; null when there is none)
    and images
    ({member: {system: [wheel, ...]}}). Raises InputError when a member has no single CUDA or a CUDA the tables do
    not know.
    """
    entries, problems = member_entries(ws)
    if problems:
        member, message = sorted(problems.items())[0]
        raise InputError("uv.lock", member, message)
    python = python_minor(ws.python_version)
    images = {m: {NIX_SYSTEMS[mach]: image_wheels(ws.lock, m, mach, python) for mach in NIX_SYSTEMS} for m in entries}
    return toolchain_expected(entries, python, ws.fleet.policy, flake_inputs(Path(ws.root)), images)


def flake_inputs(root: Path) -> tuple[PinnedInput, ...] | None:
    """The pinned nixpkgs inputs of the flake.lock under `root`; None when there is none (or it is unreadable)."""
    path = root / FLAKE_LOCK
    if not path.is_file():
        return None
    try:
        data = read_json_file(path, FLAKE_LOCK)
    except InputError:
        return None
    return pinned_inputs(data, load_nixpkgs_table()) if isinstance(data, Mapping) else None


def toolchain_expected(
    entries: Mapping[str, Mapping[str, str]],
    python: str,
    policy: str,
    inputs: tuple[PinnedInput, ...] | None = None,
    images: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """The toolchain dict from already computed member entries (what toolchain_for returns when nothing fails).

    `inputs`: the flake's pinned nixpkgs inputs (None: no flake.lock, every set is taken from `nixpkgs`).
    """
    # the default shell (the workspace root: lockgen, tests) gets the newest member CUDA a pinned input has; it never
    # stops for a set no input has (the member's own shell does), it then simply has no toolkit
    default = None
    for e in sorted(entries.values(), key=lambda e: CudaVersion.parse(e["cuda"]), reverse=True):
        candidate = with_input(e, "the default shell", inputs)
        if candidate["input"] is not None:
            default = candidate
            break
    return {
        "comment": COMMENT,
        "schema": SCHEMA,
        "python": python,
        "driver_policy": policy,
        "default": default,
        "members": {k: with_input(v, f"member {k}", inputs) for k, v in sorted(entries.items())},
        "images": {k: {s: list(w) for s, w in sorted(v.items())} for k, v in sorted((images or {}).items())},
    }


def render_toolchain(data: Mapping[str, Any]) -> str:
    """The exact text lockgen writes: sorted keys, two-space indent, trailing newline (what `lockgen lock` writes)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_toolchain(root: Path, data: Mapping[str, Any]) -> Path:
    """Write nix/toolchain.json under `root` atomically (lockgen.seams.txn.atomic_write: temp file, fsync, rename)."""
    from lockgen.seams.txn import atomic_write

    path = Path(root) / TOOLCHAIN_FILE
    atomic_write(path, render_toolchain(data).encode("utf-8"))
    return path


def read_json_file(path: Path, display: str) -> Any:
    """Parse a JSON file; InputError naming the file when it is missing or malformed."""
    from lockgen.model.workspace import read_text

    text = read_text(path, display)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(display, None, f"is not valid JSON: {e}") from None


def wants_toolchain(root: Path, config: Mapping[str, Any]) -> bool:
    """Whether the project keeps a Nix toolchain file: it has a flake.nix, or `[tool.lockgen] toolchain = true`
    (`toolchain = false` turns it off even with a flake). `config` is the root's `[tool.lockgen]` table."""
    flag = config.get("toolchain")
    if isinstance(flag, bool):
        return flag
    return (Path(root) / FLAKE_NIX).is_file()
