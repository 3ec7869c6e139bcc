"""The defender answers a question, showing its reasoning."""

import dspy


class DefenderSignature(dspy.Signature):
    """Answer the question for the domain described below. Reason step by step, checking each intermediate
    result, then give the final answer alone in `answer` (a number, expression, option letter or
    short phrase, matching the question)."""

    question: str = dspy.InputField()
    reasoning: str = dspy.OutputField(desc="the steps that lead to the answer")
    answer: str = dspy.OutputField(desc="the final answer only")
