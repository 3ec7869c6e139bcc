"""Does the attacker's reference answer follow from its own solution steps?

An attacker can write a plausible question with a wrong reference; the judge catches that by
recomputing what the steps compute. Every checkable equality ("x = 3*4 = 12", "Total: 12 + 5 = 17")
is re-evaluated by sympy, the steps' final result is compared with the reference, and python code in
the steps (a fenced block) is run in the sandbox and its last printed line compared with the reference.
Claims that cannot be read unambiguously ("20% of 50 = 10") are skipped, never guessed at: a wrong
"mismatch" would throw away a good question.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fractions import Fraction

from . import extract
from .answers import DEFAULT_TIMEOUT_S, AnswerCheck, check_answer
from .numeric import numbers_agree, parse_number
from .sandbox import Sandbox, run_python
from .worker import WorkerDied, WorkerTimeout, call_sympy

_CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S | re.I)
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_CLAUSE_SPLIT = re.compile(r";|,\s|(?<!\d)\.\s|\.$")
_EQUALS = re.compile(r"(?<![<>!=])(?:=|≈|\\approx)(?!=)")
_ARITH_TOKEN = r"(?:[\d.+\-−*/^()%!\s,]|(?<![A-Za-z])(?:sqrt|cbrt|C|binom|comb|factorial|floor|ceil|abs|log|ln|exp)\()"
_ARITH_RUN = re.compile(rf"{_ARITH_TOKEN}*\d{_ARITH_TOKEN}*")
_LATEX_OPS = [(re.compile(r"\\times|×|\\cdot|·"), "*"), (re.compile(r"\\div|÷"), "/"),
              (re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}"), r"((\1)/(\2))"),
              (re.compile(r"\$|\\left|\\right|\\,|\\!"), ""), (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), "")]
_LABEL = re.compile(r"^(?:|.*:|[A-Za-z_][A-Za-z_0-9]*|[A-Za-z][A-Za-z ]{0,30}[A-Za-z])$")


@dataclass
class _Claim:
    step: int
    text: str
    parts: list[str]  # arithmetic on each side of the equals signs, in order
    approximate: bool


def check_reference(reference: str, solution_steps: list[str] | str, *, answer_type: str = "auto",
                    timeout_s: float = DEFAULT_TIMEOUT_S, sandbox: Sandbox = Sandbox()) -> AnswerCheck:
    """Check that `reference` is what `solution_steps` compute.

    A fenced python block in the steps is run in `sandbox` and its last printed line compared with
    the reference ("undecidable", with the reason, where the sandbox refuses to run code); otherwise
    every readable equality is recomputed (a false one is a "mismatch" naming its step) and the
    steps' final result is compared. "undecidable" when nothing is checkable.
    """
    deadline = time.monotonic() + timeout_s
    steps = [solution_steps] if isinstance(solution_steps, str) else [s for s in solution_steps if isinstance(s, str)]
    if code := "\n".join(block for step in steps for block in _CODE_BLOCK.findall(step)):
        return _check_code(code, reference, answer_type, timeout_s, sandbox)
    claims, final = _read_steps([_CODE_BLOCK.sub("", s) for s in steps])
    values = _evaluate([part for claim in claims for part in claim.parts], deadline)
    if isinstance(values, AnswerCheck):
        return values
    checked, evidence = [], {"method": "recomputed solution steps"}
    for claim in claims:
        holds = _claim_holds(claim, values)
        if holds is not None:
            checked.append({"step": claim.step + 1, "claim": claim.text, "holds": holds})
        if holds is False:
            evidence["claims"] = checked
            return AnswerCheck("mismatch", f"step {claim.step + 1} is wrong: {claim.text!r} does not hold", evidence)
    evidence["claims"] = checked
    if final is None:
        return AnswerCheck("undecidable", "the steps contain nothing checkable", evidence)
    remaining = max(deadline - time.monotonic(), 0.5)
    outcome = check_answer(final, reference, answer_type=answer_type, timeout_s=remaining)
    evidence.update(final_result=final, final_check=outcome.to_dict())
    recomputed = f"{len(checked)} recomputed claim(s) hold" if checked else "no arithmetic could be recomputed"
    if outcome.verdict == "match":
        return AnswerCheck("match", f"{recomputed} and the final result {final!r} matches the reference", evidence)
    if outcome.verdict == "mismatch":
        return AnswerCheck("mismatch", f"the steps end at {final!r}, not the reference: {outcome.reason}", evidence)
    return AnswerCheck(outcome.verdict, f"{recomputed}; final result undecided: {outcome.reason}", evidence)


def _check_code(code: str, reference: str, answer_type: str, timeout_s: float, sandbox: Sandbox) -> AnswerCheck:
    if refused := sandbox.refusal():
        return AnswerCheck("undecidable", refused, {"method": "not run: no sandbox", "sandbox": sandbox.record()})
    run = run_python(code, timeout_s=timeout_s, sandbox=sandbox)
    evidence = {"method": f"ran the solution's python in the sandbox ({sandbox.mode})", "execution": run.to_dict()}
    if not run.ok:
        return AnswerCheck("undecidable", f"the solution's code failed: {run.error}", evidence)
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    printed = lines[-1].strip() if lines else run.return_value
    if printed is None:
        return AnswerCheck("undecidable", "the solution's code printed nothing", evidence)
    outcome = check_answer(printed, reference, answer_type=answer_type, timeout_s=timeout_s)
    evidence.update(printed=printed, final_check=outcome.to_dict())
    if outcome.verdict in ("match", "mismatch"):
        verb = "matches" if outcome.verdict == "match" else "does not match"
        return AnswerCheck(outcome.verdict, f"the code prints {printed!r}, which {verb} the reference", evidence)
    return AnswerCheck(outcome.verdict, f"the code prints {printed!r}: {outcome.reason}", evidence)


def _read_steps(steps: list[str]) -> tuple[list[_Claim], str | None]:
    """The checkable equalities in the steps, and the steps' final result (explicit answer or last value)."""
    claims: list[_Claim] = []
    last_value, stated = None, None
    for index, step in enumerate(steps):
        if (answer := extract.final_answer(step))[1] in ("boxed", "after 'answer'"):
            stated = answer[0]
        for line in step.splitlines():
            line = _LIST_MARKER.sub("", line)
            for pattern, replacement in _LATEX_OPS:
                line = pattern.sub(replacement, line)
            for clause in _CLAUSE_SPLIT.split(line):
                if claim := _claim(index, clause.strip()):
                    claims.append(claim)
                    last_value = claim.parts[-1]
    return [c for c in claims if len(c.parts) > 1], stated or last_value


