"""Property tests: `lockgen lock` / `bump` with the REAL uv on generated package worlds and fleets.

Each example draws a world (tests/pkgworld.py: torch builds for several CUDA runtimes, declared as the real
wheels declare them, `+cuXYZ` variants on a second index, a vllm-like exact pinner, an unsloth-like ranger, a
CUDA-free package) and a fleet (driver, GPUs, policy), publishes the world as file:// PEP 503 indexes, writes a
workspace, and runs lockgen's `relock` with the real uv, offline, on a uv cache private to the test. What is
checked comes from outside lockgen: the CUDA of a locked build is the world's ground truth (`Dist.cuda`), the
window is `pkgworld.reference_window` (a hand copy of NVIDIA's tables, compat.md sections 1-2), GPU names map to
compute capabilities through `GPU_CC` below (compat.md section 2), and the oracle is `pkgworld.oracle_solutions`
(brute force over the world).

Properties:

- soundness: every member's locked CUDA lies inside the window (on x86_64 and aarch64), or lockgen refused
  (LockgenError) and every file of the workspace is byte-unchanged;
- completeness and maximality: when the oracle finds a solution inside the window, lockgen finds one and its
  torch is the newest the oracle allows (and when the oracle finds none, lockgen refuses). The oracle is asked
  what lockgen promises to solve (`lock_problem`): from no lock, the requirements as written; from a uv.lock,
  pins that still fit are kept and only a member whose CUDA left the window has its torch family freed - so
  from a uv.lock maximality is asked of the `bump torch` that follows;
- monotonicity: raising the fleet's driver never turns a solved world unsolved and never lowers a member's CUDA;
- determinism: locking two fresh copies gives byte-identical files (uv.lock included), and locking again
  changes nothing;
- bump never downgrades a package the user did not name (after the fleet's driver is raised or kept).

Limits that shape the strategies (measured with uv 0.13.9, see notes/pkgworld.md and notes/issue4.md):

- maximality uses ONE-member worlds: uv carries one member's torch pin into a conflicting sibling's
  resolution (`test_uv_prefers_a_sibling_members_torch` in tests/test_pkgworld.py), so with two members uv
  may lock an older torch than the oracle, which answers per member, allows;
- all worlds are monotone (a newer vllm pins a newer-or-equal torch, a newer torch needs a newer-or-equal
  CUDA, unsloth's bounds never decrease): uv picks the newest vllm, not the newest torch, so in non-monotone
  worlds "newest torch" is not what any newest-first resolver finds;
- an empty window is refused by design (EmptyWindow), even for a member that needs no CUDA: completeness is
  asked only of non-empty windows;
- the workspace carries `exclude-newer` (lockgen otherwise stamps the current second, and two locks a second
  apart differ by that line);
- [tool.lockgen.cuda-index] routes torch through [tool.uv.sources], which uv applies to direct dependencies
  only; lockgen adds a transitive torch to the member's requirements, so the oracle routes torch to the variant
  index for every member (`torch_route`; `test_cuda_index_routes_a_transitive_torch`).

The suite can fail: `test_a_planted_bug_makes_the_suite_fail` plants an off-by-one in lockgen's driver table, a
window that ignores the GPUs, and runtime caps one CUDA short, and runs the property bodies directly on fixed
worlds (deterministic) - soundness, resp. maximality, fails each time.

CI runs a bounded number of examples (`CI_EXAMPLES`, derandomized so CI is reproducible). A long, random
campaign: `LOCKGEN_CAMPAIGN=500 uv run pytest tests/test_properties.py` (500 examples per property).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pkgworld as pw
import pytest
import tomlkit
from helpers import digest, require_uv
from hypothesis import HealthCheck, given, settings
from hypothesis import event as _event
from hypothesis import note as _note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from lockgen.errors import LockgenError
from lockgen.ops.resolve import Outcome, Request, relock
from lockgen.plan.steering import pre_exclude, steer
from lockgen.seams.uvtool import find_uv, run_uv
from packaging.version import Version


def _no_table(hook: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
    """`hook` with lockgen's build table emptied while it runs."""

    def run(ws: Any) -> list[Any]:
        import lockgen.plan.steering as steering
        import lockgen.seams.elfscan as elfscan

        saved = steering.load_build_table, steering.lookup_build
        steering.load_build_table, steering.lookup_build = (lambda: ()), (lambda *a, **k: None)
        try:
            return hook(ws)
        finally:
            steering.load_build_table, steering.lookup_build = saved
            del elfscan

    return run


