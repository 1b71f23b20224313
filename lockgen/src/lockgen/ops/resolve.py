"""Driver-matched resolution: `lockgen lock` and `lockgen bump` as one transaction each.

The fleet decides the CUDA window; lockgen writes it as constraints uv understands, relaxes the pins that
must move, lets uv resolve, steers it away from builds whose CUDA disagrees (bounded), re-pins strictly,
writes nix/toolchain.json, and checks. Every uv run goes through `runner` (lockgen.seams.uvtool.run_uv by default)
and every write through the Transaction, so tests can fake uv and inject faults.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgen.errors import LockgenError
from lockgen.model.cudadetect import is_cuda_linked, member_cuda_from
from lockgen.model.cudaindex import CudaIndex, IndexChoice, cuda_index_from_config
from lockgen.model.family import family_of
from lockgen.model.lockfile import normalize
from lockgen.model.window import Window
from lockgen.model.workspace import Workspace, load_workspace
from lockgen.ops.nosolution import Attempt, explain_failure, explain_uv_failure, floor_conflicts
from lockgen.plan import hooks
from lockgen.plan.constraints import exclusion_constraints, runtime_constraints
from lockgen.plan.edit import (
    add_requirements,
    managed_constraints,
    managed_requirements,
    requirement_names,
    set_cuda_index,
    set_exclude_newer,
    set_managed_constraints,
    set_managed_requirements,
    set_requirements,
)
from lockgen.plan.exclusions import Excluded, PreExclusion
from lockgen.plan.hooks import PreExclude, Steer
from lockgen.seams.txn import Transaction, WorkspaceLock, apply_changes
from lockgen.seams.uvtool import UvResult, classify_uv_failure, run_uv
from lockgen.ui import Reporter

MAX_STEERING_ROUNDS = 3
Runner = Callable[..., UvResult]


class ResolutionFailed(LockgenError):
    """uv found no solution; the message says why in the user's terms."""

    exit_code = 1


class UvRunFailed(LockgenError):
    """uv failed for a reason other than "no solution": a network, build or cache failure. Nothing was written."""

    exit_code = 1

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Downgrade(LockgenError):
    """A bump would leave a package older than before that it was not asked to move down; nothing was written."""

    exit_code = 1


class CheckFailed(LockgenError):
    """The re-locked workspace still violates a rule; everything was restored."""

    exit_code = 1


class EmptyWindow(LockgenError):
    """No CUDA version runs on the whole fleet."""

    exit_code = 1


@dataclass(frozen=True)
class Request:
    """What the user asked for."""

    kind: str  # "lock" | "bump"
    package: str | None = None
    to: str | None = None
    member: str | None = None
    exclude_newer: str | None = None  # None: keep for lock (set if absent), now for bump


@dataclass(frozen=True)
class MemberChange:
    """One member, before and after."""

    member: str
    cuda_before: str | None
    cuda_after: str | None
    changes: tuple[tuple[str, str | None, str | None], ...]  # (package, old, new): CUDA-linked and direct pins


@dataclass(frozen=True)
class Outcome:
    """What a lock/bump did (or, for a dry run, would do)."""

    members: tuple[MemberChange, ...]
    uv_runs: int
    constraints: tuple[str, ...]
    excluded: tuple[PreExclusion, ...]  # what lockgen wrote to keep uv away, each as a constraint
    changed_files: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """A plain dict for --json."""
        return {
            "members": [
                {
                    "member": m.member,
                    "cuda_before": m.cuda_before,
                    "cuda_after": m.cuda_after,
                    "changes": [{"package": p, "old": o, "new": n} for p, o, n in m.changes],
                }
                for m in self.members
            ],
            "uv_runs": self.uv_runs,
            "constraints": list(self.constraints),
            "excluded": [{"package": n, "constraint": c, "reason": r} for n, c, r in self.excluded],
            "changed_files": list(self.changed_files),
            "warnings": list(self.warnings),
        }


def empty_window_message(window: Any) -> str:
    """One line: why no CUDA runs on the fleet - the lowest driver any known CUDA needs, and the GPUs that rule
    CUDA versions out."""
    fleet = window.fleet
    drivers = [e for e in window.excluded if e.reason == "driver"]
    gpus = sorted(
        {e.detail.split(" (compute")[0].split("cannot target ")[-1] for e in window.excluded if e.reason == "gpu"}
    )
    parts = []
    if drivers:
        oldest = min(drivers, key=lambda e: e.cuda)
        parts.append(f"the oldest CUDA lockgen knows ({oldest.cuda}) needs {oldest.detail.split('needs ')[-1]}")
    if gpus:
        parts.append(f"no single CUDA targets every GPU ({', '.join(gpus)})")
    return f"no CUDA version runs on the whole fleet ({fleet.describe()}): " + "; ".join(
        parts or ["see tables/data/cuda.toml"]
    )


