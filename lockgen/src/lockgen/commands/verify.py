"""`lockgen verify [ENV ...]`: install each member from the lock into a throwaway venv and prove that it runs."""

from __future__ import annotations

import argparse
from typing import Any

from lockgen.ui import print_json

HELP = "install members from the lock into throwaway venvs and run import/CUDA/tokenizer/smoke probes"
DESCRIPTION = """\
For each member (default: every member with CUDA-linked or ML packages): `uv sync --frozen --package M`
into a temporary venv (uv's cache keeps it fast), then, with that venv's Python:
  import       every top-level module of the member's direct dependencies
  torch CUDA   torch.version.cuda equals the CUDA the lock gives the member
  GPU visible  torch sees a CUDA device (needs-gpu on a CPU host: expected, not a failure)
  transformers sees torch, a tokenizer round trip (a word-level `tokenizers` tokenizer in
               PreTrainedTokenizerFast), and vLLM's own get_tokenizer when vllm is installed
  smoke        the member's `[tool.lockgen] verify-smoke` command (`{work}`: a directory shared by
               the members of one run, in workspace order); exit 0 ok, 2 skipped, else broken
Each probe is ok, needs-gpu or broken (with the error's last line and `lockgen explain`'s reading).
The venvs are removed afterwards.
exit codes: 0 nothing broken, 1 a probe is broken, 2 bad input
"""


def register(sub: Any) -> None:
    """Add the `verify` command."""
    p = sub.add_parser(
        "verify", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("members", nargs="*", metavar="ENV", help="member names (default: members with ML packages)")
    p.add_argument("--offline", action="store_true", help="install from uv's cache only (no network)")
    p.add_argument("--no-smoke", action="store_true", help="skip the members' verify-smoke commands")
    p.add_argument(
        "--timeout", type=float, default=900.0, metavar="S", help="seconds per probe run and per smoke (default 900)"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `lockgen verify`."""
    from lockgen.commands._root import require_root
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.verify import format_report, verify
    from lockgen.ui import Reporter

    ws = load_workspace(require_root(args))
    results = verify(ws, args.members or None, Reporter(), args.offline, not args.no_smoke, args.timeout)
    broken = any(r.broken for r in results)
    if args.json:
        print_json({"ok": not broken, "members": [r.to_json() for r in results]})
        return 1 if broken else 0
    if not results:
        print("verify: no member with CUDA-linked or ML packages: nothing to verify")
        return 0
    for line in format_report(results):
        print(line)
    if broken:
        names = ", ".join(r.member for r in results if r.broken)
        print(f"verify: BROKEN: {names} (see the probes above)")
        return 1
    gpu = any(p.status == "needs-gpu" for r in results for p in r.probes)
    print("verify: ok" + (" (probes that need a GPU were not run to the end: no GPU here)" if gpu else ""))
    return 0
