#!/usr/bin/env python3
"""Corpus accuracy: lockgen check's verdicts on real uv projects against an independent oracle.

For each fixture under tests/fixtures/projects/ and two fleets (low: driver 535.54.03 with A100; high: driver
580.65.06 with H100) it copies the fixture to a temporary directory, writes the fleet into the copy's root
pyproject ``[tool.lockgen]``, runs ``lockgen -C COPY check --json --no-uv`` and compares:

- window: the oracle (tests/corpus_oracle.py, which shares no code with lockgen) says "outside" <=> lockgen
  reports a ``cuda-window`` violation;
- mixing: the fixture's hand-labelled EXPECTED.toml says no environment mixes CUDA majors <=> lockgen reports no
  ``one-cuda`` violation;
- sanity: lockgen neither refuses the project (exit 2) nor crashes (exit 3 or anything but 0/1, or no JSON).

A verdict is right when all three hold. Prints a table and "N/M verdicts right"; ``--json`` prints one object.
Exit status: 0 when every verdict is right, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "projects"
sys.path.insert(0, str(ROOT / "tests"))

import corpus_oracle  # noqa: E402  (tests/corpus_oracle.py: imports nothing from lockgen)

FLEETS: dict[str, tuple[str, list[str]]] = {
    "low": ("535.54.03", ["A100"]),
    "high": ("580.65.06", ["H100"]),
}
DEFAULT_LOCKGEN = ROOT / ".venv" / "bin" / "lockgen"
TIMEOUT_S = 120


@dataclass(frozen=True)
class LockgenRun:
    """What one ``lockgen check --json --no-uv`` run said."""

    returncode: int
    rules: tuple[str, ...]  # the distinct rule names of its violations
    messages: tuple[str, ...]  # "rule: message" for cuda-window and one-cuda violations (and errors)
    error: str  # stderr's last line when it printed no JSON
    checked: int = 0  # how many members/environments its report lists

    @property
    def summary(self) -> str:
        if self.error:
            return f"exit {self.returncode}: {self.error}"
        rules = f"[{', '.join(self.rules)}]" if self.rules else "ok"
        return f"exit {self.returncode} {rules} ({self.checked} checked)"


@dataclass(frozen=True)
class Row:
    """One fixture under one fleet: the oracle's answer, lockgen's, and whether they agree."""

    fixture: str
    fleet: str
    oracle: str  # "inside" / "outside"
    oracle_offending: tuple[str, ...]
    oracle_cudas: tuple[str, ...]  # every CUDA the oracle found for Linux (x86_64 and aarch64)
    expected_mixes: bool
    lockgen: LockgenRun
    window_ok: bool
    mixing_ok: bool
    sane: bool

    @property
    def right(self) -> bool:
        return self.window_ok and self.mixing_ok and self.sane

    @property
    def why_wrong(self) -> list[str]:
        """One line per failed comparison, with lockgen's own words."""
        out = []
        if not self.sane:
            out.append(f"lockgen refused or crashed: {self.lockgen.summary}")
        if not self.window_ok:
            if self.oracle == "outside":
                out.append(
                    f"oracle says outside ({'; '.join(self.oracle_offending)}) but lockgen reports no cuda-window"
                )
            else:
                said = [m for m in self.lockgen.messages if m.startswith("cuda-window")]
                out.append(f"oracle says inside but lockgen reports: {'; '.join(said)}")
        if not self.mixing_ok:
            if self.expected_mixes:
                out.append("EXPECTED says an environment mixes CUDA majors but lockgen reports no one-cuda")
            else:
                said = [m for m in self.lockgen.messages if m.startswith("one-cuda")]
                out.append(f"EXPECTED says no environment mixes CUDA majors but lockgen reports: {'; '.join(said)}")
        return out


def fixtures() -> list[Path]:
    """Every fixture directory (one with a uv.lock), sorted by name."""
    return sorted(p for p in FIXTURES.iterdir() if (p / "uv.lock").is_file())


def expected_mixes(fixture: Path) -> bool:
    """The hand label: does any environment of this project mix CUDA majors?"""
    with (fixture / "EXPECTED.toml").open("rb") as f:
        return bool(tomllib.load(f)["mixes_cuda_majors"])


def with_fleet(pyproject: str, driver: str, gpus: list[str]) -> str:
    """The root pyproject text with a ``[tool.lockgen]`` table for the fleet appended (none may exist yet)."""
    if "lockgen" in tomllib.loads(pyproject).get("tool", {}):
        raise ValueError("the fixture's pyproject already has [tool.lockgen]")
    table = f'\n[tool.lockgen]\ndriver = "{driver}"\ngpus = [{", ".join(json.dumps(g) for g in gpus)}]\n'
    return pyproject.rstrip("\n") + "\n" + table