def now_stamp() -> str:
    """The current UTC time as uv's exclude-newer wants it (seconds precision)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def cuda_linked_pins(ws: Workspace, member: str) -> dict[str, str]:
    """The member's direct dependencies that are CUDA-linked, with the version the lock has for each."""
    installed = ws.installed(member)
    out = {}
    for name in requirement_names(ws.members[member].data):
        pkg = installed.get(name)
        if pkg is not None and pkg.version and is_cuda_linked(pkg, installed):
            out[name] = pkg.version
    return out


Snapshot = dict[str, tuple[str | None, dict[str, str | None]]]  # member -> (its CUDA, package -> version)


def _snapshot_members(ws: Workspace) -> Snapshot:
    out: Snapshot = {}
    for name in ws.members:
        if not ws.lock.by_name(name):
            continue
        installed = ws.installed(name)
        mc = member_cuda_from(name, installed)
        direct = requirement_names(ws.members[name].data)  # the member's own pins: a move the user must see
        linked = {
            n: p.version
            for n, p in installed.items()
            if (n in direct or is_cuda_linked(p, installed)) and not p.is_workspace
        }
        out[name] = (str(mc.cuda) if mc.cuda else None, linked)
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[MemberChange, ...]:
    out = []
    for m in sorted(set(before) | set(after)):
        cb, pb = before.get(m, (None, {}))
        ca, pa = after.get(m, (None, {}))
        changes = tuple((n, pb.get(n), pa.get(n)) for n in sorted(set(pb) | set(pa)) if pb.get(n) != pa.get(n))
        if cb is None and ca is None and not changes and not (pb or pa):
            continue  # a CPU-only project (the tooling root): nothing to report
        out.append(MemberChange(m, cb, ca, changes))
    return tuple(out)


def workspace_files(ws: Workspace) -> list[Path]:
    """Every file lock/bump may touch."""
    files = [ws.root / "pyproject.toml", ws.root / "uv.lock", ws.root / "nix" / "toolchain.json"]
    files += [ws.root / m.pyproject_file for m in ws.members.values() if m.path != "."]
    from lockgen.plan.notebooks import notebooks

    files += [ws.root / nb.path for nb in notebooks(ws)]
    return files


def relock(
    root: Path,
    request: Request,
    reporter: Reporter | None = None,
    runner: Runner = run_uv,
    fault: Callable[[str], None] | None = None,
    pre_exclude: PreExclude | None = hooks.pre_exclude,
    steer: Steer | None = hooks.steer,
    finalize: bool = True,
    apply: bool = True,
) -> Outcome:
    """Run lock or bump on the project at `root` as one transaction that cannot be half-applied.

    Under the workspace lock, the project is copied to a private staging directory (lockgen.seams.stage) and the whole
    lock/bump runs there (`relock_here`); only a result that passed the fleet's rules is applied to the project, by
    atomic renames under a journal (lockgen.seams.txn.apply_changes): a kill at any moment leaves the old files, or the
    journal that the next lockgen command rolls back. `apply=False` is a dry run; `finalize=False` stops after the
    resolution (both write nothing to the project). Steering is on unless the caller opts out: `pre_exclude=None`
    and `steer=None` turn off the exclusions before and after resolving (lockgen.plan.hooks)."""
    reporter = reporter or Reporter(quiet=True)
    # bad input (a malformed file, a notebook path leaving the project) is refused with its key before any copy
    ws = load_workspace(root, allow_missing_lock=request.kind == "lock")
    workspace_files(ws)
    with WorkspaceLock(root), tempfile.TemporaryDirectory(prefix="lockgen-stage-") as tmp:
        stage = stage_copy(root, Path(tmp), ws)
        outcome = relock_here(stage, request, reporter, runner, fault, pre_exclude, steer, finalize)
        if not (apply and finalize) or not outcome.changed_files:
            return outcome
        changes = {rel: (stage / rel).read_bytes() for rel in outcome.changed_files if (stage / rel).exists()}
        gone = [rel for rel in outcome.changed_files if not (stage / rel).exists()]
        if gone:  # lock/bump never delete a file; a vanished one is a bug, not something to apply
            raise LockgenError(f"internal: the staged result lost {', '.join(gone)}")
        label = f"lockgen {request.kind}" + (f" {request.package}" if request.package else "")
        reporter.step(f"applying {len(changes)} file(s) to the project")
        apply_changes(root, changes, label, fault)
    return outcome


def relock_here(
    root: Path,
    request: Request,
    reporter: Reporter,
    runner: Runner = run_uv,
    fault: Callable[[str], None] | None = None,
    pre_exclude: PreExclude | None = hooks.pre_exclude,
    steer: Steer | None = hooks.steer,
    finalize: bool = True,
) -> Outcome:
    """The lock/bump steps in place at `root` (a staging copy: `relock` and `matrix` call it on one), inside a
    Transaction that restores every file on failure.

    The workspace is read once per state of its files: here at the start, after each uv run (which rewrites uv.lock
    from pyprojects lockgen edited), and once more only when the pins need a second uv run to be recorded; a step
    that leaves the files as an earlier read saw them is handed that value."""
    plan = make_plan(load_workspace(root, allow_missing_lock=request.kind == "lock"), request, pre_exclude)
    run = _Relock(plan, reporter, runner, steer)
    with Transaction(root, workspace_files(plan.ws), fault=fault, take_lock=False) as tx:
        run.tx = tx
        run.begin()
        resolved = run.resolve()
        if not finalize:
            return run.outcome(resolved, ())
        final = run.finish(run.repin_and_record(resolved))
        changed = tuple(
            sorted(
                str(p.relative_to(root))
                for p, data in tx.snapshot.items()
                if (p.read_bytes() if p.exists() else None) != data
            )
        )
    return run.outcome(final, changed)


