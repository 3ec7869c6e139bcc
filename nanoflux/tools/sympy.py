"""The `sympy` tool: algebra an agent can ask for, run in the killable sympy worker.

Attacker and judge agents call these to solve, simplify and compare; the text they pass is
LM output, so it is parsed by `symbolic.parse_math` (no eval) under a time limit.
"""

from __future__ import annotations

from nanoflux.verify.answers import check_answer
from nanoflux.verify.worker import WorkerDied, WorkerTimeout, call_sympy

TIMEOUT_S = 5.0


def _call(op: str, args: dict) -> dict:
    try:
        reply = call_sympy(op, args, TIMEOUT_S)
    except (WorkerTimeout, WorkerDied) as exc:
        raise ValueError(f"sympy did not finish: {exc}") from None
    if not reply["ok"]:
        raise ValueError(f"sympy could not {op} this: {reply['error']}")
    return reply["result"]


def solve_equation(equation: str, variable: str = "x") -> list[str]:
    """Solutions of an equation for one variable, e.g. solve_equation("x^2 - 5x + 6 = 0") -> ["2", "3"].

    Without "=", the expression is set equal to zero. Accepts plain or LaTeX math.
    """
    return _call("solve", {"equation": equation, "variable": variable})["solutions"]


def simplify_expression(expression: str) -> str:
    """Simplest form sympy finds, e.g. simplify_expression("(x^2-1)/(x-1)") -> "x + 1"."""
    return _call("simplify", {"expression": expression})["result"]


def expressions_equal(first: str, second: str) -> dict:
    """Whether two expressions or values are equivalent, with the reason: {"equal": True/False/None, "reason": ...}.

    None means sympy could not decide (the reason says why).
    """
    check = check_answer(first, second, answer_type="expression", timeout_s=TIMEOUT_S)
    equal = {"match": True, "mismatch": False}.get(check.verdict)
    return {"equal": equal, "reason": check.reason}
