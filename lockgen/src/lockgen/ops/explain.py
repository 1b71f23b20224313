"""`lockgen explain`'s logic: what does this error mean? Pure: text in, an Explanation out.

Knowledge is data (in tables/data/): errors.toml (classes of errors with patterns, a category, the cause in plain
words, the fixes and a cited source), renames.toml (symbols that moved or vanished in a release, each turned into a
class) and torch_indexes.toml (which PyTorch CUDA index carries which torch release). A team adds its own classes in a
file the root pyproject names (`[tool.lockgen] knowledge = "..."`); `merge_catalogs` joins it to the built-in one.

The pipeline: `focus` picks the part of a (possibly huge) log to read - the last error and the lines before it, long
lines clipped - in linear time; `match_classes` ranks the classes whose patterns match (every pattern uses bounded
repetition and is tried only when its literal core occurs, so matching is linear too); `answer` fills the best class's
templates with facts from the lock and the host (ExplainContext). A fix whose facts are missing is not printed with a
placeholder: it is dropped, and the answer says what to run to get the facts. An error no class matches is reported as
not recognised, with what was checked - never a guess.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from re import _constants as sre_constants  # type: ignore[attr-defined]  # the stdlib's own regex parser
from re import _parser as sre_parse  # type: ignore[attr-defined]  # (sre_parse is deprecated); typeshed omits them
from typing import TYPE_CHECKING, Any

from lockgen.tables.versions import CudaVersion, DriverVersion, parse_cc

if TYPE_CHECKING:
    from lockgen.model.fleet import Fleet
    from lockgen.seams.host import HostReport
    from lockgen.tables.knowledge import Knowledge, Policy

DATA_FILE = "lockgen/tables/data/errors.toml"
RENAMES_FILE = "lockgen/tables/data/renames.toml"
INDEXES_FILE = "lockgen/tables/data/torch_indexes.toml"
FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL
CONTEXTS = ("driver", "arch", "torch", "versions", "module", "nvcc", "libcuda", "libmajor", "resolver")
MAX_REPEAT = 400  # the largest repetition bound a pattern may use (linear-time matching)
LINE_CLIP = 4000  # longer lines are read as their first and last LINE_CLIP/2 characters
LINES_BEFORE = 400  # lines read before the last error line
LINES_AFTER = 80  # and after it (pip prints the conflicting pins after its ERROR line)
_ANSI = re.compile(r"\x1b\[[0-9;]{0,20}[A-Za-z]")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# An error line: an exception name, `ERROR`/`error:`/`fatal`, uv's `×`, `Killed`. Anchored at a line start, every
# repetition bounded: linear in the input however long its lines are.
_ERROR_LINE = re.compile(
    r"^[ \t>|│]{0,40}(?:\[[^\]\n]{0,60}\][ \t]{0,4})?(?:[\w.]{0,80}\.)?"
    r"(?:[A-Z][A-Za-z0-9_]{0,60}(?:Error|Exception)\b|Killed\b|Segmentation fault|(?:ERROR|error|fatal|FATAL)\b[: ]|×)",
    re.MULTILINE,
)
_SITE_PKG = re.compile(r"(?:site|dist)-packages[/\\](?P<pkg>[A-Za-z_]\w{0,80})")


class KnowledgeFileError(ValueError):
    """A knowledge file is malformed: names the file, the key path and what is wrong."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        super().__init__(f"{file}: {key}: {message}")


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
    origin: str = DATA_FILE  # the knowledge file the class comes from


@dataclass(frozen=True)
class TorchRelease:
    """One torch minor release line and the CUDA variants PyTorch's index publishes for it."""

    minor: str
    versions: tuple[str, ...]
    variants: tuple[str, ...]  # labels, e.g. ("cu126", "cu128")


@dataclass(frozen=True)
class TorchIndex:
    """tables/data/torch_indexes.toml: the only index URLs and torch builds explain names."""

    url: str
    releases: tuple[TorchRelease, ...]

    def release(self, version: str) -> TorchRelease | None:
        """The release line a torch version belongs to ("2.10.0+cu128" -> 2.10), if it is a known release."""
        public = version.split("+")[0]
        for r in self.releases:
            if public in r.versions:
                return r
        return None

    def index_url(self, version: str, label: str) -> str | None:
        """The index URL for torch `version` built for `label` - only when that build exists."""
        r = self.release(version)
        return f"{self.url}/{label}" if r is not None and label in r.variants else None

    @property
    def labels(self) -> frozenset[str]:
        """Every CUDA variant label some release has."""
        return frozenset(v for r in self.releases for v in r.variants)

    @property
    def versions(self) -> frozenset[str]:
        """Every torch release in the table."""
        return frozenset(v for r in self.releases for v in r.versions)

    def newest_build(self, max_cuda: CudaVersion, version: str | None = None) -> tuple[str, str] | None:
        """(torch version, label) of the newest build for CUDA <= max_cuda: of `version` when given, else of any
        release (the newest release that has one)."""
        rows = [r for r in self.releases if version is None or version.split("+")[0] in r.versions]
        for r in sorted(rows, key=lambda r: tuple(int(x) for x in r.minor.split(".")), reverse=True):
            fits = [CudaVersion.parse(v) for v in r.variants if CudaVersion.parse(v) <= max_cuda]
            if fits:
                v = version.split("+")[0] if version else r.versions[-1]
                return v, max(fits).label
        return None