@dataclass(frozen=True)
class RelockPlan:
    """What one lock/bump works from, decided before anything is written and fixed for the run."""

    root: Path
    request: Request
    ws: Workspace  # the workspace as read at the start
    targets: tuple[str, ...]  # the members this run re-locks
    fresh: bool  # no uv.lock yet: resolve from the pyprojects, then pin
    before: Snapshot  # each member's CUDA and pins, for the report
    pre: tuple[PreExclusion, ...]  # exclusions the fleet asks for before resolving (lockgen.plan.hooks)
    previous: tuple[Excluded, ...]  # exclusions earlier runs wrote (they are facts about builds)
    original_root: str  # the root pyproject's text
    originals: Mapping[str, str]  # each target member's pyproject text
    root_member: str | None  # the target member that is the root project (one file holds both edits)
    stamp: str | None  # exclude-newer to write, or None to keep the project's
    cuda_index: CudaIndex | None
    chosen: IndexChoice | None  # the CUDA index's variant inside the window
    upgrade: frozenset[str]  # what uv frees (--upgrade-package)
    extra_constraints: tuple[str, ...]  # `name==version` for a `bump --to` of a package no member names
    relax: Mapping[str, Mapping[str, str | None]]  # member -> name -> new specifier (None: freed), at the start
    floors: Mapping[str, Mapping[str, str]]  # member -> name -> `>=current` for relaxed pure-Python packages

    @property
    def window(self) -> Window:
        """The fleet's CUDA window."""
        return self.ws.window


def make_plan(ws: Workspace, request: Request, pre_exclude: PreExclude | None) -> RelockPlan:
    """The plan for `request` on `ws` (LockgenError when it cannot run: no CUDA for the fleet, an unknown member,
    nothing to bump)."""
    root = ws.root
    if not ws.window.allowed:
        raise EmptyWindow(empty_window_message(ws.window))
    fresh = not ws.lock.packages
    members = list(ws.members) if fresh else [m for m in ws.members if ws.lock.by_name(m)]
    if request.member and request.member not in members:
        raise LockgenError(f"--member {request.member}: not a member of this workspace (members: {', '.join(members)})")
    targets = (request.member,) if request.member else tuple(members)
    before = _snapshot_members(ws)
    pre = tuple(pre_exclude(ws) if pre_exclude else ())
    # exclusions found by earlier runs stay (they are facts about builds), until the fleet changes them: the
    # workspace's (root constraints) and each target member's own (its managed requirements, `member` set)
    previous = tuple(_previous_exclusions(ws, targets))
    original_root = (root / "pyproject.toml").read_text(encoding="utf-8")
    originals = {m: (root / ws.members[m].pyproject_file).read_text(encoding="utf-8") for m in targets}
    # when the root is itself a project, its requirements and the fleet's caps live in one file: both edits
    # are composed into it (the member edit first, then the root's tables), never one over the other
    root_member = next((m for m in targets if ws.members[m].path == "."), None)
    uv_cfg = ws.pyproject.get("tool", {}).get("uv", {})
    # exclude-newer: kept as the project has it; `bump` moves it to now; a project without one gets one only when
    # it is locked from nothing (adding it to an existing lock would make uv re-resolve everything)
    current = uv_cfg.get("exclude-newer")
    stamp: str | None
    if request.exclude_newer:
        stamp = request.exclude_newer
    elif request.kind == "bump":
        stamp = now_stamp() if current else None
    else:
        stamp = str(current) if current else (now_stamp() if fresh else None)
    cuda_index = cuda_index_from_config(ws.lockgen_config.get("cuda-index"))
    chosen = cuda_index.choose(ws.window) if cuda_index else None
    upgrade: set[str] = set()
    extra: list[str] = []
    relax: dict[str, dict[str, str | None]] = {}
    if request.kind == "bump":
        upgrade, extra, relax = _bump_moves(ws, request, targets)
    else:
        # `lock` keeps every pin that still fits. A member that must move (its CUDA left the window, or it has a
        # build the fleet cannot run) frees and re-resolves its torch family: without --upgrade-package uv holds
        # on to the old torch and trades the compiled package for an ancient release (vllm 0.2.5, not 0.11.2).
        for m in targets:
            relax[m] = {}
            moving = set() if fresh else _must_move(ws, m, pre)
            if moving:
                upgrade |= moving
                relax[m] = {n: None for n in moving & set(requirement_names(ws.members[m].data))}
    # Pure-Python packages carry no CUDA: relaxed, they are held at ">= their version" - uv otherwise trades a
    # compiled package's pin for an ancient release of them (unsloth 2024.8, to dodge xformers). Without a
    # solution that way, they are freed too (one more uv run). `bump` does so from the start (it never
    # downgrades what the user did not name), `lock` in steering rounds.
    floors = {m: _floors(ws, m, specs, request) if request.kind == "bump" else {} for m, specs in relax.items()}
    return RelockPlan(
        root=root,
        request=request,
        ws=ws,
        targets=targets,
        fresh=fresh,
        before=before,
        pre=pre,
        previous=previous,
        original_root=original_root,
        originals=originals,
        root_member=root_member,
        stamp=stamp,
        cuda_index=cuda_index,
        chosen=chosen,
        upgrade=frozenset(upgrade),
        extra_constraints=tuple(extra),
        relax=relax,
        floors=floors,
    )