pytestmark = pytest.mark.uv

CAMPAIGN = int(os.environ.get("LOCKGEN_CAMPAIGN", "0") or 0)
EXCLUDE_NEWER = "2026-01-01T00:00:00Z"  # after every generated upload time (2025-01-01 + rank days)
MACHINES = ("x86_64", "aarch64")  # the workspace's uv environments

# GPU name -> compute capability: a hand copy of compat.md section 2 ("GPU name -> compute capability"),
# independent of lockgen's tables/data/cuda.toml (which maps the same names).
GPU_CC: Mapping[str, str] = {
    "P100": "6.0",
    "V100": "7.0",
    "T4": "7.5",
    "A100": "8.0",
    "A10G": "8.6",
    "L4": "8.9",
    "H100": "9.0",
    "B200": "10.0",
    "B300": "10.3",
    "RTX 5090": "12.0",
    "GB10": "12.1",
}
# Drivers in ascending order (a bare branch "570" stands for some driver of that branch, as in lockgen).
DRIVERS: tuple[str, ...] = (
    "525.60.13",
    "530",
    "535.54.03",
    "545",
    "550.54.14",
    "560.28.03",
    "570",
    "570.26",
    "575.51.03",
    "580",
    "580.65.06",
    "590.44.01",
    "595.45.04",
    "610.43.02",
)
# What a runtime wheel says about CUDA: (package, version) -> CUDA minor (pkgworld.RUNTIMES, compat.md 3a).
RUNTIME_CUDA: Mapping[tuple[str, str], str] = {
    **{(rt.package, rt.version): c for c, rt in pw.RUNTIMES.items()},
    **{("cuda-toolkit", rt.toolkit): c for c, rt in pw.RUNTIMES.items() if rt.toolkit},
}
# The torch family of a generated world (torch and what depends on it): what lockgen frees when a member must move.
CUDA_LINKED = frozenset({"torch", "vllm", "unsloth"})


