"""Is the reference answer right? The one rule: the attacker's recomputed steps and independent solves together.

Recomputing the attacker's steps (`check_reference`) shows they are consistent, not that the method
answers the question; solves written without seeing the reference do. On GSM8K solutions that models
wrote, taking "2 of 3 independent solves agree with the reference" gave 89% precision where the
steps alone gave 46% (docs/judge.md, "Confirmed: independent solves").

    >>> confirm_reference("17", "undecidable", ["17", "17", "12"], agree=2).status
    'confirmed'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["confirmed", "refuted", "unconfirmed"]
Rule = Literal["steps", "solves"]
REFUTING_STEPS = ("mismatch", "error")  # reference-check verdicts that prove a reference wrong


@dataclass(frozen=True)
class Confirmation:
    """What the rule made of a reference.

    Attributes:
        status: `confirmed` (only these count as verified), `refuted` or `unconfirmed`.
        reason: one line saying which evidence decided it.
        rule: `steps` when no solve was asked for (the steps-only check), `solves` otherwise.
        steps: the reference check's verdict (`check_reference`).
        agree: how many solves had to match.
        agreeing: how many solves match the reference (`check_answer`).
        verdicts: each solve's answer against the reference, in order (`undecidable` for a solve
            without an answer).
        other: the answer that `agree` solves share instead of the reference, when they do.
    """

    status: Status
    reason: str
    rule: Rule
    steps: str
    agree: int = 0
    agreeing: int = 0
    verdicts: list[str] = field(default_factory=list)
    other: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confirm_reference(reference: str, steps: str, answers: Sequence[str | None], *, agree: int = 2,
                      answer_type: str = "auto", steps_reason: str = "") -> Confirmation:
    """Decide a reference from its steps' verdict and the answers of independent solves.

    - refuted when a step is refuted (`steps` is `mismatch` or `error`), whatever the solves say;
    - confirmed when at least `agree` answers match the reference (`check_answer`);
    - refuted when `agree` answers (and at least 2: one solve alone never refutes) proven different from the
      reference match each other;
    - otherwise unconfirmed.

    With no answers (`judge.solves: 0`) the steps decide alone, as before solves: `match` confirms,
    `undecidable` leaves it unconfirmed. An answer that is None (the solve gave none: its program
    failed, its output did not parse) matches nothing.

    Args:
        reference: the attacker's reference answer.
        steps: the verdict of `check_reference` on the attacker's steps.
        answers: the solves' final answers, in order.
        agree: how many solves must match (1 or more).
        answer_type: how answers are compared (`check_answer`).
        steps_reason: the reference check's reason, quoted when the steps decide.
    """
    from nanoflux.verify.answers import check_answer  # loads pint and the sympy worker's client: on use only

    why = f" ({steps_reason})" if steps_reason else ""
    if not answers:
        status: Status = "confirmed" if steps == "match" else "refuted" if steps in REFUTING_STEPS else "unconfirmed"
        return Confirmation(status, f"steps only: the reference check says {steps}{why}", "steps", steps)
    verdicts = [check_answer(answer, reference, answer_type=answer_type).verdict if answer else "undecidable"
                for answer in answers]
    agreeing = verdicts.count("match")
    status: Status
    other = None
    if steps in REFUTING_STEPS:
        status, reason = "refuted", f"a step is refuted{why}"
    elif agreeing >= agree:
        status, reason = "confirmed", f"{agreeing} of {len(answers)} independent solves match the reference"
    elif (other := _shared_other_answer([a for a, v in zip(answers, verdicts, strict=True) if v == "mismatch" and a],
                                        agree=max(agree, 2), answer_type=answer_type)) is not None:
        status, reason = "refuted", f"{max(agree, 2)} or more independent solves agree on {other!r}, not the reference"
    else:
        status, reason = "unconfirmed", (f"{agreeing} of {len(answers)} independent solves match the reference "
                                         f"({agree} needed) and no {agree} agree on another answer")
    return Confirmation(status, reason, "solves", steps, agree=agree, agreeing=agreeing, verdicts=verdicts,
                        other=other)


def _shared_other_answer(others: list[str], *, agree: int, answer_type: str) -> str | None:
    """An answer at least `agree` of `others` match (each compared with each, `check_answer`), or None."""
    from nanoflux.verify.answers import check_answer

    for i, answer in enumerate(others):
        alike = 1 + sum(check_answer(other, answer, answer_type=answer_type).verdict == "match"
                        for j, other in enumerate(others) if j != i)
        if alike >= agree:
            return answer
    return None
