"""`[tool.lockgen.cuda-index]` URLs (issue 12 item 7): credentials are never printed (masked as uv masks them), only
https://, http:// to this machine and file:// are accepted, and template tricks (`{0}`, `{label.__class__}`,
`../`) are exit 2 naming the file and key - `{0}` used to crash `lock`, and `check` accepted any URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lockgen.cli import main
from lockgen.errors import InputError
from lockgen.model.cudaindex import cuda_index_from_config
from lockgen.seams.redact import redact_text, redact_url

KEY = "tool.lockgen.cuda-index.url"


def table(url: str) -> dict[str, object]:
    return {"url": url, "variants": ["cu126", "cu128"], "packages": ["torch"]}


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://h/{label}/{0}", "{0} is not a field lockgen fills in"),
        ("https://h/{label}/{label.__class__}", "{label.__class__} is not a field"),
        ("https://h/{label}/{label!r}", "{label!r} is not a field"),
        ("https://h/{label}/{label:>9}", "{label:>9} is not a field"),
        ("https://h/{label}/{label", "is not a URL template"),
        ("https://h/whl/}{label}", "is not a URL template"),
        ("../../{label}", "is not an absolute URL"),
        ("https://h/whl/../../{label}", "has a '..' or '.' path segment"),
        ("https://h/whl/%2e%2e/{label}", "has a '..' or '.' path segment"),
        ("file:///srv/../etc/{label}", "has a '..' or '.' path segment"),
        ("http://download.example.com/whl/{label}", "uses plain http to another machine"),
        ("ftp://h/whl/{label}", "uses ftp:"),
        ("javascript:alert('{label}')", "uses javascript:"),
        ("https://h:99999/{label}", "not a URL"),
    ],
)
def test_bad_templates_are_input_errors(url: str, words: str) -> None:
    with pytest.raises(InputError) as e:
        cuda_index_from_config(table(url))
    assert e.value.key == KEY and words in e.value.message, e.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://download.pytorch.org/whl/{label}",
        "https://user:pass@mirror.example.com/pytorch/{label}/simple",
        "http://127.0.0.1:8080/{label}/simple",
        "http://localhost/{cuda}/simple",
        "http://[::1]:9000/{label}",
        "file:///srv/indexes/{label}",
    ],
)
def test_good_templates(url: str) -> None:
    index = cuda_index_from_config(table(url))
    assert index is not None and index.url == url  # the real URL goes to uv, credentials included


def test_a_variant_that_is_not_a_string() -> None:
    with pytest.raises(InputError) as e:
        cuda_index_from_config({"url": "https://h/{label}", "variants": [128]})
    assert e.value.key == "tool.lockgen.cuda-index.variants[0]"


# uv's own rule (astral-sh/uv crates/uv-redacted/src/lib.rs, display_with_redacted_credentials and its tests):
# user and password -> user:****@, a user (token) alone -> ****@, a password alone -> :****@
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:pass@pypi-proxy.fly.dev/basic-auth/simple",
            "https://user:****@pypi-proxy.fly.dev/basic-auth/simple",
        ),
        ("https://:pass@pypi-proxy.fly.dev/basic-auth/simple", "https://:****@pypi-proxy.fly.dev/basic-auth/simple"),
        ("https://user@pypi-proxy.fly.dev/basic-auth/simple", "https://****@pypi-proxy.fly.dev/basic-auth/simple"),
        ("https://pypi-proxy.fly.dev/basic-auth/simple", "https://pypi-proxy.fly.dev/basic-auth/simple"),
    ],
)
def test_redaction_matches_uv(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redaction_in_running_text() -> None:
    text = 'CUDA index: cu126 (https://tok:s3cret@h.example/x/cu126) and "git+https://ghp_abc@github.com/o/r" a@b'
    out = redact_text(text)
    assert "s3cret" not in out and "ghp_abc" not in out
    assert "https://tok:****@h.example/x/cu126" in out and "git+https://****@github.com/o/r" in out
    assert out.endswith(" a@b")  # an e-mail address is not a URL
    assert redact_text("https://u:p@ss@h.example/x") == "https://u:****@h.example/x"  # an unescaped @ in a password


def set_cuda_index(ws: Path, url: str) -> None:
    py = ws / "pyproject.toml"
    text = py.read_text()
    block = f'\n[tool.lockgen.cuda-index]\nurl = "{url}"\nvariants = ["cu126", "cu128"]\npackages = ["torch"]\n'
    py.write_text(text + block)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://h/{label}/{0}", "{0} is not a field lockgen fills in"),
        ("ftp://u:s3cret@h/{label}", "'ftp://u:****@h/{label}' uses ftp:"),
        ("../../{label}", "is not an absolute URL"),
    ],
)
def test_check_and_lock_refuse_a_bad_url_before_any_uv_run(
    workspace_copy: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    words: str,
) -> None:
    import lockgen.seams.uvtool

    def no_uv(*a: object, **k: object) -> None:
        raise AssertionError("uv must not run")

    monkeypatch.setattr(lockgen.seams.uvtool, "find_uv", no_uv)  # run_uv looks it up per run
    set_cuda_index(workspace_copy, url)
    for argv in (["check", "--no-uv"], ["check", "--no-uv", "--json"], ["lock"], ["lock", "--dry-run"]):
        code = main(["-C", str(workspace_copy), *argv])
        out, err = capsys.readouterr()
        assert code == 2, (argv, out, err)
        assert err.startswith(f"lockgen: error: pyproject.toml: {KEY}: ") and words in err, err
        assert "s3cret" not in out + err and "Traceback" not in err


@pytest.mark.slow
def test_credentials_are_masked_in_lock_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `lockgen lock` through a CUDA index on 127.0.0.1 whose URL carries a user and password: neither the
    text nor the --json output shows the password; the pyproject handed to uv keeps the real URL."""
    from pkgworld import make_world, serve_index, uv_env, write_index, write_workspace

    world = make_world(
        {"2.8.0": "12.8", "2.10.0": "12.8"},
        variants={"2.8.0": ["12.6"], "2.10.0": ["12.6", "12.8"]},
        members={"train": ["torch==2.10.0"]},
    )
    paths = write_index(world, tmp_path / "index")
    for k, v in uv_env(tmp_path / "uv-cache").items():
        monkeypatch.setenv(k, v)
    with serve_index(paths.root) as base:
        secret_base = base.replace("http://", "http://alice:s3cret@")
        fleet = {
            "driver": "560.35.03",
            "gpus": ["A100"],
            "cuda-index": {
                "url": f"{secret_base}/{{label}}/simple",
                "variants": ["cu126", "cu128"],
                "packages": ["torch"],
            },
        }
        ws = write_workspace(world, tmp_path / "ws", index_urls=paths.http_urls(base), lockgen=fleet)
        import subprocess

        from lockgen.seams.uvtool import find_uv

        subprocess.run([find_uv(), "lock"], cwd=ws, check=True, capture_output=True)
        code_json = main(["-C", str(ws), "lock", "--dry-run", "--json"])
        out_json, err_json = capsys.readouterr()
        code = main(["-C", str(ws), "lock"])
        out, err = capsys.readouterr()
    assert code_json == 0 and code == 0, err_json + err
    everything = out_json + err_json + out + err
    assert "s3cret" not in everything
    assert "alice:****@127.0.0.1" in err, err
    json.loads(out_json)
    written = (ws / "pyproject.toml").read_text()
    assert re.search(r'url = "http://alice:s3cret@127\.0\.0\.1:\d+/cu126/simple"', written)


@pytest.mark.parametrize("line", ["a." * 500_000, "http://" * 150_000, "x://@" * 200_000, "https://u:p@h/ " * 70_000])
def test_redaction_is_linear_on_adversarial_lines(line: str) -> None:
    """Everything lockgen prints passes through redact_text: a 1 MB line must not take quadratic time (a regular
    expression anchored on the scheme took 2.6 s on 160 KB of "a.a.a.")."""
    import time

    t0 = time.perf_counter()
    out = redact_text(line)
    assert time.perf_counter() - t0 < 1.0
    assert ":p@" not in out


def test_the_output_filter_masks_writelines_too() -> None:
    import io

    from lockgen.seams.redact import RedactingStream

    inner = io.StringIO()
    stream = RedactingStream(inner)
    stream.writelines(["https://u:s3cret@h/x\n", "plain\n"])
    stream.write("token https://tok@h/y\n")
    assert inner.getvalue() == "https://u:****@h/x\nplain\ntoken https://****@h/y\n"
