"""Verifiable rewards for TRL's GRPOTrainer: the judge's own answer check, bounded in time per completion.

Each function takes TRL's arguments (`completions`, and the dataset's other columns as lists with
one item per completion: `answer`, `answer_type` from `dataset/rlvr.jsonl`) and returns one float
per completion. A completion is a string, or (a conversational dataset such as `rlvr.jsonl`) a
list of messages whose last one is the model's. `answer_reward` is 1.0 only when
`nanoflux.verify.answers_match` shows the completion's final answer equivalent to the reference: a
proven mismatch, a doubt, and a check that ran out of its `timeout_s` all score 0, as they would
for the judge. `format_reward` is 1.0 when the completion states a final answer the judge's
extraction finds (`\\boxed{...}`, `Answer: ...`, `#### ...`) rather than leaving it to be read
from the whole text. A completion longer than the judge reads (`MAX_ANSWER_CHARS`, 100,000
characters) scores 0 on both: no answer in it is checked.

    data = load_dataset("json", data_files="runs/math-demo/dataset/rlvr.jsonl", split="train")
    trainer = GRPOTrainer(model=MODEL, reward_funcs=[answer_reward, format_reward], train_dataset=data)
    trainer.train()

`functools.partial(answer_reward, timeout_s=1.0)` tightens the time limit (TRL names it as the function).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nanoflux.verify import answers_match
from nanoflux.verify.extract import final_answer
from nanoflux.verify.limits import MAX_ANSWER_CHARS

REWARD_TIMEOUT_S = 2.0  # per completion: sympy is killed past it, and the completion scores 0

Completion = str | list[dict[str, Any]]


def answer_reward(completions: Sequence[Completion], answer: Sequence[str],
                  answer_type: Sequence[str | None] | None = None, *, timeout_s: float = REWARD_TIMEOUT_S,
                  **kwargs: Any) -> list[float]:
    """1.0 for each completion whose final answer the tools show equal to its `answer`, else 0.0.

    `answer_type` is the dataset's column ("numeric", "expression", "choice", "text"); missing, the
    check infers it from the reference ("auto").
    """
    types = answer_type if answer_type is not None else [None] * len(completions)
    return [float(answers_match(completion_text(completion), reference, answer_type=kind or "auto",
                                timeout_s=timeout_s))
            for completion, reference, kind in zip(completions, answer, types, strict=True)]


def format_reward(completions: Sequence[Completion], **kwargs: Any) -> list[float]:
    """1.0 for each completion that marks its final answer so the judge's extraction finds it, else 0.0."""
    rewards = []
    for completion in completions:
        text = completion_text(completion)
        if len(text) > MAX_ANSWER_CHARS:  # past what the judge reads: answer_reward gives 0 too
            rewards.append(0.0)
            continue
        stated, how = final_answer(text)
        rewards.append(float(how != "whole text" and bool(stated)))
    return rewards


def completion_text(completion: Completion) -> str:
    """A completion's text: the string itself, or the content of its last message (text parts joined)."""
    if isinstance(completion, str):
        return completion
    content = completion[-1].get("content") if completion else None
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""