@dataclass(frozen=True)
class Catalog:
    """The whole knowledge: categories, classes (built-in, renames, the user's), import names, the torch index."""

    categories: Mapping[str, Category]
    classes: tuple[ErrorClass, ...]
    import_names: Mapping[str, str] = field(default_factory=dict)
    index: TorchIndex | None = None
    pinned_versions: frozenset[str] = frozenset()  # "name==version"/bounds that the renames table names
    files: tuple[str, ...] = (DATA_FILE,)


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
class Region:
    """The part of the input explain reads: the last error and the lines around it."""

    text: str
    lines: int  # lines in the whole input
    first_line: int  # 1-based number of the region's first line
    error_line: int | None  # 1-based number of the last error line in the input
    errors: int  # error lines in the whole input
    clipped: int  # lines of the region that were clipped
    last_error: str | None


@dataclass(frozen=True)
class Explanation:
    """The answer. When `recognised` is False only `checked`, `last_error` and the read fields are filled."""

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
    facts_needed: tuple[str, ...] = ()
    source: str | None = None
    knowledge_file: str | None = None
    evidence: str | None = None
    partial: bool = False
    also: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()
    last_error: str | None = None
    error_line: int | None = None
    errors_in_input: int = 0
    lines_in_input: int = 0
    clipped_lines: int = 0

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
            "facts_needed": list(self.facts_needed),
            "source": self.source,
            "knowledge_file": self.knowledge_file,
            "evidence": self.evidence,
            "partial": self.partial,
            "also": list(self.also),
            "checked": list(self.checked),
            "last_error": self.last_error,
            "error_line": self.error_line,
            "errors_in_input": self.errors_in_input,
            "lines_in_input": self.lines_in_input,
            "clipped_lines": self.clipped_lines,
        }


# ---- loading ---------------------------------------------------------------------------------------------------


def _check_bounded(tree: Any, where: str) -> None:
    """Refuse unbounded repetition (`*`, `+`, `{n,}`) and bounds over MAX_REPEAT: they make matching quadratic."""
    for op, arg in tree:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, high, sub = arg
            if high == sre_constants.MAXREPEAT or high > MAX_REPEAT:
                raise ValueError(f"{where}: unbounded repetition; write a bound such as {{0,{MAX_REPEAT}}}")
            _check_bounded(sub, where)
        elif op == sre_constants.SUBPATTERN:
            _check_bounded(arg[-1], where)
        elif op == sre_constants.BRANCH:
            for alt in arg[1]:
                _check_bounded(alt, where)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if arg[1].getwidth()[1] > LOOKAROUND:
                raise ValueError(f"{where}: a lookaround may read at most {LOOKAROUND} characters")
            _check_bounded(arg[1], where)
        elif op == sre_constants.ATOMIC_GROUP:
            _check_bounded(arg, where)


def _needle(tree: Any) -> str | None:
    """The longest literal run the pattern requires (lowercased), to skip patterns whose core is absent."""
    best = ""
    run: list[str] = []
    for op, arg in tree:
        if op == sre_constants.LITERAL:
            run.append(chr(arg))
            continue
        if len("".join(run)) > len(best):
            best = "".join(run)
        run = []
        if op == sre_constants.SUBPATTERN:
            inner = _needle(arg[-1])
            if inner and len(inner) > len(best):
                best = inner
    if len("".join(run)) > len(best):
        best = "".join(run)
    best = best.lower()
    return best if len(best) >= 3 else None


_NEEDLES: dict[str, str | None] = {}  # pattern -> the literal it requires (lowercased)
_WIDTHS: dict[str, int] = {}  # pattern -> the longest text it can match (bounded repetition makes it finite)
MAX_WINDOW = 20_000
LOOKAROUND = 256  # the longest lookahead/lookbehind a pattern may rely on beyond its match


