"""Reasoning traces: what a thinking model wrote before its answer, taken off each LM call for the caller.

A thinking model returns its trace beside the answer (a chat completion's `reasoning_content`, which DSPy
keeps in the call's outputs, and litellm also fills from a `<think>` block it recognises) or inline, as a
`<think>...</think>` block before the answer in the text (a model served raw, reached by DSPy's own HTTP
client). `TraceCapture`, a DSPy callback on every LM `make_lm` builds, sees each call's outputs list: the very
list the LM call returns to the adapter, before the adapter parses it, and rebuilt from the cached response on
a cache hit (so a cached answer yields its trace again). It cuts an inline block off the text, so the adapter
parses only the answer, and hands the call's trace to the innermost `collect_traces()` block open in the
calling context, if any:

    with collect_traces() as traces:
        prediction = module(**inputs)   # LM calls made under it, in this thread or task
    trace = join_traces(traces)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from dspy.utils.callback import BaseCallback

_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)
_OPEN = re.compile(r"<think>", re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)

_collector: ContextVar[list[str] | None] = ContextVar("nanoflux_reasoning_traces", default=None)


def split_thinking(text: str) -> tuple[str, str]:
    """(trace, answer) of a completion's text: the `<think>...</think>` blocks it opens with (any case, nested
    ones inside their outer block) are the trace and the rest the answer; a block max_tokens cut before its
    `</think>` is all trace, with an empty answer. A model whose chat template opens the block in the prompt
    writes only its end: the text before a `</think>` is the trace, unless the text opens as the adapter's
    JSON answer does (a `</think>` quoted in an answer is not a trace's end). Text without a block is all
    answer."""
    rest = text.lstrip()
    if _OPEN.match(rest):
        traces = []
        while opened := _OPEN.match(rest):
            end = _block_end(rest)
            if end is None:
                return join_traces([*traces, rest[opened.end():].strip()]), ""
            traces.append(rest[opened.end():end.start()].strip())
            rest = rest[end.end():].lstrip()
        return join_traces(traces), rest.strip()
    closed = _CLOSE.search(text)
    if closed and not _OPEN.search(text, 0, closed.start()) and not rest.startswith(("{", "```")):
        return text[:closed.start()].strip(), text[closed.end():].strip()
    return "", text


def _block_end(text: str) -> re.Match[str] | None:
    """The `</think>` that closes the block `text` opens with: the one that balances it, or, where the block's
    own text opens more than it closes, the last; None when nothing closes it."""
    depth, last = 0, None
    for tag in _TAG.finditer(text):
        if tag.group(1):
            depth, last = depth - 1, tag
            if depth == 0:
                return tag
        else:
            depth += 1
    return last


def take_trace(outputs: list[Any]) -> str:
    """The reasoning trace of one LM call's outputs (`reasoning_content` and any inline block, each output's in
    turn), cutting inline blocks off the outputs' text in place so that what is left is the answer."""
    traces = []
    for index, output in enumerate(outputs):
        text = output.get("text") if isinstance(output, dict) else output
        if isinstance(output, dict) and (field := str(output.get("reasoning_content") or "").strip()):
            traces.append(field)
        if not isinstance(text, str):
            continue
        inline, answer = split_thinking(text)
        if inline or answer != text:
            if isinstance(output, dict):
                output["text"] = answer
            else:
                outputs[index] = answer
            traces.append(inline)
    return join_traces(traces)


def join_traces(traces: list[str]) -> str:
    """The traces of several calls (an agent's steps) as one text, in order, empty ones left out."""
    return "\n\n".join(trace for trace in traces if trace)


@contextmanager
def collect_traces() -> Iterator[list[str]]:
    """Collect the trace of every LM call made in this context while the block runs (one entry a call that
    returned one); an inner block collects its own calls instead."""
    traces: list[str] = []
    token = _collector.set(traces)
    try:
        yield traces
    finally:
        _collector.reset(token)


class TraceCapture(BaseCallback):
    """Takes each call's trace off its outputs (`take_trace`) and gives it to the open `collect_traces()`.

    DSPy runs an LM's end callbacks in the calling thread and context, after the call returned and before
    the adapter parses what it returned. It logs and swallows a callback's exception, which would leave an
    inline block in the text for the adapter to fail on: nothing here raises on the outputs' shapes.
    """

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        if exception is not None or not isinstance(outputs, list):
            return  # a failed call, or an explicit lm15 Request's Response (NanoFlux sends none)
        trace = take_trace(outputs)
        collector = _collector.get()
        if trace and collector is not None:
            collector.append(trace)
