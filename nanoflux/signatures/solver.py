"""The solver answers a question afresh, never shown the reference: in words, or as a program that prints it."""

import dspy


class SolverSignature(dspy.Signature):
    """Solve the question for the domain described below on your own. Work it out step by step, checking each
    intermediate result, then give the final answer alone in `answer` (a number, expression, option letter or
    short phrase, matching the question)."""

    question: str = dspy.InputField()
    solution: str = dspy.OutputField(desc="the steps that lead to the answer")
    answer: str = dspy.OutputField(desc="the final answer only")


class SolverProgramSignature(dspy.Signature):
    """Solve the question for the domain described below by writing a short Python program that computes the
    answer from the question's numbers and prints it. Plan it in `solution`, then write the program: plain
    Python 3 (math, fractions, itertools, statistics and sympy are available), no input, no files, no network;
    its last printed line must be the final answer alone (a number, expression, option letter or short phrase)."""

    question: str = dspy.InputField()
    solution: str = dspy.OutputField(desc="how the program computes the answer, in a few sentences")
    program: str = dspy.OutputField(desc="Python code whose last printed line is the final answer")