def budget(ci: int) -> settings:
    """`ci` examples in CI (derandomized: the same examples every run); LOCKGEN_CAMPAIGN=N: N random ones."""
    return settings(
        max_examples=CAMPAIGN or ci,
        deadline=None,
        derandomize=not CAMPAIGN,
        database=None if not CAMPAIGN else settings.default.database,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


# Per-property example counts for CI: ~0.1-0.3 s of uv and lockgen each, ~12 s for all five (notes/issue4.md).
CI_EXAMPLES = {"soundness": 25, "completeness": 25, "monotonicity": 15, "determinism": 15, "bump": 15}


# ---------------------------------------------------------------------------------------------------------------
# Fleets and their reference window.
# ---------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FleetSpec:
    """A fleet as the user writes it in [tool.lockgen]."""

    driver: str
    gpus: tuple[str, ...]
    policy: str = "toolkit"

    def config(self) -> dict[str, Any]:
        """The [tool.lockgen] table."""
        return {"driver": self.driver, "gpus": list(self.gpus), "policy": self.policy}

    @property
    def window(self) -> frozenset[str]:
        """The CUDA minors NVIDIA's tables allow on this fleet (pkgworld.reference_window, not lockgen's)."""
        return pw.reference_window(self.driver, [GPU_CC[g] for g in self.gpus], self.policy)


COMMON_GPUS = ("T4", "A100", "L4", "H100")  # every CUDA from 11.8 to 13.x targets these


@st.composite
def fleets(draw: st.DrawFn, *, min_driver: int = 0) -> FleetSpec:
    """A driver from DRIVERS[min_driver:], one to three GPUs (mostly ones every CUDA targets, so that most windows
    are not empty), mostly policy "toolkit"."""
    driver = draw(st.sampled_from(DRIVERS[min_driver:]))
    pool = sorted(GPU_CC) if draw(st.integers(0, 3)) == 0 else list(COMMON_GPUS)
    gpus = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    policy = draw(st.sampled_from(["toolkit", "toolkit", "toolkit", "minor"]))
    return FleetSpec(driver, tuple(gpus), policy)


def raised(fleet: FleetSpec, steps: int) -> FleetSpec:
    """The same fleet with its driver `steps` entries further along DRIVERS (capped at the newest)."""
    i = min(DRIVERS.index(fleet.driver) + steps, len(DRIVERS) - 1)
    return dataclasses.replace(fleet, driver=DRIVERS[i])


# ---------------------------------------------------------------------------------------------------------------
# The lab: one test's indexes, uv cache, workspaces, and lockgen runs.
# ---------------------------------------------------------------------------------------------------------------


class Lab:
    """Indexes under root/index/<world digest> (written once each), a uv cache private to the test, workspaces
    under root/ws-N, and `relock` with the real uv through the runner seam (offline: file:// indexes only)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = pw.uv_env(root / "uv-cache", offline=True)
        self.runner = functools.partial(run_uv, env=self.env)
        self._paths: dict[str, pw.IndexPaths] = {}
        self._n = 0
        self._made: list[Path] = []

    def fresh(self, stem: str = "ws") -> Path:
        """A new directory path (not created)."""
        self._n += 1
        path = self.root / f"{stem}-{self._n}"
        self._made.append(path)
        return path

    def forget(self) -> None:
        """Delete the workspaces of earlier examples (a long campaign would otherwise fill the disk)."""
        for path in self._made:
            shutil.rmtree(path, ignore_errors=True)
        self._made.clear()

    def index(self, world: pw.World) -> pw.IndexPaths:
        """The world's indexes, written on first use."""
        key = world.digest()
        if key not in self._paths:
            self._paths[key] = pw.write_index(world, self.root / "index" / key)
        return self._paths[key]

    def workspace(self, world: pw.World, fleet: FleetSpec, *, start_locked: bool, route: bool = False) -> Scenario:
        """Write the world's workspace for `fleet` (deleting earlier examples' workspaces); with `start_locked`, run
        a plain `uv lock` first (the state users start from) - when that fails, lockgen starts from no lock. With
        `route`, [tool.lockgen.cuda-index] lists the world's variant indexes for torch."""
        self.forget()
        paths = self.index(world)
        config = fleet.config()
        labels = [label for label in world.indexes if label != pw.DEFAULT_INDEX]
        if route and labels:
            base = (paths.root / pw.DEFAULT_INDEX).resolve().as_uri().rsplit("/", 1)[0]
            config["cuda-index"] = {"url": base + "/{label}/simple", "variants": labels, "packages": ["torch"]}
        ws = pw.write_workspace(
            world, self.fresh(), index_urls=paths.file_urls(), lockgen=config, exclude_newer=EXCLUDE_NEWER
        )
        locked = False
        if start_locked:
            r = subprocess.run([find_uv(), "lock"], cwd=ws, env=self.env, capture_output=True, text=True, timeout=120)
            locked = r.returncode == 0
        return Scenario(world, fleet, ws, locked, labels if route else [])

    def copy(self, ws: Path) -> Path:
        """A fresh copy of a workspace."""
        dest = self.fresh()
        shutil.copytree(ws, dest)
        return dest

    def lock(self, ws: Path, request: Request | None = None) -> Outcome | LockgenError:
        """lockgen's lock (or `request`) on `ws`, as `lockgen lock` runs it; a refusal is returned, not raised.

        The steering hooks run against an empty build table: generated worlds name their packages "vllm" and
        "unsloth" but are not the real releases lockgen's tables/data/builds.toml describes (steering has its own tests
        in test_resolve.py, with a table made for the world)."""
        try:
            return relock(
                ws,
                request or Request("lock"),
                runner=self.runner,
                pre_exclude=_no_table(pre_exclude),
                steer=_no_table(steer),
            )
        except LockgenError as e:
            return e


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A written workspace: its world, fleet, whether it starts from a uv.lock, and the routed variant labels."""

    world: pw.World
    fleet: FleetSpec
    root: Path
    locked: bool
    variants: list[str]

    def routed_label(self, window: frozenset[str]) -> str | None:
        """The variant index lockgen should route torch to: the newest variant whose CUDA is in the window."""
        inside = [label for label in self.variants if label_cuda(label) in window]
        return max(inside, key=lambda label: pw.cuda_key(label_cuda(label))) if inside else None


def label_cuda(label: str) -> str:
    """The CUDA minor of a label: "cu126" -> "12.6", "cu130" -> "13.0" (pkgworld's labels)."""
    digits = label[2:]
    return f"{digits[:-1]}.{digits[-1]}"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """One Lab per test function (hypothesis reuses it across examples: one uv cache per test)."""
    require_uv()
    yield Lab(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Reading results independently of lockgen.
# ---------------------------------------------------------------------------------------------------------------


def member_packages(root: Path, member: str, machine: str = "x86_64") -> dict[str, tuple[str, ...]]:
    """What `uv sync --package MEMBER` installs on Linux `machine`, read by pkgworld's own lock walker."""
    return pw.member_locked((root / "uv.lock").read_text(encoding="utf-8"), member, machine)


def member_cudas(world: pw.World, installed: Mapping[str, tuple[str, ...]]) -> set[str]:
    """The CUDA minors an install set runs: each torch build's ground-truth CUDA and each runtime wheel's."""
    out: set[str] = set()
    for v in installed.get("torch", ()):
        cuda = world.dist("torch", v).cuda
        if cuda:
            out.add(cuda)
    for name, versions in installed.items():
        out.update(RUNTIME_CUDA[(name, v)] for v in versions if (name, v) in RUNTIME_CUDA)
    return out


def newest_cuda(cudas: set[str]) -> tuple[int, int] | None:
    """The newest CUDA of a set as a comparable tuple; None for a member without CUDA."""
    return max((pw.cuda_key(c) for c in cudas), default=None)


def relaxed(world: pw.World, members: frozenset[str] | None = None, names: frozenset[str] = CUDA_LINKED) -> pw.World:
    """The world whose `members` (default: all) ask for `names` without specifiers: what lockgen resolves for a
    member whose torch family it frees (a `lock` that must move it, a `bump torch`)."""
    out = []
    for m in world.members:
        if members is None or m.name in members:
            reqs = tuple(r.split("==")[0] if r.split("==")[0] in names else r for r in m.requires)
            out.append(pw.Member(m.name, reqs))
        else:
            out.append(m)
    return pw.World(world.dists, tuple(out), world.torch)


def lock_problem(scn: Scenario) -> pw.World:
    """What `lockgen lock` resolves, by its contract (modelled here from the world, not from lockgen's code): from
    no lock, the members' requirements as written; from a lock, pins that fit are kept, and a member whose locked
    CUDA (ground truth, any machine) left the window has its torch family (torch, vllm, unsloth) freed."""
    if not scn.locked:
        return scn.world
    window = scn.fleet.window
    moving = frozenset(
        m.name
        for m in scn.world.members
        if any(member_cudas(scn.world, member_packages(scn.root, m.name, mach)) - window for mach in MACHINES)
    )
    return relaxed(scn.world, moving)


def torch_route(world: pw.World, member: str, label: str | None) -> dict[str, str] | None:
    """The oracle's routing for `member`: torch from the variant index `label` - also when torch comes in through
    vllm/unsloth, since lockgen then adds torch to the member's requirements (uv applies [tool.uv.sources] to
    direct dependencies only; test_cuda_index_routes_a_transitive_torch)."""
    return {"torch": label} if label else None


def set_fleet(root: Path, fleet: FleetSpec) -> None:
    """Rewrite [tool.lockgen] driver/gpus/policy (as a user raising the fleet's driver does)."""
    f = root / "pyproject.toml"
    doc = tomlkit.parse(f.read_text(encoding="utf-8"))
    table = doc["tool"]["lockgen"]  # type: ignore[index]
    for key, value in fleet.config().items():
        table[key] = value  # type: ignore[index]
    f.write_text(tomlkit.dumps(doc), encoding="utf-8")


def note(text: str) -> None:
    """hypothesis.note inside @given (printed with a failing example); nothing when a body is called directly."""
    with contextlib.suppress(InvalidArgument):
        _note(text)


def event(text: str) -> None:
    """hypothesis.event (counted by --hypothesis-show-statistics); nothing outside @given."""
    with contextlib.suppress(InvalidArgument):
        _event(text)


def outcome(result: Outcome | LockgenError) -> str:
    """ "locked" or "refused (ClassName)", for event statistics."""
    return f"refused ({type(result).__name__})" if isinstance(result, LockgenError) else "locked"


def describe(scn: Scenario) -> str:
    """The scenario in a few lines, for failure messages and `note`."""
    members = "; ".join(f"{m.name}: {', '.join(m.requires)}" for m in scn.world.members)
    torch = ", ".join(f"{d.version}->{d.cuda}" for d in scn.world.torch_builds())
    return (
        f"fleet {scn.fleet}, window {sorted(scn.fleet.window, key=pw.cuda_key)}, start "
        f"{'uv.lock' if scn.locked else 'no lock'}, variants {scn.variants}\n  torch {torch}\n  members {members}"
    )


# ---------------------------------------------------------------------------------------------------------------
# Property bodies (plain functions: the planted-bug tests call them directly, without @given).
# ---------------------------------------------------------------------------------------------------------------


def check_sound(
    scn: Scenario, result: Outcome | LockgenError, before: Mapping[str, str], window: frozenset[str]
) -> None:
    """Soundness of one lockgen run on `scn.root`: refused with every file unchanged, or every member's CUDA
    (ground truth, on every machine) inside `window`."""
    if isinstance(result, LockgenError):
        assert digest(scn.root) == before, f"lockgen refused ({result}) but changed files\n{describe(scn)}"
        return
    for m in scn.world.members:
        for machine in MACHINES:
            installed = member_packages(scn.root, m.name, machine)
            got = member_cudas(scn.world, installed)
            outside = sorted(got - window, key=pw.cuda_key)
            assert not outside, (
                f"member {m.name} on {machine} locked CUDA {outside} outside the window "
                f"(torch {installed.get('torch')})\n{describe(scn)}"
            )


def soundness(
    lab: Lab, world: pw.World, fleet: FleetSpec, start_locked: bool, route: bool = False
) -> Outcome | LockgenError:
    """Property body: lock once, check soundness; returns what lockgen did."""
    scn = lab.workspace(world, fleet, start_locked=start_locked, route=route)
    note(describe(scn))
    before = digest(scn.root)
    result = lab.lock(scn.root)
    note(f"lockgen: {result!r}")
    event(f"start from {'uv.lock' if scn.locked else 'nothing'}: {outcome(result)}")
    check_sound(scn, result, before, fleet.window)
    return result


@pytest.mark.slow
@budget(CI_EXAMPLES["soundness"])
@given(world=pw.worlds(max_members=2), fleet=fleets(), start_locked=st.booleans(), route=st.booleans())
def test_soundness(lab: Lab, world: pw.World, fleet: FleetSpec, start_locked: bool, route: bool) -> None:
    """Every member's locked CUDA lies in NVIDIA's window for the fleet, or lockgen refused and changed nothing."""
    soundness(lab, world, fleet, start_locked, route)


def completeness(lab: Lab, world: pw.World, fleet: FleetSpec, start_locked: bool, route: bool = False) -> None:
    """Property body (one-member worlds): lockgen solves exactly when the brute-force oracle does, with the
    oracle's newest torch. From no lock, `lock` must reach the newest torch itself. From a uv.lock, `lock` keeps
    what still fits (by design), so there maximality is asked of the `bump torch` that follows."""
    window = fleet.window
    if not window:
        return  # refused by design (EmptyWindow), even for a CUDA-free member: not a completeness question
    scn = lab.workspace(world, fleet, start_locked=start_locked, route=route)
    note(describe(scn))
    (member,) = [m.name for m in world.members]
    routes = torch_route(world, member, scn.routed_label(window))
    answer = pw.oracle_solutions(lock_problem(scn), window, routes=routes)[member]
    note(f"oracle (lock): solvable {answer.solvable}, newest torch {answer.newest_torch}, routes {routes}")
    result = lab.lock(scn.root)
    note(f"lockgen: {result!r}")
    event(f"oracle {'solvable' if answer.solvable else 'unsolvable'}, routed {bool(routes)}: {outcome(result)}")
    if not answer.solvable:
        assert isinstance(result, LockgenError), f"the oracle finds no solution, lockgen locked one\n{describe(scn)}"
        return
    assert not isinstance(result, LockgenError), f"the oracle finds a solution, lockgen refused: {result}"
    if scn.locked:
        if "torch" not in member_packages(scn.root, member):
            return
        answer = pw.oracle_solutions(relaxed(world), window, routes=routes)[member]
        note(f"oracle (bump torch): newest torch {answer.newest_torch}")
        result = lab.lock(scn.root, Request("bump", package="torch"))
        note(f"bump torch: {result!r}")
        assert not isinstance(result, LockgenError), f"bump torch refused: {result}"
    installed = member_packages(scn.root, member)
    torch = {Version(v).public for v in installed.get("torch", ())}
    want = {answer.newest_torch} if answer.newest_torch else set()
    assert torch == want, f"lockgen locked torch {torch}, the newest the oracle allows is {want}\n{describe(scn)}"
    if routes and torch:
        (locked_torch,) = installed["torch"]
        assert Version(locked_torch).local == routes["torch"], f"torch {locked_torch} is not from {routes['torch']}"


@pytest.mark.slow
@budget(CI_EXAMPLES["completeness"])
@given(world=pw.worlds(max_members=1), fleet=fleets(), start_locked=st.booleans(), route=st.booleans())
def test_completeness_and_maximality(
    lab: Lab, world: pw.World, fleet: FleetSpec, start_locked: bool, route: bool
) -> None:
    """One member: lockgen finds a solution whenever the oracle does, and its torch is the newest allowed."""
    completeness(lab, world, fleet, start_locked, route)


@pytest.mark.slow
@budget(CI_EXAMPLES["monotonicity"])
@given(
    world=pw.worlds(max_members=2),
    fleet=fleets(),
    steps=st.integers(1, len(DRIVERS) - 1),
    start_locked=st.booleans(),
)
def test_raising_the_driver_never_hurts(
    lab: Lab, world: pw.World, fleet: FleetSpec, steps: int, start_locked: bool
) -> None:
    """A newer driver never turns a solved world unsolved, and never lowers a member's CUDA."""
    higher = raised(fleet, steps)
    scn = lab.workspace(world, fleet, start_locked=start_locked)
    note(describe(scn) + f"\n  raised to {higher.driver}")
    hi_root = lab.copy(scn.root)
    set_fleet(hi_root, higher)
    lo = lab.lock(scn.root)
    hi = lab.lock(hi_root)
    note(f"lockgen at {fleet.driver}: {lo!r}\nlockgen at {higher.driver}: {hi!r}")
    event(f"low: {outcome(lo)}; high: {outcome(hi)}")
    if isinstance(lo, LockgenError):
        return
    assert not isinstance(hi, LockgenError), f"solved at {fleet.driver}, refused at {higher.driver}: {hi}"
    for m in world.members:
        for machine in MACHINES:
            c_lo = newest_cuda(member_cudas(world, member_packages(scn.root, m.name, machine)))
            c_hi = newest_cuda(member_cudas(world, member_packages(hi_root, m.name, machine)))
            if c_lo is not None:
                assert c_hi is not None and c_hi >= c_lo, (
                    f"member {m.name} on {machine}: CUDA {c_lo} at driver {fleet.driver}, {c_hi} at {higher.driver}"
                    f"\n{describe(scn)}"
                )


@pytest.mark.slow
@budget(CI_EXAMPLES["determinism"])
@given(world=pw.worlds(max_members=2), fleet=fleets(), start_locked=st.booleans())
def test_locking_is_deterministic(lab: Lab, world: pw.World, fleet: FleetSpec, start_locked: bool) -> None:
    """Two fresh copies lock to byte-identical files; locking the result again changes nothing."""
    scn = lab.workspace(world, fleet, start_locked=start_locked)
    note(describe(scn))
    a, b = lab.copy(scn.root), lab.copy(scn.root)
    ra, rb = lab.lock(a), lab.lock(b)
    note(f"lockgen: {ra!r} / {rb!r}")
    event(outcome(ra))
    assert isinstance(ra, LockgenError) == isinstance(rb, LockgenError), (ra, rb)
    if isinstance(ra, LockgenError):
        return
    assert (a / "uv.lock").read_bytes() == (b / "uv.lock").read_bytes(), "uv.lock differs between two fresh copies"
    assert digest(a) == digest(b), "the workspace files differ between two fresh copies"
    once = digest(a)
    again = lab.lock(a)
    assert not isinstance(again, LockgenError), f"locking a locked workspace failed: {again}"
    assert again.changed_files == () and digest(a) == once, f"locking again changed {again.changed_files}"


@pytest.mark.slow
@budget(CI_EXAMPLES["bump"])
@given(
    world=pw.worlds(max_members=2),
    fleet=fleets(),
    steps=st.integers(0, 6),
    data=st.data(),
)
def test_bump_never_downgrades_what_the_user_did_not_name(
    lab: Lab, world: pw.World, fleet: FleetSpec, steps: int, data: st.DataObject
) -> None:
    """Lock for a fleet, raise (or keep) its driver, bump a drawn package (optionally --to a version no older
    than the locked one): no other package of any member moves to an older version, and the result is sound."""
    scn = lab.workspace(world, fleet, start_locked=True)
    note(describe(scn))
    first = lab.lock(scn.root)
    if isinstance(first, LockgenError):
        event(f"first lock: {outcome(first)}")
        return
    higher = raised(fleet, steps)
    set_fleet(scn.root, higher)
    before = {m.name: member_packages(scn.root, m.name) for m in world.members}
    names = sorted({n for inst in before.values() for n in inst if n in {"torch", "vllm", "unsloth", "tinylib"}})
    if not names:
        return
    package = data.draw(st.sampled_from(names), label="package")
    current = max((v for inst in before.values() for v in inst.get(package, ())), key=Version)
    newer = [v for v in world.versions(package) if Version(v) >= Version(Version(current).public)]
    to = data.draw(st.none() | st.sampled_from(newer), label="to")
    files = digest(scn.root)
    result = lab.lock(scn.root, Request("bump", package=package, to=to))
    note(f"raised to {higher.driver}; bump {package} --to {to}: {result!r}")
    event(f"bump {package}{' --to' if to else ''}: {outcome(result)}")
    sound_scn = dataclasses.replace(scn, fleet=higher)
    check_sound(sound_scn, result, files, higher.window)
    if isinstance(result, LockgenError):
        return
    for m in world.members:
        after = member_packages(scn.root, m.name)
        for name, old in before[m.name].items():
            if name == package or name not in after or len(old) != 1 or len(after[name]) != 1:
                continue
            assert Version(after[name][0]) >= Version(old[0]), (
                f"bump {package}: member {m.name} downgraded {name} {old[0]} -> {after[name][0]}\n{describe(scn)}"
            )


# ---------------------------------------------------------------------------------------------------------------
# The suite can fail: planted bugs in lockgen's table and window make soundness fail on fixed worlds.
# ---------------------------------------------------------------------------------------------------------------

# torch 2.5 (12.6), 2.6 (12.8), 2.7 (12.9), 2.8 (13.0), each pinned by one vllm; an unsloth range; a CPU package.
PLANTED_WORLD = pw.make_world(
    {"2.5.0": "12.6", "2.6.0": "12.8", "2.7.0": "12.9", "2.8.0": "13.0"},
    packages={
        "vllm": {
            "0.1.0": ["torch==2.5.0"],
            "0.2.0": ["torch==2.6.0"],
            "0.3.0": ["torch==2.7.0"],
            "0.4.0": ["torch==2.8.0"],
        },
        "unsloth": {"2026.1": ["torch>=2.5.0"]},
        "tinylib": {"1.0": []},
    },
    members={"serve": ["vllm", "tinylib"], "train": ["unsloth"]},
)
PLANTED_CASES: tuple[tuple[FleetSpec, bool], ...] = (
    (FleetSpec("570.26", ("A100",)), True),  # window 11.8-12.8: 12.9 needs 575.51.03
    (FleetSpec("570", ("H100", "T4")), False),
    (FleetSpec("580.65.06", ("V100",)), True),  # window 11.8-12.9: CUDA 13 cannot target Volta (7.0)
    (FleetSpec("610.43.02", ("P100", "A100")), False),  # window 11.8-12.9: CUDA 13 cannot target Pascal (6.0)
)


def _lowered_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off by one row in the driver table: CUDA 12.9 gets CUDA 12.8's toolkit driver (570.26, not 575.51.03)."""
    import lockgen.model.workspace
    import lockgen.tables.knowledge

    real = lockgen.tables.knowledge.load_knowledge()
    drivers = {str(r.version): r.toolkit_driver for r in real.releases}
    releases = tuple(
        dataclasses.replace(r, toolkit_driver=drivers["12.8"]) if str(r.version) == "12.9" else r for r in real.releases
    )
    buggy = dataclasses.replace(real, releases=releases)
    monkeypatch.setattr(lockgen.tables.knowledge, "load_knowledge", lambda: buggy)
    monkeypatch.setattr(lockgen.model.workspace, "load_knowledge", lambda: buggy)


def _gpus_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window that ignores the fleet's GPUs (only the driver limits it)."""
    import lockgen.model.window
    import lockgen.model.workspace

    real = lockgen.model.window.cuda_window

    def window(fleet: Any, knowledge: Any) -> Any:
        return real(dataclasses.replace(fleet, gpus=()), knowledge)

    monkeypatch.setattr(lockgen.model.window, "cuda_window", window)
    monkeypatch.setattr(lockgen.model.workspace, "cuda_window", window)


def _caps_one_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """An off-by-one in the runtime caps: the upper cap leaves out the window's newest CUDA (`<12.8`, not `<12.9`)."""
    import lockgen.ops.resolve

    real = lockgen.ops.resolve.runtime_constraints

    def caps(window: Any) -> tuple[str, ...]:
        shorter = tuple(v for v in window.allowed if v != window.newest) or window.allowed
        return real(dataclasses.replace(window, allowed=shorter))

    monkeypatch.setattr(lockgen.ops.resolve, "runtime_constraints", caps)


PLANTED_BUGS: Mapping[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "driver-table-off-by-one": (_lowered_driver, "soundness"),
    "window-ignores-gpus": (_gpus_ignored, "soundness"),
    "caps-one-short": (_caps_one_short, "completeness"),
}
# One member (maximality is asked of one-member worlds): torch 2.5 (12.6) ... 2.8 (13.0), each pinned by a vllm.
PLANTED_SOLO = pw.World(PLANTED_WORLD.dists, (pw.Member("serve", ("vllm",)),))


def _failures(lab: Lab, prop: str) -> list[str]:
    """Run a property body directly (no @given) on the fixed cases; the first line of each failure."""
    failures = []
    for fleet, start_locked in PLANTED_CASES:
        try:
            if prop == "soundness":
                soundness(lab, PLANTED_WORLD, fleet, start_locked)
            else:
                completeness(lab, PLANTED_SOLO, fleet, start_locked)
        except AssertionError as e:
            failures.append(f"{fleet.driver} {fleet.gpus}: {str(e).splitlines()[0]}")
    return failures


@pytest.mark.parametrize("prop", ["soundness", "completeness"])
def test_planted_cases_pass_without_a_bug(lab: Lab, prop: str) -> None:
    """The control: on the fixed worlds, the real lockgen passes (so the failures below are the bugs')."""
    assert _failures(lab, prop) == []


@pytest.mark.parametrize("bug", sorted(PLANTED_BUGS))
def test_a_planted_bug_makes_the_suite_fail(lab: Lab, monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    """With the bug planted in lockgen, its property fails on the fixed worlds (bodies run directly, so the check
    is deterministic): an off-by-one in the driver table and a GPU-blind window break soundness, caps one CUDA
    short break maximality."""
    plant, prop = PLANTED_BUGS[bug]
    plant(monkeypatch)
    failures = _failures(lab, prop)
    assert failures, f"planting {bug} went unnoticed by the {prop} property"
    needle = "outside the window" if prop == "soundness" else "the newest the oracle allows"
    assert all(needle in f for f in failures), failures


def test_reference_window_agrees_with_lockgen_on_every_drawn_fleet() -> None:
    """The suite's reference (GPU_CC, pkgworld.reference_window) and lockgen's window agree on every driver x GPU x
    policy the strategies draw - exhaustively, without uv. A typo in GPU_CC would otherwise weaken every property.
    (Compared over the CUDAs the reference knows: under policy "minor" lockgen also admits 13.4/13.5 by the 13.x
    family floor, which the reference leaves out; no generated torch is built for them.)"""
    from lockgen.model.fleet import fleet_from_config
    from lockgen.model.window import cuda_window
    from lockgen.tables.knowledge import load_knowledge

    k = load_knowledge()
    for driver in DRIVERS:
        for gpu in GPU_CC:
            for policy in ("toolkit", "minor"):
                spec = FleetSpec(driver, (gpu,), policy)
                window = cuda_window(fleet_from_config(spec.config(), k), k)
                known = {str(c) for c in window.allowed} & set(pw.REFERENCE_CUDA)
                assert known == spec.window, spec


def test_cuda_index_routes_a_transitive_torch(lab: Lab) -> None:
    """A member that gets torch only through vllm: uv applies [tool.uv.sources] to direct dependencies only, so
    lockgen adds torch to the member's requirements (pinned) and the routing applies. Found by
    test_completeness_and_maximality (its oracle models routing through `torch_route`)."""
    world = pw.make_world(
        {"2.0.0": "11.8"}, variants={"2.0.0": ["11.8"]}, packages={"vllm": {"0.1.0": ["torch==2.0.0"]}}
    )
    world = pw.World(world.dists, (pw.Member("serve", ("vllm",)),))
    scn = lab.workspace(world, FleetSpec("580.65.06", ("A100",)), start_locked=False, route=True)
    result = lab.lock(scn.root)
    assert not isinstance(result, LockgenError), result
    assert "lockgen-cu118" in (scn.root / "pyproject.toml").read_text(encoding="utf-8")
    assert member_packages(scn.root, "serve")["torch"] == ("2.0.0+cu118",)
    deps = tomlkit.parse((scn.root / "workspaces/serve/pyproject.toml").read_text())["project"]["dependencies"]
    assert list(deps) == ["vllm==0.1.0", "torch==2.0.0+cu118"]
