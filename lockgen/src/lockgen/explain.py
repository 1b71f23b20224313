"""`lockgen explain`'s logic: what does this error mean? Pure: text in, an Explanation out.

Knowledge is data (data/errors.toml): classes of errors with patterns, a category, the cause in plain words,
the fixes and a cited source. `match_classes` ranks the classes whose patterns match; `explain` formats the
best one and, given an ExplainContext (the lock and the host), makes it concrete: "driver 550.54.14 supports
CUDA <= 12.4; serve is locked to CUDA 13.0; ...". An error no class matches is reported as not recognised,
with what was checked - never a guess.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from lockgen.versions import CudaVersion, DriverVersion, parse_cc

if TYPE_CHECKING:
    from lockgen.fleet import Fleet
    from lockgen.host import HostReport
    from lockgen.knowledge import Knowledge

DATA_FILE = "lockgen/data/errors.toml"
FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL
CONTEXTS = ("driver", "arch", "torch", "versions", "module", "nvcc", "libcuda", "libmajor", "resolver")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_LAST_ERROR = re.compile(r"^\s*(?:[\w.]+\.)?(?:[A-Z]\w*(?:Error|Exception)|Killed|Segmentation fault)\b[^\n]*", re.M)
_SITE_PKG = re.compile(r"(?:site|dist)-packages[/\\](?P<pkg>[A-Za-z_][\w]*)")


@dataclass(frozen=True)
class Category:
    """A category of errors and its place in the playbook's decision tree."""

    id: str
    title: str
    branch: str


@dataclass(frozen=True)
class ErrorClass:
    """One class of errors: how to recognise it and what to say."""

    id: str
    category: str
    title: str
    patterns: tuple[re.Pattern[str], ...]
    cause: str
    fix_uv: tuple[str, ...]
    fix_pip: tuple[str, ...]
    source: str
    require: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    extract: tuple[re.Pattern[str], ...] = ()
    priority: int = 50
    context: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class Catalog:
    """The whole knowledge file."""

    categories: Mapping[str, Category]
    classes: tuple[ErrorClass, ...]
    import_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """A class whose patterns matched, with what they captured."""

    cls: ErrorClass
    hits: int
    captures: Mapping[str, str]
    evidence: str


@dataclass(frozen=True)
class MemberFacts:
    """What the lock says about one workspace member."""

    name: str
    cuda: CudaVersion | None
    torch: str | None
    packages: Mapping[str, str] = field(default_factory=dict)  # locked name -> version


@dataclass(frozen=True)
class ExplainContext:
    """The workspace and host facts that make an answer concrete. Every field may be empty."""

    knowledge: Knowledge
    members: tuple[MemberFacts, ...] = ()  # the member in question first, when known
    focus: str | None = None  # the member in question (--member, or the one installed)
    fleet: Fleet | None = None
    host: HostReport | None = None
    driver: DriverVersion | None = None  # the driver where the error happened (--driver), else this machine's


@dataclass(frozen=True)
class Explanation:
    """The answer. When `recognised` is False only `checked` and `last_error` are filled."""

    recognised: bool
    error_class: str | None = None
    category: str | None = None
    category_title: str | None = None
    branch: str | None = None
    title: str | None = None
    cause: str | None = None
    details: tuple[str, ...] = ()
    fix_uv: tuple[str, ...] = ()
    fix_pip: tuple[str, ...] = ()
    source: str | None = None
    evidence: str | None = None
    partial: bool = False
    also: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "recognised": self.recognised,
            "class": self.error_class,
            "category": self.category,
            "category_title": self.category_title,
            "branch": self.branch,
            "title": self.title,
            "cause": self.cause,
            "details": list(self.details),
            "fix_uv": list(self.fix_uv),
            "fix_pip": list(self.fix_pip),
            "source": self.source,
            "evidence": self.evidence,
            "partial": self.partial,
            "also": list(self.also),
            "checked": list(self.checked),
            "last_error": self.last_error,
        }


# ---- loading ---------------------------------------------------------------------------------------------------


