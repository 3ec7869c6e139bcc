"""TRL's dataset formats: conversational SFT (`messages`), preference pairs, RLVR prompts, stepwise supervision,
and multi-turn revisions.

SFTTrainer takes `{"messages": [...]}` rows, DPOTrainer `{"prompt", "chosen", "rejected"}` rows
with message lists, GRPOTrainer `{"prompt": [...]}` rows whose other columns (`answer`,
`answer_type`) reach the reward functions (`nanoflux.rewards`), and PRMTrainer stepwise-supervision
rows `{"prompt", "completions", "labels"}` (plain text: its tokenizer reads the prompt as a string),
all without conversion. A reasoning trace goes into an assistant message as `reasoning_content`, the key the
chat templates of thinking models (Qwen3, DeepSeek-R1, GLM-4) render as their `<think>` block and TRL's
response parsers (`trl.chat_template_utils`) read back.
"""

import re
from typing import Any

from nanoflux.engine.journal import JudgeResult, Revision, RoundRecord, outcome, reference_status, steps_refuted
from nanoflux.spec.model import ReasoningSource

# "1. ", "2) ", "Step 3: " at the start of a step: the export numbers steps itself.
_STEP_NUMBER = re.compile(r"^\s*(?:step\s*)?\d+\s*[.):]\s+", re.IGNORECASE)


def verified_solution(record: RoundRecord, *, annotation: bool = False) -> str:
    """The tool-verified worked solution: numbered steps and the final answer.

    With `annotation` it opens with the attacker's note on the reasoning the question targets
    (`Approach: ...`); by default not, since a model fine-tuned on the row would learn to print it.
    """
    steps = "\n".join(f"{i}. {_STEP_NUMBER.sub('', step)}" for i, step in enumerate(record["solution_steps"], 1))
    parts = [f"Approach: {record['annotation']}" if annotation and record.get("annotation") else "", steps,
             f"Answer: {record['reference_answer']}"]
    return "\n\n".join(part for part in parts if part)


def _user(record: RoundRecord) -> dict[str, str]:
    return {"role": "user", "content": record["question"]}


def _assistant(content: str, trace: str | None = None) -> dict[str, str]:
    """An assistant message, with `reasoning_content` only when there is a trace: rows without one stay as they
    were (and a template renders them without a thinking block, or an empty one)."""
    return {"role": "assistant", "content": content, **({"reasoning_content": trace} if trace else {})}


def _answered(reasoning: str, answer: str) -> str:
    """A defender's answer as its assistant turn: its reasoning, then `Answer: ...`."""
    return f"{reasoning}\n\nAnswer: {answer}".strip()


def tools_verified(record: RoundRecord, judge: JudgeResult) -> bool:
    """Whether the tools showed one of the defender's answers (`judge`: the first's or a revision's) right: the
    verdict is correct, the tools decided it, and the round's reference is confirmed."""
    return (judge["verdict"] == "correct" and judge["verdict_source"] == "tools"
            and reference_status(record["judge"]) == "confirmed")


def correction(record: RoundRecord) -> Revision | None:
    """The defender's answer that the tools verified right after the judge found its first one wrong: the last
    revision of a corrected round (`outcome`); None for any other round."""
    if record["status"] != "ok" or outcome(record)[0] != "corrected":
        return None
    last = record["revisions"][-1]
    return last if tools_verified(record, last["judge"]) else None


def sft_example(record: RoundRecord, *, annotation: bool = False,
                reasoning: ReasoningSource = "none") -> dict[str, Any]:
    """The question and its verified solution; `reasoning` (the spec's `output.reasoning`) adds a trace: the
    attacker's beside its solution where the reference is confirmed, or, where the tools verified the defender's
    first answer, that answer with the defender's trace. A round without that trace keeps the plain row."""
    traces = record.get("traces") or {}
    if reasoning == "defender" and traces.get("defender") and tools_verified(record, record["judge"]):
        return {"messages": [_user(record), _assistant(
            _answered(record["defender_reasoning"], record["defender_answer"]), traces["defender"])]}
    trace = traces.get("attacker") if (reasoning == "attacker"
                                       and reference_status(record["judge"]) == "confirmed") else None
    return {"messages": [_user(record), _assistant(verified_solution(record, annotation=annotation), trace)]}