def _bump_moves(
    ws: Workspace, request: Request, targets: Sequence[str]
) -> tuple[set[str], list[str], dict[str, dict[str, str | None]]]:
    """What a bump frees in uv, the constraints a `--to` adds, and each member's relaxed pins."""
    assert request.package
    pkg = normalize(request.package)
    upgrade: set[str] = set()
    extra: list[str] = []
    relax: dict[str, dict[str, str | None]] = {}
    for m in targets:
        fam = family_of(pkg, ws.installed(m))
        if not fam:
            continue
        upgrade |= upgrades_of(fam)
        direct = set(requirement_names(ws.members[m].data))
        relax[m] = {n: None for n in fam & direct}
        if request.to:
            if pkg in direct:
                relax[m][pkg] = f"=={request.to}"
            else:
                extra.append(f"{pkg}=={request.to}")
    if not relax:
        where = f"member {request.member}" if request.member else "any member"
        raise LockgenError(f"{request.package} is not installed by {where}: nothing to bump")
    return upgrade, extra, relax


@dataclass
class RelockState:
    """What changes while one lock/bump runs: the steering rounds' findings and what has been written."""

    relax: dict[str, dict[str, str | None]]  # member -> name -> new specifier (None: freed)
    floors: dict[str, dict[str, str]]
    bases: dict[str, str]  # the member texts the edits start from: the originals, plus routed requirements added
    steered: list[Excluded]  # exclusions in force: the earlier runs' and this run's steering
    uv_runs: int = 0
    seen_by_uv: dict[Path, bytes] = field(default_factory=dict)  # the pyprojects as the last uv run saw them
    pins_written: dict[str, dict[str, str]] = field(default_factory=dict)  # pyproject -> the pins lockgen wrote
    member_texts: dict[str, str] = field(default_factory=dict)  # the root project's edited text (root_member)

    @classmethod
    def start(cls, plan: RelockPlan) -> RelockState:
        """The state before the first write."""
        return cls(
            relax={m: dict(specs) for m, specs in plan.relax.items()},
            floors={m: dict(f) for m, f in plan.floors.items()},
            bases=dict(plan.originals),
            steered=list(plan.previous),
        )


