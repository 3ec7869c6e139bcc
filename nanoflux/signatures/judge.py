"""The judge scores a defender's reasoning on the rubric, seeing the tools' evidence first."""

import dspy


class JudgeSignature(dspy.Signature):
    """You grade an answer to an exam question for the domain described below. The `evidence` comes from real
    tools (computer algebra, executed code): trust it over your own arithmetic. Score each rubric
    dimension from 1 (absent or wrong) to 5 (exemplary), give the verdict `correct` when the final
    answer matches the reference and `incorrect` otherwise, and write a short critique naming the
    first flawed step, if any."""

    question: str = dspy.InputField()
    reference_answer: str = dspy.InputField(desc="the question writer's answer")
    reasoning: str = dspy.InputField(desc="the answerer's reasoning")
    answer: str = dspy.InputField(desc="the answerer's final answer")
    evidence: str = dspy.InputField(desc="what the tools found")
    scores: dict[str, int] = dspy.OutputField(desc="a 1-5 score for every rubric dimension, by name")
    verdict: str = dspy.OutputField(desc="correct or incorrect")
    critique: str = dspy.OutputField(desc="two or three sentences: what was right, the first flawed step")
