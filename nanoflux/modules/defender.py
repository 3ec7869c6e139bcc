"""Defender: one predictor that answers with its reasoning."""

import dspy

from nanoflux.signatures import DefenderSignature


class Defender(dspy.Module):
    """Answers a question, reasoning step by step before the final answer.

    Example:
        >>> defender = Defender()
        >>> a = defender(question="What is 17 * 3 + 4?")
        >>> print(a.reasoning, a.answer)
    """

    def __init__(self, signature: type[dspy.Signature] = DefenderSignature):
        super().__init__()
        self.answer = dspy.Predict(signature)

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)
