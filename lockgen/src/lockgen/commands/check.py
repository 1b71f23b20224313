"""`lockgen check`: is the committed lock strict, single-CUDA, inside the fleet's window, hashed and fresh?"""

from __future__ import annotations

import sys

from lockgen.ui import print_json, style

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy and pyright read the name)
if TYPE_CHECKING:  # (a plain `lockgen check` never imports argparse: lockgen.cli.plain_check)
    import argparse
    from typing import Any

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
    import argparse

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
    without raising "schema"): `json_static` (what the workspace and the rules' environments decide) completed by
    `json_doc` (what the violations, notes, warnings and uv's answer decide)."""
    return json_doc(
        json_static(ws, report.environments),
        [v.to_json() for v in report.violations],
        [n.to_json() for n in report.notes],
        list(report.warnings),
        report.fresh,
    )


def json_static(ws: Any, environments: Any) -> dict[str, Any]:
    """The part of the --json document that no violation and no uv answer changes (the verdict cache keeps it)."""
    import hashlib

    from lockgen import __version__
    from lockgen.rules.registry import rule_names

    window = ws.window
    lock = ws.root / "uv.lock"
    return {
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
        "rules": list(rule_names()),
        "environments": [_env_static(e, window) for e in environments],
        "members": [
            {
                "member": e.label,
                "cuda": str(e.platforms[0].cuda.cuda) if e.platforms and e.platforms[0].cuda.cuda else None,
                "cuda_versions": sorted({str(x) for v in e.platforms for x in v.cuda.versions}),
                "torch": e.platforms[0].cuda.torch if e.platforms else None,
                "in_window": all(in_window(v.cuda, window) for v in e.platforms if v.cuda.versions or v.cuda.majors),
            }
            for e in environments
            if e.has_cuda
        ],
    }


def json_doc(
    static: dict[str, Any],
    violations: list[dict[str, Any]],
    notes: list[dict[str, Any]],
    warnings: list[str],
    fresh: bool | None,
) -> dict[str, Any]:
    """The whole --json document from `json_static` and what decides the rest (violations and notes as dicts,
    warnings without the notes' lines, uv's answer)."""
    envs = [_env_verdict(e, violations) for e in static["environments"]]
    by_rule: dict[str, int] = {}
    for v in violations:
        by_rule[v["rule"]] = by_rule.get(v["rule"], 0) + 1
    return {
        "schema": 1,
        "ok": not violations,
        "lockgen": static["lockgen"],
        "lock": static["lock"],
        "fleet": static["fleet"],
        "window": static["window"],
        "warnings": [*warnings, *(f"{n['rule']}: {n['file']}: {n['message']}" for n in notes)],
        "fresh": fresh,
        "summary": {
            "violations": len(violations),
            "notes": len(notes),
            "environments": len(envs),
            "environments_ok": sum(1 for e in envs if e["ok"]),
            "by_rule": dict(sorted(by_rule.items())),
        },
        "rules": [
            {
                "rule": name,
                "decided": fresh is not None if name == "lock-fresh" else True,
                "violations": by_rule.get(name, 0),
            }
            for name in static["rules"]
        ],
        "environments": envs,
        "members": static["members"],
        "violations": violations,
        "notes": notes,
    }


def env_json(env: Any, window: Any, violations: Any = ()) -> dict[str, Any]:
    """One environment for --json: per platform its CUDA, torch and whether it fits the window; the environment's
    verdict (inside the window on every platform, no violation naming its project)."""
    return _env_verdict(_env_static(env, window), [v.to_json() for v in violations])


def _env_static(env: Any, window: Any) -> dict[str, Any]:
    with_cuda = [v for v in env.platforms if v.cuda.versions or v.cuda.majors]
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
        "in_window": all(in_window(v.cuda, window) for v in with_cuda) if with_cuda else None,
    }


def _env_verdict(static: dict[str, Any], violations: list[dict[str, Any]]) -> dict[str, Any]:
    rules = sorted({v["rule"] for v in violations if v["member"] == static["project"]})
    return {**static, "project_rules": rules, "ok": static["in_window"] is not False and not rules}


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


def facts(ws: Any, report: Any) -> dict[str, Any]:
    """Everything `check` prints that uv's freshness check does not decide, as plain values: what the verdict cache
    keeps (lockgen.seams.checkfast.VerdictCache), and what `show` prints from."""
    window = ws.window
    gpu = [e for e in report.environments if e.has_cuda]
    return {
        "json": json_static(ws, report.environments),
        "fleet_text": ws.fleet.describe(),
        "window": [str(v) for v in window.allowed],
        "platforms": list(dict.fromkeys(v.platform for e in report.environments for v in e.platforms)),
        "lines": [[labels, body] for labels, body in group_lines(gpu, window)],
        "cpu": [e.label for e in report.environments if not e.has_cuda],
        "warnings": list(report.warnings),
        "notes": [n.to_json() for n in report.notes],
        "violations": [v.to_json() for v in report.violations],
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen check`: uv's freshness check is started first and runs while the rules do (or while
    the rules' verdict is read from the cache, when the process may use it)."""
    from lockgen.commands._root import require_root
    from lockgen.seams.checkfast import PendingFreshness

    root = require_root(args)  # a Path, or a str on the plain line's fast path (lockgen.cli._main)
    pending = None if args.no_uv else PendingFreshness(root)
    try:
        doc = _verdict(root, getattr(args, "cache", False))
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise
    stale, fresh_warnings, fresh = pending.result() if pending is not None else ([], [], None)
    return show(doc, [v.to_json() for v in stale], fresh_warnings, fresh, args.json)


def _verdict(root: Any, use_cache: bool) -> dict[str, Any]:
    """The rules' verdict on the workspace at `root` (`facts`), from the cache when allowed and current."""
    from lockgen.seams.checkfast import VerdictCache

    cache = VerdictCache(root) if use_cache else None
    doc = cache.load(lambda: _member_dirs(root)) if cache is not None else None
    if doc is None:
        from pathlib import Path

        from lockgen.model.workspace import load_workspace
        from lockgen.rules.checking import run_check

        ws = load_workspace(Path(root))
        doc = facts(ws, run_check(ws, use_uv=False))
        if cache is not None:
            cache.store(doc, _read_files(ws), _member_dirs(root) if _has_globs(ws.pyproject) else None)
    return doc


def _read_files(ws: Any) -> list[str]:
    """The files the rules read besides the root's own (lockgen.seams.checkfast.ROOT_INPUTS): member pyprojects and
    the notebooks [tool.lockgen] lists."""
    files = [m.pyproject_file for m in ws.members.values() if m.path != "."]
    raw = ws.lockgen_config.get("notebooks", [])
    for n in raw if isinstance(raw, list) else []:
        if isinstance(n, dict) and isinstance(n.get("path"), str):
            files.append(n["path"])
    return files


def _member_dirs(root: Any) -> list[str]:
    from pathlib import Path

    from lockgen.model.workspace import member_dirs

    return [str(p) for p in member_dirs(Path(root))]


def _has_globs(pyproject: Any) -> bool:
    ws = pyproject.get("tool", {}).get("uv", {}).get("workspace", {})
    patterns = [*ws.get("members", []), *ws.get("exclude", [])] if isinstance(ws, dict) else []
    return any(isinstance(p, str) and any(c in p for c in "*?[") for p in patterns)


def show(
    doc: dict[str, Any], stale: list[dict[str, Any]], fresh_warnings: list[str], fresh: bool | None, as_json: bool
) -> int:
    """Print the verdict (`facts`) with uv's freshness answer; the exit code (1 on violations)."""
    violations = [*doc["violations"], *stale]
    warnings = [*doc["warnings"], *fresh_warnings]
    notes = doc["notes"]
    if as_json:
        print_json(json_doc(doc["json"], violations, notes, warnings, fresh))
        return 1 if violations else 0
    out = sys.stdout
    print(f"fleet: {doc['fleet_text']}", file=out)
    print(f"window: CUDA {', '.join(doc['window']) or '(empty)'}", file=out)
    print(f"environments (linux {', '.join(doc['platforms']) or '-'}):", file=out)
    for labels, body in doc["lines"]:
        print(f"  {labels}: {body}", file=out)
    if doc["cpu"]:
        print(f"  {_names(doc['cpu'])}: no CUDA builds (CPU only)", file=out)
    for w in warnings:
        print(f"{style('warning', 'warning')}: {w}", file=out)
    for n in notes:
        where = n["file"] + (f" [{n['member']}]" if n["member"] else "")
        tag = style(f"warning[{n['rule']}]", "warning")
        print(f"{tag} {where}: {n['message']}\n    fix: {n['fix']}", file=out)
    for v in violations:
        where = v["file"] + (f" [{v['member']}]" if v["member"] else "") + (f" {v['package']}" if v["package"] else "")
        tag = style(f"error[{v['rule']}]", "error")
        print(f"{tag} {where}: {v['message']}\n    fix: {v['fix']}", file=out)
    print(
        style(f"{len(violations)} violation(s)", "error")
        if violations
        else style("ok: lock is strict, single-CUDA and inside the window", "ok"),
        file=out,
    )
    return 1 if violations else 0