class _Relock:
    """The steps of one lock/bump from its `plan`, changing only `state`; `relock_here` runs them inside the
    transaction (`self.tx`)."""

    def __init__(self, plan: RelockPlan, reporter: Reporter, runner: Runner, steer: Steer | None) -> None:
        self.plan, self.reporter, self.runner, self.steer = plan, reporter, runner, steer
        self.state = RelockState.start(plan)
        self.tx: Transaction

    def entries(self) -> list[str]:
        """The root's managed constraints: window caps, the plan's exclusions, the workspace-wide steered ones,
        `--to`."""
        plan = self.plan
        entries = list(runtime_constraints(plan.window)) + [c for _, c, _ in plan.pre]
        entries += exclusion_constraints((e.package, e.version) for e in self.state.steered if not e.member)
        return entries + list(plan.extra_constraints)

    def scoped(self, member: str) -> list[str]:
        """The exclusions scoped to `member` (a target), as its managed requirements."""
        return list(exclusion_constraints((e.package, e.version) for e in self.state.steered if e.member == member))

    # -- effects --

    def uv(self, args: Sequence[str], what: str) -> UvResult:
        """One uv run (a fault point before and after it)."""
        self.tx.effect(f"uv {what}")
        self.state.seen_by_uv = {
            p: p.read_bytes() for p in self.tx.snapshot if p.name == "pyproject.toml" and p.exists()
        }
        self.reporter.step(f"{what}: {_short(args)}")
        self.state.uv_runs += 1
        res = self.runner(
            list(args), cwd=self.plan.root, on_line=self.reporter.detail, heartbeat=self.reporter.heartbeat
        )
        self.tx.effect(f"after uv {what}")
        return res

    def write(self, path: Path, text: str) -> None:
        """Write `text` to a snapshotted file when it differs."""
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            self.tx.write(path, text.encode("utf-8"))

    def fail(self, res: UvResult) -> LockgenError:
        """uv's failure, told apart (no solution, network, build, offline cache) and explained in the user's terms."""
        failure = classify_uv_failure(res.stderr, res.returncode)
        if failure.kind != "no-solution":
            return UvRunFailed(explain_uv_failure(failure, res.stderr), failure.kind)
        attempt = Attempt(
            self.plan.window,
            tuple(self.entries()),
            self.state.pins_written,
            self.plan.request.package,
            self.plan.request.to,
        )
        # a member's own floor that the fleet excludes is the reason, in the user's terms, before uv's words
        floors = floor_conflicts(self.plan.ws)
        text = explain_failure(res.stderr, attempt, self.plan.ws.knowledge)
        return ResolutionFailed("\n".join([*floors, text]) if floors else text)

    # -- 1-3: what must move, the fleet as constraints, relaxed pins --

    def begin(self) -> None:
        """Write the root's managed constraints and the relaxed member pins (what moves is in the plan)."""
        plan = self.plan
        if plan.cuda_index and plan.chosen:
            self.reporter.step(
                f"CUDA index: {plan.chosen.label} ({plan.chosen.url}) for {', '.join(plan.cuda_index.packages)}"
            )
        elif plan.cuda_index:
            self.reporter.step(
                "CUDA index: no variant inside the window; the routed packages come from the default index"
            )
        self.write_root()
        self.write_relaxed()

    def scope(self, ws_new: Workspace, found: Excluded) -> str:
        """The member an exclusion is written for, or "" for the whole workspace (the root's constraints).

        uv reads `constraint-dependencies` from the workspace root only, for every member. An exclusion that one
        member needs is written into that member's `[project] dependencies` instead - where it binds that member
        only - when `[tool.uv] conflicts` separates the member from every other member that installs the package
        (uv then resolves them in separate forks: a requirement of one never reaches the other). Otherwise the two
        share a resolution and the requirement would bind both anyway, so it stays workspace-wide, as it does when
        several members need it or the member is not one this run writes."""
        m = found.member
        if not m or m not in self.plan.targets or m not in ws_new.members:
            return ""
        apart = _conflicting(ws_new, m)
        if not apart:
            return ""
        for other in ws_new.members:
            if other == m or other in apart or not ws_new.lock.by_name(other):
                continue
            if found.package in ws_new.installed(other):
                return ""
        return m

    def root_text(self, base: str) -> str:
        """The root pyproject's own edits (managed constraints, exclude-newer, CUDA index) applied to `base`."""
        text = set_managed_constraints(base, self.entries())
        if self.plan.stamp:
            text = set_exclude_newer(text, self.plan.stamp)
        if self.plan.cuda_index is not None or "managed-sources" in self.plan.ws.lockgen_config:
            chosen, packages = self.plan.chosen, self.plan.cuda_index.packages if self.plan.cuda_index else ()
            text = set_cuda_index(
                text, f"lockgen-{chosen.label}" if chosen else None, chosen.url if chosen else None, packages
            )
        return text

    def write_root(self) -> None:
        """Write the root pyproject: its own edits (managed constraints: window caps, exclusions, --to; exclude-newer,
        CUDA index) over the root project's requirement edits, if any. The exclusions scoped to one member are that
        member's managed requirements (written with its pyproject)."""
        base = self.state.member_texts.get(self.plan.root_member or "", self.plan.original_root)
        self.write(self.plan.root / "pyproject.toml", self.root_text(base))

    def write_member(self, member: str, text: str) -> None:
        """Write a member's pyproject (the root's, composed with the root edits, when the root is the project), with
        the exclusions scoped to it as its managed requirements."""
        text = set_managed_requirements(text, self.scoped(member))
        if member == self.plan.root_member:
            self.state.member_texts[member] = text
            self.write_root()
        else:
            self.write(self.plan.root / self.plan.ws.members[member].pyproject_file, text)

    def write_relaxed(self) -> None:
        """Each member pyproject: the original text with the pins that must move freed (floors applied), and the
        exclusions scoped to it."""
        for m, specs in self.state.relax.items():
            wanted = {**specs, **self.state.floors.get(m, {})}
            file = self.plan.ws.members[m].pyproject_file
            self.write_member(m, set_requirements(self.state.bases[m], wanted, record_ranges=False))
            self.state.pins_written[file] = {k: v for k, v in wanted.items() if v}
        for m in self.plan.targets:
            if m not in self.state.relax and (self.scoped(m) or managed_requirements(self.plan.ws.members[m].data)):
                self.write_member(m, self.state.bases[m])

    # -- 4: resolve, steering away from builds that disagree with torch (bounded) --

    def resolve(self) -> Workspace:
        """Run uv until no steering is needed (at most MAX_STEERING_ROUNDS re-resolutions); the workspace as the last
        uv run left it."""
        upgrade_args = [a for p in sorted(self.plan.upgrade) for a in ("--upgrade-package", p)]
        for round_ in range(MAX_STEERING_ROUNDS + 1):
            res = self.uv(
                ["lock", *upgrade_args], "resolving" if round_ == 0 else f"re-resolving (steering round {round_})"
            )
            if res.returncode != 0 and classify_uv_failure(res.stderr, res.returncode).kind != "no-solution":
                raise self.fail(res)
            if res.returncode != 0 and any(self.state.floors.values()):
                self.reporter.step("no solution with pure-Python packages held at their versions; freeing them too")
                self.state.floors = {m: {} for m in self.state.floors}
                self.write_relaxed()
                res = self.uv(["lock", *upgrade_args], "resolving without floors")
            if res.returncode != 0:
                raise self.fail(res)
            ws_new = load_workspace(self.plan.root)
            if self.route_transitive(ws_new):
                continue  # re-resolve with the routed packages as direct requirements
            if self.steer is None:
                return ws_new
            found = [b._replace(member=self.scope(ws_new, b)) for b in self.steer(ws_new)]
            bad = [b for b in found if not _covered(b, self.state.steered)]
            if not bad:
                return ws_new
            if round_ == MAX_STEERING_ROUNDS:
                raise CheckFailed(
                    "uv keeps choosing builds whose CUDA disagrees with torch after "
                    f"{MAX_STEERING_ROUNDS} exclusions: " + "; ".join(f"{n} {v}: {r}" for n, v, r, _ in bad)
                )
            for b in bad:
                where = f" for {b.member} only" if b.member else ""
                self.reporter.step(f"steering: excluding {b[0]} {b[1]}{where} ({b[2]})")
            self.state.steered = _widened(self.state.steered + bad)
            self.write_root()
            # the members holding an excluded build free their torch family too (pure packages floored)
            for m in self.state.relax:
                inst = ws_new.installed(m) if ws_new.lock.by_name(m) else {}
                if any(inst.get(n) is not None and inst[n].version == v for n, v, *_ in bad):
                    fam = family_of("torch", inst) & set(requirement_names(ws_new.members[m].data))
                    self.state.relax[m].update({n: None for n in fam if n not in self.state.relax[m]})
                    self.state.floors[m] = _floors(ws_new, m, self.state.relax[m], self.plan.request)
            self.write_relaxed()
        # the last round added routed requirements (route_transitive) and ran out: the pyprojects changed since uv ran
        return load_workspace(self.plan.root)

    def route_transitive(self, ws_new: Workspace) -> bool:
        """uv applies [tool.uv.sources] to a project's direct dependencies only: a member that gets a routed package
        (torch) through another (vllm) takes it from the default index. Such packages become direct requirements of
        the member (pinned afterwards like every CUDA-linked dependency); True when one was added."""
        if not self.plan.chosen or self.plan.cuda_index is None:
            return False
        added = False
        for m in self.plan.targets:
            if not ws_new.lock.by_name(m):
                continue
            installed = ws_new.installed(m)
            # the user's requirements: a scoped exclusion (managed requirement) does not make the package a pinned one
            direct = set(requirement_names(tomllib.loads(self.state.bases[m])))
            missing = [
                normalize(p)
                for p in self.plan.cuda_index.packages
                if normalize(p) in installed and normalize(p) not in direct
            ]
            if missing:
                self.reporter.step(f"{m}: adding {', '.join(missing)} to its dependencies so the CUDA index applies")
                self.state.bases[m] = add_requirements(self.state.bases[m], missing)
                self.state.relax.setdefault(m, {}).update({n: None for n in missing})
                self.state.floors.setdefault(m, {})
                added = True
        if added:
            self.write_relaxed()
        return added

    # -- 5: strict pins, recorded by uv --

    def repin_and_record(self, ws_new: Workspace) -> Workspace:
        """Pin with == what uv chose (`ws_new`: the workspace as uv's last run left it); record the pins in uv.lock (no
        second uv run when nothing needs it). Returns the final workspace: read again only after that second run."""
        ws, tx = self.plan.ws, self.tx
        for m in self.state.relax:
            installed = ws_new.installed(m)
            direct = requirement_names(ws_new.members[m].data)
            pins = {}
            for name in set(self.state.relax[m]) | set(cuda_linked_pins(ws_new, m)):
                if name in installed and name in direct and installed[name].version:
                    pins[name] = f"=={installed[name].version}"
            # pin from the original text: lockgen's temporary floors must not pass for the user's ranges
            self.write_member(m, set_requirements(self.state.bases[m], pins))
        lock_file = self.plan.root / "uv.lock"
        pyprojects = [p for p in tx.snapshot if p.name == "pyproject.toml"]
        if _resolution(ws_new) == _resolution(ws) and tx.snapshot.get(lock_file) is not None:
            # nothing moved: the lock already fits the fleet - put every file back, no second uv run (the caps and
            # exclude-newer are written only when something moves: a lock that fits stays put, byte for byte)
            for p, data in tx.snapshot.items():
                if data is not None and (p.read_bytes() if p.exists() else None) != data:
                    tx.write(p, data)
            return ws  # every file is as it was read at the start
        if all(p.read_bytes() == self.state.seen_by_uv.get(p) for p in pyprojects):
            return ws_new  # the pins equal what uv resolved from: its lock is already the final one
        res = self.uv(["lock"], "recording the pins")
        if res.returncode != 0:
            raise self.fail(res)
        return load_workspace(self.plan.root)

    # -- 6: what follows from the lock, and the check --

    def finish(self, ws_final: Workspace) -> Workspace:
        """Write nix/toolchain.json and the notebook headers (from `ws_final`, the workspace as the lock/bump leaves
        it); run the check (CheckFailed restores everything)."""
        from lockgen.plan.notebooks import notebooks, refreshed
        from lockgen.rules.checking import run_check
        from lockgen.rules.registry import PROJECT_RULES

        if self.plan.request.kind == "bump":
            self.refuse_downgrades(ws_final)
        if wants_toolchain(ws_final):
            _write_toolchain(ws_final, self.tx)
        for nb in notebooks(ws_final):
            path, current, new_text = refreshed(ws_final, nb)
            if new_text != current:
                self.tx.write(path, new_text.encode("utf-8"))
        # the toolchain and notebook rules read their files at check time: no need to load the workspace again
        # what lock/bump answer for: the fleet (window, one CUDA, builds) and the files they write (toolchain,
        # notebooks). Findings about how the project is written (ranges on CUDA builds, indexes, hashes) are
        # `check`'s to report; a lock that fits is not refused for them.
        violations = [v for v in run_check(ws_final, use_uv=False).violations if v.rule not in PROJECT_RULES]
        if violations:
            lines = "\n".join(f"  error[{v.rule}] {v.file}: {v.message}" for v in violations)
            raise CheckFailed(f"the re-locked workspace fails the check; every file was restored:\n{lines}")
        return ws_final

    def refuse_downgrades(self, ws_final: Workspace) -> None:
        """A bump never ends with a package older than before, unless `--to` asked for that package or the fleet no
        longer admits the member (the family moves with it)."""
        from packaging.version import InvalidVersion, Version

        asked = normalize(self.plan.request.package) if self.plan.request.package and self.plan.request.to else None
        down = []
        for m in self.plan.targets:
            if not ws_final.lock.by_name(m) or not self.plan.ws.lock.by_name(m):
                continue
            old, new = self.plan.ws.installed(m), ws_final.installed(m)
            # `--to` may move the package down, and with it what is built against it (its family); so may a fleet
            # that no longer admits the member (its torch family must move into the window)
            allowed = family_of(asked, old) | {asked} if asked else set()
            if _must_move(self.plan.ws, m, self.plan.pre):
                allowed |= family_of(normalize(self.plan.request.package or "torch"), old) | family_of("torch", old)
            for name, pkg in sorted(old.items()):
                after = new.get(name)
                if name in allowed or after is None or not pkg.version or not after.version or pkg.is_workspace:
                    continue
                try:
                    if Version(after.version) < Version(pkg.version):
                        down.append(f"{m}: {name} {pkg.version} -> {after.version}")
                except InvalidVersion:
                    continue
        if down:
            raise Downgrade(
                "the bump would move these down, which was not asked for; nothing was written: "
                + "; ".join(down)
                + ". Bump those packages first, pin them, or name the version with --to"
            )

    def outcome(self, final: Workspace, changed: tuple[str, ...]) -> Outcome:
        """What was done, for the report: exclusions are listed only for packages that moved or were steered (a
        constraint about a package that did not move is no news)."""
        members = _diff(self.plan.before, _snapshot_members(final))
        moved = {name for m in members for name, _, _ in m.changes}
        pre = [p for p in self.plan.pre if p[0] in moved]
        earlier = set(self.plan.previous)
        steered = [s for s in self.state.steered if s not in earlier or s[0] in moved]
        return Outcome(
            members, self.state.uv_runs, tuple(self.entries()), _excl(pre, steered), changed, self.plan.window.warnings
        )


