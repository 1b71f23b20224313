"""Accuracy of `lockgen explain` on the repository's corpus of real error reports, split by category and by the
train/test split, and the share of answers whose printed commands pass the truth property.

    uv run python scripts/explain_accuracy.py [--corpus PATH] [--split train|test|all] [--json]

The corpus (tests/fixtures/errors/corpus.jsonl) holds real reports from public issue threads, each with the category
and the fix the thread confirmed (`fix_keywords`: words a correct fix must contain). About 30% of it (`split: test`,
chosen by the hash of the URL before any knowledge was written) was held out: the knowledge was tuned on the train
split only, so the test figure estimates accuracy on reports lockgen has not seen.

An answer is right when the category equals the thread's, and its fix is right when, in addition, every fix keyword
appears in the cause, the fixes or the facts-to-run. The truth property (lockgen.ops.explain.advice_problems) holds when
every command names only indexes, torch builds, driver figures and versions from lockgen's tables, the lock or the
error text, and contains no placeholder; it is checked twice per report: without a workspace and with the frozen test
workspace (tests/fakes/workspace_cuda13) and a 550 driver, so the concrete answers are checked too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "fixtures" / "errors" / "corpus.jsonl"
WORKSPACE = REPO / "tests" / "fakes" / "workspace_cuda13"


def load(path: Path) -> list[dict]:
    """The corpus entries."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def workspace_context():
    """An ExplainContext for the frozen test workspace (train and serve on CUDA 13.0) on a machine with driver 550."""
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.explain import ExplainContext, MemberFacts
    from lockgen.tables.knowledge import load_knowledge
    from lockgen.tables.versions import CudaVersion, DriverVersion

    ws = load_workspace(WORKSPACE)
    members = []
    for name in ("train", "serve"):
        installed = ws.installed(name)
        packages = {n: p.version for n, p in installed.items() if p.version}
        members.append(MemberFacts(name, CudaVersion(13, 0), packages.get("torch"), packages))
    ctx = ExplainContext(load_knowledge(), tuple(members), focus="train", fleet=ws.fleet)
    return ctx, DriverVersion.parse("550.54.14")


def score(entries: list[dict]) -> dict:
    """Per entry: category right, fix right, truth property held (without and with a workspace)."""
    from dataclasses import replace

    from lockgen.ops.explain import advice_problems, explain, load_catalog
    from lockgen.tables.knowledge import load_knowledge

    catalog = load_catalog()
    knowledge = load_knowledge()
    ctx, driver = workspace_context()
    ctx = replace(ctx, driver=driver)
    locked: dict[str, set[str]] = defaultdict(set)
    for m in ctx.members:
        for n, v in m.packages.items():
            locked[n].add(v)
    rows = []
    for e in entries:
        bare = explain(e["error_text"], catalog)
        concrete = explain(e["error_text"], catalog, ctx)
        text = " ".join([bare.cause or "", *bare.fix_uv, *bare.fix_pip, *bare.facts_needed]).lower()
        category_ok = bare.recognised and bare.category == e["category"]
        fix_ok = category_ok and all(k.lower() in text for k in e["fix_keywords"])
        problems = []
        for ans in (bare, concrete):
            if ans.recognised:
                lines = [*ans.fix_uv, *ans.fix_pip, *ans.facts_needed]
                problems += advice_problems(lines, catalog, knowledge, locked, quoted=e["error_text"])
        rows.append(
            {
                "id": e["id"],
                "split": e["split"],
                "category": e["category"],
                "answered": bare.category if bare.recognised else None,
                "class": bare.error_class,
                "category_ok": category_ok,
                "fix_ok": fix_ok,
                "truthful": bare.recognised and not problems,
                "problems": problems,
            }
        )
    return {"rows": rows}


def summarise(rows: list[dict]) -> dict:
    """Totals and per-category figures."""
    n = len(rows)
    answered = [r for r in rows if r["answered"]]
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    return {
        "reports": n,
        "category_right": sum(r["category_ok"] for r in rows),
        "fix_right": sum(r["fix_ok"] for r in rows),
        "answered": len(answered),
        "truthful": sum(r["truthful"] for r in answered),
        "by_category": {
            c: {
                "reports": len(rs),
                "category_right": sum(r["category_ok"] for r in rs),
                "fix_right": sum(r["fix_ok"] for r in rs),
            }
            for c, rs in sorted(by_cat.items())
        },
    }


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "0/0"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--split", choices=("train", "test", "all"), default="all")
    p.add_argument("--json", action="store_true")
    p.add_argument("--failures", action="store_true", help="list the reports answered wrongly")
    args = p.parse_args(argv)
    entries = load(args.corpus)
    rows = score(entries)["rows"]
    splits = ("train", "test") if args.split == "all" else (args.split,)
    result = {s: summarise([r for r in rows if r["split"] == s]) for s in splits}
    if args.split == "all":
        result["all"] = summarise(rows)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    for s, summary in result.items():
        print(
            f"{s:5}: {summary['reports']} reports - "
            f"category right {pct(summary['category_right'], summary['reports'])}, "
            f"category and fix right {pct(summary['fix_right'], summary['reports'])}, "
            f"answers passing the truth property {pct(summary['truthful'], summary['answered'])}"
        )
    cats = sorted({r["category"] for r in rows})
    print(f"\n{'category':34} " + "  ".join(f"{s + ' cat/fix':>16}" for s in splits))
    for c in cats:
        cells = []
        for s in splits:
            b = result[s]["by_category"].get(c)
            cells.append(f"{b['category_right']}/{b['fix_right']} of {b['reports']:>2}" if b else "-")
        print(f"{c:34} " + "  ".join(f"{x:>16}" for x in cells))
    if args.failures:
        print()
        for r in rows:
            if r["split"] in splits and not (r["fix_ok"] and r["truthful"]):
                print(
                    f"{r['split']:5} {r['id']:32} want {r['category']:30} got {r['answered']} ({r['class']})"
                    + (f" problems: {r['problems']}" if r["problems"] else "")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