def _compile(patterns: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"{where}: expected a list of regex strings")
    out = []
    for i, p in enumerate(patterns):
        try:
            out.append(re.compile(p, FLAGS))
        except re.error as e:
            raise ValueError(f"{where}[{i}]: invalid regex {p!r}: {e}") from None
    return tuple(out)


def parse_catalog(data: Mapping[str, Any], file: str = DATA_FILE) -> Catalog:
    """Build the catalog from the parsed data file; ValueError naming the class and key when malformed."""
    cats = {}
    for cid, row in data.get("categories", {}).items():
        if not isinstance(row, Mapping) or not {"title", "branch"} <= set(row):
            raise ValueError(f"{file}: categories.{cid}: needs title and branch")
        cats[cid] = Category(cid, str(row["title"]), str(row["branch"]))
    classes = []
    seen: set[str] = set()
    for i, row in enumerate(data.get("class", [])):
        where = f"{file}: class[{i}] ({row.get('id', '?')})"
        for key in ("id", "category", "title", "patterns", "cause", "fix_uv", "fix_pip", "source"):
            if key not in row:
                raise ValueError(f"{where}: missing {key}")
        if row["id"] in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(row["id"])
        if row["category"] not in cats:
            raise ValueError(f"{where}: unknown category {row['category']!r}")
        if "https://" not in row["source"]:
            raise ValueError(f"{where}: source must cite a URL")
        if row.get("context") is not None and row["context"] not in CONTEXTS:
            raise ValueError(f"{where}: unknown context {row['context']!r} (one of {', '.join(CONTEXTS)})")
        classes.append(
            ErrorClass(
                id=row["id"],
                category=row["category"],
                title=row["title"],
                patterns=_compile(row["patterns"], f"{where}.patterns"),
                cause=row["cause"],
                fix_uv=tuple(row["fix_uv"]),
                fix_pip=tuple(row["fix_pip"]),
                source=row["source"],
                require=_compile(row.get("require", []), f"{where}.require"),
                exclude=_compile(row.get("exclude", []), f"{where}.exclude"),
                extract=_compile(row.get("extract", []), f"{where}.extract"),
                priority=int(row.get("priority", 50)),
                context=row.get("context"),
                partial=bool(row.get("partial")),
            )
        )
    return Catalog(cats, tuple(classes), dict(data.get("import_names", {})))


@cache
def load_catalog() -> Catalog:
    """Read the packaged error knowledge (once per process)."""
    text = resources.files("lockgen").joinpath("data/errors.toml").read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))


# ---- matching --------------------------------------------------------------------------------------------------