def upgrades_of(family: set[str]) -> set[str]:
    """What `bump` frees in uv (`--upgrade-package`) for a family: all of it but the runtime wheels, which follow
    torch's exact pins by themselves (asking uv to re-check each of them against the index only costs time)."""
    return {n for n in family if not n.startswith(("nvidia-", "cuda-"))}


def _excl(pre: Sequence[PreExclusion], steered: Sequence[Excluded]) -> tuple[PreExclusion, ...]:
    return tuple(pre) + tuple(PreExclusion(e[0], exclusion_constraints([(e[0], e[1])])[0], e[2]) for e in steered)


def _parse_exclusions(entries: Sequence[str], member: str, reason: str) -> list[Excluded]:
    import re

    out = []
    for entry in entries:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)((?:,?!=[^,]+\.\*)+)", entry)
        if m:
            for v in re.findall(r"!=([^,]+)\.\*", m.group(2)):
                out.append(Excluded(normalize(m.group(1)), v, reason, member))
    return out


def _previous_exclusions(ws: Workspace, targets: Sequence[str] = ()) -> list[Excluded]:
    """`name!=v.*` entries of the current managed constraints, and of the managed requirements of the `targets`
    members (scoped to each)."""
    out = _parse_exclusions(managed_constraints(ws.pyproject), "", "excluded by an earlier lockgen run")
    for m in targets:
        if m in ws.members:
            why = f"excluded for {m} by an earlier lockgen run"
            out += _parse_exclusions(managed_requirements(ws.members[m].data), m, why)
    return _widened(out)


