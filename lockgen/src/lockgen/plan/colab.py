"""Colab and notebooks outside uv: the Colab preset fleet (`tables/data/colab.toml`, every fact with its source), fleets
from a file (`--fleet colab|FILE`), the check of a member's lock against such a fleet, and the install cell that
`export --format colab` and the first cell of `--format ipynb` carry.

The cell is plain Python (it runs in any Jupyter kernel and in tests): it refuses a kernel whose Python the lock
does not admit, clears the environment variables through which Colab pins its own packages for uv and pip
(googlecolab/colabtools#5237) and says so, installs the exact pins with `uv pip install --no-deps` (pip when there is
no uv), says which preinstalled versions it replaced, uninstalls preinstalled packages built against another torch
(an exact `==` requirement on torch, such as torchaudio's) and names the other mismatches, leaving them installed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lockgen.errors import InputError
from lockgen.model.fleet import Fleet, fleet_from_config
from lockgen.tables.knowledge import Knowledge

PRESETS = ("colab",)
DEFAULT_CLEAR = ("UV_CONSTRAINT", "UV_BUILD_CONSTRAINT", "UV_OVERRIDE", "PIP_CONSTRAINT", "PIP_BUILD_CONSTRAINT")


@dataclass(frozen=True)
class Runtime:
    """One runtime version of a hosted notebook service: its Python (and torch, for the record)."""

    name: str
    python: str
    torch: str | None = None


@dataclass(frozen=True)
class FleetSpec:
    """A fleet given with `--fleet`: the machines, the runtimes (Python versions) when known, and the environment
    variables an install must clear there."""

    name: str
    file: str
    fleet: Fleet
    runtimes: tuple[Runtime, ...] = ()
    clear: tuple[str, ...] = DEFAULT_CLEAR


def _preset_text(name: str) -> str:
    from importlib import resources

    return resources.files("lockgen").joinpath(f"tables/data/{name}.toml").read_text(encoding="utf-8")


def load_fleet(spec: str, knowledge: Knowledge) -> FleetSpec:
    """`colab` (the preset in lockgen's data) or a TOML file with a `[fleet]` table (or `[tool.lockgen]`, so a
    pyproject.toml works) holding `driver`, `gpus` and `policy`; optional `[[runtime]]` rows (`name`, `python`) and
    `[uv] clear`. InputError naming the file and key otherwise."""
    if spec in PRESETS:
        file, text = f"lockgen/tables/data/{spec}.toml", _preset_text(spec)
    else:
        file = spec
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(spec, None, f"no such fleet file (or preset: {', '.join(PRESETS)})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(spec, None, f"cannot be read: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(file, None, f"not valid TOML ({e})") from None
    table = data.get("fleet")
    if table is None:
        tool = data.get("tool")
        table = tool.get("lockgen") if isinstance(tool, Mapping) else None
    if not isinstance(table, Mapping):
        raise InputError(file, "fleet", 'expected a [fleet] table, e.g. driver = "550.54.15", gpus = ["T4"]')
    fleet = fleet_from_config(table, knowledge, file)
    runtimes = []
    raw = data.get("runtime", [])
    if not isinstance(raw, list):
        raise InputError(file, "runtime", "expected an array of tables ([[runtime]])")
    for i, row in enumerate(raw):
        if not isinstance(row, Mapping) or not isinstance(row.get("python"), str):
            raise InputError(file, f"runtime[{i}]", 'expected a table with `python = "3.12.13"`')
        torch = row.get("torch")
        runtimes.append(Runtime(str(row.get("name", i)), row["python"], torch if isinstance(torch, str) else None))
    uv = data.get("uv", {})
    clear = uv.get("clear", list(DEFAULT_CLEAR)) if isinstance(uv, Mapping) else None
    if not isinstance(clear, list) or not all(isinstance(x, str) for x in clear):
        raise InputError(file, "uv.clear", "expected a list of environment variable names")
    name = spec if spec in PRESETS else Path(spec).stem
    return FleetSpec(name, file, fleet, tuple(runtimes), tuple(clear))


def check_member(ws: Any, member: str, spec: FleetSpec, machine: str = "x86_64") -> tuple[list[str], list[str]]:
    """(problems, notes) of running the member's default environment (its x86_64 Linux view) on `spec`'s fleet.

    Problems: a CUDA build outside the fleet's window (named with the driver or GPU that excludes it), a
    requires-python that no runtime of the fleet has. Notes: a runtime other than the default one is needed."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from lockgen.model.window import cuda_window

    window = cuda_window(spec.fleet, ws.knowledge)
    problems: list[str] = []
    notes = []
    if window.warnings:
        notes.append(
            f"policy {spec.fleet.policy}: CUDA {window} on driver {spec.fleet.driver} relies on NVIDIA's minor-version "
            "compatibility (what can break: `lockgen check` with that fleet explains)"
        )
    env = next((e for e in ws.environments if e.project == member and e.label == member), None)
    views = [v for v in (env.platforms if env is not None else ()) if v.platform == machine]
    for view in views:
        cuda = view.cuda
        torch = f" (torch {cuda.torch})" if cuda.torch else ""
        for v in cuda.versions:
            why = window.why_excluded(v)
            if why:
                problems.append(f"{member} is locked to CUDA {v}{torch}, outside {spec.name}'s window {window}: {why}")
        full = {v.major for v in cuda.versions}
        for major in sorted(set(cuda.majors) - full):
            if not any(v.major == major for v in window.allowed):
                problems.append(f"{member} is locked to CUDA {major}.x{torch}, outside {spec.name}'s window {window}")
    if spec.runtimes and ws.lock.requires_python:
        try:
            allowed = SpecifierSet(ws.lock.requires_python)
        except InvalidSpecifier:
            allowed = None
        if allowed is not None:
            fits = [r for r in spec.runtimes if allowed.contains(r.python, prereleases=True)]
            listed = ", ".join(f"{r.name}: Python {r.python}" for r in spec.runtimes)
            if not fits:
                problems.append(
                    f"the lock's requires-python {ws.lock.requires_python} admits none of {spec.name}'s runtimes "
                    f"({listed})"
                )
            elif fits[0] != spec.runtimes[0]:
                notes.append(
                    f"{spec.name}'s default runtime has Python {spec.runtimes[0].python}, outside the lock's "
                    f"{ws.lock.requires_python}: pick the runtime version {fits[0].name} (Python {fits[0].python}; "
                    "Runtime > Change runtime type > Runtime version); the cell stops on another Python"
                )
    return problems, notes