def clean(text: str) -> str:
    """Strip terminal colour codes and carriage returns."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _groups(m: re.Match[str]) -> dict[str, str]:
    return {k: v for k, v in m.groupdict().items() if v}


def match_classes(text: str, catalog: Catalog) -> list[Match]:
    """Every class that matches `text`, best first (priority, then number of patterns hit, then file order)."""
    text = clean(text)
    found: list[tuple[int, int, int, Match]] = []
    for order, cls in enumerate(catalog.classes):
        hits = [m for p in cls.patterns if (m := p.search(text))]
        if not hits:
            continue
        if not all(r.search(text) for r in cls.require) or any(x.search(text) for x in cls.exclude):
            continue
        captures: dict[str, str] = {}
        for m in hits:
            for k, v in _groups(m).items():
                captures.setdefault(k, v)
        for x in cls.extract:
            for m in x.finditer(text):
                for k, v in _groups(m).items():
                    captures.setdefault(k, v)
        first = min(hits, key=lambda m: m.start())
        evidence = " ".join(first.group(0).split())
        found.append((-cls.priority, -len(hits), order, Match(cls, len(hits), captures, evidence[:200])))
    return [m for *_, m in sorted(found, key=lambda t: t[:3])]


def last_error_line(text: str) -> str | None:
    """The last line that looks like an exception (what a human would read first)."""
    lines = _LAST_ERROR.findall(clean(text))
    return lines[-1].strip()[:300] if lines else None


# ---- making it concrete ----------------------------------------------------------------------------------------


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)] if m.group(1) in values else f"<{m.group(1)}>", template)


def _dist(name: str | None, catalog: Catalog) -> str | None:
    if not name:
        return None
    top = name.split(".")[0]
    return catalog.import_names.get(name) or catalog.import_names.get(top) or top.replace("_", "-").lower()


def _ext_dist(so: str | None, catalog: Catalog) -> str | None:
    if not so:
        return None
    base = so.split(".")[0]
    if base in catalog.import_names:
        return catalog.import_names[base]
    stripped = re.sub(r"(?:_\d+)?(?:_cuda|_C|_ext|_kernels?)$", "", base)
    return catalog.import_names.get(stripped) or stripped.replace("_", "-").lower()


def _focus(ctx: ExplainContext | None) -> MemberFacts | None:
    if ctx is None or not ctx.members:
        return None
    if ctx.focus:
        for m in ctx.members:
            if m.name == ctx.focus:
                return m
    return ctx.members[0] if len(ctx.members) == 1 else None


def _scope(ctx: ExplainContext) -> tuple[MemberFacts, ...]:
    """The member in question when known, else every member with a lock entry."""
    focus = _focus(ctx)
    return (focus,) if focus is not None and ctx.focus else ctx.members


def _members_text(members: tuple[MemberFacts, ...]) -> str:
    by_cuda: dict[str, list[str]] = {}
    for m in members:
        if m.cuda is not None:
            by_cuda.setdefault(str(m.cuda), []).append(m.name)
    parts = [
        f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} locked to CUDA {c}" for c, names in by_cuda.items()
    ]
    return "; ".join(parts)


def _values(match: Match, ctx: ExplainContext | None, catalog: Catalog, text: str) -> dict[str, str]:
    v: dict[str, str] = dict(match.captures)
    focus = _focus(ctx)
    if focus is not None:
        v.setdefault("member", focus.name)
        if focus.torch:
            v.setdefault("torch", focus.torch.split("+")[0])
        if focus.cuda is not None:
            v.setdefault("cuda", str(focus.cuda))
            v.setdefault("cuda_label", focus.cuda.label)
    elif ctx is not None and ctx.members:
        cudas = {m.cuda for m in ctx.members if m.cuda is not None}
        if len(cudas) == 1:
            (only,) = cudas
            v.setdefault("cuda", str(only))
            v.setdefault("cuda_label", only.label)
    module = v.get("module") or v.get("lib")
    if module:
        v.setdefault("dist", _dist(module, catalog) or module)
    if "lib" in v:
        v["lib"] = _dist(v["lib"], catalog) or v["lib"]
    ext = _ext_dist(v.get("so"), catalog)
    if ext:
        v.setdefault("ext_dist", ext)
    if "provider" in v:
        v.setdefault("provider_dist", _dist(v["provider"], catalog) or v["provider"])
        importers = [p for p in _SITE_PKG.findall(clean(text)) if _dist(p, catalog) != v["provider_dist"]]
        if importers:
            v.setdefault("importer", _dist(importers[-1], catalog) or importers[-1])
    if ctx is not None:
        policy = ctx.fleet.policy if ctx.fleet else "toolkit"
        cudas = [m.cuda for m in ((focus,) if focus is not None else ctx.members) if m.cuda is not None]
        need = ctx.knowledge.required_driver(max(cudas), policy) if cudas else None
        if need is not None:
            v.setdefault("driver_needed", str(need))
        best = ctx.knowledge.max_cuda_for_driver(ctx.driver, policy) if ctx.driver is not None else None
        found = v.get("found_cuda", "")
        if best is None and found.isdigit():
            best = CudaVersion(int(found) // 1000, (int(found) % 1000) // 10)
        if best is not None:
            v.setdefault("driver_cuda_label", best.label)
    v.setdefault("driver_needed", "the version `lockgen doctor` names")
    v.setdefault("driver_cuda_label", "cuXYZ")
    for key in ("arch", "sm"):  # "{arch}{sm}" in a cause shows whichever was captured
        v.setdefault(key, "")
    return v


def _details_driver(match: Match, ctx: ExplainContext) -> list[str]:
    k = ctx.knowledge
    policy = ctx.fleet.policy if ctx.fleet else "toolkit"
    out: list[str] = []
    found = match.captures.get("found_cuda")
    if found and found.isdigit():
        n = int(found)
        out.append(f"the error says the driver runs CUDA <= {n // 1000}.{(n % 1000) // 10} (found version {found})")
    cudas = [m for m in ctx.members if m.cuda is not None]
    focus = _focus(ctx)
    targets = [focus] if focus is not None and focus.cuda is not None else cudas
    if not targets:
        return out
    newest = max(t.cuda for t in targets if t.cuda is not None)
    need = k.required_driver(newest, policy)
    locked = _members_text(tuple(targets))
    d = ctx.driver
    if d is None:
        out.append(f"{locked}, which needs driver >= {need}" if need else locked)
        return out
    best = k.max_cuda_for_driver(d, policy)
    supports = f"driver {d} supports CUDA <= {best}" if best else f"driver {d} runs no CUDA in lockgen's tables"
    if need is not None and d.satisfies(need):
        out.append(
            f"{supports}; {locked}, which needs >= {need}: this driver is new enough, so the failing "
            "environment is not the locked one - run `lockgen doctor` there"
        )
        return out
    if ctx.fleet is not None and need is not None and ctx.fleet.driver.satisfies(need):
        out.append(
            f"{supports}; {locked}; the fleet promises driver {ctx.fleet.driver}: upgrade this machine's "
            f"driver to >= {need}, or lower the fleet's driver to {d.branch} and run `lockgen lock`"
        )
    else:
        out.append(
            f"{supports}; {locked}; lower the fleet's driver to {d.branch} and run `lockgen lock`, or upgrade "
            f"the driver" + (f" to >= {need}" if need else "")
        )
    return out


def _sm_to_cc(sm: str) -> str | None:
    digits = "".join(ch for ch in sm if ch.isdigit())
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 2 else None


def _details_arch(match: Match, ctx: ExplainContext) -> list[str]:
    from lockgen.diagnose import release_runs_on

    k = ctx.knowledge
    out: list[str] = []
    ccs: list[tuple[str, str]] = []  # (cc, label)
    sm = match.captures.get("sm") or ""
    cap = match.captures.get("cap")
    if sm and (cc := _sm_to_cc(sm)):
        ccs.append((cc, f"{sm if sm.startswith('sm_') else 'sm_' + sm} (compute capability {cc})"))
    elif cap:
        ccs.append((cap, f"compute capability {cap}"))
    elif ctx.host is not None:
        for g in ctx.host.gpus:
            known = k.gpu(g.name)
            cc = g.cc or (known.cc if known else None)
            if cc:
                ccs.append((cc, f"this machine's GPU {g.index} {g.name} (compute capability {cc})"))
    if match.captures.get("archs"):
        out.append(f"the build has kernels for {match.captures['archs'].strip()}")
    for cc, label in ccs:
        try:
            parse_cc(cc)
        except ValueError:
            continue
        able = [r.version for r in k.releases if release_runs_on(r.ccs, cc)]
        if able:
            out.append(f"{label}: CUDA {min(able)}-{max(able)} can target it")
        else:
            out.append(f"{label}: no CUDA in lockgen's tables targets it")
        for m in _scope(ctx):
            if m.cuda is None:
                continue
            release = k.release(m.cuda)
            if release is not None and not release_runs_on(release.ccs, cc):
                out.append(f"{m.name} is locked to CUDA {m.cuda}, which cannot target {cc}")
                if ctx.fleet is not None:
                    out.append(_wider_window(ctx, cc))
            elif release is not None:
                out.append(
                    f"{m.name} is locked to CUDA {m.cuda}, which targets {cc}; the failing build is not the "
                    "locked one - run `lockgen doctor` where it failed"
                )
        if parse_cc(cc) < (8, 0) and match.cls.id in ("flash-attn-needs-ampere", "bf16-unsupported"):
            out.append(f"compute capability {cc} is below 8.0 (Ampere)")
    return out


def _wider_window(ctx: ExplainContext, cc: str) -> str:
    from lockgen.fleet import Fleet, FleetGpu
    from lockgen.window import cuda_window

    assert ctx.fleet is not None
    fleet = ctx.fleet
    label = next((g.name for g in ctx.knowledge.gpus if g.cc == cc), cc)
    if any(g.cc == cc for g in fleet.gpus):
        return f"the fleet already lists compute capability {cc}: run `lockgen check` and `lockgen lock`"
    wider = cuda_window(Fleet(fleet.driver, (*fleet.gpus, FleetGpu(cc, cc)), fleet.policy), ctx.knowledge)
    then = f"the window becomes CUDA {wider}" if wider.allowed else "no CUDA in lockgen's tables serves that fleet"
    return f'add "{cc}" ({label}) to gpus under [tool.lockgen] and run `lockgen lock` ({then})'


def _details_torch(ctx: ExplainContext) -> list[str]:
    out = []
    focus = _focus(ctx)
    if focus is not None and focus.torch:
        out.append(f"{focus.name} is locked to torch {focus.torch}" + (f" for CUDA {focus.cuda}" if focus.cuda else ""))
    if ctx.host is not None and ctx.host.torch is not None:
        t = ctx.host.torch
        out.append(f"installed here: torch {t.version} ({'CPU-only' if t.cuda is None else 'CUDA ' + t.cuda})")
    return out


def _mentioned(values: Mapping[str, str], text: str, catalog: Catalog) -> list[str]:
    names = [values.get(k) for k in ("dist", "lib", "provider_dist", "importer", "ext_dist")]
    names += [_dist(p, catalog) for p in _SITE_PKG.findall(clean(text))]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def _details_versions(values: Mapping[str, str], ctx: ExplainContext, text: str, catalog: Catalog) -> list[str]:
    out = []
    focus = _focus(ctx)
    members = (focus,) if focus is not None else ctx.members
    installed = ctx.host.distributions if ctx.host is not None else {}
    for name in _mentioned(values, text, catalog)[:6]:
        locked = [(m.name, m.packages[name]) for m in members if name in m.packages]
        have = installed.get(name)
        if not locked and have is None:
            continue
        parts = [f"{name}:"]
        if locked:
            parts.append("locked " + ", ".join(f"{v} ({m})" for m, v in locked))
        else:
            parts.append("not in uv.lock")
        parts.append(f"installed here {have}" if have else "not installed here")
        out.append(" ".join(parts))
    return out


def _details_module(values: Mapping[str, str], ctx: ExplainContext) -> list[str]:
    dist = values.get("dist")
    if not dist:
        return []
    focus = _focus(ctx)
    members = (focus,) if focus is not None else ctx.members
    locked = [(m.name, m.packages[dist]) for m in members if dist in m.packages]
    if locked:
        where = ", ".join(f"{m} ({v})" for m, v in locked)
        return [
            f"{dist} is in uv.lock for {where}: the environment that failed is not synced - "
            f"`uv sync --frozen --package {locked[0][0]}`"
        ]
    if members:
        return [
            f"{dist} is not in uv.lock for {', '.join(m.name for m in members)}: add it with "
            f"`uv add --package {members[0].name} {dist}`"
        ]
    return []


def _details_nvcc(values: Mapping[str, str], ctx: ExplainContext) -> list[str]:
    out = []
    h = ctx.host
    if h is not None:
        if h.nvcc is not None:
            out.append(f"nvcc here: CUDA {h.nvcc.cuda or '?'} ({h.nvcc.path}, via {h.nvcc.via})")
        else:
            out.append("no nvcc here (CUDA_HOME unset or without bin/nvcc, none on PATH)")
        if h.torch is not None and h.torch.cuda:
            out.append(f"installed torch {h.torch.version} is built with CUDA {h.torch.cuda}")
    focus = _focus(ctx)
    if focus is not None and focus.cuda is not None:
        out.append(f"{focus.name} is locked to CUDA {focus.cuda}: `nix develop .#{focus.name}` provides its nvcc")
    return out


def _details_libcuda(ctx: ExplainContext) -> list[str]:
    h = ctx.host
    if h is None:
        return []
    out = []
    if h.gpus:
        out.append(f"this machine reports {len(h.gpus)} GPU(s) via {h.gpu_source}, driver {h.driver}")
    else:
        out.append("this machine reports no NVIDIA GPU (" + ("; ".join(h.notes) or "no source answered") + ")")
    if h.libcuda.loadable:
        out.append(f"libcuda.so.1 loads here ({h.libcuda.path or 'path unknown'})")
    elif h.libcuda.found_in:
        out.append(
            f"libcuda.so.1 does not load, but a copy is in {h.libcuda.found_in[0].rsplit('/', 1)[0]}: put that "
            "directory on LD_LIBRARY_PATH"
        )
    return out


def _details_libmajor(values: Mapping[str, str], ctx: ExplainContext) -> list[str]:
    major = values.get("major")
    if not major or not major.isdigit():
        return []
    out = []
    for m in _scope(ctx):
        if m.cuda is not None and m.cuda.major != int(major):
            out.append(
                f"lib{values.get('lib', '?')}.so.{major} is CUDA {major}; {m.name} is locked to CUDA {m.cuda}: "
                f"something in the environment was built for CUDA {major}"
            )
    return out


def _details_resolver(values: Mapping[str, str]) -> list[str]:
    out = []
    if values.get("pinner") and values.get("pinned"):
        out.append(
            f"{values['pinner']} {values.get('pinner_version', '')} pins "
            f"{values['pinned']}=={values.get('pinned_version', '?')}".replace("  ", " ")
        )
    if values.get("req"):
        out.append(f"the requirements also ask for {values['req']}=={values.get('req_version', '?')}")
    return out


def _details(
    match: Match, ctx: ExplainContext | None, values: Mapping[str, str], text: str, catalog: Catalog
) -> list[str]:
    kind = match.cls.context
    if kind == "resolver":
        return _details_resolver(values)
    if ctx is None or kind is None:
        return []
    if kind == "driver":
        return _details_driver(match, ctx)
    if kind == "arch":
        return _details_arch(match, ctx)
    if kind == "torch":
        return _details_torch(ctx)
    if kind == "versions":
        return _details_versions(values, ctx, text, catalog)
    if kind == "module":
        return _details_module(values, ctx)
    if kind == "nvcc":
        return _details_nvcc(values, ctx)
    if kind == "libcuda":
        return _details_libcuda(ctx)
    if kind == "libmajor":
        return _details_libmajor(values, ctx)
    return []


def explain(text: str, catalog: Catalog | None = None, ctx: ExplainContext | None = None) -> Explanation:
    """Explain an error or traceback. `ctx` (optional) makes the answer concrete with the lock and the host."""
    catalog = catalog or load_catalog()
    matches = match_classes(text, catalog)
    last = last_error_line(text)
    if not matches:
        by_cat = {c: sum(1 for k in catalog.classes if k.category == c) for c in catalog.categories}
        checked = tuple(
            f"{catalog.categories[c].branch}: {catalog.categories[c].title} ({n} {'class' if n == 1 else 'classes'})"
            for c, n in by_cat.items()
            if n
        )
        return Explanation(recognised=False, checked=checked, last_error=last)
    best = matches[0]
    values = _values(best, ctx, catalog, text)
    cat = catalog.categories[best.cls.category]
    return Explanation(
        recognised=True,
        error_class=best.cls.id,
        category=cat.id,
        category_title=cat.title,
        branch=cat.branch,
        title=best.cls.title,
        cause=_fill(best.cls.cause, values),
        details=tuple(_details(best, ctx, values, text, catalog)),
        fix_uv=tuple(_fill(f, values) for f in best.cls.fix_uv),
        fix_pip=tuple(_fill(f, values) for f in best.cls.fix_pip),
        source=best.cls.source,
        evidence=best.evidence,
        partial=best.cls.partial,
        also=tuple(f"{m.cls.id} ({m.cls.category})" for m in matches[1:4]),
        last_error=last,
    )
