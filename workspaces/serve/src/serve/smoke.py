"""`serve-smoke`: prove the serve environment can serve what train makes.

Uses the tiny model (and LoRA adapter) that `train-smoke` leaves in its work directory. Always, also on CPU:
vllm imports, vLLM's own `vllm serve` parser accepts the command line `serve` would run, vLLM builds a model config
for the model (architecture known, text generation), vLLM's tokenizer loader round-trips a prompt, and the adapter
passes vLLM's LoRA checks. With a GPU: vLLM loads the model and generates a few tokens, with and without the
adapter. Without one it says that generation was skipped (and fails with --require-gpu).
Also always: `serve-client` (with the OpenAI SDK when installed, and with urllib) sends one chat request to a stub
OpenAI-compatible server on 127.0.0.1, and serve's health wait sees the stub become ready.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from serve.cli import read_adapter
from serve.config import Adapter, ServeConfig, lora_rank_bucket, vllm_argv

PROG = "serve-smoke"
# Where train-smoke writes by default (train.smoke.DEFAULT_OUT; serve cannot import train: separate envs).
DEFAULT_WORK = Path(tempfile.gettempdir()) / "gpu-workspace-smoke"
PROMPT = "what colour is the cat please"
MAX_LEN = 128


class SmokeFailure(RuntimeError):
    """A check failed; `str(e)` names it in one line."""


def first_line(error: BaseException, limit: int = 300) -> str:
    """One line for an exception: its type and first message line (pydantic's: the first two, the cause)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    keep = lines[:2] if type(error).__name__ == "ValidationError" else lines[:1]
    text = f"{type(error).__name__}: {' / '.join(keep)}" if keep else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(name: str, fn: Callable[[], str]) -> str:
    """Run one check; its return value is the detail printed on success."""
    try:
        detail = fn()
    except SmokeFailure:
        raise
    except Exception as e:  # any failure inside vLLM is a failed check, reported in one line
        raise SmokeFailure(f"{name}: {first_line(e)}") from e
    print(f"{PROG}: ok: {name}: {detail}", flush=True)
    return detail


# What serve-smoke uses from vLLM, where each release keeps it (vLLM moved these; serve allows vllm >= 0.8.5.post1,
# its pyproject's [tool.lockgen] ranges): the first location this vLLM has wins.
MOVED = {
    # vllm/utils/argparse_utils.py in 0.11.2 and later (not in 0.11.0); before, vllm/utils.py
    "FlexibleArgumentParser": (("vllm.utils.argparse_utils", "FlexibleArgumentParser"), ("vllm.utils", "")),
    # vllm.tokenizers from 0.12.0 (vllm-project/vllm#29793); before, vllm.transformers_utils.tokenizer
    "get_tokenizer": (("vllm.tokenizers", "get_tokenizer"), ("vllm.transformers_utils.tokenizer", "")),
    # vllm/config/lora.py in 0.10.2 and later (not in 0.8.5.post1); before, vllm/config.py
    "LoRAConfig": (("vllm.config.lora", "LoRAConfig"), ("vllm.config", "")),
}


def from_vllm(name: str) -> Any:
    """`name` from the first module of MOVED[name] that this vLLM has (an ImportError naming all when none)."""
    import importlib

    tried = []
    for module, attr in MOVED[name]:
        try:
            return getattr(importlib.import_module(module), attr or name)
        except (ImportError, AttributeError) as e:
            tried.append(f"{module}: {first_line(e)}")
    raise ImportError(f"{name} not found in this vLLM ({'; '.join(tried)})")


def parse_with_vllm(argv: list[str]) -> Any:
    """Parse `vllm serve` arguments with vLLM's own parser and validation (as `vllm serve` would)."""
    from vllm import platforms
    from vllm.entrypoints.cli.serve import ServeSubcommand

    FlexibleArgumentParser = from_vllm("FlexibleArgumentParser")  # noqa: N806 - a class

    previous = platforms.current_platform
    # `_enum` is what Platform.is_unspecified() reads; vLLM 0.8.5 has no is_unspecified(), and asking its platform
    # for a missing attribute recurses in Platform.__getattr__
    swap = getattr(type(previous), "_enum", None) is not None and previous._enum.name == "UNSPECIFIED"
    if swap:
        # No GPU: vLLM's parser needs a device type to build its defaults; borrow the CPU platform for the parse,
        # as `vllm bench` does, and put the detected one back afterwards.
        from vllm.platforms.cpu import CpuPlatform

        platforms.current_platform = CpuPlatform()
    try:
        parser = FlexibleArgumentParser(prog="vllm")
        subparsers = parser.add_subparsers(dest="subparser")
        command = ServeSubcommand()
        command.subparser_init(subparsers)
        args = parser.parse_args(argv)
        command.validate(args)
    finally:
        if swap:
            platforms.current_platform = previous
    return args


def cpu_checks(model_dir: Path, adapter: Adapter | None) -> None:
    """Everything that needs no GPU."""

    def imports() -> str:
        import vllm

        return f"vllm {vllm.__version__}"

    check("import", imports)

    config = ServeConfig(model=str(model_dir), adapters=(adapter,) if adapter else (), max_model_len=MAX_LEN)

    def cli() -> str:
        args = parse_with_vllm(vllm_argv(config))
        enabled = getattr(args, "enable_lora", False)
        return f"`vllm serve` accepts serve's command line (enable_lora={enabled}, max_lora_rank={args.max_lora_rank})"

    check("serve command line", cli)

    def model_config() -> str:
        from vllm.engine.arg_utils import EngineArgs

        engine_args = EngineArgs(model=str(model_dir), max_model_len=MAX_LEN, enforce_eager=True)
        mc = engine_args.create_model_config()
        is_generative = mc.registry.is_text_generation_model
        # (architectures, model_config) since vLLM 0.10; vLLM 0.8.5 takes the architectures only
        args = (mc.architectures, mc) if len(inspect.signature(is_generative).parameters) >= 2 else (mc.architectures,)
        if not is_generative(*args):
            raise SmokeFailure(f"model config: {mc.architectures} is not a text generation model for vLLM")
        return f"{', '.join(mc.architectures)}, dtype {mc.dtype}, max_model_len {mc.max_model_len}"

    check("model config", model_config)

    def tokenizer() -> str:
        tok = from_vllm("get_tokenizer")(str(model_dir))
        ids = tok.encode(PROMPT, add_special_tokens=False)
        if tok.unk_token_id is not None and tok.unk_token_id in ids:
            raise SmokeFailure(f"tokenizer: {PROMPT!r} has unknown words under vLLM's tokenizer loader")
        text = tok.decode(ids)
        if text.strip() != PROMPT:
            raise SmokeFailure(f"tokenizer: decode(encode({PROMPT!r})) gave {text!r}")
        return f"{type(tok).__name__}, {len(ids)} tokens round-trip"

    check("tokenizer", tokenizer)

    if adapter is not None:

        def lora() -> str:
            from vllm.lora.peft_helper import PEFTHelper

            LoRAConfig = from_vllm("LoRAConfig")  # noqa: N806 - a class

            helper = PEFTHelper.from_local_dir(adapter.path, max_position_embeddings=MAX_LEN)
            helper.validate_legal(LoRAConfig(max_lora_rank=lora_rank_bucket(adapter.rank)))  # type: ignore[arg-type]
            return f"{adapter.path} (rank {adapter.rank}) passes vLLM's LoRA checks"

        check("adapter", lora)


def generate(model_dir: Path, adapter: Adapter | None, max_tokens: int) -> None:
    """On a GPU: load the model in vLLM and generate `max_tokens` tokens, then again through the adapter."""
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    holder: dict[str, Any] = {}

    def load() -> str:
        holder["llm"] = LLM(
            model=str(model_dir),
            max_model_len=MAX_LEN,
            enforce_eager=True,
            gpu_memory_utilization=0.30,
            enable_lora=adapter is not None,
            max_lora_rank=lora_rank_bucket(adapter.rank) if adapter else 16,
            max_num_seqs=4,
        )
        return f"{model_dir} loaded on the GPU"

    check("load on GPU", load)
    llm = holder["llm"]
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)

    def run(request: Any, label: str) -> str:
        out = llm.generate([PROMPT], params, lora_request=request)
        got = out[0].outputs[0]
        if len(got.token_ids) != max_tokens:
            raise SmokeFailure(f"generate{label}: {len(got.token_ids)} tokens, expected {max_tokens}")
        return f"{len(got.token_ids)} tokens: {got.text!r}"

    check("generate", lambda: run(None, ""))
    if adapter is not None:
        request = LoRARequest(adapter.name, 1, adapter.path)
        check("generate with adapter", lambda: run(request, " with adapter"))