def _covered(found: Excluded, steered: Sequence[Excluded]) -> bool:
    """Whether `found` is excluded already: for the whole workspace, or for its member."""
    return any(
        (e.package, e.version) == (found.package, found.version) and (not e.member or e.member == found.member)
        for e in steered
    )


def _widened(steered: Sequence[Excluded]) -> list[Excluded]:
    """Exclusions without the member-scoped ones that a workspace-wide one of the same version covers."""
    wide = {(e.package, e.version) for e in steered if not e.member}
    return [e for e in steered if not e.member or (e.package, e.version) not in wide]


def _conflicting(ws: Workspace, member: str) -> set[str]:
    """The members `[tool.uv] conflicts` declares in conflict with `member` as whole packages (`{package = ...}`
    items without `extra` or `group`): uv resolves them in separate forks."""
    uv = ws.pyproject.get("tool", {}).get("uv", {})
    out: set[str] = set()
    for group in uv.get("conflicts", []) if isinstance(uv, Mapping) else []:
        if not isinstance(group, list):
            continue
        names = {
            normalize(str(item["package"]))
            for item in group
            if isinstance(item, Mapping) and "package" in item and "extra" not in item and "group" not in item
        }
        if member in names:
            out |= names - {member}
    return out


def _must_move(ws: Workspace, member: str, pre: Sequence[PreExclusion]) -> set[str]:
    """The packages to re-resolve for a member the fleet no longer admits (empty when it still fits)."""
    from packaging.requirements import Requirement

    installed = ws.installed(member)
    mc = member_cuda_from(member, installed)
    stale = [
        n
        for n, c, _ in pre
        if n in installed and not Requirement(c).specifier.contains(installed[n].version or "", True)
    ]
    outside = any(not ws.window.allows(v) for v in mc.versions)
    if not (stale or outside):
        return set()
    return family_of("torch", installed) | set(stale)


