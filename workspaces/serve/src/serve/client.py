"""`serve-client`: send one chat request to a running `serve` (any OpenAI-compatible server) and print the reply.

Uses the OpenAI SDK when this environment has it (vLLM depends on `openai`, so serve's lock does) and plain urllib
otherwise (`--backend` picks one). Also holds the health wait `serve` uses before it prints the ready URL.
The API key comes from $VLLM_API_KEY or $OPENAI_API_KEY (never the command line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from serve.config import DefaultsHelpFormatter

PROG = "serve-client"
DEFAULT_URL = "http://127.0.0.1:8000/v1"


class ClientError(RuntimeError):
    """The server could not be reached or answered with an error; `str(e)` is one line."""


def api_key(env: dict[str, str] | None = None) -> str:
    """The bearer token: $VLLM_API_KEY (what vLLM checks), else $OPENAI_API_KEY, else a placeholder vLLM ignores."""
    env = dict(os.environ) if env is None else env
    return env.get("VLLM_API_KEY") or env.get("OPENAI_API_KEY") or "EMPTY"


def root_url(base_url: str) -> str:
    """http://host:port/v1 -> http://host:port (where vLLM serves /health)."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def health_ok(base_url: str, timeout: float = 2.0) -> bool:
    """Whether GET {root}/health answers 200."""
    try:
        with urllib.request.urlopen(root_url(base_url) + "/health", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, ValueError):  # refused, reset, timeout, HTTP errors (URLError/HTTPError are OSErrors)
        return False


def wait_ready(
    base_url: str,
    *,
    alive: Callable[[], bool],
    timeout: float,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll /health until it answers 200 (True), the server process dies or `timeout` seconds pass (False)."""
    deadline = clock() + timeout
    while True:
        if health_ok(base_url):
            return True
        if not alive() or clock() >= deadline:
            return False
        sleep(interval)


def _request(url: str, key: str, body: dict[str, Any] | None, timeout: float) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace").strip().splitlines()
        raise ClientError(f"{url}: HTTP {e.code} {detail[0] if detail else e.reason}") from None
    except (OSError, ValueError) as e:
        raise ClientError(f"{url}: {getattr(e, 'reason', e)}") from None


def first_model_urllib(base_url: str, key: str, timeout: float) -> str:
    data = _request(base_url.rstrip("/") + "/models", key, None, timeout)
    models = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
    if not models:
        raise ClientError(f"{base_url}/models lists no model")
    return str(models[0])


def chat_urllib(base_url: str, model: str | None, prompt: str, max_tokens: int, timeout: float) -> tuple[str, str]:
    """(model, reply) through plain HTTP."""
    key = api_key()
    model = model or first_model_urllib(base_url, key, timeout)
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    data = _request(base_url.rstrip("/") + "/chat/completions", key, body, timeout)
    try:
        return model, str(data["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError):
        raise ClientError(f"{base_url}/chat/completions: no choices[0].message.content in the answer") from None


def chat_openai(base_url: str, model: str | None, prompt: str, max_tokens: int, timeout: float) -> tuple[str, str]:
    """(model, reply) through the OpenAI SDK."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key(), timeout=timeout, max_retries=0)
    try:
        if model is None:
            models = list(client.models.list())
            if not models:
                raise ClientError(f"{base_url}/models lists no model")
            model = models[0].id
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens
        )
    except openai.APIError as e:
        raise ClientError(f"{base_url}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return model, str(reply.choices[0].message.content)


def have_openai() -> bool:
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Send one chat request to a running serve / vLLM server and print the reply. "
        "API key from $VLLM_API_KEY or $OPENAI_API_KEY.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("prompt", nargs="?", default="Say hello in one short sentence.", help="the user message")
    p.add_argument("--url", default=DEFAULT_URL, help="the server's OpenAI base URL (what serve prints when ready)")
    p.add_argument("--model", default=None, help="model or adapter name (default: the first the server lists)")
    p.add_argument("--max-tokens", type=int, default=64, help="reply length limit")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    p.add_argument(
        "--backend", choices=("auto", "openai", "urllib"), default="auto", help="auto: the OpenAI SDK when installed"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `serve-client`: the reply on stdout, exit 1 when the server fails, 2 for bad usage."""
    args = build_parser().parse_args(argv)
    backend = args.backend
    if backend == "auto":
        backend = "openai" if have_openai() else "urllib"
    elif backend == "openai" and not have_openai():
        print(f"{PROG}: error: --backend openai: the openai package is not installed here", file=sys.stderr)
        return 2
    chat = chat_openai if backend == "openai" else chat_urllib
    try:
        model, reply = chat(args.url, args.model, args.prompt, args.max_tokens, args.timeout)
    except ClientError as e:
        print(f"{PROG}: failed: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: {model} via {backend}", file=sys.stderr)
    print(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