def _compile(patterns: Any, file: str, key: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise KnowledgeFileError(file, key, "expected a list of regex strings")
    out = []
    for i, p in enumerate(patterns):
        try:
            compiled = re.compile(p, FLAGS)
            tree = sre_parse.parse(p, FLAGS)
        except re.error as e:
            raise KnowledgeFileError(file, f"{key}[{i}]", f"invalid regex {p!r}: {e}") from None
        try:
            _check_bounded(tree, f"regex {p!r}")
        except ValueError as e:
            raise KnowledgeFileError(file, f"{key}[{i}]", str(e)) from None
        _NEEDLES.setdefault(p, _needle(tree))
        _WIDTHS.setdefault(p, min(tree.getwidth()[1], MAX_WINDOW))
        out.append(compiled)
    return tuple(out)


def _strings(value: Any, file: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KnowledgeFileError(file, key, "expected a list of strings")
    return tuple(value)


_CLASS_KEYS = {
    "id",
    "category",
    "title",
    "patterns",
    "cause",
    "fix_uv",
    "fix_pip",
    "source",
    "require",
    "exclude",
    "extract",
    "priority",
    "context",
    "partial",
    "versions",
}


def parse_catalog(
    data: Mapping[str, Any],
    file: str = DATA_FILE,
    *,
    base_categories: Mapping[str, Category] | None = None,
) -> Catalog:
    """Build a catalog from a parsed knowledge file; KnowledgeFileError naming the file and key when malformed.
    `base_categories` (the built-in ones) may be referenced by a user's file."""
    cats: dict[str, Category] = dict(base_categories or {})
    raw_cats = data.get("categories", {})
    if not isinstance(raw_cats, Mapping):
        raise KnowledgeFileError(file, "categories", "expected a table")
    for cid, row in raw_cats.items():
        if not isinstance(row, Mapping) or not {"title", "branch"} <= set(row):
            raise KnowledgeFileError(file, f"categories.{cid}", "needs title and branch")
        cats[cid] = Category(cid, str(row["title"]), str(row["branch"]))
    rows = data.get("class", [])
    if not isinstance(rows, list):
        raise KnowledgeFileError(file, "class", "expected an array of tables ([[class]])")
    classes = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"class[{i}]"
        if not isinstance(row, Mapping):
            raise KnowledgeFileError(file, at, "expected a table")
        unknown = sorted(set(row) - _CLASS_KEYS)
        if unknown:
            raise KnowledgeFileError(
                file, f"{at}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_CLASS_KEYS))})"
            )
        for key in ("id", "category", "title", "patterns", "cause", "fix_uv", "fix_pip", "source"):
            if key not in row:
                raise KnowledgeFileError(file, f"{at}.{key}", f"missing (class {row.get('id', '?')!r})")
        for key in ("id", "category", "title", "cause", "source"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise KnowledgeFileError(file, f"{at}.{key}", "expected a non-empty string")
        if row["id"] in seen:
            raise KnowledgeFileError(file, f"{at}.id", f"duplicate id {row['id']!r}")
        seen.add(row["id"])
        if row["category"] not in cats:
            raise KnowledgeFileError(file, f"{at}.category", f"unknown category {row['category']!r}")
        if "https://" not in row["source"]:
            raise KnowledgeFileError(file, f"{at}.source", "source must cite a URL")
        if row.get("context") is not None and row["context"] not in CONTEXTS:
            raise KnowledgeFileError(
                file, f"{at}.context", f"unknown context {row['context']!r} (one of {', '.join(CONTEXTS)})"
            )
        priority = row.get("priority", 50)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise KnowledgeFileError(file, f"{at}.priority", "expected an integer")
        patterns = _compile(row["patterns"], file, f"{at}.patterns")
        if not patterns:
            raise KnowledgeFileError(file, f"{at}.patterns", "needs at least one pattern")
        classes.append(
            ErrorClass(
                id=row["id"],
                category=row["category"],
                title=row["title"],
                patterns=patterns,
                cause=row["cause"],
                fix_uv=_strings(row["fix_uv"], file, f"{at}.fix_uv"),
                fix_pip=_strings(row["fix_pip"], file, f"{at}.fix_pip"),
                source=row["source"],
                require=_compile(row.get("require", []), file, f"{at}.require"),
                exclude=_compile(row.get("exclude", []), file, f"{at}.exclude"),
                extract=_compile(row.get("extract", []), file, f"{at}.extract"),
                priority=priority,
                context=row.get("context"),
                partial=bool(row.get("partial")),
                origin=file,
            )
        )
    names = data.get("import_names", {})
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        raise KnowledgeFileError(file, "import_names", "expected a table of import name = distribution")
    own = {k: v for k, v in cats.items() if base_categories is None or k not in base_categories or k in raw_cats}
    versions: set[str] = set()
    for i, row in enumerate(rows):
        versions |= set(_strings(row.get("versions", []), file, f"class[{i}].versions"))
    return Catalog(own, tuple(classes), dict(names), pinned_versions=frozenset(versions), files=(file,))


def parse_renames(data: Mapping[str, Any], file: str = RENAMES_FILE) -> tuple[list[ErrorClass], frozenset[str]]:
    """Turn the renames table into classes (one per symbol) and the versions its fixes may name."""
    classes: list[ErrorClass] = []
    versions: set[str] = set()
    for i, row in enumerate(data.get("rename", [])):
        at = f"rename[{i}]"
        for key in ("symbol", "module", "package", "change", "version", "cause", "fix_uv", "fix_pip", "source"):
            if key not in row:
                raise KnowledgeFileError(file, f"{at}.{key}", "missing")
        if "https://" not in row["source"]:
            raise KnowledgeFileError(file, f"{at}.source", "source must cite a URL")
        names = [row["symbol"], *row.get("aliases", [])]
        top = re.escape(row["module"].split(".")[0])
        pats = []
        for n in names:
            e = re.escape(n)
            not_other = f"(?! from ['\"](?!{top}))"  # "cannot import name 'X' from 'elsewhere'" is another symbol
            pats += [
                f"cannot import name ['\"]{e}['\"]{not_other}",
                f"has no attribute ['\"]{e}['\"]",
                f"name ['\"]{e}['\"] is not defined",
                f"`{e}` not found",
            ]
            if "." in n:
                pats.append(f"No module named ['\"]{e}['\"]")
        versions |= set(row.get("versions", []))
        classes.append(
            ErrorClass(
                id=f"renamed-{row['symbol'].replace('.', '-').replace('_', '-').lower()}",
                category="import_error_version_mismatch",
                title=f"{row['symbol']} {row['change']} in {row['package']} {row['version']}",
                patterns=_compile(pats, file, f"{at}.symbol"),
                cause=row["cause"],
                fix_uv=_strings(row["fix_uv"], file, f"{at}.fix_uv"),
                fix_pip=_strings(row["fix_pip"], file, f"{at}.fix_pip"),
                source=row["source"],
                priority=85,
                context="versions",
                origin=file,
            )
        )
    return classes, frozenset(versions)


def parse_index(data: Mapping[str, Any]) -> TorchIndex:
    """The torch index table."""
    rows = tuple(
        TorchRelease(str(r["minor"]), tuple(r["versions"]), tuple(r["variants"])) for r in data.get("release", [])
    )
    for r in rows:
        for v in r.variants:
            CudaVersion.parse(v)
    return TorchIndex(str(data["index"]), rows)


def _read_packaged(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("lockgen").joinpath(name).read_text(encoding="utf-8"))


@cache
def load_catalog() -> Catalog:
    """Read the packaged error knowledge, the renames and the torch index (once per process)."""
    base = parse_catalog(_read_packaged("tables/data/errors.toml"))
    renames, versions = parse_renames(_read_packaged("tables/data/renames.toml"))
    return replace(
        base,
        classes=(*base.classes, *renames),
        index=parse_index(_read_packaged("tables/data/torch_indexes.toml")),
        pinned_versions=base.pinned_versions | versions,
        files=(DATA_FILE, RENAMES_FILE, INDEXES_FILE),
    )


def merge_catalogs(base: Catalog, user: Catalog) -> Catalog:
    """The built-in catalog plus a user's: user categories added, user classes after the built-in ones (a user class
    may not reuse a built-in id), import names merged (the user's win)."""
    ids = {c.id for c in base.classes}
    for i, c in enumerate(user.classes):
        if c.id in ids:
            raise KnowledgeFileError(
                c.origin, f"class[{i}].id", f"{c.id!r} is already a built-in class; pick another id"
            )
    return replace(
        base,
        categories={**base.categories, **user.categories},
        classes=(*base.classes, *user.classes),
        import_names={**base.import_names, **user.import_names},
        pinned_versions=base.pinned_versions | user.pinned_versions,
        files=(*base.files, *user.files),
    )


def load_user_catalog(path: str, text: str, base: Catalog) -> Catalog:
    """Parse a user's knowledge file (same format as errors.toml) and merge it into `base`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KnowledgeFileError(path, "(file)", f"not valid TOML: {e}") from None
    return merge_catalogs(base, parse_catalog(data, path, base_categories=base.categories))


# ---- reading a log: the last error, in linear time -------------------------------------------------------------


def clean(text: str) -> str:
    """Strip terminal colour codes and carriage returns."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _clip(line: str) -> str:
    if len(line) <= LINE_CLIP:
        return line
    half = LINE_CLIP // 2
    return f"{line[:half]} [... {len(line) - LINE_CLIP} characters left out ...] {line[-half:]}"


def focus(text: str) -> Region:
    """The region to explain: the last error line with LINES_BEFORE lines before and LINES_AFTER after it (the tail of
    the input when no line looks like an error), each line clipped to LINE_CLIP characters. Linear in the input."""
    text = clean(text)
    last = None
    count = 0
    for m in _ERROR_LINE.finditer(text):
        count += 1
        last = m
    lines = text.split("\n")
    if last is None:
        start, end, err = max(0, len(lines) - LINES_BEFORE - LINES_AFTER), len(lines), None
        last_text = None
    else:
        err = text.count("\n", 0, last.start()) + 1
        start, end = max(0, err - 1 - LINES_BEFORE), min(len(lines), err + LINES_AFTER)
        line = lines[err - 1]
        last_text = line.strip()[:300]
    chosen = lines[start:end]
    clipped = sum(1 for ln in chosen if len(ln) > LINE_CLIP)
    return Region("\n".join(_clip(ln) for ln in chosen), len(lines), start + 1, err, count, clipped, last_text)


def last_error_line(text: str) -> str | None:
    """The last line that looks like an error (what a human would read first)."""
    return focus(text).last_error


# ---- matching --------------------------------------------------------------------------------------------------


def _groups(m: re.Match[str]) -> dict[str, str]:
    return {k: v for k, v in m.groupdict().items() if v}


def _windows(p: re.Pattern[str], lowered: str) -> list[tuple[int, int]] | None:
    """The stretches of text where `p` can match: around each occurrence of its required literal, as wide as the
    longest match (merged when they overlap). None when the pattern has no literal core (search everything); [] when
    the literal is absent. This keeps matching linear: a pattern is never run over text that cannot hold a match."""
    needle = _NEEDLES.get(p.pattern)
    if needle is None:
        return None
    width = _WIDTHS.get(p.pattern, MAX_WINDOW) + LOOKAROUND  # lookarounds read past a match's own width
    if width >= MAX_WINDOW:
        return None if needle in lowered else []
    spans: list[tuple[int, int]] = []
    i = lowered.find(needle)
    while i != -1:
        a, b = max(0, i - width), i + len(needle) + width
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
        i = lowered.find(needle, i + 1)
    return spans


def _search(p: re.Pattern[str], text: str, lowered: str) -> re.Match[str] | None:
    spans = _windows(p, lowered)
    if spans is None:
        return p.search(text)
    for a, b in spans:
        m = p.search(text, a, b)
        if m:
            return m
    return None


def _finditer(p: re.Pattern[str], text: str, lowered: str) -> Iterable[re.Match[str]]:
    spans = _windows(p, lowered)
    if spans is None:
        yield from p.finditer(text)
        return
    for a, b in spans:
        yield from p.finditer(text, a, b)


def match_classes(text: str, catalog: Catalog) -> list[Match]:
    """Every class that matches `text`, best first (priority, then number of patterns hit, then file order)."""
    text = clean(text)
    lowered = text.lower()
    found: list[tuple[int, int, int, Match]] = []
    for order, cls in enumerate(catalog.classes):
        hits = [m for p in cls.patterns if (m := _search(p, text, lowered))]
        if not hits:
            continue
        if not all(_search(r, text, lowered) for r in cls.require):
            continue
        if any(_search(x, text, lowered) for x in cls.exclude):
            continue
        captures: dict[str, str] = {}
        for m in hits:
            for k, v in _groups(m).items():
                captures.setdefault(k, v)
        for x in cls.extract:
            for m in _finditer(x, text, lowered):
                for k, v in _groups(m).items():
                    captures.setdefault(k, v)
        first = min(hits, key=lambda m: m.start())
        evidence = " ".join(first.group(0).split())
        found.append((-cls.priority, -len(hits), order, Match(cls, len(hits), captures, evidence[:200])))
    return [m for *_, m in sorted(found, key=lambda t: t[:3])]


# ---- making it concrete ----------------------------------------------------------------------------------------


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
    stripped = re.sub(r"(?:_\d{1,3})?(?:_cuda|_C|_ext|_kernels?)$", "", base)
    if not stripped or stripped in {"_C", "C"}:
        return None
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
    focus_ = _focus(ctx)
    return (focus_,) if focus_ is not None and ctx.focus else ctx.members


def _policy(ctx: ExplainContext) -> Policy:
    return ctx.fleet.policy if ctx.fleet else "toolkit"


def _member_needs(ctx: ExplainContext, members: Iterable[MemberFacts]) -> list[tuple[MemberFacts, Any]]:
    """(member, the driver its locked CUDA needs) for members with a CUDA, newest CUDA first."""
    out = [(m, ctx.knowledge.required_driver(m.cuda, _policy(ctx))) for m in members if m.cuda is not None]
    return sorted(out, key=lambda t: t[0].cuda or CudaVersion(0, 0), reverse=True)


def _members_text(ctx: ExplainContext, members: tuple[MemberFacts, ...]) -> str:
    """Each member with its own CUDA's driver figure: "serve is locked to CUDA 13.0 (needs driver >= 580.65.06);
    train is locked to CUDA 12.8 (needs driver >= 570.26)"."""
    parts = []
    for m, need in _member_needs(ctx, members):
        parts.append(f"{m.name} is locked to CUDA {m.cuda}" + (f" (needs driver >= {need})" if need else ""))
    return "; ".join(parts)


def _driver_cuda(match: Match, ctx: ExplainContext | None) -> tuple[CudaVersion | None, str]:
    """The newest CUDA the failing machine's driver runs, and where that figure comes from."""
    found = match.captures.get("found_cuda", "")
    if found.isdigit() and 2000 <= int(found) <= 20000:
        n = int(found)
        return CudaVersion(n // 1000, (n % 1000) // 10), f"the error's 'found version {found}'"
    if ctx is not None and ctx.driver is not None:
        best = ctx.knowledge.max_cuda_for_driver(ctx.driver, _policy(ctx))
        if best is not None:
            return best, f"driver {ctx.driver}"
    return None, ""


def _torch_build_for_driver(
    match: Match, ctx: ExplainContext | None, catalog: Catalog, torch: str | None
) -> str | None:
    """A pip command installing a torch build the driver runs - only index/version pairs from the torch table."""
    from lockgen.tables.knowledge import load_knowledge

    index = catalog.index
    knowledge = ctx.knowledge if ctx is not None else load_knowledge()
    policy: Policy = _policy(ctx) if ctx is not None else "toolkit"
    max_cuda, why = _driver_cuda(match, ctx)
    if index is None or max_cuda is None:
        return None
    if torch:
        mine = index.newest_build(max_cuda, torch)
        if mine is not None:
            v, label = mine
            return (
                f"pip install torch=={v} --index-url {index.url}/{label}   (torch {v}'s newest build that {why} runs)"
            )
    other = index.newest_build(max_cuda)
    if other is None:
        oldest = min((CudaVersion.parse(v) for v in index.labels), default=None)
        need = knowledge.required_driver(oldest, policy) if oldest is not None else None
        tail = f" (the oldest, {oldest.label}, needs driver >= {need})" if oldest and need else ""
        return f"no torch build in lockgen's tables runs on CUDA <= {max_cuda}{tail}: upgrade the NVIDIA driver"
    v, label = other
    head = ""
    if torch:
        release = index.release(torch)
        builds = ", ".join(release.variants) if release else "none in lockgen's tables"
        head = f"torch {torch.split('+')[0]} has no build for CUDA <= {max_cuda} (its builds: {builds}); "
    return f"{head}torch {v} is the newest release with one: pip install torch=={v} --index-url {index.url}/{label}" + (
        "   (packages pinned to your torch must move with it)" if torch else ""
    )


def _arch_torch_fix(cc: str | None, ctx: ExplainContext | None, catalog: Catalog) -> str | None:
    """A pip command for the newest torch build (from the tables) whose architectures include compute capability cc,
    preferring builds the known driver runs."""
    from lockgen.tables.knowledge import load_knowledge
    from lockgen.tables.torch_arch import arch_supported, load_arch_table

    index = catalog.index
    if index is None or not cc:
        return None
    try:
        parse_cc(cc)
    except ValueError:
        return None
    table = load_arch_table()
    max_cuda = None
    if ctx is not None and ctx.driver is not None:
        max_cuda = ctx.knowledge.max_cuda_for_driver(ctx.driver, _policy(ctx))
    for r in sorted(index.releases, key=lambda r: tuple(int(x) for x in r.minor.split(".")), reverse=True):
        v = r.versions[-1]
        for label in sorted(r.variants, key=CudaVersion.parse, reverse=True):
            cuda = CudaVersion.parse(label)
            if max_cuda is not None and cuda > max_cuda:
                continue
            row = table.lookup(v, cuda)
            if row is None or not arch_supported(cc, row.archs).runs:
                continue
            need = (ctx.knowledge if ctx is not None else load_knowledge()).required_driver(cuda)
            tail = f", needs driver >= {need}" if need else ""
            return (
                f"pip install torch=={v} --index-url {index.url}/{label}   "
                f"(the newest build in lockgen's tables with kernels for compute capability {cc}{tail})"
            )
    return None


def _package_flag(ctx: ExplainContext | None) -> str | None:
    """` --package M` for uv in a workspace with a known member; "" outside a workspace; None (unknown) otherwise."""
    if ctx is None or not ctx.members:
        return ""
    focus_ = _focus(ctx)
    return f" --package {focus_.name}" if focus_ is not None else None


def _sm_to_cc(sm: str) -> str | None:
    digits = "".join(ch for ch in sm if ch.isdigit())
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 2 else None


def _values(match: Match, ctx: ExplainContext | None, catalog: Catalog, text: str) -> dict[str, str]:
    v: dict[str, str] = dict(match.captures)
    focus_ = _focus(ctx)
    flag = _package_flag(ctx)
    if flag is not None:
        v["package_flag"] = flag
    if focus_ is not None:
        v.setdefault("member", focus_.name)
        if focus_.torch:
            v.setdefault("torch", focus_.torch.split("+")[0])
        if focus_.cuda is not None:
            v.setdefault("cuda", str(focus_.cuda))
            v.setdefault("cuda_label", focus_.cuda.label)
    index = catalog.index
    if index is not None and v.get("torch") and v.get("cuda_label"):
        url = index.index_url(v["torch"], v["cuda_label"])
        if url:
            v["torch_index_url"] = url
    if index is not None and v.get("local_label") and v["local_label"] in index.labels and v.get("req_version"):
        url = index.index_url(v["req_version"], v["local_label"])
        if url:
            v["local_index_url"] = url
    module = v.get("module") or v.get("lib")
    if module:
        v.setdefault("dist", _dist(module, catalog) or module)
    if "lib" in v:
        v["lib"] = _dist(v["lib"], catalog) or v["lib"]
    ext = _ext_dist(v.get("so"), catalog) or (_dist(v["so_pkg"], catalog) if v.get("so_pkg") else None)
    if ext:
        v.setdefault("ext_dist", ext)
    if "provider" in v:
        v.setdefault("provider_dist", _dist(v["provider"], catalog) or v["provider"])
        importers = [p for p in _SITE_PKG.findall(text) if _dist(p, catalog) != v["provider_dist"]]
        if importers:
            v.setdefault("importer", _dist(importers[-1], catalog) or importers[-1])
    if ctx is not None:
        needs = _member_needs(ctx, _scope(ctx) if ctx.focus else ctx.members)
        known = [(m, n) for m, n in needs if n is not None]
        if known:
            top_m, top_n = known[0]
            v.setdefault("driver_needed", str(top_n))
            others = [f"{m.name}'s CUDA {m.cuda} needs >= {n}" for m, n in known[1:]]
            v.setdefault(
                "driver_needed_for",
                f"what {top_m.name}'s CUDA {top_m.cuda} needs" + (f"; {'; '.join(others)}" if others else ""),
            )
    build = _torch_build_for_driver(match, ctx, catalog, v.get("torch"))
    if build:
        v["torch_build_for_driver"] = build
    cc = None
    if v.get("sm"):
        cc = _sm_to_cc(v["sm"])
    elif v.get("cap"):
        cc = v["cap"]
    elif ctx is not None and ctx.host is not None:
        ccs = {g.cc for g in ctx.host.gpus if g.cc}
        if len(ccs) == 1:
            cc = next(iter(ccs))
    if cc:
        v.setdefault("gpu_cc", cc)
        fix = _arch_torch_fix(cc, ctx, catalog)
        if fix:
            v["torch_build_for_arch"] = fix
    for key in ("arch", "sm"):  # "{arch}{sm}" in a cause shows whichever was captured
        v.setdefault(key, "")
    return v


# What to run to learn a fact a fix needs, keyed by the placeholder.
_TORCH_FACT = 'python -c "import torch; print(torch.__version__, torch.version.cuda)"   (the installed torch, its CUDA)'
_DOCTOR_FACT = "lockgen doctor   (compares this machine's driver with what the lock needs)"
_GPU_FACT = "nvidia-smi --query-gpu=name,compute_cap --format=csv   (the GPU's compute capability)"
_FACTS = {
    "torch": _TORCH_FACT,
    "cuda": _TORCH_FACT,
    "cuda_label": _TORCH_FACT,
    "torch_index_url": _TORCH_FACT,
    "driver_needed": _DOCTOR_FACT,
    "driver_needed_for": _DOCTOR_FACT,
    "torch_build_for_driver": "nvidia-smi   (the driver and the newest CUDA it runs; rerun explain with --driver)",
    "torch_build_for_arch": _GPU_FACT,
    "gpu_cc": _GPU_FACT,
}


def _fill(template: str, values: Mapping[str, str]) -> tuple[str | None, set[str]]:
    """The template with every placeholder filled, or (None, the missing keys)."""
    missing = {k for k in _PLACEHOLDER.findall(template) if k not in values}
    if missing:
        return None, missing
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template).strip(), set()


def _facts(missing: set[str], ctx: ExplainContext | None) -> list[str]:
    out: list[str] = []
    for key in sorted(missing):
        if key in ("member", "package_flag"):
            names = ", ".join(m.name for m in ctx.members) if ctx is not None and ctx.members else ""
            line = (
                f"lockgen explain --member NAME   (the member the error comes from: {names})"
                if names
                else "run lockgen explain inside the uv workspace, so the lock names the member"
            )
        else:
            line = _FACTS.get(key, "lockgen doctor   (what this machine and the lock say)")
        if line not in out:
            out.append(line)
    return out


def _details_driver(match: Match, ctx: ExplainContext) -> list[str]:
    k = ctx.knowledge
    policy = _policy(ctx)
    out: list[str] = []
    found = match.captures.get("found_cuda")
    if found and found.isdigit():
        n = int(found)
        out.append(f"the error says the driver runs CUDA <= {n // 1000}.{(n % 1000) // 10} (found version {found})")
    focus_ = _focus(ctx)
    targets = (focus_,) if focus_ is not None and focus_.cuda is not None else ctx.members
    needs = _member_needs(ctx, targets)
    if not needs:
        return out
    locked = _members_text(ctx, tuple(m for m, _ in needs))
    d = ctx.driver
    if d is None:
        out.append(locked)
        return out
    best = k.max_cuda_for_driver(d, policy)
    supports = f"driver {d} supports CUDA <= {best}" if best else f"driver {d} runs no CUDA in lockgen's tables"
    unmet = [
        (m, n) for m, n in needs if n is not None and m.cuda is not None and k.driver_runs(d, m.cuda, policy) is False
    ]
    if not unmet:
        out.append(
            f"{supports}; {locked}: this driver is new enough, so the failing environment is not the locked one - "
            "run `lockgen doctor` there"
        )
        return out
    need = max(n for _, n in unmet)
    fleet = ctx.fleet
    if fleet is not None and all(m.cuda and k.driver_runs(fleet.driver, m.cuda, policy) for m, _ in unmet):
        out.append(
            f"{supports}; {locked}; the fleet promises driver {fleet.driver}: upgrade this machine's "
            f"driver to >= {need}, or lower the fleet's driver to {d.branch} and run `lockgen lock`"
        )
    else:
        out.append(
            f"{supports}; {locked}; lower the fleet's driver to {d.branch} and run `lockgen lock`, or upgrade "
            f"the driver to >= {need}"
        )
    return out


def _details_arch(match: Match, ctx: ExplainContext) -> list[str]:
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
        able = k.cudas_for_cc(cc)
        if able:
            out.append(f"{label}: CUDA {min(able)}-{max(able)} can target it")
        else:
            out.append(f"{label}: no CUDA in lockgen's tables targets it")
        for m in _scope(ctx):
            if m.cuda is None:
                continue
            release = k.release(m.cuda)
            if release is not None and not k.cuda_targets(release.version, cc):
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
    from lockgen.model.fleet import FleetGpu
    from lockgen.model.window import window_with_gpu

    assert ctx.fleet is not None
    fleet = ctx.fleet
    label = next((g.name for g in ctx.knowledge.gpus if g.cc == cc), cc)
    if any(g.cc == cc for g in fleet.gpus):
        return f"the fleet already lists compute capability {cc}: run `lockgen check` and `lockgen lock`"
    wider = window_with_gpu(fleet, FleetGpu(cc, cc), ctx.knowledge)
    then = f"the window becomes CUDA {wider}" if wider.allowed else "no CUDA in lockgen's tables serves that fleet"
    return f'add "{cc}" ({label}) to gpus under [tool.lockgen] and run `lockgen lock` ({then})'


def _details_torch(ctx: ExplainContext) -> list[str]:
    out = []
    focus_ = _focus(ctx)
    if focus_ is not None and focus_.torch:
        out.append(
            f"{focus_.name} is locked to torch {focus_.torch}" + (f" for CUDA {focus_.cuda}" if focus_.cuda else "")
        )
    if ctx.host is not None and ctx.host.torch is not None:
        t = ctx.host.torch
        out.append(f"installed here: torch {t.version} ({'CPU-only' if t.cuda is None else 'CUDA ' + t.cuda})")
    return out


def _mentioned(values: Mapping[str, str], text: str, catalog: Catalog) -> list[str]:
    names = [values.get(k) for k in ("dist", "lib", "provider_dist", "importer", "ext_dist")]
    names += [_dist(p, catalog) for p in _SITE_PKG.findall(text)]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def _details_versions(values: Mapping[str, str], ctx: ExplainContext, text: str, catalog: Catalog) -> list[str]:
    out = []
    focus_ = _focus(ctx)
    members = (focus_,) if focus_ is not None else ctx.members
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
    focus_ = _focus(ctx)
    members = (focus_,) if focus_ is not None else ctx.members
    locked = [(m.name, m.packages[dist]) for m in members if dist in m.packages]

    def one_of(names: list[str], command: str) -> str:
        first = f"`{command.format(names[0])}`"
        return first + (f" (or --package {', '.join(names[1:])})" if len(names) > 1 else "")

    if locked:
        where = ", ".join(f"{m} ({v})" for m, v in locked)
        return [
            f"{dist} is in uv.lock for {where}: the environment that failed is not synced - "
            + one_of([m for m, _ in locked], "uv sync --frozen --package {}")
        ]
    if members:
        return [
            f"{dist} is not in uv.lock for {', '.join(m.name for m in members)}: add it to the member that needs it - "
            + one_of([m.name for m in members], "uv add --package {} " + dist)
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
    focus_ = _focus(ctx)
    if focus_ is not None and focus_.cuda is not None:
        out.append(f"{focus_.name} is locked to CUDA {focus_.cuda}: `nix develop .#{focus_.name}` provides its nvcc")
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
    if values.get("have") and values.get("pinned"):
        out.append(f"installed: {values['pinned']} {values['have']}")
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


_UPGRADE = "upgrade the NVIDIA driver"


def _drop_futile(fixes: dict[str, list[str]], match: Match, ctx: ExplainContext | None) -> None:
    """Leave out fixes that repeat or cannot work: a generic "or upgrade the NVIDIA driver" after a fix that already
    says so, and "lower the fleet's driver" when the error's driver runs no CUDA release lockgen knows (the lock
    would have nowhere to go)."""
    from lockgen.tables.knowledge import load_knowledge

    for kind, lines in fixes.items():
        kept: list[str] = []
        for line in lines:
            if line.startswith(f"or {_UPGRADE}") and any(_UPGRADE in k for k in kept):
                continue
            kept.append(line)
        fixes[kind] = kept
    max_cuda, _ = _driver_cuda(match, ctx)
    knowledge = ctx.knowledge if ctx is not None else load_knowledge()
    if max_cuda is not None and knowledge.releases and max_cuda < min(r.version for r in knowledge.releases):
        fixes["uv"] = [line for line in fixes["uv"] if "lower the fleet's driver" not in line]


def answer(match: Match, ctx: ExplainContext | None, catalog: Catalog, text: str = "") -> Explanation:
    """The explanation for one matched class: cause, details, fixes with every placeholder filled from the lock, the
    host and the tables; a fix whose facts are missing is left out and `facts_needed` says what to run."""
    values = _values(match, ctx, catalog, text)
    cat = catalog.categories[match.cls.category]
    missing: set[str] = set()
    fixes: dict[str, list[str]] = {"uv": [], "pip": []}
    for kind, templates in (("uv", match.cls.fix_uv), ("pip", match.cls.fix_pip)):
        for t in templates:
            for alternative in t.split(" || "):  # "A || B": A when its facts are known, else B
                filled, lack = _fill(alternative, values)
                missing |= lack
                if filled:
                    if filled not in fixes[kind]:
                        fixes[kind].append(filled)
                    break
    _drop_futile(fixes, match, ctx)
    cause, lack = _fill(match.cls.cause, values)
    if cause is None:  # a cause names only captures; fall back to the template's words without them
        cause = _PLACEHOLDER.sub("it", match.cls.cause)
    return Explanation(
        recognised=True,
        error_class=match.cls.id,
        category=cat.id,
        category_title=cat.title,
        branch=cat.branch,
        title=match.cls.title,
        cause=cause,
        details=tuple(_details(match, ctx, values, text, catalog)),
        fix_uv=tuple(fixes["uv"]),
        fix_pip=tuple(fixes["pip"]),
        facts_needed=tuple(_facts(missing, ctx)),
        source=match.cls.source,
        knowledge_file=match.cls.origin,
        evidence=match.evidence,
        partial=match.cls.partial,
    )


def explain(text: str, catalog: Catalog | None = None, ctx: ExplainContext | None = None) -> Explanation:
    """Explain an error, traceback or whole log (the last error in it). `ctx` makes the answer concrete with the lock
    and the host."""
    catalog = catalog or load_catalog()
    region = focus(text)
    read = {
        "last_error": region.last_error,
        "error_line": region.error_line,
        "errors_in_input": region.errors,
        "lines_in_input": region.lines,
        "clipped_lines": region.clipped,
    }
    matches = match_classes(region.text, catalog)
    if not matches:
        by_cat = {c: sum(1 for k in catalog.classes if k.category == c) for c in catalog.categories}
        checked = tuple(
            f"{catalog.categories[c].branch}: {catalog.categories[c].title} ({n} {'class' if n == 1 else 'classes'})"
            for c, n in by_cat.items()
            if n
        )
        return Explanation(recognised=False, checked=checked, **read)  # type: ignore[arg-type]
    best = answer(matches[0], ctx, catalog, region.text)
    return replace(best, also=tuple(f"{m.cls.id} ({m.cls.category})" for m in matches[1:4]), **read)  # type: ignore[arg-type]


# ---- the truth property ----------------------------------------------------------------------------------------

_URL_LABEL = re.compile(r"download\.pytorch\.org/whl/(?:nightly/)?(\w{1,10})")
_LABEL = re.compile(r"(?<![\w/])cu(\d{3})\b")
_PIN = re.compile(r"([A-Za-z][\w.-]{0,60})(==|<=|>=|<|>)(\d[\w.+]{0,30})")  # a requirement, written without spaces
_DRIVER = re.compile(r"driver (?:to )?>= ?(\d{3}(?:\.\d{1,3}){0,2})")
_ANGLE = re.compile(r"<[A-Za-z_][\w ./'-]{0,60}>")


def advice_problems(
    lines: Iterable[str],
    catalog: Catalog,
    knowledge: Knowledge,
    locked: Mapping[str, set[str]] | None = None,
    quoted: str = "",
) -> list[str]:
    """What in the printed commands is not backed by lockgen's tables, the lock or the error itself: a placeholder, a
    CUDA label or index PyTorch does not publish, a torch version/index pair that does not exist, a driver figure that
    is not a CUDA release's, or a pinned version that neither the lock, the renames table nor the error text (`quoted`,
    e.g. pip's "requires torch==2.0.1") names. Empty when all is true."""
    index = catalog.index
    labels = index.labels if index else frozenset()
    torches = set(index.versions if index else ())
    locked = locked or {}
    torches |= {v.split("+")[0] for v in locked.get("torch", set())}
    drivers = {str(r.toolkit_driver) for r in knowledge.releases if r.toolkit_driver}
    drivers |= {str(d) for _, d in knowledge.family_floors}
    problems: list[str] = []
    for line in lines:
        if _PLACEHOLDER.search(line) or _ANGLE.search(line):
            problems.append(f"placeholder in {line!r}")
        url_labels = _URL_LABEL.findall(line)
        for lab in url_labels:
            if lab not in labels:
                problems.append(f"index {lab} is not a PyTorch CUDA index in lockgen's tables: {line!r}")
        for digits in _LABEL.findall(line):  # a bare label quoted from the error ("torch 1.13.1+cu117") is a fact
            if f"cu{digits}" not in labels and f"cu{digits}" not in quoted:
                problems.append(f"cu{digits} is not a CUDA variant in lockgen's tables: {line!r}")
        for name, op, version in _PIN.findall(line):
            key = name.lower().replace("_", "-")
            if key == "torch" and op == "==":
                if version.split("+")[0] not in torches and f"=={version}" not in quoted:
                    problems.append(f"torch {version} is not a release in lockgen's tables or the lock: {line!r}")
                elif index is not None:
                    for lab in url_labels:
                        if index.index_url(version, lab) is None and version not in locked.get("torch", set()):
                            problems.append(f"torch {version} has no {lab} build: {line!r}")
                continue
            if key in ("python",):
                continue
            pinned = f"{key}{op}{version}"
            if pinned in {p.lower().replace("_", "-") for p in catalog.pinned_versions}:
                continue
            if op == "==" and (version in locked.get(key, set()) or f"=={version}" in quoted):
                continue
            problems.append(f"{pinned} is named by neither the lock nor lockgen's tables: {line!r}")
        for d in _DRIVER.findall(line):
            if d not in drivers:
                problems.append(f"driver {d} is no CUDA release's minimum in lockgen's tables: {line!r}")
    return problems