def with_fleet(ws: Any, spec: FleetSpec) -> Any:
    """The workspace value with `spec`'s fleet in place of pyproject.toml's."""
    return replace(ws, fleet=spec.fleet)


_CELL = """\
import importlib.metadata as _md
import os
import re
import shutil
import subprocess
import sys

PINS = {pins}
INDEXES = {indexes}
REQUIRES_PYTHON = {requires_python!r}
CLEAR = {clear}
# a preinstalled package that pins one of these exactly was built against it (torchaudio, torchvision, xformers
# pin torch): it cannot import against the lock's version and is uninstalled; other mismatches are only named
# (google-colab pins pandas exactly, and removing it would break Colab itself)
COUPLED = ["torch"]


def _lockgen_install():
    try:
        from packaging.requirements import Requirement
        from packaging.specifiers import SpecifierSet
    except ImportError:  # no packaging in this kernel: install without the checks
        Requirement = SpecifierSet = None

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    here = "%d.%d.%d" % sys.version_info[:3]
    if SpecifierSet is not None and REQUIRES_PYTHON and not SpecifierSet(REQUIRES_PYTHON).contains(here):
        raise SystemExit(
            f"lockgen: this kernel runs Python {{here}}; the lock needs {{REQUIRES_PYTHON}} "
            "(Colab: Runtime > Change runtime type > Runtime version)"
        )
    env = dict(os.environ)
    for key in CLEAR:
        if env.get(key):
            print(f"lockgen: overriding {{key}}={{env.pop(key)}} for this install (it pins the image's own "
                  "packages; the lock's versions win)")
    pinned = {{}}
    for pin in PINS:
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;]+)", pin)
        if m:
            pinned[norm(m.group(1))] = m.group(2)
    before = {{norm(d.metadata["Name"]): d.version for d in _md.distributions() if d.metadata["Name"]}}
    uv = shutil.which("uv")
    index_args = [arg for url in INDEXES for arg in ("--extra-index-url", url)]
    if uv:
        print(f"lockgen: uv pip install --no-deps: {{len(PINS)}} exact pins")
        cmd = [uv, "pip", "install", "--python", sys.executable, "--no-deps", "--index-strategy",
               "unsafe-best-match", *index_args, *PINS]
    else:
        print(f"lockgen: no uv here; pip install --no-deps: {{len(PINS)}} exact pins")
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *index_args, *PINS]
    subprocess.run(cmd, env=env, check=True)
    for name, old in sorted(before.items()):
        if name in pinned and pinned[name] != old:
            print(f"lockgen: replaced the preinstalled {{name}} {{old}} with {{pinned[name]}}")
    remove, mismatched = [], []
    if Requirement is not None:
        for dist in _md.distributions():
            name = norm(dist.metadata["Name"] or "")
            if not name or name in pinned:
                continue
            for text in dist.requires or []:
                req = Requirement(text)
                if req.marker is not None and not req.marker.evaluate({{"extra": ""}}):
                    continue
                dep = norm(req.name)
                if dep in pinned and not req.specifier.contains(pinned[dep], prereleases=True):
                    exact = any(s.operator in ("==", "===") for s in req.specifier)
                    (remove if exact and dep in COUPLED else mismatched).append((name, dist.version, text, dep))
    if remove:
        names = sorted({{r[0] for r in remove}})
        for name, version, text, dep in remove:
            print(f"lockgen: uninstalling the preinstalled {{name}} {{version}}: it requires {{text}}, "
                  f"the lock installs {{dep}} {{pinned[dep]}}")
        if uv:
            subprocess.run([uv, "pip", "uninstall", "--python", sys.executable, *names], env=env, check=True)
        else:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", *names], env=env, check=True)
    for name, version, text, dep in mismatched:
        print(f"lockgen: warning: the preinstalled {{name}} {{version}} wants {{text}}; the lock installs "
              f"{{dep}} {{pinned[dep]}} (left installed)")
    print("lockgen: done; restart the runtime (Runtime > Restart session) before importing the new versions")


_lockgen_install()
"""


def _py_list(items: Sequence[str]) -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {item!r},\n" for item in items) + "]"


def install_cell(
    title: Sequence[str], pins: Sequence[str], indexes: Sequence[str], requires_python: str, clear: Sequence[str]
) -> str:
    """The install cell's Python source: `title` as comment lines, then the logic above with these values."""
    head = "".join(f"# {line}\n" if line else "#\n" for line in title)
    body = _CELL.format(
        pins=_py_list(pins), indexes=_py_list(indexes), requires_python=requires_python, clear=_py_list(clear)
    )
    return head + body
