"""Judge: deterministic tool evidence first, then the LM (or a tool-calling agent) scores the rubric."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dspy
from pydantic import BaseModel

from nanoflux.base.scoring import level_name
from nanoflux.signatures import JudgeSignature
from nanoflux.verify import AnswerCheck, check_answer, check_reference
from nanoflux.verify.confirm import Confirmation, confirm_reference
from nanoflux.verify.sandbox import Sandbox
from nanoflux.verify.withhold import reveals, withhold

# A tool verdict that proves the answer wrong caps the rubric's correctness dimension at this score.
WRONG_ANSWER_CORRECTNESS_CAP = 2
MAX_CRITIQUE_CHARS = 4_000  # of the judge's critique a revising defender is shown


class Judge(dspy.Module):
    """Scores an answer: tools check the reference and the answer, then an LM grades the rubric.

    The tools' verdict overrides the LM's when the tools can decide; the LM's verdict stands only
    when they cannot (a text answer, say). The overall score is the weighted mean of the dimension
    scores, and its level (L1..L5) comes from `nanoflux.base.scoring`. Given `agent_tools`, the
    grader is a `dspy.ReAct` agent that may call them before it scores (its calls are returned as
    `tool_calls`); the deterministic evidence still comes first and still overrides.

    Args:
        signature: the judge signature, specialised by the compiler with the rubric and domain.
        weights: rubric dimension -> weight (normalised to sum 1).
        answer_type: how answers are compared (numeric, expression, choice, text or auto).
        agent_tools: functions the grader may call itself (e.g. a registry Tool's `functions`);
            empty: one plain LM call.
        max_iters: the most tool calls the agent makes before it must score.
        sandbox: where the solution steps' python blocks run (the spec's `sandbox` mode); give
            `agent_tools` that run code the same sandbox (`registry.Tool.functions_for`).
        agree: how many independent solves (`solves` in `forward`) must match the reference to confirm it
            (`nanoflux.verify.confirm`).

    Example:
        >>> judge = Judge(weights={"correctness": 0.5, "clarity": 0.5}, answer_type="numeric")
        >>> result = judge(question="2+2?", reference_answer="4", solution_steps=["2+2 = 4"],
        ...                reasoning="2+2=4", answer="4")
        >>> print(result.level, result.verdict)
    """

    def __init__(self, signature: type[dspy.Signature] = JudgeSignature, *, weights: Mapping[str, float],
                 answer_type: str = "auto", agent_tools: Sequence[Callable] = (), max_iters: int = 5,
                 sandbox: Sandbox = Sandbox(), agree: int = 2):
        super().__init__()
        self.grade = dspy.ReAct(signature, tools=list(agent_tools), max_iters=max_iters) if agent_tools \
            else dspy.Predict(signature)
        total = sum(weights.values())
        self.weights = {name: weight / total for name, weight in weights.items()}
        self.answer_type = answer_type
        self.sandbox = sandbox
        self.agree = agree

    def forward(self, question: str, reference_answer: str, solution_steps: Sequence[str], reasoning: str,
                answer: str, answer_type: str | None = None, solves: Sequence[str | None] = ()) -> dspy.Prediction:
        """Judge one answer; `answer_type` overrides the judge's own for this item (calibration sets mix types).

        `solves` are the final answers of independent solves (None: a solve that gave none); with none, the
        reference is confirmed by its recomputed steps alone (`confirmation["rule"] == "steps"`).
        """
        answer_type = answer_type or self.answer_type
        reference = check_reference(reference_answer, list(solution_steps), question=question, answer_type=answer_type,
                                    sandbox=self.sandbox)
        confirmation = confirm_reference(reference_answer, reference.verdict, list(solves), agree=self.agree,
                                         answer_type=answer_type, steps_reason=reference.reason)
        match = check_answer(answer, reference_answer, answer_type=answer_type)
        graded = self.grade(question=question, reference_answer=reference_answer, reasoning=reasoning, answer=answer,
                            evidence=describe_evidence(reference, match, confirmation, solves))
        scores = self._scores(graded.scores)
        verdict, source = _verdict(match, graded.verdict)
        if verdict == "incorrect" and source == "tools" and "correctness" in scores:
            scores["correctness"] = min(scores["correctness"], WRONG_ANSWER_CORRECTNESS_CAP)
        overall = round(sum(self.weights[name] * score for name, score in scores.items()), 2)
        return dspy.Prediction(
            scores=scores, overall=overall, level=level_name(overall), verdict=verdict, verdict_source=source,
            critique=str(graded.critique or "").strip(), reference_check=reference.to_dict(),
            answer_check=match.to_dict(), confirmation=confirmation.to_dict(),
            tool_calls=tool_calls(getattr(graded, "trajectory", None) or {}),
        )

    def feedback(self, question: str, reasoning: str, answer: str, verdict: dspy.Prediction,
                 reference_answer: str) -> str:
        """What a defender whose answer this judge found wrong is told before it answers again (`Round`'s revisions).

        The tools' findings on the defender's own work, which need no reference: its steps recomputed with its
        own answer as their result (the reference check's reader, naming a false step), and who found the answer
        wrong; then the judge's `critique`. The judge saw the reference and may quote it, so every form of the
        reference's value is withheld (`nanoflux.verify.withhold`), and a critique that still gives it away
        after that is left out; the tools' lines, read from the defender's own text, are masked the same way.
        """
        steps = check_reference(answer, reasoning, question=question, answer_type=self.answer_type,
                                sandbox=self.sandbox)
        who = "The tools" if verdict["verdict_source"] == "tools" else "The judge"
        tools = [f"{who} found your final answer incorrect.",
                 f"The tools read your steps and recomputed them, taking your final answer as their result: "
                 f"{steps.verdict} ({steps.reason})."]
        critique = withhold(str(verdict["critique"] or "")[:MAX_CRITIQUE_CHARS], reference_answer)
        if reveals(critique, reference_answer):
            critique = "(left out: it gives away the expected answer)"
        lines = [withhold(line, reference_answer) for line in (*tools, f"The judge's critique: {critique}")]
        return "\n".join(line for line in lines if not reveals(line, reference_answer))

    def _scores(self, raw: Any) -> dict[str, int]:
        """Validate the LM's scores strictly: every rubric dimension, each an integer clamped to 1..5."""
        values = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw or {})
        missing = [name for name in self.weights if name not in values]
        if missing:
            raise ValueError(f"the judge did not score rubric dimension(s) {missing}")
        return {name: min(5, max(1, int(round(float(values[name]))))) for name in self.weights}


def describe_evidence(reference: AnswerCheck, match: AnswerCheck, confirmation: Confirmation | None = None,
                      solves: Sequence[str | None] = ()) -> str:
    """The tools' findings in the words the judge's LM reads (with the independent solves, when there were any)."""
    text = (f"Reference answer against its own solution steps: {reference.verdict} ({reference.reason}).\n"
            f"Answer against the reference: {match.verdict} ({match.reason}).")
    if confirmation is not None and confirmation.rule == "solves":
        answers = ", ".join("(none)" if answer is None else repr(answer[:80]) for answer in solves)
        text += (f"\nIndependent solves, never shown the reference: {answers}. "
                 f"The reference is {confirmation.status}: {confirmation.reason}.")
    return text


def tool_calls(trajectory: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ReAct trajectory as the journal records it: one {tool, args, observation} per call, `finish` left out."""
    calls = []
    for step in range(len(trajectory)):
        name = trajectory.get(f"tool_name_{step}")
        if name is None:
            break
        if name != "finish":
            calls.append({"tool": name, "args": trajectory.get(f"tool_args_{step}") or {},
                          "observation": trajectory.get(f"observation_{step}")})
    return calls


def _verdict(match: AnswerCheck, lm_verdict: Any) -> tuple[str, str]:
    if match.verdict == "match":
        return "correct", "tools"
    if match.verdict == "mismatch":
        return "incorrect", "tools"
    said = str(lm_verdict or "").strip().lower()
    return ("correct" if said.startswith("correct") else "incorrect"), "judge"
