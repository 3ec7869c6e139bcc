"""Attacker: one predictor that writes a question with its reference answer and solution."""

from collections.abc import Sequence

import dspy

from nanoflux.signatures import AttackerSignature


class Attacker(dspy.Module):
    """Writes a hard multi-step question with a reference answer, solution steps and an annotation.

    Args:
        signature: the attacker signature, usually specialised by the compiler with the domain's instructions.

    Example:
        >>> attacker = Attacker()
        >>> q = attacker(topic="modular arithmetic", hops=3, answer_type="numeric")
        >>> print(q.question, q.reference_answer)
    """

    def __init__(self, signature: type[dspy.Signature] = AttackerSignature):
        super().__init__()
        self.generate = dspy.Predict(signature)

    def forward(self, topic: str, hops: int, answer_type: str, avoid: Sequence[str] = ()) -> dspy.Prediction:
        return self.generate(topic=topic, hops=hops, answer_type=answer_type, avoid=list(avoid))
