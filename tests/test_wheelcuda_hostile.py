"""`lockgen wheel-cuda` on hostile input (issue 12 item 5): devices and FIFOs are refused without reading, zip
bombs, huge archives and endless libraries hit a cap with a clear message, and `NAME==VERSION` downloads only over
https (http only to this machine) or file://, checked against uv.lock's hash. Each case failed (or hung, or read
until memory ran out) before the fix."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import stat
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pkgworld as pw
import pytest
from lockgen.cli import main
from lockgen.seams import elfscan
from lockgen.seams.elfscan import ElfError, Limits, wheel_build_cuda

WHEEL = "xformers-0.0.35-py39-none-manylinux_2_28_x86_64.whl"


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("lockgen: error") or "Traceback" in line]
    assert len(errors) == 1 and errors[0].startswith("lockgen: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    return errors[0]


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_character_device_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dev = tmp_path / "zero.whl"  # a private node of /dev/zero (1, 5) where allowed
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except OSError:
        dev = Path("/dev/zero")
    t0 = time.monotonic()
    assert main(["wheel-cuda", str(dev)]) == 2
    assert "is a character device, not a wheel file" in one_error(capsys)
    assert time.monotonic() - t0 < 5


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "x-1.0-py3-none-any.whl"
    os.mkfifo(fifo)
    assert main(["wheel-cuda", str(fifo)]) == 2
    assert "is a FIFO (named pipe)" in one_error(capsys)


def test_fifos_and_device_links_in_a_directory_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "unpacked"
    d.mkdir()
    os.mkfifo(d / "_C.so")
    (d / "zero.so").symlink_to("/dev/zero")
    build = wheel_build_cuda(d)
    assert build.scanned == () and build.cuda is None


def test_a_zip_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 80 MiB of zeros deflate to about 80 KB (1000:1); real libraries compress 2-10:1
    whl = tmp_path / WHEEL
    whl.write_bytes(zip_bytes({"xformers/_C.so": b"\0" * (80 << 20)}))
    assert whl.stat().st_size < 1 << 20
    t0 = time.monotonic()
    assert main(["wheel-cuda", str(whl)]) == 2
    err = one_error(capsys)
    assert "xformers/_C.so expands" in err and "refused as a zip bomb" in err
    assert time.monotonic() - t0 < 5


def test_a_small_padded_library_is_not_a_bomb() -> None:
    # libraries linked with 2 MiB page alignment are mostly zeros: under the floor they are read as usual
    build = wheel_build_cuda(zip_bytes({"pkg/_C.so": b"\0" * (2 << 20)}))
    assert build.skipped == ("pkg/_C.so: not an ELF file (no \\x7fELF magic)",)


@pytest.mark.parametrize(
    ("limits", "entries", "words"),
    [
        (Limits(max_entries=100), {f"f{i}.txt": b"" for i in range(101)}, "101 archive entries, over the cap of 100"),
        (Limits(max_libraries=10), {f"l{i}.so": b"" for i in range(11)}, "11 shared libraries, over the cap of 10"),
        (Limits(max_uncompressed=1000), {"a.so": b"x" * 600, "b.so": b"y" * 600}, "unpack to more than the cap"),
        (Limits(max_wheel_bytes=100), {"a.so": b"x" * 600}, "over the cap of 0 MiB for a wheel"),
    ],
)
def test_caps_on_a_wheel(limits: Limits, entries: dict[str, bytes], words: str, tmp_path: Path) -> None:
    path = tmp_path / "w-1.0-py3-none-any.whl"
    path.write_bytes(zip_bytes(entries, zipfile.ZIP_STORED))
    with pytest.raises(ElfError, match=words):
        wheel_build_cuda(path, limits)


def test_caps_through_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elfscan, "LIMITS", Limits(max_entries=1000))
    whl = tmp_path / WHEEL
    whl.write_bytes(zip_bytes({f"x/{i}.so": b"" for i in range(1001)}, zipfile.ZIP_STORED))
    assert main(["wheel-cuda", str(whl)]) == 2
    assert "1001 archive entries, over the cap of 1000" in one_error(capsys)


def test_a_directory_with_too_many_files(tmp_path: Path) -> None:
    for i in range(21):
        (tmp_path / f"{i}.so").write_bytes(b"")
    with pytest.raises(ElfError, match="more than 20 files"):
        wheel_build_cuda(tmp_path, Limits(max_entries=20))


# ---- URLs ----


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/" + WHEEL, "uses plain http to another machine"),
        ("ftp://example.com/" + WHEEL, "uses ftp:"),
        ("javascript:alert(1)", "uses javascript:"),
        ("https://user:s3cret@example.com/" + WHEEL.replace(".whl", ".zip"), None),
    ],
)
def test_only_https_localhost_http_and_file_urls(
    url: str, words: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.error
    import urllib.request

    def no_network(*a: object, **k: object) -> None:
        raise urllib.error.URLError("blocked by the test")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_network)
    if words is None:  # an allowed scheme reaches the (blocked) opener; the password never shows, as in uv
        assert main(["wheel-cuda", url]) == 2
        err = one_error(capsys)
        assert "https://user:****@example.com/" in err and "download failed: blocked by the test" in err
        assert "s3cret" not in err
        return
    assert main(["wheel-cuda", url]) == 2
    assert words in one_error(capsys)


def test_a_file_url_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whl = tmp_path / WHEEL
    whl.write_bytes(zip_bytes({"xformers/__init__.py": b""}))
    assert main(["wheel-cuda", whl.as_uri()]) == 0, capsys.readouterr().err


@contextmanager
def redirecting_server(location: str) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", location)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    with pw.serve_handler(Handler) as url:
        yield url


def test_a_redirect_to_plain_http_elsewhere_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with redirecting_server("http://example.invalid/" + WHEEL) as base:
        assert main(["wheel-cuda", f"{base}/{WHEEL}"]) == 2
    err = one_error(capsys)
    assert "(redirected): http://example.invalid/" in err and "uses plain http to another machine" in err


# ---- NAME==VERSION from uv.lock: the lock's hash is compared ----


def lock_workspace(root: Path, url: str, digest: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "root"\nversion = "0"\n[tool.uv.workspace]\nmembers = []\n[tool.lockgen]\n'
    )
    (root / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.12"\n\n'
        '[[package]]\nname = "xformers"\nversion = "0.0.35"\nsource = { registry = "https://pypi.org/simple" }\n'
        f'wheels = [{{ url = "{url}", hash = "sha256:{digest}" }}]\n'
    )
    return root


@pytest.mark.parametrize("served", ["file", "http"])
def test_name_version_download_checks_the_lock_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served: str
) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    data = zip_bytes({"xformers/__init__.py": b""})
    (srv / WHEEL).write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    with pw.serve_index(srv) as base:
        url = (srv / WHEEL).as_uri() if served == "file" else f"{base}/{WHEEL}"
        ok = lock_workspace(tmp_path / "ok", url, good)
        assert main(["-C", str(ok), "wheel-cuda", "xformers==0.0.35", "--cache-dir", str(cache)]) == 0
        capsys.readouterr()
        bad = lock_workspace(tmp_path / "bad", url, "0" * 64)
        assert main(["-C", str(bad), "wheel-cuda", "xformers==0.0.35", "--cache-dir", str(cache)]) == 2
    err = one_error(capsys)
    assert f"sha256 is {good}, uv.lock says {'0' * 64}: refused" in err


def test_name_version_refuses_a_plain_http_url_in_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = lock_workspace(tmp_path / "ws", "http://files.example.com/" + WHEEL, "0" * 64)
    cache = tmp_path / "c"
    cache.mkdir()
    assert main(["-C", str(ws), "wheel-cuda", "xformers==0.0.35", "--cache-dir", str(cache)]) == 2
    err = one_error(capsys)
    assert "uv.lock (xformers 0.0.35): http://files.example.com/" in err and "plain http" in err


def test_a_url_with_a_sha256_fragment_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    data = zip_bytes({"xformers/__init__.py": b""})
    (srv / WHEEL).write_bytes(data)
    with pw.serve_index(srv) as base:
        good = main(["wheel-cuda", f"{base}/{WHEEL}#sha256={hashlib.sha256(data).hexdigest()}"])
        capsys.readouterr()
        bad = main(["wheel-cuda", f"{base}/{WHEEL}#sha256={'1' * 64}"])
    assert good == 0 and bad == 2
    assert f"the URL's #fragment says {'1' * 64}: refused" in one_error(capsys)
