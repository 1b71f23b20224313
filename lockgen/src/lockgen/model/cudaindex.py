"""`[tool.lockgen.cuda-index]`: an index family with one URL per CUDA variant, read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lockgen.model.window import Window
from lockgen.tables.versions import CudaVersion


class IndexChoice(NamedTuple):
    """The CUDA variant chosen from a cuda-index (`cu128`) and its URL."""

    label: str
    url: str


@dataclass(frozen=True)
class CudaIndex:
    """`[tool.lockgen.cuda-index]`: an index family with one URL per CUDA variant (PyTorch's cuXYZ indexes)."""

    url: str  # with {label} (cu128) and/or {cuda} (12.8)
    variants: tuple[str, ...]  # labels, e.g. ("cu126", "cu128", "cu130")
    packages: tuple[str, ...]  # what is routed there, e.g. ("torch", "torchvision")

    @property
    def display_url(self) -> str:
        """The URL template with its credentials masked as uv masks them (`https://user:****@host/...`)."""
        from lockgen.seams.redact import redact_url

        return redact_url(self.url)

    def choose(self, window: Window) -> IndexChoice | None:
        """The newest variant whose CUDA lies inside the window, or None."""
        inside = [(CudaVersion.parse(v), v) for v in self.variants if window.allows(CudaVersion.parse(v))]
        if not inside:
            return None
        cuda, label = max(inside)
        return IndexChoice(label, self.url.format(label=label, cuda=str(cuda)))


def cuda_index_from_config(table: object, file: str = "pyproject.toml") -> CudaIndex | None:
    """Read `[tool.lockgen.cuda-index]`; InputError naming the key when malformed or when the URL is not one lockgen
    uses (`check_index_url`)."""
    from lockgen.errors import InputError

    key = "tool.lockgen.cuda-index"
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InputError(file, key, "expected a table with url, variants and packages")
    url = table.get("url")
    if not isinstance(url, str) or ("{label}" not in url and "{cuda}" not in url):
        raise InputError(
            file, f"{key}.url", 'expected a URL template with {label}, e.g. "https://download.pytorch.org/whl/{label}"'
        )
    check_index_url(url, file, f"{key}.url")
    variants = table.get("variants")
    if not isinstance(variants, list) or not variants:
        raise InputError(file, f"{key}.variants", 'expected a list of labels such as ["cu126", "cu128"]')
    for i, v in enumerate(variants):
        try:
            if not isinstance(v, str):
                raise ValueError(v)
            CudaVersion.parse(v)
        except ValueError:
            raise InputError(file, f"{key}.variants[{i}]", f"not a CUDA label: {v!r} (expected e.g. cu128)") from None
    packages = table.get("packages", ["torch", "torchvision", "torchaudio"])
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise InputError(file, f"{key}.packages", "expected a list of package names")
    return CudaIndex(url, tuple(variants), tuple(packages))


TEMPLATE_FIELDS = ("label", "cuda")


def check_index_url(template: str, file: str, key: str) -> None:
    """A cuda-index URL template: only `{label}` and `{cuda}` as fields (no `{0}`, no `{label.attr}`, no format
    spec), no `..` path segment, and - filled in - a URL lockgen may write for uv (https://, http:// to this
    machine, file://; `lockgen.seams.urls`). InputError naming file and key (credentials masked) otherwise."""
    import string
    from urllib.parse import unquote, urlsplit

    from lockgen.errors import InputError
    from lockgen.seams.redact import redact_url
    from lockgen.seams.urls import url_problem

    shown = redact_url(template)
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as e:  # a lone "{" or "}"
        raise InputError(file, key, f"{shown!r} is not a URL template ({e}; write {{{{ or }}}} for a brace)") from None
    for name, spec, conv in fields:
        if name not in TEMPLATE_FIELDS or spec or conv:
            whole = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise InputError(
                file, key, f"{whole} is not a field lockgen fills in: use {{label}} (cu128) or {{cuda}} (12.8)"
            )
    url = template.format(label="cu128", cuda="12.8")
    problem = url_problem(url)
    if problem:
        raise InputError(file, key, f"{shown!r} {problem}")
    path = urlsplit(url).path
    if any(seg in ("..", ".") for seg in unquote(path).split("/")):
        raise InputError(file, key, f"{shown!r} has a '..' or '.' path segment: write the index's own URL")
