"""JSONL training data: parse, validate, render. Pure except `read_dataset`, which reads the file.

One example per line, all lines of one kind:

- plain text: ``{"text": "..."}``
- chat: ``{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}``,
  rendered with the model's own chat template before training.

Every mistake is reported as one line naming the file and the line number (``data.jsonl:3: ...``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROLES = ("system", "user", "assistant", "tool")
Kind = Literal["text", "messages"]


class DatasetError(ValueError):
    """A dataset file is missing or malformed. `str(e)` is one line: ``FILE:LINE: message``."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """One training example: plain text, or a conversation (exactly one of the two is set)."""

    line: int
    text: str | None = None
    messages: tuple[Message, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """A parsed dataset file: its examples, all of one kind."""

    file: str
    kind: Kind
    examples: tuple[Example, ...]

    def __len__(self) -> int:
        return len(self.examples)


def _describe(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _parse_messages(raw: Any, file: str, line: int) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise DatasetError(file, line, f'"messages" must be a non-empty array of turns, got {_describe(raw)}')
    out = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise DatasetError(file, line, f"messages[{i}] must be an object with role and content")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise DatasetError(file, line, f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise DatasetError(file, line, f"messages[{i}].content must be a string, got {_describe(content)}")
        out.append(Message(role, content))
    if not any(m.role == "assistant" for m in out):
        raise DatasetError(file, line, "conversation has no assistant turn: there is nothing to learn from it")
    return tuple(out)


def parse_example(raw_line: str, file: str, line: int) -> Example:
    """Parse one JSONL line into an Example; raise DatasetError naming the line."""
    try:
        obj = json.loads(raw_line)
    except json.JSONDecodeError as e:
        raise DatasetError(file, line, f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise DatasetError(file, line, f'expected a JSON object with "text" or "messages", got {_describe(obj)}')
    has_text, has_messages = "text" in obj, "messages" in obj
    if has_text and has_messages:
        raise DatasetError(file, line, 'has both "text" and "messages"; keep one per line')
    if has_text:
        text = obj["text"]
        if not isinstance(text, str):
            raise DatasetError(file, line, f'"text" must be a string, got {_describe(text)}')
        if not text.strip():
            raise DatasetError(file, line, '"text" is empty')
        return Example(line=line, text=text)
    if has_messages:
        return Example(line=line, messages=_parse_messages(obj["messages"], file, line))
    keys = ", ".join(sorted(obj)) or "none"
    raise DatasetError(file, line, f'expected a "text" or "messages" key (keys here: {keys})')


def parse_jsonl(content: str, file: str) -> Dataset:
    """Parse a whole JSONL file's text. Blank lines are skipped; all examples must be of one kind."""
    examples: list[Example] = []
    kind: Kind | None = None
    first_line = 0
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        ex = parse_example(raw, file, number)
        this: Kind = "text" if ex.text is not None else "messages"
        if kind is None:
            kind, first_line = this, number
        elif this != kind:
            raise DatasetError(file, number, f'is "{this}" but line {first_line} is "{kind}"; use one kind per file')
        examples.append(ex)
    if kind is None:
        raise DatasetError(file, None, "has no examples (expected one JSON object per line)")
    return Dataset(file=file, kind=kind, examples=tuple(examples))


def read_dataset(path: Path) -> Dataset:
    """Read and parse a JSONL dataset file (the I/O edge of this module)."""
    name = str(path)
    if path.is_dir():
        raise DatasetError(name, None, "is a directory; pass a .jsonl file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(name, None, "not found") from None
    except OSError as e:
        raise DatasetError(name, None, f"cannot be read ({e.strerror})") from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DatasetError(name, line, "is not UTF-8 text") from None
    return parse_jsonl(content, name)


def render(dataset: Dataset, apply_template: Callable[[list[dict[str, str]]], str] | None) -> list[str]:
    """The training texts: plain text as is, conversations through `apply_template` (the model's chat template).

    `apply_template` gets one conversation as ``[{"role": ..., "content": ...}, ...]`` and returns its text;
    it may be None for a plain-text dataset. Raises DatasetError naming the line when a conversation cannot be
    rendered (the template rejects it, or renders it to nothing).
    """
    if dataset.kind == "text":
        return [ex.text for ex in dataset.examples if ex.text is not None]
    if apply_template is None:
        raise DatasetError(dataset.file, None, "holds chat messages but the model has no chat template")
    out = []
    for ex in dataset.examples:
        turns = [{"role": m.role, "content": m.content} for m in ex.messages or ()]
        try:
            text = apply_template(turns)
        except Exception as e:  # templates raise jinja2 TemplateError, ValueError, ... for unsupported turns
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DatasetError(dataset.file, ex.line, f"the model's chat template rejected it: {first}") from None
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(dataset.file, ex.line, "the model's chat template rendered it to nothing")
        out.append(text)
    return out


def to_jsonl(rows: Sequence[dict[str, Any]]) -> str:
    """Serialise rows as JSONL (one object per line, UTF-8 kept readable)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def render_responses(
    dataset: Dataset, apply_template: Callable[[list[dict[str, str]], bool], str]
) -> list[tuple[str, str]]:
    """(prompt, completion) pairs for loss on the assistant responses only: one pair per assistant turn.

    `apply_template(turns, add_generation_prompt)` renders turns with the model's chat template. The prompt is
    the conversation before the assistant turn, rendered with the generation prompt; the completion is what the
    full render adds after it (the response and the template's end-of-turn). TRL then masks the prompt out of the
    loss (`completion_only_loss`), so earlier turns are context, never targets. Raises DatasetError naming the line
    when the template does not render a conversation's beginning as a prefix of the whole (then use --loss all).
    """
    if dataset.kind != "messages":
        raise DatasetError(dataset.file, None, "holds plain text: loss on responses needs chat messages")
    out = []
    for ex in dataset.examples:
        turns = [{"role": m.role, "content": m.content} for m in ex.messages or ()]
        for i, turn in enumerate(turns):
            if turn["role"] != "assistant":
                continue
            try:
                prompt = apply_template(turns[:i], True) if i else ""
                full = apply_template(turns[: i + 1], False)
            except Exception as e:  # as in render: the template's own errors
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise DatasetError(dataset.file, ex.line, f"the model's chat template rejected it: {first}") from None
            if not full.startswith(prompt) or not full[len(prompt) :].strip():
                raise DatasetError(
                    dataset.file,
                    ex.line,
                    f"the chat template does not render turn {i} as a continuation of the turns before it; "
                    "use --loss all",
                )
            out.append((prompt, full[len(prompt) :]))
    return out
