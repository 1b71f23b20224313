"""Rule toolchain: nix/toolchain.json agrees with the lock and the pinned nixpkgs inputs; what those inputs lack is a
warning (a note), never a violation: Nix never vetoes a lock."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lockgen.errors import InputError
from lockgen.model.workspace import Workspace
from lockgen.plan.toolchain import (
    FLAKE_LOCK,
    FLAKE_NIX,
    NIX_SYSTEMS,
    SCHEMA,
    TOOLCHAIN_FILE,
    PinnedInput,
    flake_inputs,
    image_wheels,
    member_entries,
    python_minor,
    read_json_file,
    toolchain_expected,
    wants_toolchain,
)
from lockgen.rules import Violation

# ---- the rule: nix/toolchain.json agrees with the lock; warnings for what the pinned inputs lack ----


RULE = "toolchain"
WRITE_FIX = "run `lockgen toolchain --write` (flake.nix reads nix/toolchain.json; never edit it by hand)"


def _v(message: str, fix: str = WRITE_FIX, member: str | None = None, file: str = TOOLCHAIN_FILE) -> Violation:
    return Violation(RULE, file, message, fix, None, member)


ENTRY_KEYS = ("cuda", "nix_attr", "input", "missing")


def _entry_text(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return repr(entry)
    where = entry.get("input") or "no pinned input"
    return f"CUDA {entry.get('cuda')} ({entry.get('nix_attr')} from {where})"


def compare_toolchain(
    expected: Mapping[str, Any], actual: Any, skip_members: frozenset[str] = frozenset()
) -> list[Violation]:
    """Every way `actual` (parsed nix/toolchain.json) disagrees with `expected` (toolchain_for), as errors.

    `skip_members`: members whose expected entry could not be computed (other rules report why). What the pinned
    inputs lack is not an error here: `toolchain_warnings_for` reports it.
    """
    if not isinstance(actual, Mapping) or actual.get("schema") != SCHEMA:
        return [_v(f'is not a lockgen toolchain file (expected "schema": "{SCHEMA}")')]
    out: list[Violation] = []
    if actual.get("python") != expected["python"]:
        out.append(
            _v(
                f"says Python {actual.get('python')!r}, but .python-version says {expected['python']}: "
                "the shell's Python would not be the one uv locks for"
            )
        )
    if actual.get("driver_policy") != expected["driver_policy"]:
        out.append(
            _v(
                f"says driver_policy {actual.get('driver_policy')!r}, but the fleet's policy "
                f"([tool.lockgen] policy) is {expected['driver_policy']!r}"
            )
        )
    members = actual.get("members")
    if not isinstance(members, Mapping):
        members = {}
        out.append(_v('has no "members" table'))
    for name, want in sorted(expected["members"].items()):
        got = members.get(name)
        if not isinstance(got, Mapping):
            out.append(
                _v(
                    f"has no entry for member {name}, which uv.lock resolves to CUDA {want['cuda']}: "
                    f"`nix develop .#{name}` would have no shell",
                    member=name,
                )
            )
        elif got.get("cuda") != want["cuda"]:
            out.append(
                _v(
                    f"gives member {name} CUDA {got.get('cuda')}, but uv.lock resolves it to CUDA "
                    f"{want['cuda']}: the shell's nvcc would not match torch's CUDA",
                    member=name,
                )
            )
        elif got.get("nix_attr") != want["nix_attr"]:
            out.append(
                _v(
                    f"gives member {name} the nixpkgs set {got.get('nix_attr')!r}, but CUDA {want['cuda']} "
                    f"is {want['nix_attr']} (lockgen's table tables/data/cuda.toml)",
                    member=name,
                )
            )
        elif any(got.get(k) != want.get(k) for k in ENTRY_KEYS):
            out.append(
                _v(
                    f"gives member {name} {_entry_text(got)}, but with the inputs flake.lock pins it is "
                    f"{_entry_text(want)}",
                    member=name,
                )
            )
    for name in sorted(set(members) - set(expected["members"]) - skip_members):
        out.append(
            _v(
                f"names member {name}, which uv.lock does not resolve to any CUDA (not a member, or CPU-only)",
                member=str(name),
            )
        )
    want_default = expected["default"]
    got_default = actual.get("default")
    if want_default is None and got_default is not None:
        out.append(
            _v(
                "gives the default shell a CUDA toolkit, but no member of uv.lock uses a CUDA that a pinned nixpkgs "
                "input has"
            )
        )
    elif want_default is not None and (
        not isinstance(got_default, Mapping) or any(got_default.get(k) != want_default.get(k) for k in ENTRY_KEYS)
    ):
        out.append(
            _v(
                f"gives the default shell {_entry_text(got_default)}, but the newest member CUDA in uv.lock gives "
                f"{_entry_text(want_default)}"
            )
        )
    got_images = actual.get("images")
    want_images = expected.get("images", {})
    for name in sorted(set(want_images) - skip_members):
        if not isinstance(got_images, Mapping) or got_images.get(name) != want_images[name]:
            out.append(
                _v(
                    f"lists other wheels for `nix build .#{name}-image` than member {name} installs from uv.lock",
                    member=name,
                )
            )
    return out


def toolchain_warnings_for(
    actual: Any, inputs: tuple[PinnedInput, ...] | None, table_file: str = "lockgen/tables/data/nixpkgs.toml"
) -> list[Violation]:
    """Warnings (never errors): a member or the default shell whose set no pinned input has, and pinned nixpkgs
    inputs whose revision lockgen's table does not know (lockgen cannot tell which sets they have)."""
    out: list[Violation] = []
    for p in inputs or ():
        if p.row is None:
            out.append(
                _v(
                    f"pins nixpkgs input {p.name} to {p.rev}, a revision lockgen's table ({table_file}) does not "
                    "know, so lockgen cannot tell which CUDA sets it has and does not use it",
                    "add a row for this revision to lockgen/src/lockgen/tables/data/nixpkgs.toml after checking its "
                    "cudaPackages_X_Y sets (that file says how), or pin a revision the table knows",
                    file=FLAKE_LOCK,
                )
            )
    if not isinstance(actual, Mapping):
        return out
    shells: list[tuple[str | None, Any]] = [(None, actual.get("default"))]
    members = actual.get("members")
    if isinstance(members, Mapping):
        shells += sorted(members.items())
    for member, entry in shells:
        if isinstance(entry, Mapping) and entry.get("input") is None and entry.get("missing"):
            out.append(
                _v(
                    str(entry["missing"]),
                    "see the message: the lock is kept; `nix develop"
                    + (f" .#{member}" if member else "")
                    + "` stops with this message until an input has the set",
                    member=member,
                    file=FLAKE_NIX,
                )
            )
    return out


