"""`lockgen wheel-cuda`: read a compiled wheel's shared libraries and report the CUDA it was built with."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lockgen.ui import print_json

HELP = "report the CUDA a compiled wheel was built with (from its .so files) and print its builds.toml row"
DESCRIPTION = """\
Some compiled wheels (vllm, xformers, flash-attn, ...) declare no nvidia runtime requirement, yet their
shared libraries load one CUDA major (DT_NEEDED libcudart.so.12) or were compiled by a newer nvcc than
torch's runtime. This reads the wheel's .so files and reports what they need, next to what lockgen's table
(lockgen/tables/data/builds.toml) says, and prints the row to add or correct.

  lockgen wheel-cuda dist/xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl
  lockgen wheel-cuda https://files.pythonhosted.org/packages/.../xformers-0.0.35-....whl
  lockgen wheel-cuda ~/.cache/uv/archive-v0/<id>/          (an unpacked wheel in uv's cache)
  lockgen wheel-cuda xformers==0.0.35                      (uv's cache, else the wheel URL in uv.lock)

exit codes: 0 ok, 1 the wheel disagrees with the table, 2 bad input (not a wheel, not found, download failed)
"""
CHUNK = 1 << 20
_WHEEL_RE = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)
_DIST_INFO_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # https:, file:, ftp:, javascript: ...
_PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s=]+)$")


def register(sub: Any) -> None:
    """Add the `wheel-cuda` command."""
    p = sub.add_parser(
        "wheel-cuda", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("wheel", metavar="WHEEL|URL|DIR|NAME==VERSION", help="what to read (see above)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object on stdout")
    p.add_argument("--cache-dir", type=Path, default=None, help="uv's cache (default: `uv cache dir`)")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------------ locating


def wheel_identity(name: str) -> tuple[str, str] | None:
    """(package, version) from a wheel file name or a ``*.dist-info`` directory name; None otherwise."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    m = _WHEEL_RE.match(base) or _DIST_INFO_RE.match(base)
    if not m:
        return None
    from urllib.parse import unquote

    return m.group("name").replace("_", "-").lower(), unquote(m.group("version"))


def _tag_score(filename: str) -> tuple[int, int]:
    """How well a wheel fits Linux x86_64 CPython 3.12 (higher is better)."""
    m = _WHEEL_RE.match(filename)
    if not m:
        return (-1, -1)
    plat = m.group("plat")
    py, abi = m.group("py"), m.group("abi")
    p = 3 if "manylinux" in plat and "x86_64" in plat else 2 if "x86_64" in plat else 1 if plat == "any" else 0
    q = 3 if "cp312" in py.split(".") else 2 if abi == "abi3" else 1 if py.startswith("py3") else 0
    return (p, q)


def pick_wheel(locations: Sequence[str]) -> str | None:
    """The wheel of a locked package to read: the best fit for Linux x86_64 / CPython 3.12."""
    scored = [(_tag_score(loc.rsplit("/", 1)[-1].split("#")[0]), loc) for loc in locations]
    scored = [(s, loc) for s, loc in scored if s[0] > 0]
    return max(scored)[1] if scored else None


def uv_cache_dir(explicit: Path | None, root: Path | None) -> Path | None:
    """uv's cache directory: --cache-dir, $UV_CACHE_DIR, `uv cache dir`, or None when uv cannot say."""
    if explicit is not None:
        return explicit
    if os.environ.get("UV_CACHE_DIR"):
        return Path(os.environ["UV_CACHE_DIR"])
    from lockgen.errors import UvError
    from lockgen.seams.uvtool import run_uv

    try:
        res = run_uv(["cache", "dir"], cwd=root or Path.cwd())
    except UvError:
        return None
    return Path(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else None


def find_in_cache(cache: Path, package: str, version: str) -> Path | None:
    """An unpacked wheel of package==version in uv's cache (``archive-v*/<id>/<dist>-<version>.dist-info``)."""
    dist = re.sub(r"[-_.]+", "_", package).lower()
    for archive in sorted(cache.glob("archive-v*")):
        for info in sorted(archive.glob("*/*.dist-info")):
            m = _DIST_INFO_RE.match(info.name)
            if m and m.group("name").lower() == dist and m.group("version") == version:
                return info.parent
    return None


def find_in_lock(root: Path, package: str, version: str) -> str | None:
    """The best-fitting wheel URL (or path) of package==version in the workspace's uv.lock."""
    found = find_artifact_in_lock(root, package, version)
    return found[0] if found else None


def find_artifact_in_lock(root: Path, package: str, version: str) -> tuple[str, str | None] | None:
    """(location, hash such as "sha256:...") of the best-fitting wheel of package==version in uv.lock."""
    from lockgen.model.lockfile import read_lock

    lock = read_lock(root / "uv.lock")
    hashes = {w.location: w.hash for p in lock.by_name(package) if p.version == version for w in p.wheels}
    best = pick_wheel(list(hashes))
    return (best, hashes[best]) if best else None


def _check_url(url: str, origin: str) -> None:
    from lockgen.errors import LockgenError
    from lockgen.seams.redact import redact_url
    from lockgen.seams.urls import url_problem

    problem = url_problem(url)
    if problem:
        raise LockgenError(f"{origin}: {redact_url(url)} {problem}")


def _safe_opener(origin: str) -> Any:
    """A urllib opener whose redirects are held to the same rule as the first URL (no https -> http downgrade)."""
    import urllib.request

    class Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            _check_url(newurl, f"{origin} (redirected)")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Redirects)


def download(
    url: str, dest: Path, progress: Callable[[str], None], max_bytes: int | None = None, origin: str = "URL"
) -> Path:
    """Stream `url` into `dest` in 1 MiB chunks, reporting progress; LockgenError on any failure. Only https://,
    http:// to this machine and file:// (`lockgen.seams.urls`), also after redirects; at most `max_bytes`. A file://
    URL is not copied: the path of the (regular) file itself is returned."""
    import urllib.error
    from urllib.request import url2pathname

    from lockgen.errors import LockgenError
    from lockgen.seams.elfscan import LIMITS
    from lockgen.seams.redact import redact_url

    cap = LIMITS.max_wheel_bytes if max_bytes is None else max_bytes
    shown = redact_url(url)
    _check_url(url, origin)
    if url.lower().startswith("file:"):
        from urllib.parse import urlsplit

        from lockgen.seams.elfscan import Limits, regular_file_size

        path = Path(url2pathname(urlsplit(url).path))
        regular_file_size(path, Limits(max_wheel_bytes=cap))
        return path
    try:
        with _safe_opener(origin).open(url, timeout=60) as resp, dest.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            if total > cap:
                raise LockgenError(f"{shown}: {total >> 20} MiB is over the cap of {cap >> 20} MiB for a wheel")
            done, step_shown = 0, -1
            while chunk := resp.read(CHUNK):
                done += len(chunk)
                if done > cap:
                    raise LockgenError(f"{shown}: more than the cap of {cap >> 20} MiB for a wheel; stopped")
                out.write(chunk)
                step = done * 10 // total if total else done // (50 * CHUNK)
                if step != step_shown:
                    step_shown = step
                    size = f"{done / CHUNK:.0f} MiB" + (f" of {total / CHUNK:.0f} MiB" if total else "")
                    progress(f"downloading {shown.rsplit('/', 1)[-1]}: {size}")
    except urllib.error.HTTPError as e:
        raise LockgenError(f"{shown}: download failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        raise LockgenError(f"{shown}: download failed: {reason}") from None
    return dest


def check_hash(path: Path, expected: str, what: str, told_by: str = "uv.lock") -> None:
    """Compare the file's digest with `expected` ("sha256:<hex>", as uv.lock writes it; `told_by` says where it
    came from); LockgenError on a mismatch or an algorithm hashlib lacks."""
    import hashlib

    from lockgen.errors import LockgenError

    algo, _, want = expected.partition(":")
    try:
        h = hashlib.new(algo)
    except ValueError:
        raise LockgenError(f"{what}: the hash {expected!r} ({told_by}) uses an unknown algorithm") from None
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    if h.hexdigest() != want.lower():
        raise LockgenError(
            f"{what}: the downloaded wheel's {algo} is {h.hexdigest()}, {told_by} says {want}: refused "
            "(the file changed on the index, or something in between altered it)"
        )


# ------------------------------------------------------------------------------------------------ reporting


def toml_row(package: str, version: str, build: Any, source: str) -> str:
    """The builds.toml row for what was read (conf Y: read from the wheel itself)."""
    from packaging.version import Version

    v = Version(version)
    lines = ["[[build]]", f'package = "{package}"', f'versions = "=={v.public}"']
    if v.local:
        lines.append(f'local = "{v.local}"')
    if build.bundles:
        lines.append("bundled = [" + ", ".join(f'"{c}"' for c in build.bundles) + "]")
    else:
        lines.append(f'cuda = "{build.cuda}"')
        cudart = sorted({e.text for e in build.evidence if e.kind == "needed" and e.text.startswith("libcudart")})
        if cudart:
            lines.append(f'links = "{", ".join(cudart)}"')
    lines.append(f'evidence = "{_evidence_line(build)}"')
    lines += ['conf = "Y"', f'source = "{source}"']
    return "\n".join(lines)


def _evidence_line(build: Any) -> str:
    parts = []
    needed = sorted({e.text for e in build.evidence if e.kind == "needed"})
    if needed:
        parts.append("DT_NEEDED " + ", ".join(needed))
    if build.nvcc:
        parts.append("nvcc release " + ", ".join(build.nvcc))
    if build.ptx:
        parts.append("PTX .version " + ", ".join(isa for isa, _ in build.ptx))
    return "; ".join(parts) + " (read by lockgen wheel-cuda)"


def compare(build: Any, row: Any) -> str | None:
    """Why the wheel disagrees with the table's row, or None when it agrees (or either says too little)."""
    if row is not None and row.bundled and build.bundles:
        told = {c.split(".")[0] for c in row.bundled}
        seen = {c.split(".")[0] for c in build.bundles}
        return None if told == seen else f"the table bundles CUDA majors {sorted(told)}, the wheel {sorted(seen)}"
    if row is not None and row.jit and build.cuda is not None:
        return f"the table says it ships no binary (JIT), the wheel has CUDA {build.cuda} code"
    if row is None or build.cuda is None or row.cuda is None:
        return None
    got, want = build.cuda, row.cuda
    if "." in got:
        return None if got == want else f"the table says CUDA {want}, the wheel was built with {got}"
    return None if got == want.split(".")[0] else f"the table says CUDA {want}, the wheel links CUDA {got}"


def locate(target: str, cache_dir: Path | None, root: Path | None) -> tuple[str, tuple[str, str] | None]:
    """What to read for TARGET: ("url" or a local path, (package, version) when known). NAME==VERSION is looked
    up in uv's cache first, then in the workspace's uv.lock (a URL). LockgenError when nothing is found."""
    source, ident, _ = locate_with_hash(target, cache_dir, root)
    return source, ident


def locate_with_hash(
    target: str, cache_dir: Path | None, root: Path | None
) -> tuple[str, tuple[str, str] | None, str | None]:
    """`locate`, plus the hash uv.lock records for a wheel found there (None otherwise)."""
    from lockgen.errors import LockgenError

    if _SCHEME_RE.match(target) and not Path(target).exists():
        _check_url(target, "wheel-cuda")
        fragment = target.split("#", 1)[1] if "#" in target else ""
        algo, _, digest = fragment.partition("=")
        return target, wheel_identity(target.split("#")[0]), f"{algo}:{digest}" if digest else None
    local = Path(target).expanduser()
    pin = _PIN_RE.match(target)
    if pin is None or local.exists():
        if not local.exists():
            raise LockgenError(f"{target}: no such file or directory")
        if local.is_dir():
            info = next(iter(sorted(local.glob("*.dist-info"))), None)
            return str(local), wheel_identity(info.name) if info else None, None
        return str(local), wheel_identity(local.name), None
    ident = (pin.group("name").lower(), pin.group("version"))
    cache = uv_cache_dir(cache_dir, root)
    found = find_in_cache(cache, *ident) if cache and cache.is_dir() else None
    if found is not None:
        return str(found), ident, None
    if root is None:
        raise LockgenError(f"{target}: not in uv's cache, and no workspace (uv.lock) to find its URL in")
    artifact = find_artifact_in_lock(root, *ident)
    if artifact is None:
        raise LockgenError(f"{target}: not in uv's cache, and uv.lock has no Linux wheel of {ident[0]} {ident[1]}")
    url, lock_hash = artifact
    if "://" not in url:  # a path wheel of a path source: relative to the workspace
        url = (root / url).resolve().as_uri()
    _check_url(url, f"uv.lock ({ident[0]} {ident[1]})")
    return url, ident, lock_hash


def run(args: argparse.Namespace) -> int:
    """`lockgen wheel-cuda WHEEL|URL|DIR|NAME==VERSION [--json]`."""
    from lockgen.seams.elfscan import lookup_build, wheel_build_cuda
    from lockgen.seams.redact import redact_url
    from lockgen.ui import Reporter

    as_json = bool(getattr(args, "json", False))
    reporter = Reporter(quiet=as_json)
    source, ident, digest = locate_with_hash(args.wheel, args.cache_dir, getattr(args, "root", None))
    shown = redact_url(source.split("#")[0])
    if "://" in source:
        with tempfile.TemporaryDirectory(prefix="lockgen-wheel-") as tmp:
            reporter.step(f"streaming {shown.rsplit('/', 1)[-1]}")
            wheel = download(source.split("#")[0], Path(tmp) / "wheel.whl", reporter.detail, origin=shown)
            if digest:
                check_hash(wheel, digest, shown, "uv.lock" if _PIN_RE.match(args.wheel) else "the URL's #fragment")
            build = wheel_build_cuda(wheel)
    else:
        reporter.step(f"reading {source}")
        build = wheel_build_cuda(Path(source))

    row = lookup_build(*ident) if ident else None
    disagreement = compare(build, row)
    new_row = toml_row(ident[0], ident[1], build, shown) if ident and (build.cuda or build.bundles) else None
    if as_json:
        out = {
            "wheel": shown,
            "hash_checked": digest if "://" in source and digest else None,
            "package": ident[0] if ident else None,
            "version": ident[1] if ident else None,
            "build_cuda": build.cuda,
            "majors": list(build.majors),
            "nvcc": list(build.nvcc),
            "ptx": [{"isa": isa, "cuda": cuda} for isa, cuda in build.ptx],
            "mixed_majors": build.mixed_majors,
            "bundles": list(build.bundles),
            "per_file": [{"file": f, "cuda": cuda} for f, cuda in build.per_file],
            "evidence": [asdict(e) for e in build.evidence],
            "scanned": list(build.scanned),
            "skipped": list(build.skipped),
            "table": asdict(row) if row else None,
            "disagreement": disagreement,
            "toml_row": new_row,
        }
        print_json(out)
    else:
        _print_human(shown, ident, build, row, disagreement, new_row)
    return 1 if disagreement else 0


def _print_human(source: str, ident: Any, build: Any, row: Any, disagreement: str | None, new_row: str | None) -> None:
    title = f"{ident[0]} {ident[1]}" if ident else source
    print(f"{title}: {len(build.scanned)} shared librar{'y' if len(build.scanned) == 1 else 'ies'} read")
    for e in build.evidence:
        if e.kind == "provides":
            print(f"  provides {e.text} ({e.file}): a CUDA {e.cuda} library itself")
    if build.cuda is None and not build.bundles:
        print("  no build CUDA evidence (no libcudart/cublas/nvrtc linked, no nvcc ident, no PTX header)")
    for major in build.majors:
        libs = sorted({f"{e.text} ({e.file})" for e in build.evidence if e.kind == "needed" and e.cuda == str(major)})
        print(f"  links CUDA {major}: {', '.join(libs[:3])}{' ...' if len(libs) > 3 else ''}")
    if build.mixed_majors:
        print("  WARNING: one library links two CUDA majors; it cannot load")
    if build.bundles:
        print(f"  bundles libraries for CUDA {', '.join(build.bundles)} (one per CUDA, like bitsandbytes; PTX-derived")
        print("  values are the oldest CUDA that emits that ISA) - or libraries that cannot all load together")
    for release in build.nvcc:
        print(f"  compiled by nvcc {release}")
    for isa, cuda in build.ptx:
        print(f"  PTX ISA {isa} -> CUDA {cuda or '? (not in the [ptx_isa] table)'}")
    for skipped in build.skipped:
        print(f"  skipped {skipped}")
    if build.cuda:
        print(f"  build CUDA: {build.cuda}")
    if row is not None:
        told = row.cuda or (
            "bundled " + ", ".join(row.bundled)
            if row.bundled
            else "compiled at run time (JIT)"
            if row.jit
            else "follows torch's CUDA major"
        )
        verdict = f"DISAGREES: {disagreement}" if disagreement else "agrees"
        print(f"  builds.toml: {row.package} {row.versions} -> {told} (conf {row.conf}); {verdict}")
    elif ident:
        print("  builds.toml: no row for this version")
    if new_row and (row is None or disagreement):
        print("\nrow for lockgen/src/lockgen/tables/data/builds.toml:")
        print(new_row)
