"""The attacker writes one hard, multi-step question with a verifiable reference answer."""

import dspy


class AttackerSignature(dspy.Signature):
    """You write one hard exam question for the domain described below. The question must chain the given
    number of reasoning steps (hops), each step needing the result of the one before, so that a
    model that skips or guesses a step gets it wrong. It must have exactly one correct answer of the
    requested type. Solve it yourself first: give the reference answer, the numbered solution steps
    that reach it (each step a short calculation or deduction), and an annotation naming the
    reasoning skill the question targets and the trap it sets. Do not repeat the questions listed
    under `avoid`."""

    topic: str = dspy.InputField(desc="the focus area of this question")
    hops: int = dspy.InputField(desc="how many dependent reasoning steps the question must chain")
    answer_type: str = dspy.InputField(desc="numeric, expression, choice or text")
    avoid: list[str] = dspy.InputField(desc="questions already accepted; write something different")
    question: str = dspy.OutputField(desc="the question, self-contained, with every number it needs")
    reference_answer: str = dspy.OutputField(desc="the final answer only, e.g. 42 or (a+b)/2 or B")
    solution_steps: list[str] = dspy.OutputField(desc="numbered steps from the givens to the answer, "
                                                      "one calculation each")
    annotation: str = dspy.OutputField(desc="the reasoning skill targeted and the trap a careless solver falls into")