def _actual_and_expected(ws: Workspace) -> tuple[Any, dict[str, Any] | None, list[Violation], frozenset[str]]:
    """(parsed nix/toolchain.json or None, expected toolchain or None, early violations, members to skip)."""
    root = Path(ws.root)
    path = root / TOOLCHAIN_FILE
    if not path.is_file():
        if wants_toolchain(root, ws.lockgen_config):
            why = (
                "flake.nix is here and reads it" if (root / FLAKE_NIX).is_file() else "[tool.lockgen] toolchain = true"
            )
            return None, None, [_v(f"is missing, but {why}")], frozenset()
        return None, None, [], frozenset()
    try:
        actual = read_json_file(path, TOOLCHAIN_FILE)
    except InputError as e:
        return None, None, [_v(e.message)], frozenset()
    entries, problems = member_entries(ws)
    try:
        python = python_minor(ws.python_version)
    except InputError as e:
        fix = "write the members' Python minor version to .python-version, then run `lockgen toolchain --write`"
        return actual, None, [Violation(RULE, ".python-version", e.message, fix)], frozenset(problems)
    images = {m: {NIX_SYSTEMS[mach]: image_wheels(ws.lock, m, mach, python) for mach in NIX_SYSTEMS} for m in entries}
    expected = toolchain_expected(entries, python, ws.fleet.policy, flake_inputs(root), images)
    return actual, expected, [], frozenset(problems)


def rule_toolchain(ws: Workspace) -> list[Violation]:
    """nix/toolchain.json agrees with uv.lock (each member's CUDA, set and input, the Python, the fleet policy, the
    images' wheels) and with the nixpkgs inputs flake.lock pins.

    A workspace with neither nix/toolchain.json nor flake.nix has no Nix toolchain: nothing to check. What the
    pinned inputs lack is a warning (`toolchain_warnings`), never a violation: Nix never vetoes a lock.
    """
    actual, expected, early, skip = _actual_and_expected(ws)
    if early or expected is None:
        return early
    return compare_toolchain(expected, actual, skip)


def toolchain_warnings(ws: Workspace) -> list[Violation]:
    """The toolchain rule's warnings for this workspace (see `toolchain_warnings_for`); empty without a toolchain."""
    root = Path(ws.root)
    path = root / TOOLCHAIN_FILE
    if not path.is_file():
        return []
    try:
        actual = read_json_file(path, TOOLCHAIN_FILE)
    except InputError:
        return []  # the rule reports it
    return toolchain_warnings_for(actual, flake_inputs(root))