class StubServer:
    """A stub OpenAI-compatible server on 127.0.0.1 (a free port): /health, /v1/models, /v1/chat/completions.

    It records each chat request (body and Authorization header) in `requests`."""

    MODEL = "smoke-model"

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/health":
                    self.reply(200, {})
                elif self.path == "/v1/models":
                    self.reply(200, {"object": "list", "data": [{"id": stub.MODEL, "object": "model", "created": 0,
                                                                 "owned_by": "stub"}]})  # fmt: skip
                else:
                    self.reply(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if self.path != "/v1/chat/completions":
                    self.reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                stub.requests.append((body, self.headers.get("Authorization", "")))
                prompt = body["messages"][-1]["content"]
                self.reply(
                    200,
                    {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": f"stub reply to: {prompt}"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

        # bound (the port is known) but not listening until `with`: before that a connection is refused at once,
        # instead of waiting in the backlog to be answered later over a socket its client closed (a BrokenPipe
        # traceback in serve-smoke's output)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self.server.server_activate()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def client_checks() -> None:
    """serve-client against the stub server (each backend this environment has), and serve's health wait."""
    from serve import client

    def health() -> str:
        stub = StubServer()
        if client.wait_ready(stub.url, alive=lambda: False, timeout=0):
            raise SmokeFailure("health wait: ready before the server started")
        with stub:
            if not client.wait_ready(stub.url, alive=lambda: True, timeout=10, interval=0.1):
                raise SmokeFailure(f"health wait: {stub.url} never ready")
        return f"not ready before the stub listens, ready once {stub.url} answers /health"

    check("health wait", health)
    backends = ["openai", "urllib"] if client.have_openai() else ["urllib"]
    for backend in backends:

        def one(backend: str = backend) -> str:
            prompt = "what colour is the cat please"
            out, err = io.StringIO(), io.StringIO()
            old = os.environ.get("VLLM_API_KEY")
            os.environ["VLLM_API_KEY"] = "smoke-key"
            try:
                with StubServer() as stub, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = client.main(["--url", stub.url, "--backend", backend, "--timeout", "10", prompt])
            finally:
                if old is None:
                    os.environ.pop("VLLM_API_KEY", None)
                else:
                    os.environ["VLLM_API_KEY"] = old
            if code != 0:
                raise SmokeFailure(f"serve-client ({backend}): exit {code}: {err.getvalue().strip()}")
            if len(stub.requests) != 1:
                raise SmokeFailure(f"serve-client ({backend}): the stub got {len(stub.requests)} chat requests")
            body, auth = stub.requests[0]
            if body.get("model") != StubServer.MODEL or body.get("messages") != [{"role": "user", "content": prompt}]:
                raise SmokeFailure(f"serve-client ({backend}): unexpected request {body}")
            if auth != "Bearer smoke-key":
                raise SmokeFailure(f"serve-client ({backend}): Authorization {auth!r}, not the key from VLLM_API_KEY")
            if out.getvalue().strip() != f"stub reply to: {prompt}":
                raise SmokeFailure(f"serve-client ({backend}): printed {out.getvalue()!r}")
            return f"one chat request ({StubServer.MODEL} from /v1/models, key from VLLM_API_KEY), reply printed"

        check(f"serve-client ({backend}) against a stub server", one)


def build_parser() -> argparse.ArgumentParser:
    """The `serve-smoke` argument parser."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"train-smoke's --out (default {DEFAULT_WORK})")
    p.add_argument("--model-dir", type=Path, help="model to load (default WORK/model)")
    p.add_argument("--adapter-dir", type=Path, help="LoRA adapter (default WORK/adapter when it exists)")
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--require-gpu", action="store_true", help="fail instead of skipping generation (GPU runners)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `serve-smoke`."""
    args = build_parser().parse_args(argv)
    model_dir: Path = args.model_dir or args.work / "model"
    adapter_dir: Path | None = args.adapter_dir or (args.work / "adapter")
    if not (model_dir / "config.json").is_file():
        print(
            f"{PROG}: error: no model at {model_dir}: run `train-smoke --out {args.work}` first, or pass --model-dir",
            file=sys.stderr,
        )
        return 2
    if args.adapter_dir is None and not (adapter_dir / "adapter_config.json").is_file():
        adapter_dir = None
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = "1"  # the smoke never downloads
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process: simpler failures
    try:
        client_checks()
        adapter = read_adapter(f"smoke={adapter_dir}") if adapter_dir is not None else None
        cpu_checks(model_dir, adapter)
        import torch

        if torch.cuda.is_available():
            generate(model_dir, adapter, args.max_tokens)
            print(f"{PROG}: passed on {torch.cuda.get_device_name(0)}")
            return 0
    except SmokeFailure as e:
        print(f"{PROG}: failed: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # serve.config.UsageError from the adapter
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if args.require_gpu:
        print(f"{PROG}: failed: --require-gpu but torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 1
    print(f"{PROG}: passed the CPU checks; generation skipped: no GPU (torch {torch.__version__} sees no CUDA device)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
