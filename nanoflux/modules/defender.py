"""Defender: one predictor that answers with its reasoning; Reviser: the defender's answer again after a critique."""

import dspy

from nanoflux.signatures import DefenderSignature, ReviserSignature


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


class Reviser(dspy.Module):
    """Answers a question again, shown its previous reasoning and answer and the feedback that judged them wrong.

    The Round plays it on the defender's LM (`roles.judge.revise`); it is a predictor of its own, so its prompt
    is saved with the program and tuned apart from the first answer's.

    Example:
        >>> reviser = Reviser()
        >>> a = reviser(question="What is 17 * 3 + 4?", previous_reasoning="17 * 3 = 41", previous_answer="45",
        ...             feedback="step 1 is wrong: '17 * 3 = 41' does not hold")
        >>> print(a.reasoning, a.answer)
    """

    def __init__(self, signature: type[dspy.Signature] = ReviserSignature):
        super().__init__()
        self.answer = dspy.Predict(signature)

    def forward(self, question: str, previous_reasoning: str, previous_answer: str, feedback: str) -> dspy.Prediction:
        return self.answer(question=question, previous_reasoning=previous_reasoning, previous_answer=previous_answer,
                           feedback=feedback)