def run_lockgen(fixture: Path, driver: str, gpus: list[str], lockgen: Path = DEFAULT_LOCKGEN) -> LockgenRun:
    """Copy the fixture, put the fleet in its root pyproject, run ``lockgen check --json --no-uv`` on the copy."""
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        copy = Path(tmp) / fixture.name
        shutil.copytree(fixture, copy)
        pyproject = copy / "pyproject.toml"
        pyproject.write_text(with_fleet(pyproject.read_text(encoding="utf-8"), driver, gpus), encoding="utf-8")
        try:
            res = subprocess.run(
                [str(lockgen), "-C", str(copy), "check", "--json", "--no-uv"],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return LockgenRun(124, (), (), f"timed out after {TIMEOUT_S} s")
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        return LockgenRun(res.returncode, (), (), lines[-1] if lines else "no output")
    violations = report.get("violations", [])
    rules = tuple(sorted({v.get("rule", "?") for v in violations}))
    messages = tuple(
        f"{v.get('rule')}: {v.get('message', v)}" for v in violations if v.get("rule") in ("cuda-window", "one-cuda")
    )
    checked = len(report.get("environments", report.get("members", [])))
    return LockgenRun(res.returncode, rules, messages, "", checked)


def evaluate(fixture: Path, fleet: str, lockgen: Path = DEFAULT_LOCKGEN) -> Row:
    """Run lockgen on one fixture and fleet, and compare with the oracle and the hand label."""
    driver, gpus = FLEETS[fleet]
    answer = corpus_oracle.verdict(corpus_oracle.load_lock(fixture / "uv.lock"), driver, gpus)
    mixes = expected_mixes(fixture)
    run = run_lockgen(fixture, driver, gpus, lockgen)
    sane = run.returncode in (0, 1) and not run.error
    return Row(
        fixture=fixture.name,
        fleet=fleet,
        oracle=answer.word,
        oracle_offending=answer.offending,
        oracle_cudas=tuple(sorted({c for cudas in answer.cudas.values() for c in cudas})),
        expected_mixes=mixes,
        lockgen=run,
        window_ok=sane and ((not answer.inside) == ("cuda-window" in run.rules)),
        mixing_ok=sane and (mixes == ("one-cuda" in run.rules)),
        sane=sane,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lockgen", type=Path, default=DEFAULT_LOCKGEN, help="the lockgen executable to measure")
    parser.add_argument("fixture", nargs="*", help="fixture names (default: all)")
    args = parser.parse_args(argv)
    if not args.lockgen.is_file():
        print(f"corpus_accuracy: no lockgen at {args.lockgen} (run `uv sync` first or pass --lockgen)", file=sys.stderr)
        return 2
    chosen = fixtures()
    if args.fixture:
        unknown = sorted(set(args.fixture) - {p.name for p in chosen})
        if unknown:
            print(f"corpus_accuracy: no fixture named {', '.join(unknown)} in {FIXTURES}", file=sys.stderr)
            return 2
        chosen = [p for p in chosen if p.name in args.fixture]
    rows = [evaluate(fixture, fleet, args.lockgen) for fixture in chosen for fleet in FLEETS]
    right = sum(row.right for row in rows)
    hollow = sum(row.right and row.lockgen.checked == 0 and bool(row.oracle_cudas) for row in rows)
    if args.json:
        out = {
            "right": right,
            "total": len(rows),
            "right_but_nothing_checked": hollow,
            "rows": [
                {**asdict(row), "lockgen": asdict(row.lockgen), "right": row.right, "why_wrong": row.why_wrong}
                for row in rows
            ],
        }
        print(json.dumps(out, indent=2))
    else:
        width = max(len(row.fixture) for row in rows)
        print(f"{'fixture':{width}}  fleet  oracle   {'lockgen':48}  match")
        for row in rows:
            print(
                f"{row.fixture:{width}}  {row.fleet:5}  {row.oracle:7}  {row.lockgen.summary[:48]:48}  "
                f"{'yes' if row.right else 'NO'}"
            )
            for line in row.why_wrong:
                print(f"{'':{width}}    - {line}")
        print(f"{right}/{len(rows)} verdicts right")
        if hollow:
            print(f"({hollow} of them from a report that lists no member or environment for a lock with CUDA builds)")
    return 0 if right == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