def _claim(step: int, clause: str) -> _Claim | None:
    sides = _EQUALS.split(clause)
    if len(sides) < 2:
        return None
    parts = []
    for i, side in enumerate(sides):
        core = _core(side, first=i == 0, last=i == len(sides) - 1)
        if core is None:  # an unreadable side breaks the chain: keep what came after it
            parts = []
            continue
        parts.append(core)
    approximate = "≈" in clause or "\\approx" in clause
    return _Claim(step, clause, parts, approximate) if parts else None


def _core(side: str, *, first: bool, last: bool) -> str | None:
    """The arithmetic of one side of an equals sign, if it can be read without guessing."""
    side = side.strip()
    runs = list(_ARITH_RUN.finditer(side))
    if not runs:
        return None
    run = runs[-1] if first else runs[0]
    before, after = side[: run.start()].strip(), side[run.end():].strip()
    if first and not _LABEL.match(before):
        return None  # "20% of 50": words inside the arithmetic
    if not first and before:
        return None
    if after and (not last or re.search(r"\d", after)):
        return None  # "= 2 x 3" or "= 12 apples = ..." is not plain arithmetic
    return run.group().strip() or None


def _evaluate(parts: list[str], deadline: float) -> dict[str, dict] | AnswerCheck:
    unique = sorted(set(parts))
    if not unique:
        return {}
    try:
        reply = call_sympy("evaluate", {"expressions": unique}, max(deadline - time.monotonic(), 0.5))
    except WorkerTimeout:
        return AnswerCheck("undecidable", "recomputing the steps ran out of time", {"method": "sympy (killed)"})
    except WorkerDied as exc:
        return AnswerCheck("error", f"sympy worker crashed: {exc}", {"method": "sympy"})
    if not reply["ok"]:
        return AnswerCheck("undecidable", f"recomputing the steps failed: {reply['error']}", {"method": "sympy"})
    return dict(zip(unique, reply["result"]))


def _claim_holds(claim: _Claim, values: dict[str, dict]) -> bool | None:
    """True/False when adjacent readable sides agree/disagree; None when no pair could be evaluated."""
    verdict = None
    for left, right in zip(claim.parts, claim.parts[1:]):
        a, b = values.get(left, {}), values.get(right, {})
        if not (a.get("ok") and b.get("ok")):
            continue
        x, y = (Fraction(v["exact"]) if v["exact"] else Fraction(v["approx"]) for v in (a, b))
        x_number, y_number = parse_number(left), parse_number(right)  # "10/3 = 3.33" is a rounding
        same, _ = numbers_agree(x, x_number.places if x_number else None, y, y_number.places if y_number else None,
                                rel_tol=1e-12, abs_tol=0)
        if claim.approximate and not same:
            same = abs(x - y) <= Fraction(1, 100) * max(abs(x), abs(y))
        if not same:
            return False
        verdict = True
    return verdict
