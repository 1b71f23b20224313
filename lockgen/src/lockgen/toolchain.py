"""The Nix toolchain file: which CUDA toolkit (`cudaPackages_X_Y`) and Python each member's dev shell gets.

`nix/toolchain.json` is written by lockgen from the lock (`lockgen toolchain --write`) and read by flake.nix, so
moving CUDA never needs a hand edit in Nix. It carries no knowledge of its own: the nixpkgs attribute per CUDA
comes from data/cuda.toml, the sets a pinned nixpkgs revision has from data/nixpkgs.toml.

Pure core: `toolchain_for`, `compare_toolchain`, `guard_verdict`. I/O at the edges: `write_toolchain`,
`read_json_file`, `rule_toolchain` (reads nix/toolchain.json and flake.lock next to the workspace).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lockgen.cudadetect import member_cuda
from lockgen.errors import InputError
from lockgen.knowledge import Knowledge
from lockgen.rules import Violation
from lockgen.versions import CudaVersion, DriverVersion

SCHEMA = "lockgen-toolchain/1"
TOOLCHAIN_FILE = "nix/toolchain.json"
FLAKE_LOCK = "flake.lock"
FLAKE_NIX = "flake.nix"
RULE = "toolchain"
WRITE_FIX = "run `lockgen toolchain --write` (flake.nix reads nix/toolchain.json; never edit it by hand)"
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
    data: Mapping[str, Any], file: str = "lockgen/data/nixpkgs.toml"
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
    text = resources.files("lockgen").joinpath("data/nixpkgs.toml").read_text(encoding="utf-8")
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
    nodes = flake_lock.get("nodes")
    if not isinstance(nodes, Mapping):
        return None
    root = nodes.get(str(flake_lock.get("root", "root")), {})
    ref = root.get("inputs", {}).get("nixpkgs") if isinstance(root, Mapping) else None
    if isinstance(ref, list):  # a "follows" path: walk it from the root
        node: Any = root
        for step in ref:
            name = node.get("inputs", {}).get(step) if isinstance(node, Mapping) else None
            node = nodes.get(name) if isinstance(name, str) else None
        target = node
    else:
        target = nodes.get(ref) if isinstance(ref, str) else None
    if not isinstance(target, Mapping):
        return None
    rev = target.get("locked", {}).get("rev")
    return str(rev) if isinstance(rev, str) else None


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
            f"resolves to CUDA {cuda}, which lockgen's tables (data/cuda.toml) do "
            "not know, so there is no nixpkgs attribute for it",
        )
    return {"cuda": str(cuda), "nix_attr": release.nix_attr}


def member_entries(ws: Any) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per member with CUDA-linked packages: its toolchain entry; and per member that has none to give, why.

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
    return entries, problems


def toolchain_for(ws: Any) -> dict[str, Any]:
    """The toolchain the lock needs, as the JSON-ready dict flake.nix reads.

    Keys: schema, python ("3.12"), driver_policy (the fleet's), members ({member: {cuda, nix_attr}}) and
    default (the newest member CUDA, for the workspace's default shell; null when no member uses CUDA).
    Raises InputError when a member has no single CUDA or a CUDA the tables do not know.
    """
    entries, problems = member_entries(ws)
    if problems:
        member, message = sorted(problems.items())[0]
        raise InputError("uv.lock", member, message)
    return toolchain_expected(entries, python_minor(ws.python_version), ws.fleet.policy)


def render_toolchain(data: Mapping[str, Any]) -> str:
    """The exact text lockgen writes: sorted keys, two-space indent, trailing newline (what `lockgen lock` writes)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_toolchain(root: Path, data: Mapping[str, Any]) -> Path:
    """Write nix/toolchain.json under `root` atomically (lockgen.txn.atomic_write: temp file, fsync, rename)."""
    from lockgen.txn import atomic_write

    path = Path(root) / TOOLCHAIN_FILE
    atomic_write(path, render_toolchain(data).encode("utf-8"))
    return path


def read_json_file(path: Path, display: str) -> Any:
    """Parse a JSON file; InputError naming the file when it is missing or malformed."""
    from lockgen.workspace import read_text

    text = read_text(path, display)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(display, None, f"is not valid JSON: {e}") from None


# ---- the rule: nix/toolchain.json agrees with the lock and with the pinned nixpkgs ----


def _v(message: str, fix: str = WRITE_FIX, member: str | None = None, file: str = TOOLCHAIN_FILE) -> Violation:
    return Violation(RULE, file, message, fix, None, member)


def _attrs_in(actual: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """(member or None for default, nix_attr) for every attribute the file names."""
    out: list[tuple[str | None, str]] = []
    default = actual.get("default")
    if isinstance(default, Mapping) and isinstance(default.get("nix_attr"), str):
        out.append((None, default["nix_attr"]))
    members = actual.get("members")
    if isinstance(members, Mapping):
        for name, entry in sorted(members.items()):
            if isinstance(entry, Mapping) and isinstance(entry.get("nix_attr"), str):
                out.append((str(name), entry["nix_attr"]))
    return out


def compare_toolchain(
    expected: Mapping[str, Any],
    actual: Any,
    skip_members: frozenset[str] = frozenset(),
    pin_rev: str | None = None,
    table: tuple[NixpkgsRevision, ...] = (),
) -> list[Violation]:
    """Every way `actual` (parsed nix/toolchain.json) disagrees with `expected` (toolchain_for) and the nixpkgs pin.

    `skip_members`: members whose expected entry could not be computed (other rules report why).
    `pin_rev`: the nixpkgs revision flake.lock pins (None: no flake.lock, the pin is not checked).
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
            continue
        if got.get("cuda") != want["cuda"]:
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
                    f"is {want['nix_attr']} (lockgen's table data/cuda.toml)",
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
        out.append(_v("gives the default shell a CUDA toolkit, but no member of uv.lock uses CUDA"))
    elif want_default is not None and (
        not isinstance(got_default, Mapping)
        or got_default.get("cuda") != want_default["cuda"]
        or got_default.get("nix_attr") != want_default["nix_attr"]
    ):
        got_text = got_default.get("cuda") if isinstance(got_default, Mapping) else got_default
        out.append(
            _v(
                f"gives the default shell CUDA {got_text}, but the newest member CUDA in uv.lock is "
                f"{want_default['cuda']} ({want_default['nix_attr']})"
            )
        )
    if pin_rev is not None:
        row = find_revision(pin_rev, table)
        if row is None:
            out.append(
                _v(
                    f"flake.lock pins nixpkgs {pin_rev}, a revision lockgen's table (data/nixpkgs.toml) does not know, "
                    "so lockgen cannot tell whether it has the CUDA sets nix/toolchain.json names",
                    "pin a revision the table knows, or add a row for this one to "
                    "lockgen/src/lockgen/data/nixpkgs.toml after checking its cudaPackages_X_Y sets (that file says "
                    "how)",
                    file=FLAKE_LOCK,
                )
            )
        else:
            for member, attr in _attrs_in(actual):
                if attr not in row.cuda_sets:
                    who = f"member {member}" if member else "the default shell"
                    out.append(
                        _v(
                            f"names {attr} for {who}, but the pinned nixpkgs {row.branch} {row.rev[:12]} has only "
                            f"{', '.join(sorted(row.cuda_sets))}",
                            "move the pin (`nix flake update nixpkgs`) to a revision that has it and add that revision "
                            "to lockgen's data/nixpkgs.toml, or re-lock to a CUDA the pin has (`lockgen lock`)",
                            member=member,
                        )
                    )
    return out


def rule_toolchain(ws: Any) -> list[Violation]:
    """nix/toolchain.json agrees with uv.lock (each member's CUDA, the Python, the fleet policy) and names only
    cudaPackages sets that the nixpkgs revision pinned in flake.lock has.

    A workspace with neither nix/toolchain.json nor flake.nix has no Nix toolchain: nothing to check.
    """
    root = Path(ws.root)
    path = root / TOOLCHAIN_FILE
    if not path.is_file():
        if (root / FLAKE_NIX).is_file():
            return [_v("is missing, but flake.nix is here and reads it")]
        return []
    try:
        actual = read_json_file(path, TOOLCHAIN_FILE)
    except InputError as e:
        return [_v(e.message)]
    entries, problems = member_entries(ws)
    try:
        python = python_minor(ws.python_version)
    except InputError as e:
        return [
            Violation(
                RULE,
                ".python-version",
                e.message,
                "write the members' Python minor version to .python-version, then run `lockgen toolchain --write`",
            )
        ]
    expected = toolchain_expected(entries, python, ws.fleet.policy)
    pin_rev = None
    lock_path = root / FLAKE_LOCK
    if lock_path.is_file():
        try:
            pin_rev = nixpkgs_rev(read_json_file(lock_path, FLAKE_LOCK))
        except InputError as e:
            return [_v(e.message, "regenerate it with `nix flake lock`", file=FLAKE_LOCK)]
    return compare_toolchain(expected, actual, frozenset(problems), pin_rev, load_nixpkgs_table())


def toolchain_expected(entries: Mapping[str, Mapping[str, str]], python: str, policy: str) -> dict[str, Any]:
    """The toolchain dict from already computed member entries (what toolchain_for returns when nothing fails)."""
    default = None
    if entries:
        default = dict(max(entries.values(), key=lambda e: CudaVersion.parse(e["cuda"])))
    return {
        "comment": COMMENT,
        "schema": SCHEMA,
        "python": python,
        "driver_policy": policy,
        "default": default,
        "members": {k: dict(v) for k, v in sorted(entries.items())},
    }


# ---- the driver guard: does the host driver run a member's CUDA? ----


@dataclass(frozen=True)
class GuardVerdict:
    """The answer of `lockgen toolchain guard`: ok (exit 0) or not (exit 1), and what to tell the user."""

    ok: bool
    level: str  # "ok", "too-old", "minor-compat", "no-driver", "unknown"
    message: str
    required: DriverVersion | None = None


def guard_verdict(
    member: str, cuda: CudaVersion, driver: DriverVersion | None, knowledge: Knowledge, policy: str = "toolkit"
) -> GuardVerdict:
    """Compare a host driver with what `cuda` needs under `policy`; plain words for the shell's entry message.

    ok when the driver meets the policy's minimum: the toolkit driver of that CUDA ("toolkit"), or the
    minor-version-compatibility floor of its major family ("minor").
    """
    who = f"{member}'s CUDA {cuda}"
    if driver is None:
        return GuardVerdict(
            False,
            "no-driver",
            f"no NVIDIA driver found on this host: `uv sync` works, but torch in {member} will see no GPU (CPU only)",
        )
    toolkit = knowledge.required_driver(cuda, "toolkit")
    floor = knowledge.required_driver(cuda, "minor")
    if toolkit is None and floor is None:
        return GuardVerdict(
            True,
            "unknown",
            f"lockgen's tables do not know the minimum driver for CUDA {cuda}; host driver {driver} "
            f"was not checked against {member}'s needs",
        )
    if toolkit is not None and driver.satisfies(toolkit):
        return GuardVerdict(True, "ok", f"host driver {driver} runs {who} (needs >= {toolkit})", toolkit)
    if floor is not None and driver.satisfies(floor):
        ok = policy == "minor"
        own = f"CUDA {cuda}'s own driver is {toolkit}" if toolkit else f"CUDA {cuda}'s own driver is unknown"
        tail = (
            ""
            if ok
            else (
                f'. The fleet policy is "toolkit", which asks for >= {toolkit or "(unknown)"}: upgrade '
                'the driver, or set [tool.lockgen] policy = "minor" if that limit is acceptable'
            )
        )
        return GuardVerdict(
            ok,
            "minor-compat",
            f"host driver {driver} runs {who} only through minor-version compatibility ({own}; CUDA {cuda.major}.x "
            f"needs >= {floor}): code that JIT-compiles newer PTX fails with CUDA_ERROR_UNSUPPORTED_PTX_VERSION{tail}",
            floor if ok else toolkit,
        )
    required = floor if (policy == "minor" and floor is not None) or toolkit is None else toolkit
    best = knowledge.max_cuda_for_driver(driver, "minor" if policy == "minor" else "toolkit")
    runs = f"this driver runs CUDA <= {best}" if best else "lockgen knows no CUDA this driver runs"
    return GuardVerdict(
        False,
        "too-old",
        f"host NVIDIA driver {driver} is too old for {who}, which needs driver >= {required}. torch will fail with "
        f'"CUDA driver version is insufficient" ({runs}). Fix: upgrade the host driver to >= {required}, or lock '
        f'for this driver: set [tool.lockgen] driver = "{driver}" in pyproject.toml and run `lockgen lock`',
        required,
    )
