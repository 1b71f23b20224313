"""lockgen's layers only point down, and no modules import each other in a circle.

Every module's imports are read with `ast` (module level, function level and `if TYPE_CHECKING:` alike: a
type-only arrow up is still an arrow up). The layers, lowest first, are the folders of lockgen/src/lockgen
(docs/development.md, "Code map"); `errors`, `ui` (and `findings`) are shared utilities that every layer may use
and that import no other layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "lockgen" / "src" / "lockgen"
LAYERS: tuple[str, ...] = ("tables", "seams", "model", "plan", "rules", "ops", "commands", "cli", "__main__")
# "" is the package itself (lockgen/__init__.py); `findings` (Violation, from the speed stream) sits beside errors.py
SHARED: frozenset[str] = frozenset({"errors", "ui", "findings", ""})


def module_name(path: Path, root: Path = SRC) -> str:
    """`lockgen.model.window` for lockgen/src/lockgen/model/window.py (`lockgen.rules` for rules/__init__.py)."""
    parts = ["lockgen", *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer (top folder or top module) a `lockgen...` module belongs to; "" for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(module: str) -> int | None:
    """The module's layer's position, lowest first; None for a shared module."""
    layer = layer_of(module)
    if layer in SHARED:
        return None
    if layer not in LAYERS:
        raise AssertionError(f"{module}: folder {layer!r} is in no layer; add it to LAYERS and to the code map")
    return LAYERS.index(layer)


def imports_of(source: str, module: str, is_package: bool, known: Iterable[str]) -> set[str]:
    """The lockgen modules `source` imports, anywhere in the file. `from lockgen.plan import steering` names the
    module lockgen.plan.steering when that is a module, else the package lockgen.plan."""
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "lockgen"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "lockgen":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            out |= subs or {target}
            if subs and len(subs) < len(node.names):
                out.add(target)
    out.discard(module)
    return out


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Every lockgen module -> the lockgen modules it imports."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {m: imports_of(p.read_text(encoding="utf-8"), m, p.name == "__init__.py", files) for m, p in files.items()}


def upward_arrows(graph: Mapping[str, set[str]]) -> list[str]:
    """ "a -> b" for each import from a lower layer to a higher one, and from a shared module to any layer."""
    bad = []
    for src, targets in sorted(graph.items()):
        for dst in sorted(targets):
            r_src, r_dst = rank(src), rank(dst)
            if r_dst is None:
                continue
            if r_src is None or r_dst > r_src:
                bad.append(f"{src} -> {dst}")
    return bad


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_every_folder_is_a_layer() -> None:
    for module in import_graph():
        rank(module)  # raises for a folder the map does not know


def test_no_import_points_up() -> None:
    bad = upward_arrows(import_graph())
    assert not bad, "imports from a lower layer to a higher one (move the code down, see docs/development.md):\n" + (
        "\n".join(bad)
    )


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "modules that import each other in a circle:\n" + "\n".join(" <-> ".join(c) for c in found)


# ---- the checker itself can fail ----


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "lockgen"
    for rel, text in {
        "__init__.py": "",
        "errors.py": "",
        "model/__init__.py": "",
        "model/window.py": "from lockgen.tables import knowledge\n",
        "tables/__init__.py": "",
        "tables/knowledge.py": "def f():\n    from lockgen.model.window import X\n",
        "ops/__init__.py": "",
        "ops/a.py": "from . import b\nfrom lockgen.errors import E\n",
        "ops/b.py": "import lockgen.ops.a\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_checker_catches_a_function_level_arrow_up_and_a_cycle(tree: Path) -> None:
    graph = import_graph(tree)
    assert graph["lockgen.ops.a"] == {"lockgen.ops.b", "lockgen.errors"}
    assert upward_arrows(graph) == ["lockgen.tables.knowledge -> lockgen.model.window"]
    assert cycles(graph) == [
        ["lockgen.model.window", "lockgen.tables.knowledge"],
        ["lockgen.ops.a", "lockgen.ops.b"],
    ]


def test_shared_modules_import_no_layer(tree: Path) -> None:
    (tree / "errors.py").write_text("from lockgen.model import window\n")
    assert "lockgen.errors -> lockgen.model.window" in upward_arrows(import_graph(tree))
