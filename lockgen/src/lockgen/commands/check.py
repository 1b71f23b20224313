"""`lockgen check`: is the committed lock strict, single-CUDA, inside the fleet's window, hashed and fresh?"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lockgen.ui import print_json, style

HELP = "verify the lock against the fleet (offline, fast); exit 1 on violations"
DESCRIPTION = "Checks, without changing anything:"
EPILOG = """\
Environments: the root project (when it is one) and each member, with each extra and dependency group
(in the combinations [tool.uv] conflicts allows), on each Linux platform the lock covers.
exit codes: 0 clean, 1 violations, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `check` command. Its help lists lockgen.rules.registry, imported only when the help is printed (so
    that building the parser does not import every rule)."""

    class RulesHelp(argparse.RawDescriptionHelpFormatter):
        def add_text(self, text: str | None) -> None:
            if text == DESCRIPTION:
                from lockgen.rules.registry import help_text

                text = f"{text}\n{help_text()}"
            super().add_text(text)

    p = sub.add_parser("check", help=HELP, description=DESCRIPTION, epilog=EPILOG, formatter_class=RulesHelp)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-uv", action="store_true", help="skip the lock-freshness check (no uv run)")
    p.set_defaults(func=run)


def _cuda_text(view: Any) -> str:
    mc = view.cuda
    torch = f" (torch {mc.torch})" if mc.torch else ""
    if not mc.versions and not mc.majors:
        return "CPU only" + torch
    if mc.cuda:
        builds = f" (builds for {', '.join(map(str, mc.versions))})" if len(mc.versions) > 1 else ""
        return f"CUDA {mc.cuda}{builds}{torch}"
    if mc.consistent:
        return f"CUDA {mc.majors[0]}.x{torch}"
    return "mixed CUDA " + "/".join([*map(str, mc.versions), *(f"{m}.x" for m in mc.majors)]) + torch


def check_json(ws: Any, report: Any) -> dict[str, Any]:
    """The `check --json` document (every field: docs/json.md; new fields may be added, none removed or changed
    without raising "schema")."""
    import hashlib

    from lockgen import __version__
    from lockgen.rules.registry import rule_names

    window = ws.window
    violations = report.violations
    lock = ws.root / "uv.lock"
    envs = [env_json(e, window, violations) for e in report.environments]
    by_rule: dict[str, int] = {}
    for v in violations:
        by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
    return {
        "schema": 1,
        "ok": report.ok,
        "lockgen": __version__,
        "lock": {
            "file": "uv.lock",
            "sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None,
        },
        "fleet": {
            "driver": str(ws.fleet.driver),
            "gpus": [[g.label, g.cc] for g in ws.fleet.gpus],
            "policy": ws.fleet.policy,
        },
        "window": [str(v) for v in window.allowed],
        "warnings": report.warning_lines(),
        "fresh": report.fresh,
        "summary": {
            "violations": len(violations),
            "notes": len(report.notes),
            "environments": len(envs),
            "environments_ok": sum(1 for e in envs if e["ok"]),
            "by_rule": dict(sorted(by_rule.items())),
        },
        "rules": [
            {
                "rule": name,
                "decided": report.fresh is not None if name == "lock-fresh" else True,
                "violations": by_rule.get(name, 0),
            }
            for name in rule_names()
        ],
        "environments": envs,
        "members": [
            {
                "member": e.label,
                "cuda": str(e.platforms[0].cuda.cuda) if e.platforms and e.platforms[0].cuda.cuda else None,
                "cuda_versions": sorted({str(x) for v in e.platforms for x in v.cuda.versions}),
                "torch": e.platforms[0].cuda.torch if e.platforms else None,
                "in_window": all(in_window(v.cuda, window) for v in e.platforms if v.cuda.versions or v.cuda.majors),
            }
            for e in report.environments
            if e.has_cuda
        ],
        "violations": [v.to_json() for v in violations],
        "notes": [n.to_json() for n in report.notes],
    }


def env_json(env: Any, window: Any, violations: Any = ()) -> dict[str, Any]:
    """One environment for --json: per platform its CUDA, torch and whether it fits the window; the environment's
    verdict (inside the window on every platform, no violation naming its project)."""
    with_cuda = [v for v in env.platforms if v.cuda.versions or v.cuda.majors]
    inside = all(in_window(v.cuda, window) for v in with_cuda) if with_cuda else None
    rules = sorted({v.rule for v in violations if v.member == env.project})
    return {
        "environment": env.label,
        "project": env.project,
        "extras": list(env.spec.extras),
        "groups": list(env.spec.groups),
        "platforms": [
            {
                "platform": f"linux-{v.platform}",
                "cuda": str(v.cuda.cuda) if v.cuda.cuda else None,
                "cuda_versions": [str(x) for x in v.cuda.versions],
                "cuda_majors": list(v.cuda.majors),
                "torch": v.cuda.torch,
                "in_window": in_window(v.cuda, window) if (v.cuda.versions or v.cuda.majors) else None,
            }
            for v in env.platforms
        ],
        "in_window": inside,
        "project_rules": rules,
        "ok": inside is not False and not rules,
    }


def group_lines(envs: Any, window: Any) -> list[tuple[str, str]]:
    """Environments with the same verdict on one line: (`lerobot, --extra all, ... (+12 more)`, verdict)."""
    groups: dict[str, list[str]] = {}
    for e in envs:
        label, _, body = env_line(e, window).partition(": ")
        groups.setdefault(body, []).append(label)
    return [(_names(labels), body) for body, labels in groups.items()]


def _names(labels: list[str], show: int = 4) -> str:
    head = ", ".join(labels[:show])
    return head + (f" (+{len(labels) - show} more)" if len(labels) > show else "")


def env_line(env: Any, window: Any) -> str:
    """`train: CUDA 12.8 (torch 2.10.0) - inside the window 11.8-13.0`, per platform when they differ."""
    texts = [(v.platform, _cuda_text(v), v) for v in env.platforms]
    if len({t for _, t, _ in texts}) <= 1:
        view = texts[0][2] if texts else None
        body = texts[0][1] if texts else "installs nothing on Linux"
        return f"{env.label}: {body}{_where(view, window)}"
    parts = [f"linux {p}: {t}{_where(v, window)}" for p, t, v in texts]
    return f"{env.label}: " + "; ".join(parts)


def _where(view: Any, window: Any) -> str:
    if view is None or not (view.cuda.versions or view.cuda.majors):
        return ""
    return f" - {'inside' if in_window(view.cuda, window) else 'OUTSIDE'} the window {window}"


def in_window(mc: Any, window: Any) -> bool:
    """Every CUDA build of the view runs on the fleet (a majors-only view: some allowed CUDA has that major)."""
    if not mc.consistent:
        return False
    if mc.versions:
        return all(window.allows(v) for v in mc.versions)
    return all(any(v.major == m for v in window.allowed) for m in mc.majors)


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen check`."""
    from lockgen.commands._root import require_root
    from lockgen.model.workspace import load_workspace
    from lockgen.rules.checking import run_check

    ws = load_workspace(require_root(args))
    report = run_check(ws, use_uv=not args.no_uv)
    window = ws.window
    violations = report.violations
    if args.json:
        doc = check_json(ws, report)
        print_json(doc)
        return 1 if violations else 0
    out = sys.stdout
    print(f"fleet: {ws.fleet.describe()}", file=out)
    print(f"window: CUDA {', '.join(map(str, window.allowed)) or '(empty)'}", file=out)
    cpu = [e.label for e in report.environments if not e.has_cuda]
    gpu = [e for e in report.environments if e.has_cuda]
    plats = list(dict.fromkeys(v.platform for e in report.environments for v in e.platforms))
    print(f"environments (linux {', '.join(plats) or '-'}):", file=out)
    for labels, body in group_lines(gpu, window):
        print(f"  {labels}: {body}", file=out)
    if cpu:
        print(f"  {_names(cpu)}: no CUDA builds (CPU only)", file=out)
    for w in report.warnings:
        print(f"{style('warning', 'warning')}: {w}", file=out)
    for n in report.notes:
        where = n.file + (f" [{n.member}]" if n.member else "")
        print(f"{style(f'warning[{n.rule}]', 'warning')} {where}: {n.message}\n    fix: {n.fix}", file=out)
    for v in violations:
        where = f"{v.file}" + (f" [{v.member}]" if v.member else "") + (f" {v.package}" if v.package else "")
        print(f"{style(f'error[{v.rule}]', 'error')} {where}: {v.message}\n    fix: {v.fix}", file=out)
    print(
        style(f"{len(violations)} violation(s)", "error")
        if violations
        else style("ok: lock is strict, single-CUDA and inside the window", "ok"),
        file=out,
    )
    return 1 if violations else 0