def _floors(ws: Workspace, member: str, specs: dict[str, str | None], request: Request) -> dict[str, str]:
    """`>=current` for the pure-Python packages among the relaxed pins (not for the package being bumped --to)."""
    from lockgen.model.cudadetect import own_evidence
    from lockgen.model.family import is_compiled

    installed = ws.installed(member)
    out = {}
    for name, spec in specs.items():
        pkg = installed.get(name)
        if spec is not None or pkg is None or not pkg.version or is_compiled(pkg) or own_evidence(pkg):
            continue
        if name == "torch" or (request.package and normalize(request.package) == name and request.to):
            continue
        out[name] = f">={pkg.version}"
    return out


def _short(args: Sequence[str]) -> str:
    """`uv lock --upgrade-package torch (+24 more)` rather than a screenful of flags."""
    ups = [args[i + 1] for i, a in enumerate(args) if a == "--upgrade-package"]
    rest = [
        a for i, a in enumerate(args) if a != "--upgrade-package" and (i == 0 or args[i - 1] != "--upgrade-package")
    ]
    text = "uv " + " ".join(rest)
    if ups:
        text += f" --upgrade-package {ups[0]}" + (f" (+{len(ups) - 1} more)" if len(ups) > 1 else "")
    return text


def _resolution(ws: Workspace) -> frozenset[tuple[str, str | None, str]]:
    return frozenset((p.name, p.version, str(p.source)) for p in ws.lock.packages)


def wants_toolchain(ws: Workspace) -> bool:
    """Whether lock/bump keep nix/toolchain.json (lockgen.plan.toolchain.wants_toolchain: a flake.nix, or
    `[tool.lockgen] toolchain = true`), or the file is there already."""
    from lockgen.plan.toolchain import TOOLCHAIN_FILE
    from lockgen.plan.toolchain import wants_toolchain as wants

    asked = ws.lockgen_config.get("toolchain")
    return wants(ws.root, ws.lockgen_config) or (asked is not False and (ws.root / TOOLCHAIN_FILE).is_file())


def _write_toolchain(ws: Workspace, tx: Transaction) -> None:
    from lockgen.plan.toolchain import TOOLCHAIN_FILE, render_toolchain, toolchain_for

    path = ws.root / TOOLCHAIN_FILE
    data = render_toolchain(toolchain_for(ws)).encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        tx.write(path, data)


def stage_copy(ws_root: Path, dest: Path, ws: Workspace | None = None) -> Path:
    """A working copy of the project in `dest` (lockgen.seams.stage); returns the project root inside it. With `ws` (the
    workspace read from `ws_root`), a lean one when uv needs no more (lockgen.seams.stage)."""
    from lockgen.seams.stage import stage_copy as copy

    return copy(ws_root, dest, ws)


def dry_run(root: Path, request: Request, **kwargs: Any) -> Outcome:
    """Compute the outcome in a staging copy; the project is never touched (and a dry run never copies a project
    another lockgen is changing: it takes the workspace lock while it runs)."""
    return relock(root, request, apply=False, **kwargs)
