"""The defender answers a question, showing its reasoning, and answers again when its answer was judged wrong."""

import dspy


class DefenderSignature(dspy.Signature):
    """Answer the question for the domain described below. Reason step by step, checking each intermediate
    result, then give the final answer alone in `answer` (a number, expression, option letter or
    short phrase, matching the question)."""

    question: str = dspy.InputField()
    reasoning: str = dspy.OutputField(desc="the steps that lead to the answer")
    answer: str = dspy.OutputField(desc="the final answer only")


class ReviserSignature(dspy.Signature):
    """Your previous answer to the question was judged wrong. Read the feedback on it (what the judge and its
    tools found), find the mistake in your previous reasoning, then solve the question again: reason step by
    step, checking each intermediate result, and give the final answer alone in `answer` (a number,
    expression, option letter or short phrase, matching the question)."""

    question: str = dspy.InputField()
    previous_reasoning: str = dspy.InputField(desc="your previous steps")
    previous_answer: str = dspy.InputField(desc="your previous final answer, judged wrong")
    feedback: str = dspy.InputField(desc="what the judge and its tools found wrong with the previous answer")
    reasoning: str = dspy.OutputField(desc="the corrected steps that lead to the answer")
    answer: str = dspy.OutputField(desc="the final answer only")
