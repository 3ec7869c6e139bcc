"""Solver: one predictor that solves a question afresh, never shown its reference; as a program, run in the sandbox."""

import re

import dspy

from nanoflux.signatures import SolverProgramSignature, SolverSignature
from nanoflux.verify.sandbox import Sandbox, run_python

MAX_OUTPUT_CHARS = 2000  # what the journal keeps of a program's output
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


class Solver(dspy.Module):
    """Solves a question on its own: its answer is independent evidence for (or against) the reference.

    In words, it reasons then answers. As a program (`program=True`), it writes Python that prints the
    answer, which runs in `sandbox`; the last line printed is the answer (none if the program failed),
    and the code and its output are returned as evidence. It is only ever given the question.

    Args:
        signature: the solver signature, usually specialised by the compiler with the domain's instructions
            (`SolverProgramSignature` or a specialisation of it with `program=True`).
        program: write and run a program instead of answering in words.
        sandbox: where programs run (the spec's `sandbox` mode).

    Example:
        >>> solver = Solver(program=True)
        >>> s = solver(question="What is 17 * 3 + 4?")
        >>> print(s.program, s.output, s.answer)
    """

    def __init__(self, signature: type[dspy.Signature] | None = None, *, program: bool = False,
                 sandbox: Sandbox = Sandbox()):
        super().__init__()
        self.program = program
        self.sandbox = sandbox
        self.generate = dspy.Predict(signature or (SolverProgramSignature if program else SolverSignature))

    def forward(self, question: str) -> dspy.Prediction:
        solved = self.generate(question=question)
        solution = str(solved.solution or "").strip()
        if not self.program:
            return dspy.Prediction(solution=solution, answer=str(solved.answer or "").strip() or None, error=None)
        code = str(solved.program or "")
        code = fenced.group(1) if (fenced := _FENCE.match(code)) else code
        run = run_python(code, sandbox=self.sandbox)
        printed = [line.strip() for line in run.stdout.splitlines() if line.strip()]
        error = run.error or (None if printed else "the program printed nothing")
        return dspy.Prediction(solution=solution, program=code, output=run.stdout[-MAX_OUTPUT_CHARS:],
                               answer=printed[-1] if printed and run.error is None else None, error=error)
