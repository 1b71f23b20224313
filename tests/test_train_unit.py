# ruff: noqa: E402  (the member sources go on sys.path before they are imported)
"""Pure parts of the train and serve members: dataset parsing, arguments, precision defaults, vLLM command lines.

The root environment has neither torch nor vllm, so importing these modules here also proves they stay importable
without them (the heavy imports live inside functions).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for src in (ROOT / "workspaces/train/src", ROOT / "workspaces/serve/src"):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

from serve import cli as serve_cli
from serve.config import (
    Adapter,
    ServeConfig,
    adapter_from_config,
    lora_rank_bucket,
    pick_model,
    split_lora_arg,
    split_passthrough,
    vllm_argv,
)
from serve.config import UsageError as ServeUsageError
from train import cli as train_cli
from train.config import TrainConfig, UsageError, model_source, parse_train_args, precision
from train.dataset import DatasetError, Message, parse_jsonl, read_dataset, render, to_jsonl
from train.lora import TrainingError, TrainResult, check_result


def test_heavy_libraries_not_imported() -> None:
    for heavy in ("torch", "unsloth", "trl", "transformers", "vllm"):
        assert heavy not in sys.modules, f"{heavy} imported at module level"


# --- dataset ---------------------------------------------------------------------------------------------------------


def test_plain_text_dataset() -> None:
    ds = parse_jsonl('{"text": "hello world"}\n\n{"text": "second"}\n', "d.jsonl")
    assert ds.kind == "text"
    assert [(e.line, e.text) for e in ds.examples] == [(1, "hello world"), (3, "second")]


def test_chat_dataset() -> None:
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    ds = parse_jsonl(json.dumps(row) + "\n", "d.jsonl")
    assert ds.kind == "messages"
    assert ds.examples[0].messages == (Message("user", "hi"), Message("assistant", "hello"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"text": "a"}\n{"text": ', "d.jsonl:2: not valid JSON"),
        ("[1, 2]\n", 'd.jsonl:1: expected a JSON object with "text" or "messages", got an array'),
        ('{"prompt": "x"}\n', 'd.jsonl:1: expected a "text" or "messages" key (keys here: prompt)'),
        ('{"text": 3}\n', 'd.jsonl:1: "text" must be a string, got a number'),
        ('{"text": "  "}\n', 'd.jsonl:1: "text" is empty'),
        ('{"text": "a", "messages": []}\n', 'd.jsonl:1: has both "text" and "messages"; keep one per line'),
        ('{"messages": []}\n', 'd.jsonl:1: "messages" must be a non-empty array of turns, got an array'),
        ('{"messages": [{"role": "bot", "content": "x"}]}\n', "d.jsonl:1: messages[0].role must be one of"),
        ('{"messages": [{"role": "user", "content": null}]}\n', "d.jsonl:1: messages[0].content must be a string"),
        ('{"messages": [{"role": "user", "content": "q"}]}\n', "d.jsonl:1: conversation has no assistant turn"),
        (
            '{"text": "a"}\n{"messages": [{"role": "assistant", "content": "x"}]}\n',
            'd.jsonl:2: is "messages" but line 1 is "text"; use one kind per file',
        ),
        ("\n\n", "d.jsonl: has no examples"),
    ],
)
def test_bad_dataset_lines_give_one_line_errors(content: str, expected: str) -> None:
    with pytest.raises(DatasetError) as err:
        parse_jsonl(content, "d.jsonl")
    message = str(err.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_read_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"missing\.jsonl: not found$"):
        read_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(DatasetError, match="is a directory"):
        read_dataset(tmp_path)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match=r"latin1\.jsonl:2: is not UTF-8 text"):
        read_dataset(bad)


def test_read_dataset_accepts_bom_and_roundtrips_to_jsonl(tmp_path: Path) -> None:
    rows = [{"text": "grüße"}, {"text": "two"}]
    f = tmp_path / "d.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + to_jsonl(rows).encode("utf-8"))
    assert [e.text for e in read_dataset(f).examples] == ["grüße", "two"]


def test_render_uses_the_template_and_names_the_failing_line() -> None:
    chats = [
        {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]},
        {"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a2"}]},
    ]
    ds = parse_jsonl(to_jsonl(chats), "c.jsonl")

    def template(turns: list[dict[str, str]]) -> str:
        if turns[0]["role"] == "system":
            raise ValueError("System role not supported\nmore detail")
        return "|".join(f"{t['role']}:{t['content']}" for t in turns)

    with pytest.raises(
        DatasetError, match="^c.jsonl:2: the model's chat template rejected it: System role not supported$"
    ):
        render(ds, template)
    assert render(parse_jsonl(to_jsonl(chats[:1]), "c.jsonl"), template) == ["user:q1|assistant:a1"]
    with pytest.raises(DatasetError, match="has no chat template"):
        render(ds, None)
    text = parse_jsonl('{"text": "plain"}\n', "t.jsonl")
    assert render(text, None) == ["plain"]


# --- train arguments and defaults ------------------------------------------------------------------------------------


def test_train_defaults() -> None:
    c = parse_train_args(["--model", "m", "--dataset", "d.jsonl", "--output", "out"])
    assert (c.max_steps, c.lora_r, c.learning_rate, c.load_in_4bit, c.bf16) == (60, 16, 2e-4, "auto", "auto")
    assert c.dataset == Path("d.jsonl") and c.progress is True


@pytest.mark.parametrize(
    "bad", [["--max-steps", "0"], ["--max-steps", "x"], ["--lora-dropout", "1"], ["--bf16", "yes"]]
)
def test_train_bad_arguments_exit_2(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_train_args(["--model", "m", "--dataset", "d", "--output", "o", *bad])
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("cuda", "bf16_ok", "four", "bf16", "expected"),
    [
        (True, True, "auto", "auto", (True, True, False)),  # H100/A100/L4: QLoRA in bf16
        (True, False, "auto", "auto", (True, False, True)),  # T4: QLoRA in fp16
        (False, True, "auto", "auto", (False, True, False)),  # CPU with AMX/AVX512-BF16
        (False, False, "auto", "auto", (False, False, False)),  # plain CPU: fp32
        (True, True, "off", "off", (False, False, True)),  # forced 16-bit weights, fp16 compute
        (False, True, "on", "auto", (True, True, False)),  # asked for: Unsloth's CPU path falls back itself
    ],
)
def test_precision_defaults(cuda: bool, bf16_ok: bool, four: str, bf16: str, expected: tuple[bool, bool, bool]) -> None:
    c = TrainConfig(model="m", dataset=Path("d"), output=Path("o"), load_in_4bit=four, bf16=bf16)  # type: ignore[arg-type]
    p = precision(c, cuda=cuda, bf16_supported=bf16_ok)
    assert (p.load_in_4bit, p.bf16, p.fp16) == expected


def test_precision_refuses_forced_bf16_without_support() -> None:
    c = TrainConfig(model="m", dataset=Path("d"), output=Path("o"), bf16="on")
    with pytest.raises(UsageError, match="no bfloat16 support"):
        precision(c, cuda=True, bf16_supported=False)


@pytest.mark.parametrize(
    ("model", "exists", "expected"),
    [("/models/x", True, "local"), ("unsloth/Llama-3.2-1B", False, "hub"), ("gpt2", False, "hub")],
)
def test_model_source(model: str, exists: bool, expected: str) -> None:
    assert model_source(model, exists) == expected


@pytest.mark.parametrize("model", ["./missing", "/abs/missing", "a/b/c", "~/m", "has space/x"])
def test_model_source_rejects_missing_paths(model: str) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        model_source(model, False)


def _result(losses: tuple[float, ...], steps: int = 3) -> TrainResult:
    from train.config import Precision

    return TrainResult(Path("o"), steps, losses, "cpu", Precision(False, True, False), 4, 1.0)


def test_check_result() -> None:
    check_result(_result((3.0, 2.5, 2.0)))
    with pytest.raises(TrainingError, match="loss became nan at logged step 2"):
        check_result(_result((3.0, math.nan, 2.0)))
    with pytest.raises(TrainingError, match="without a logged step"):
        check_result(_result((), steps=0))


def test_train_lora_bad_dataset_exits_2_before_any_heavy_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "ok"}\n{"txt": "typo"}\n', encoding="utf-8")
    code = train_cli.main(["--model", str(tmp_path), "--dataset", str(data), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == f'train-lora: error: {data}:2: expected a "text" or "messages" key (keys here: txt)'
    assert "torch" not in sys.modules


def test_train_lora_missing_model_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = train_cli.main(["--model", "./no-such-model", "--dataset", "d.jsonl", "--output", str(tmp_path)])
    assert code == 2
    assert "train-lora: error: model './no-such-model': no such directory" in capsys.readouterr().err


# --- serve -----------------------------------------------------------------------------------------------------------

LORA_CONFIG = {"peft_type": "LORA", "r": 8, "bias": "none", "base_model_name_or_path": "/models/tiny"}


def test_split_lora_arg() -> None:
    assert split_lora_arg("chat=/a/b") == ("chat", "/a/b")
    assert split_lora_arg("/runs/adapter-7/") == ("adapter-7", "/runs/adapter-7/")
    with pytest.raises(ServeUsageError, match="adapter name 'a b'"):
        split_lora_arg("a b=/x")
    with pytest.raises(ServeUsageError, match="no adapter path"):
        split_lora_arg("name=")


def test_adapter_from_config() -> None:
    a = adapter_from_config("chat", "/a", {**LORA_CONFIG, "rank_pattern": {"q_proj": 32}})
    assert a == Adapter("chat", "/a", 32, "/models/tiny")
    with pytest.raises(ServeUsageError, match="peft_type is 'IA3'"):
        adapter_from_config("x", "/a", {**LORA_CONFIG, "peft_type": "IA3"})
    with pytest.raises(ServeUsageError, match="bias is 'all'"):
        adapter_from_config("x", "/a", {**LORA_CONFIG, "bias": "all"})
    with pytest.raises(ServeUsageError, match="modules_to_save"):
        adapter_from_config("x", "/a", {**LORA_CONFIG, "modules_to_save": ["lm_head"]})
    with pytest.raises(ServeUsageError, match="r \\(the LoRA rank\\) is 0"):
        adapter_from_config("x", "/a", {**LORA_CONFIG, "r": 0})


@pytest.mark.parametrize(("rank", "bucket"), [(1, 1), (2, 8), (8, 8), (9, 16), (64, 64), (300, 320), (512, 512)])
def test_lora_rank_bucket(rank: int, bucket: int) -> None:
    assert lora_rank_bucket(rank) == bucket


def test_lora_rank_bucket_too_big() -> None:
    with pytest.raises(ServeUsageError, match="above vLLM's largest"):
        lora_rank_bucket(513)


def test_pick_model() -> None:
    a = Adapter("a", "/a", 8, "/base")
    b = Adapter("b", "/b", 8, "/other")
    assert pick_model("explicit", [a, b]) == "explicit"
    assert pick_model(None, [a]) == "/base"
    with pytest.raises(ServeUsageError, match="different base models"):
        pick_model(None, [a, b])
    with pytest.raises(ServeUsageError, match="no model"):
        pick_model(None, [])


def test_vllm_argv_one_gpu_defaults_with_adapters() -> None:
    config = ServeConfig(
        model="/base",
        adapters=(Adapter("a", "/a", 8, None), Adapter("b", "/b", 24, None)),
        max_model_len=4096,
        extra=("--seed", "1"),
    )
    assert vllm_argv(config) == [
        "serve", "/base",
        "--host", "127.0.0.1", "--port", "8000",
        "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.9",
        "--max-model-len", "4096",
        "--enable-lora", "--max-loras", "2", "--max-lora-rank", "32", "--lora-modules", "a=/a", "b=/b",
        "--seed", "1",
    ]  # fmt: skip


def test_vllm_argv_without_adapters_has_no_lora_flags() -> None:
    argv = vllm_argv(ServeConfig(model="org/m", port=9000, gpu_memory_utilization=0.5))
    assert argv == ["serve", "org/m", "--host", "127.0.0.1", "--port", "9000", "--tensor-parallel-size", "1",
                    "--gpu-memory-utilization", "0.5"]  # fmt: skip


def test_split_passthrough() -> None:
    assert split_passthrough(["--model", "m", "--", "--seed", "3"]) == (["--model", "m"], ("--seed", "3"))
    assert split_passthrough(["--model", "m"]) == (["--model", "m"], ())


def test_serve_dry_run_reads_the_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter = tmp_path / "run1"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({**LORA_CONFIG, "r": 16}), encoding="utf-8")
    monkeypatch.setattr(serve_cli, "vllm_program", lambda: ["/env/bin/vllm"])
    assert serve_cli.main(["--lora", str(adapter), "--dry-run", "--", "--seed", "7"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        "/env/bin/vllm serve /models/tiny --host 127.0.0.1 --port 8000 --tensor-parallel-size 1 "
        f"--gpu-memory-utilization 0.9 --enable-lora --max-loras 1 --max-lora-rank 16 --lora-modules run1={adapter} "
        "--seed 7"
    )


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        ("none", ["--lora", "x={dir}/missing"], "is not a directory"),
        ("empty", ["--lora", "x={dir}/a"], "adapter_config.json not found"),
        ("garbage", ["--lora", "x={dir}/a"], "cannot be read as JSON"),
        ("ok", ["--lora", "x={dir}/a", "--lora", "x={dir}/a"], "given twice"),
    ],
)
def test_serve_bad_adapters_exit_2(
    tmp_path: Path, setup: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a"
    if setup != "none":
        a.mkdir()
    if setup == "garbage":
        (a / "adapter_config.json").write_text("{not json", encoding="utf-8")
    if setup == "ok":
        (a / "adapter_config.json").write_text(json.dumps(LORA_CONFIG), encoding="utf-8")
    code = serve_cli.main([x.format(dir=tmp_path) for x in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1


# --- issue 17: response-only loss, eval split, checkpoints, exports, config file, help defaults ---------------------

from train.config import TARGET_MODULES, build_parser, config_file_args
from train.dataset import render_responses
from train.lora import latest_checkpoint, preflight, split_eval

CHAT = (
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},'
    ' {"role": "user", "content": "bye"}, {"role": "assistant", "content": "see you"}]}\n'
)


def toy_template(turns: list[dict[str, str]], generation: bool) -> str:
    text = "".join(f"<{t['role']}>{t['content']}</s>" for t in turns)
    return text + ("<assistant>" if generation else "")


def test_render_responses_gives_one_pair_per_assistant_turn_with_context_in_the_prompt() -> None:
    pairs = render_responses(parse_jsonl(CHAT, "d.jsonl"), toy_template)
    assert pairs == [
        ("<user>hi</s><assistant>", "hello</s>"),
        ("<user>hi</s><assistant>hello</s><user>bye</s><assistant>", "see you</s>"),
    ]


def test_render_responses_rejects_a_template_that_is_not_prefix_stable() -> None:
    def unstable(turns: list[dict[str, str]], generation: bool) -> str:
        return ("[last]" if not generation else "") + toy_template(turns, generation)

    with pytest.raises(DatasetError, match=r"d\.jsonl:1: .*--loss all"):
        render_responses(parse_jsonl(CHAT, "d.jsonl"), unstable)


def test_render_responses_refuses_plain_text() -> None:
    with pytest.raises(DatasetError, match="plain text"):
        render_responses(parse_jsonl('{"text": "x"}\n', "d.jsonl"), toy_template)


@pytest.mark.parametrize(
    ("loss", "kind", "expected"),
    [("auto", "messages", True), ("auto", "text", False), ("all", "messages", False), ("responses", "messages", True)],
)
def test_responses_only_is_the_default_for_chat_data(loss: str, kind: str, expected: bool) -> None:
    config = TrainConfig(model="m", dataset=Path("d"), output=Path("o"), loss=loss)  # type: ignore[arg-type]
    assert config.responses_only(kind) is expected


def test_split_eval_holds_out_a_seeded_share_and_keeps_every_item_once() -> None:
    items = list(range(20))
    train, held = split_eval(items, 0.1, seed=1)
    assert len(held) == 2 and sorted(train + held) == items
    assert split_eval(items, 0.1, seed=1) == (train, held)
    assert split_eval(items, 0.0, seed=1) == (items, [])
    assert split_eval([7], 0.5, seed=1) == ([7], [])
    assert len(split_eval(list(range(3)), 0.01, seed=1)[1]) == 1  # at least one when asked for any


def test_latest_checkpoint_is_the_highest_step_not_the_last_in_name_order(tmp_path: Path) -> None:
    for n in (2, 10, 4):
        (tmp_path / f"checkpoint-{n}").mkdir()
    (tmp_path / "checkpoint-x").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert latest_checkpoint(tmp_path / "missing") is None


def cfg(tmp_path: Path, **kw: object) -> TrainConfig:
    return TrainConfig(model="m", dataset=Path("d"), output=tmp_path / "out", **kw)  # type: ignore[arg-type]


def test_preflight_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no checkpoint-N directory"):
        preflight(cfg(tmp_path, resume="latest"), env={})
    with pytest.raises(UsageError, match="not a checkpoint directory"):
        preflight(cfg(tmp_path, resume=str(tmp_path)), env={})
    ckpt = tmp_path / "out" / "checkpoints" / "checkpoint-3"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text("{}")
    assert preflight(cfg(tmp_path, resume="latest"), env={}) == ckpt
    assert preflight(cfg(tmp_path), env={}) is None


def test_preflight_gguf_without_llama_cpp_stops_before_training(tmp_path: Path) -> None:
    env = {"UNSLOTH_LLAMA_CPP_PATH": str(tmp_path / "llama.cpp"), "HOME": str(tmp_path)}
    with pytest.raises(UsageError, match=r"--save gguf needs a built llama.cpp in .*llama\.cpp.*before training"):
        preflight(cfg(tmp_path, save=("gguf",)), env=env)
    preflight(cfg(tmp_path, save=("merged16",)), env=env)  # merged16 needs nothing extra
    llama = tmp_path / "llama.cpp"
    llama.mkdir()
    (llama / "convert_hf_to_gguf.py").write_text("")
    quantize = llama / "llama-quantize"
    quantize.write_text("#!/bin/sh\n")
    quantize.chmod(0o755)
    assert preflight(cfg(tmp_path, save=("gguf",)), env=env) is None


def test_preflight_push_to_hub_needs_a_token_and_the_network(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="HF_TOKEN"):
        preflight(cfg(tmp_path, push_to_hub="me/model"), env={})
    with pytest.raises(UsageError, match="offline"):
        preflight(cfg(tmp_path, push_to_hub="me/model", local_files_only=True), env={"HF_TOKEN": "t"})
    assert preflight(cfg(tmp_path, push_to_hub="me/model"), env={"HF_TOKEN": "t"}) is None


BASE = ["--model", "m", "--dataset", "d.jsonl", "--output", "out"]


def test_new_flags_parse_and_default() -> None:
    c = parse_train_args(BASE)
    assert (c.max_steps, c.epochs, c.loss, c.eval_fraction, c.resume, c.save, c.push_to_hub) == (
        60,
        None,
        "auto",
        0.1,
        None,
        (),
        None,
    )
    assert c.target_modules == TARGET_MODULES
    c = parse_train_args(
        [*BASE, "--epochs", "2", "--loss", "all", "--resume", "--save", "merged16", "--save", "gguf", "--save",
         "merged16", "--target-modules", "q_proj, v_proj", "--eval-fraction", "0"]
    )  # fmt: skip
    assert (c.epochs, c.loss, c.resume, c.save, c.target_modules, c.eval_fraction) == (
        2.0,
        "all",
        "latest",
        ("merged16", "gguf"),
        ("q_proj", "v_proj"),
        0.0,
    )
    assert parse_train_args([*BASE, "--resume", "out/checkpoints/checkpoint-4"]).resume.endswith("checkpoint-4")


def test_epochs_and_max_steps_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_train_args([*BASE, "--epochs", "1", "--max-steps", "5"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_help_shows_every_default() -> None:
    options = build_parser().format_help().split("\noptions:\n", 1)[1]
    # one entry per option: the text from its "  --flag" line to the next option's
    entries = {m.group(1): m.group(0) for m in re.finditer(r"^  (--[a-z0-9-]+)[^\n]*(?:\n {6,}[^\n]*)*", options, re.M)}
    expected = {"--max-steps": "60", "--lora-r": "16", "--learning-rate": "0.0002", "--eval-fraction": "0.1",
                "--save-steps": "50", "--loss": "auto", "--gguf-quantization": "q8_0", "--seed": "3407",
                "--max-seq-length": "2048"}  # fmt: skip
    for flag, default in expected.items():
        assert f"(default: {default})" in " ".join(entries[flag].split()), flag


def test_config_file_equals_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text(
        'model = "m"\ndataset = "d.jsonl"\noutput = "out"\nlora-r = 32\nlearning_rate = 1e-4\nsave = ["merged16"]\n'
        'local-files-only = true\nbf16 = false\ntarget-modules = ["q_proj", "k_proj"]\nepochs = 3\nprogress = false\n'
    )
    from_file = parse_train_args(["--config", str(path)])
    from_flags = parse_train_args(
        [*BASE, "--lora-r", "32", "--learning-rate", "1e-4", "--save", "merged16", "--local-files-only", "--bf16",
         "off", "--target-modules", "q_proj,k_proj", "--epochs", "3", "--no-progress"]
    )  # fmt: skip
    assert from_file == from_flags
    # the command line wins over the file
    assert parse_train_args(["--config", str(path), "--lora-r", "8"]).lora_r == 8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("lora_rank = 3\n", "unknown key 'lora_rank'"),
        ("local-files-only = 1\n", "key 'local-files-only' must be true or false"),
        ("model = [1, 2]\n", "key 'model' must be a string or a number"),
        ("lora-r = \n", "not valid TOML"),
    ],
)
def test_config_file_mistakes_name_the_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(UsageError, match=f"--config {path}: .*{message}" if "TOML" in message else message):
        config_file_args(path, build_parser())


def test_train_lora_bad_config_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_cli.main(["--config", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"train-lora: error: --config {tmp_path / 'missing.toml'}: not found"]


def test_sample_dataset_and_example_config_are_valid() -> None:
    data = ROOT / "workspaces/train/data"
    dataset = read_dataset(data / "sample.jsonl")
    assert dataset.kind == "messages" and 20 <= len(dataset) <= 50
    assert "CC0" in (data / "README.md").read_text(encoding="utf-8")
    pairs = render_responses(dataset, toy_template)
    assert len(pairs) == len(dataset) + 1  # one conversation has two assistant turns
    config = parse_train_args(["--config", str(data / "train.example.toml")])
    assert config.dataset == Path("workspaces/train/data/sample.jsonl") and config.save == ("merged16",)


# --- issue 17: serve's tensor parallelism, ready URL and health wait; serve-client against a stub server ----------

from serve import client as serve_client
from serve.smoke import StubServer


def test_tensor_parallel_size_reaches_vllm_and_defaults_to_one() -> None:
    default = vllm_argv(ServeConfig(model="m"))
    assert default[default.index("--tensor-parallel-size") + 1] == "1"
    config, dry_run, timeout = serve_cli.config_from_argv(
        ["--model", "m", "--tensor-parallel-size", "4", "--max-model-len", "4096", "--gpu-memory-utilization", "0.8"]
    )
    argv = vllm_argv(config)
    assert argv[argv.index("--tensor-parallel-size") + 1] == "4"
    assert argv[argv.index("--max-model-len") + 1] == "4096"
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.8"
    assert (dry_run, timeout) == (False, 900)


def test_serve_help_shows_defaults() -> None:
    from serve.config import build_parser as serve_parser

    text = " ".join(serve_parser().format_help().split())
    for piece in ("(default: 1)", "(default: 0.9)", "(default: 8000)", "(default: 127.0.0.1)", "(default: 900)"):
        assert piece in text


@pytest.mark.parametrize("which", ["train-lora", "serve", "serve-client"])
def test_help_shows_no_empty_defaults(which: str) -> None:
    # newcomer trial: `serve --help` said "(default: the base model of the --lora adapters) (default: None)", and
    # train-lora's required --model "(default: None)"
    from serve.client import build_parser as client_parser
    from serve.config import build_parser as serve_parser
    from train.config import build_parser as train_parser

    parser = {"train-lora": train_parser, "serve": serve_parser, "serve-client": client_parser}[which]()
    text = " ".join(parser.format_help().split())
    for empty in ("(default: None)", "(default: False)", "(default: [])"):
        assert empty not in text
    assert text.count("(default:") >= 3  # the real defaults are still shown
    assert "(default: the base model of the --lora adapters)" in text or which != "serve"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/v1"),
        ("0.0.0.0", "http://127.0.0.1:8000/v1"),
        ("::1", "http://[::1]:8000/v1"),
    ],
)
def test_ready_url(host: str, url: str) -> None:
    assert serve_cli.ready_url(ServeConfig(model="m", host=host)) == url


def test_wait_ready_gives_up_when_the_server_dies_or_time_runs_out() -> None:
    url = "http://127.0.0.1:9/v1"  # the discard port: nothing answers
    assert serve_client.wait_ready(url, alive=lambda: False, timeout=60, sleep=lambda s: None) is False
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert serve_client.wait_ready(url, alive=lambda: True, timeout=5, clock=lambda: now[0], sleep=sleep) is False
    assert now[0] >= 5


def test_wait_ready_sees_a_live_server() -> None:
    with StubServer() as stub:
        assert serve_client.wait_ready(stub.url, alive=lambda: True, timeout=5, interval=0.05)


def test_stub_server_refuses_connections_until_it_serves() -> None:
    # newcomer trial: serve-smoke printed a BrokenPipeError traceback - the stub listened from its constructor, so the
    # health check's "not ready yet" probe waited in the backlog and was answered later over a closed socket
    import socket
    import time

    stub = StubServer()
    port = int(stub.url.split(":")[-1].split("/")[0])
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        start = time.monotonic()
        assert serve_client.health_ok(stub.url, timeout=5) is False
        assert time.monotonic() - start < 2  # refused at once, not a timeout
        with stub:
            assert serve_client.health_ok(stub.url, timeout=5) is True
    finally:
        stub.server.server_close()


def test_serve_client_urllib_sends_one_chat_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "k")
    with StubServer() as stub:
        assert serve_client.main(["--url", stub.url, "--backend", "urllib", "--model", "lora1", "hi there"]) == 0
    assert stub.requests == [
        ({"model": "lora1", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 64}, "Bearer k")
    ]
    assert capsys.readouterr().out == "stub reply to: hi there\n"


def test_serve_client_without_a_server_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    stub = StubServer()  # bound but never serving, then closed: the port refuses
    url = stub.url
    stub.server.server_close()
    assert serve_client.main(["--url", url, "--backend", "urllib", "--timeout", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"serve-client: failed: {url}/models:")


def test_serve_client_reports_http_errors() -> None:
    with StubServer() as stub, pytest.raises(serve_client.ClientError, match="HTTP 404"):
        serve_client._request(stub.url + "/nope", "k", None, 5)


def test_bitsandbytes_pip_install_kernels_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    # newcomer trial: train-smoke on CPU printed bitsandbytes 0.50.2's "Please make sure you already `pip install
    # kernels`" (bitsandbytes/backends/cpu/ops.py) - advice to pip install into a locked environment, for a 4-bit CPU
    # kernel train-lora never uses. The text below is bitsandbytes 0.50.2's, as it logs it.
    import logging

    from train.lora import quiet_bnb_cpu_kernel_warning

    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    quiet_bnb_cpu_kernel_warning()
    quiet_bnb_cpu_kernel_warning()  # idempotent: one filter
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING):
        logger.warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already "
            "`pip install kernels` and the kernels >= 0.11.1",
            ModuleNotFoundError("No module named 'kernels'"),
        )
        logger.warning("some other bitsandbytes warning")
    logger.filters.clear()
    assert [r.getMessage() for r in caplog.records] == ["some other bitsandbytes warning"]