def revision_example(record: RoundRecord, *, reasoning: ReasoningSource = "none") -> dict[str, Any] | None:
    """A corrected round as one conversation: the question, the defender's first answer, then for each revision
    the feedback it was shown (verbatim, as the user's turn) and its next answer, ending on the answer the tools
    verified (`correction`); None for a round not corrected so. With `reasoning` "defender" each answer carries
    its own trace."""
    if correction(record) is None:
        return None
    keep = reasoning == "defender"
    first = (record.get("traces") or {}).get("defender") if keep else None
    messages = [_user(record), _assistant(_answered(record["defender_reasoning"], record["defender_answer"]), first)]
    for revision in record["revisions"]:
        messages += [{"role": "user", "content": revision["feedback"]},
                     _assistant(_answered(revision["reasoning"], revision["answer"]),
                                revision.get("trace") if keep else None)]
    return {"messages": messages}


def dpo_example(record: RoundRecord, *, annotation: bool = False) -> dict[str, Any] | None:
    """A preference pair when the judge found the defender wrong: rejected = the defender's first answer, chosen =
    its own corrected answer where the tools verified one (`correction`), else the verified solution."""
    if record["judge"]["verdict"] != "incorrect" or not record.get("defender_answer"):
        return None
    fixed = correction(record)
    chosen = (_answered(fixed["reasoning"], fixed["answer"]) if fixed is not None
              else verified_solution(record, annotation=annotation))
    return {
        "prompt": [_user(record)],
        "chosen": [_assistant(chosen)],
        "rejected": [_assistant(_answered(record["defender_reasoning"], record["defender_answer"]))],
    }


def rlvr_example(record: RoundRecord) -> dict[str, Any]:
    """A prompt for reinforcement learning with a verifiable reward: the question, its verified answer and its type."""
    return {"prompt": [_user(record)], "answer": record["reference_answer"], "answer_type": record["answer_type"]}


def stepwise_example(record: RoundRecord) -> dict[str, Any] | None:
    """The solution's checked steps, each labelled by whether the tools recomputed it and it holds; None if none was.

    Read from the reference check's evidence (`nanoflux.verify.check_reference`): a step is True
    when every claim in it was recomputed and holds, False when one does not hold, and left out
    (never labelled) when the tools did not recompute it: a step no claim was read from, one with a
    claim no reader could evaluate, one the check skipped (`evidence["skipped"]`). The reference
    answer closes the row as a step `Answer: ...` when the tools compared it with what the steps
    compute. The row ends at its first False step: what follows builds on a wrong value.

    Only a round whose reference is confirmed (`nanoflux.engine.journal.reference_status`), or refuted by a
    false claim in its own steps, is labelled: a recomputed step shows it consistent, not right, so steps of
    an unconfirmed reference, or of one refuted only by independent solves, are never labels.
    """
    if not (reference_status(record["judge"]) == "confirmed" or steps_refuted(record["judge"])):
        return None
    check = record["judge"]["reference_check"]
    evidence = check.get("evidence") or {}
    claims = evidence.get("claims") or []
    if not claims:  # no step was read: its solution was code run in the sandbox, or nothing checkable
        return None
    skipped = {entry["step"] for entry in evidence.get("skipped") or []}
    steps = [step for step in record["solution_steps"] if isinstance(step, str)]  # as check_reference numbers them
    completions: list[str] = []
    labels: list[bool] = []
    for number, step in enumerate(steps, 1):
        mine = [claim for claim in claims if claim["step"] == number]
        if any(claim.get("holds") is False for claim in mine):
            return _stepwise(record, [*completions, _STEP_NUMBER.sub("", step)], [*labels, False])
        if mine and number not in skipped and all(claim.get("recomputed") and claim.get("holds") for claim in mine):
            completions.append(_STEP_NUMBER.sub("", step))
            labels.append(True)
    final = (evidence.get("final_check") or {}).get("verdict")
    if final in ("match", "mismatch"):
        completions.append(f"Answer: {record['reference_answer']}")
        labels.append(final == "match")
    return _stepwise(record, completions, labels) if labels else None


def _stepwise(record: RoundRecord, completions: list[str], labels: list[bool]) -> dict[str, Any]:
    return {"prompt": record["question"], "completions": completions, "labels": labels}

