"""Does the attacker's reference answer follow from its own solution steps?

An attacker can write a plausible question with a wrong reference; the judge catches that by
recomputing what the steps compute. "Verified" means recomputed: every claim in the steps is read
by one of the claim readers (arithmetic chains, `claims.phrases` for mod, remainders, combinatorics,
percentages and words; equations solved by sympy; `claims.quantities` for units and doses;
`claims.sequences` for genomics) and recomputed, and the final result must be one of the recomputed
values. A claim no reader can read is never guessed at and never waved through: the reference is
then "undecidable", naming the step. Python code in the steps (a fenced block) is run in the
sandbox instead, and its last printed line compared with the reference: a line it computed, from
numbers the question gives (`codeflow` follows the printed value back to its sources: a length of
text, a character code or a count of booleans is none), beside prose whose claims hold.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction

from . import codeflow, extract, units, words
from .answers import DEFAULT_TIMEOUT_S, AnswerCheck, check_answer
from .claims import Claim, chains, facts, phrases, quantities, sequences
from .claims.expressions import number_text
from .limits import MAX_CLAIMS, MAX_SOLUTION_CHARS
from .numeric import exact_value, is_percentage, numbers_agree, parse_number, strip_percent
from .sandbox import Sandbox, run_python
from .tokens import tokenize as read_tokens
from .worker import WorkerDied, WorkerTimeout, call_sympy

logger = logging.getLogger(__name__)
_CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S | re.I)
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_EQUALS = re.compile(r"(?<![<>!=])(?:=|≈|\\approx)(?!=)")
_ARITH_TOKEN = (r"(?:[\d.+\-−*/^()%!\s,]|(?<![A-Za-z])(?:sqrt|cbrt|C|binom|comb|factorial|floor|ceil|abs|log|ln|exp|"
                r"Mod|perm)\()")
_ARITH_RUN = re.compile(rf"{_ARITH_TOKEN}+")  # arithmetic: such a run with a digit in it (`_core`), found in one pass
_LATEX_OPS = [(re.compile(r"\\times|×|\\cdot|·"), "*"), (re.compile(r"\\div|÷"), "/"),
              (re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}"), r"((\1)/(\2))"),
              (re.compile(r"\$|\\left|\\right|\\,|\\!"), ""), (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), "")]
_LABEL = re.compile(r"^(?:|.*:|[A-Za-z_][A-Za-z_0-9]*|[A-Za-z][A-Za-z ]{0,30}[A-Za-z])$")
_CONSTANTS = {"pi", "π", "e"}
# Words that make the number after them part of a computation, so they cannot be a label before it.
_OPERATOR_WORDS = [[w] for w in ("minus", "plus", "times", "of", "by", "over", "less", "more", "half", "twice",
                                 "double", "percent", "squared", "root", "than", "and", "from")]
# Numbers a computation may use without the question stating them: small counts, halves and quarters,
# percent, time, angles, and the calendar (30 and 31 days a month, 52 weeks a year).
_CONSTANT_VALUES = {Fraction(n) for n in (*range(11), 12, 24, 30, 31, 52, 60, 100, 180, 360, 365, 1000,
                                           Fraction(1, 2), Fraction(1, 4), Fraction(3, 4))}
# Numbers that only count or label ("Step 2", "Case 1", "x_1"), not quantities a step states.
_NOT_QUANTITY = re.compile(r"(?i)\b(?:step|case|part|stage|method|option|equation|line)\s+\d+|[A-Za-z_]\d+")
_FRACTION = re.compile(r"(?<![\d/.])(?:(\d{1,6})\s+)?(\d{1,6})/(\d{1,6})(?![\d/])")
_PERCENT_ASKED = re.compile(r"(?i)\b(?:percent|percentage)\b|%")
_STEP_LABEL = re.compile(r"(?i)\b(?:step|case|part|stage|method|option|equation|line)\s+\d+")
_COMPUTES = re.compile(r"[-+−*/^!(]|sqrt|pi|π")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_PERCENT_WHOLE = re.compile(r"^\d+(?:\.\d+)?\s*%$")
_TIMES_100 = re.compile(r"[*]\s*100\s*$")
_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
# An equation: math characters, with letter runs of at most two (variables "x", "pq"), up to the end.
_TRAILING_WORDS = re.compile(r"(?:[A-Za-z]{3,}\s+)+")  # words of 3+ letters ending a clause, read reversed
_MATH_WORD = re.compile(r"^(?:[\d.+\-−*/^()=²³]|(?<![A-Za-z])[A-Za-z]{1,2}(?![A-Za-z]))+$")
# Words in a question that give a number: "half" gives 1/2 (and 2: halving divides by 2), "twice" 2.
_MULTIPLES = {w: [Fraction(v) for v in vs] for w, vs in {
    "half": (Fraction(1, 2), 2), "halves": (Fraction(1, 2), 2), "twice": (2,), "double": (2,), "doubles": (2,),
    "triple": (3,), "thrice": (3,), "quadruple": (4,), "third": (Fraction(1, 3), 3), "thirds": (Fraction(1, 3), 3),
    "quarter": (Fraction(1, 4), 4), "quarters": (Fraction(1, 4), 4), "dozen": (12,), "dozens": (12,),
    "fourth": (Fraction(1, 4), 4), "fifth": (Fraction(1, 5), 5), "tenth": (Fraction(1, 10), 10)}.items()}
_ONE = {Fraction(1)}  # "1 candy bar costs 5": a count of one states no quantity of its own
_CHAINS = ("arithmetic", "arithmetic (prose)")  # claims whose last value is what they end at
_PROSE_SHORT = {"so", "is", "be", "of", "to", "we", "as", "if", "by", "or", "an", "at", "it", "in", "on", "he",
                "me", "my", "us", "do", "up", "no"}


@dataclass
class _Reading:
    claims: list[Claim] = field(default_factory=list)
    prose: list[dict] = field(default_factory=list)  # steps that state numbers without a claim
    skipped: list[dict] = field(default_factory=list)  # claims no reader could read
    final: str | None = None


def check_reference(reference: str, solution_steps: list[str] | str, *, question: str = "",
                    answer_type: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S,
                    sandbox: Sandbox = Sandbox()) -> AnswerCheck:
    """Check that `reference` is what `solution_steps` compute: "match" only for what was recomputed.

    A fenced python block is run in `sandbox` and its last printed line compared with the reference
    (undecidable when the code writes that number itself, uses one `question` does not give, or computes
    what it prints from anything but numbers: `codeflow`).
    Otherwise "match" needs every claim recomputed and holding, every number stated in prose given
    by `question` or recomputed by a step, and a final result that is a recomputed value equal to
    the reference (a stated answer: what the last computing step ends at). A false claim is a
    "mismatch" naming its step; a claim no reader could read, or nothing checkable, is "undecidable"
    naming the step and why. `evidence["claims"]` records each claim (kind, holds) and
    `evidence["skipped"]` each unchecked step. Never raises on any text: a reader's exception leaves its
    step unchecked, and any other is an "undecidable" naming it.
    """
    try:
        return _check_reference(reference, solution_steps, question, answer_type, timeout_s, sandbox)
    except Exception as exc:  # noqa: BLE001 - model text must never crash the judge; the verdict says why
        logger.warning("check_reference failed on a solution: %s: %s", type(exc).__name__, exc)
        return AnswerCheck("undecidable", f"the check failed ({type(exc).__name__}: {str(exc)[:200]})",
                           {"method": "recomputed solution steps (failed)"})


def _check_reference(reference: str, solution_steps: list[str] | str, question: str, answer_type: str,
                     timeout_s: float, sandbox: Sandbox) -> AnswerCheck:
    deadline = time.monotonic() + timeout_s
    steps = [solution_steps] if isinstance(solution_steps, str) else [s for s in solution_steps if isinstance(s, str)]
    if (size := sum(map(len, steps))) > MAX_SOLUTION_CHARS:
        return AnswerCheck("undecidable", f"the solution is too long to check ({size} characters > "
                                          f"{MAX_SOLUTION_CHARS})", {"method": "not read: too long"})
    reading = _read_steps([_CODE_BLOCK.sub("", s) for s in steps])
    if len(reading.claims) > MAX_CLAIMS:
        return AnswerCheck("undecidable", f"the solution states too many claims to check ({len(reading.claims)} > "
                                          f"{MAX_CLAIMS})", {"method": "not read: too many claims"})
    question = question[:MAX_SOLUTION_CHARS]
    if (failed := _recompute(reading.claims, _question_equations(question), deadline)) is not None:
        return failed
    if code := "\n".join(block for step in steps for block in _CODE_BLOCK.findall(step)):
        if wrong := next((c for c in reading.claims if c.holds is False), None):  # the prose around the code
            return AnswerCheck("mismatch", f"step {wrong.step + 1} is wrong: {wrong.text!r} does not hold",
                               {"method": "recomputed solution steps", "claims": [_record(c) for c in reading.claims]})
        return _check_code(code, reference, question, answer_type, timeout_s, sandbox, deadline)
    evidence: dict = {"method": "recomputed solution steps", "claims": [_record(c) for c in reading.claims],
                      "skipped": reading.skipped}
    if wrong := next((c for c in reading.claims if c.holds is False), None):
        return AnswerCheck("mismatch", f"step {wrong.step + 1} is wrong: {wrong.text!r} does not hold", evidence)
    for claim in reading.claims:
        if claim.holds is None:
            reading.skipped.append({"step": claim.step + 1, "claim": claim.text, "why": claim.why})
    established = _established(reading.claims)
    given = _given(question)
    # With a question, a claim's operands are traced to it below; prose may restate them ("in 10 years").
    used = {number.value for c in reading.claims for n in _operands(c)
            if (number := parse_number(n))} if question else set()
    for prose in reading.prose:
        if unchecked := [n for n in prose["numbers"] if not _among(n, established, given, used, _ONE)]:
            why = f"it states {', '.join(unchecked)}, which no step recomputes" + ("" if question else
                                                                                  " and no question gives")
            reading.skipped.append({"step": prose["step"], "claim": prose["text"], "why": why})
    if question:  # the numbers a computation starts from must come from the question (or an earlier result)
        for claim in reading.claims:
            others = _established([c for c in reading.claims if c is not claim])
            if unchecked := [n for n in _operands(claim) if not _among(n, others, given, _CONSTANT_VALUES)]:
                reading.skipped.append({"step": claim.step + 1, "claim": claim.text,
                                        "why": f"it uses {', '.join(unchecked)}, which neither the question gives "
                                               "nor a step recomputes"})
    if reading.skipped:
        first = min(reading.skipped, key=lambda s: s["step"])
        return AnswerCheck("undecidable", f"step {first['step']} is unchecked ({first['claim']!r}): {first['why']}",
                           evidence)
    if not reading.claims:
        return AnswerCheck("undecidable", "the steps contain nothing checkable", evidence)
    results = [c for c in reading.claims if c.kind != "unit fact"] or reading.claims  # a fact is no result
    final = reading.final or _last_value(results[-1])
    if not _among(final, established, percent_of=_percents(reading.claims)):
        return AnswerCheck("undecidable", f"the final result {final!r} is not a value any recomputed step computes",
                           evidence)
    step, ends = _conclusion(reading.claims, given, final)
    if reading.final is not None and not _among(final, ends, percent_of=_percents(reading.claims, step)):
        return AnswerCheck("undecidable", f"the stated answer {final!r} is not what the last computing step "
                                          f"(step {step + 1}) ends at", evidence)
    if is_percentage(final) and not is_percentage(reference) and _PERCENT_ASKED.search(question):
        final = strip_percent(final)  # "What percentage ...?": the reference 25 is 25%
    outcome = check_answer(final, reference, answer_type=answer_type, timeout_s=max(deadline - time.monotonic(), 0.5))
    evidence.update(final_result=final, final_check=outcome.to_dict())
    premises = sum(c.kind == "equation (premise)" for c in reading.claims)
    recomputed = f"all {len(reading.claims) - premises} claim(s) recomputed and hold" + (
        f" (from {premises} equation(s) " + ("set up from the question)" if question else
                                             "taken as given: no question to trace them to)") if premises else "")
    if outcome.verdict == "match":
        return AnswerCheck("match", f"{recomputed} and the final result {final!r} matches the reference", evidence)
    if outcome.verdict == "mismatch" and (stated := _stated_after(steps, reference)):
        return AnswerCheck("undecidable", f"the steps compute {final!r} last, then state {stated!r} without "
                                          "computing it", evidence)
    if outcome.verdict == "mismatch":
        return AnswerCheck("mismatch", f"the steps end at {final!r}, not the reference: {outcome.reason}", evidence)
    return AnswerCheck(outcome.verdict, f"{recomputed}; final result undecided: {outcome.reason}", evidence)


def _stated_after(steps: list[str], reference: str) -> str | None:
    """The reference as the last step states it in prose ("so it took three days"), or None: a final
    result that is not the reference is a mismatch only where the steps do not go on to state it."""
    if (wanted := parse_number(reference)) is None or not steps:
        return None
    for token in read_tokens(steps[-1][-2000:]):
        if token.kind == "num" and token.value in (wanted.value, wanted.value / 100, wanted.value * 100):
            return token.raw
    return None


def _check_code(code: str, reference: str, question: str, answer_type: str, timeout_s: float,
                sandbox: Sandbox, deadline: float) -> AnswerCheck:
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
    evidence["printed"] = printed
    flow = codeflow.trace(code, timeout_s=max(deadline - time.monotonic(), 1.0))  # its own share of the limit
    if flow.unsure:
        return AnswerCheck("undecidable", f"the solution's code {flow.unsure}: the check cannot follow what it prints "
                                          "back to the question's numbers", evidence)
    written = flow.literals + [n for text in flow.strings for n in _NUMBER.findall(text)]
    if _among(printed, {n.value for n in map(parse_number, written) if n}):
        return AnswerCheck("undecidable", f"the code prints {printed!r}, which it states rather than computes",
                           evidence)
    given = _given(question)
    if question and (invented := [n for n in flow.literals if not _among(n, given, _CONSTANT_VALUES)]):
        return AnswerCheck("undecidable", f"the code uses {', '.join(invented)}, which the question does not give",
                           evidence)
    if flow.outputs.opaque:
        sources = ", ".join(sorted(flow.outputs.opaque))
        return AnswerCheck("undecidable", f"the code prints a value computed from {sources}, not from the question's "
                                          "numbers", evidence)
    if not (flow.printed.numbers if not question else [n for n in flow.printed.numbers if _among(n, given)]):
        return AnswerCheck("undecidable", f"the code prints {printed!r}, computed from no number "
                                          f"{'the question gives' if question else 'it writes'}", evidence)
    outcome = check_answer(printed, reference, answer_type=answer_type, timeout_s=timeout_s)
    evidence["final_check"] = outcome.to_dict()
    if outcome.verdict in ("match", "mismatch"):
        verb = "matches" if outcome.verdict == "match" else "does not match"
        return AnswerCheck(outcome.verdict, f"the code prints {printed!r}, which {verb} the reference", evidence)
    return AnswerCheck(outcome.verdict, f"the code prints {printed!r}: {outcome.reason}", evidence)


def _read_steps(steps: list[str]) -> _Reading:
    """Every claim in the steps, the prose numbers, the unreadable claims, and the final result."""
    reading, stated, allele_p = _Reading(), None, None
    for index, step in enumerate(steps):
        if (answer := extract.final_answer(step))[1] in ("boxed", "after 'answer'"):
            stated = answer[0]
        for line in step.splitlines():
            line = _LIST_MARKER.sub("", line).replace("–", "-")  # an en dash between numbers is a minus
            for pattern, replacement in _LATEX_OPS:
                line = pattern.sub(replacement, line)
            line, _ = phrases.rewrite(line)
            if line.count("=") > 1:  # "x + y = 30 and x - y = 6": two claims
                line = re.sub(r"\s+and\s+(?=[^=]*=)", "; ", line)
            for clause in _clauses(line):
                allele_p = sequences.allele_frequency(clause) or allele_p
                _read_clause(index, clause, allele_p, reading)
    if stated is not None and (m := re.fullmatch(r"[A-Za-z]\s*=\s*(.+)", stated)):
        stated = m.group(1)  # "x = 4": the value
    reading.final = stated
    return reading


def _given(question: str) -> set[Fraction | str]:
    """What the question states: its numbers (in digits or words, money, clock times, fractions; a
    percentage p also as p/100, 1 +- p/100 and 100 -+ p), the conversion factors of the units it names,
    and its DNA sequences."""
    numbers = [n.value for n in map(parse_number, _NUMBER.findall(question)) if n]
    numbers += [words.parse_number_words(w) for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)?", question)]
    tokens = read_tokens(question)
    for k, token in enumerate(tokens):  # money, clock times, "a dozen", and a percentage as a fraction
        if token.kind == "num" and token.percent:  # 20% gives 0.2, and 1.2, 0.8, 80 for "20% more/less/off"
            p = token.value
            numbers += [p, p / 100, 1 + p / 100, 1 - p / 100, 100 - p, 100 + p]
        elif token.kind == "num":
            numbers.append(token.value)
        elif token.kind == "word" and (parts := token.text.split("-"))[-1] in _MULTIPLES:
            part = _MULTIPLES[parts[-1]][0]  # "half", "three-quarters", "three quarters", "two thirds"
            count = words.parse_number_words(parts[0]) if len(parts) == 2 else (
                tokens[k - 1].value if k and tokens[k - 1].kind == "num" else None)
            numbers += _MULTIPLES[parts[-1]] + ([count * part] if count is not None and part < 1 else [])
    numbers += facts.unit_factors(tokens)  # "a one-pound steak": 16 (ounces) is a unit fact
    for m in _FRACTION.finditer(question):  # "1/4 pound", "1 1/2 dozen"
        if int(m.group(3)):
            numbers.append(int(m.group(1) or 0) + Fraction(int(m.group(2)), int(m.group(3))))
    return {n for n in numbers if n is not None} | set(re.findall(r"\b[ACGTU]{4,}\b", question))


def _operands(claim: Claim) -> list[str]:
    """The numbers a claim starts from: its first side, or all of a premise equation."""
    if claim.kind == "equation (premise)":
        return _NUMBER.findall(claim.equation or "")
    return _NUMBER.findall(claim.parts[0]) if claim.kind == "arithmetic" and claim.parts else claim.operands


def _last_value(claim: Claim) -> str:
    """What a claim ends at: its last side as written, or the value an in-process reader read."""
    if claim.equation is not None:
        return claim.equation.split("=")[-1].strip()
    return claim.result


def _clauses(line: str) -> list[str]:
    """`line` split at ";", ", " and sentence ends outside brackets (so "C(5, 2)" stays whole)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(line):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        nxt = line[i + 1] if i + 1 < len(line) else ""
        if depth == 0 and (ch == ";" or (ch == "," and nxt == " ") or
                           (ch == "." and (not nxt or nxt == " ") and not (i and line[i - 1].isdigit() and not nxt))):
            out.append(line[start:i])
            start = i + 1
    out.append(line[start:])
    return [c.strip() for c in out if c.strip()]


def _read_clause(index: int, clause: str, allele_p: Fraction | None, reading: _Reading) -> None:
    """Read one clause into `reading`; a reader that fails leaves the step unchecked, saying why."""
    try:
        _read_claims(index, clause, allele_p, reading)
    except Exception as exc:  # noqa: BLE001 - a checker of model text never raises: the step stays unchecked
        reading.skipped.append({"step": index + 1, "claim": clause,
                                "why": f"a reader failed on it ({type(exc).__name__}: {str(exc)[:120]})"})


def _read_claims(index: int, clause: str, allele_p: Fraction | None, reading: _Reading) -> None:
    if claim := sequences.read(index, clause, allele_p):
        reading.claims.append(claim)
        return
    if read := chains.read(index, _STEP_LABEL.sub(" ", clause)):  # arithmetic in prose, unit facts
        claims, rest = read
        reading.claims.extend(claims)
        if numbers := [number_text(t.value) for t in rest if any(ch.isdigit() for ch in t.raw)]:
            reading.prose.append({"step": index + 1, "text": clause, "numbers": numbers})
        return
    if claim := quantities.read(index, clause):
        reading.claims.append(claim)
        return
    sides = _EQUALS.split(clause)
    if len(sides) > 1:
        parts, unreadable = _arithmetic(sides)
        if len(parts) > 1 and not unreadable:
            reading.claims.append(Claim(index, clause, "arithmetic", parts=_percent_sides(parts), result=parts[-1],
                                        approximate="≈" in clause or "\\approx" in clause))
            return
        if equations := _equations(clause):
            reading.claims.extend(Claim(index, clause, "equation", equation=e) for e in equations)
            return
        if unreadable:
            reading.skipped.append({"step": index + 1, "claim": clause, "why": "no reader could read it"})
            return
    tokens = read_tokens(_NOT_QUANTITY.sub(" ", clause))
    if numbers := [number_text(t.value) for t in chains.prose_numbers(tokens, set())
                   if any(ch.isdigit() for ch in t.raw)]:
        reading.prose.append({"step": index + 1, "text": clause, "numbers": numbers})


def _arithmetic(sides: list[str]) -> tuple[list[str], bool]:
    """The arithmetic on each side of the equals signs, and whether a side with numbers was unreadable."""
    parts, unreadable = [], False
    for i, side in enumerate(sides):
        if side.strip() in _CONSTANTS:
            parts.append(side.strip())
            continue
        core = _core(side, first=i == 0, last=i == len(sides) - 1)
        if core is not None:
            parts.append(core)
        elif re.search(r"\d", side):
            unreadable = True
    return parts, unreadable


def _percent_sides(parts: list[str]) -> list[str]:
    """Percentages as fractions: "0.25 = 25%" compares 0.25 with 25/100, and "12/48 × 100 = 25%" (a fraction
    written as a percentage) compares (12/48 × 100)/100 with 25/100."""
    out = [_PERCENT.sub(r"(\1/100)", part) for part in parts]
    for i in range(1, len(parts)):
        if _PERCENT_WHOLE.match(parts[i]) and _TIMES_100.search(parts[i - 1]):
            out[i - 1] = f"({parts[i - 1]})/100"
    return out


def _core(side: str, *, first: bool, last: bool) -> str | None:
    """The arithmetic of one side of an equals sign, if it can be read without guessing."""
    side = side.strip()
    runs = [m for m in _ARITH_RUN.finditer(side) if re.search(r"\d", m.group())]
    if not runs:
        return None
    run = runs[-1] if first else runs[0]
    before, after = side[: run.start()].strip(), side[run.end():].strip()
    if first and (not _LABEL.match(before) or before.lower().split()[-1:] in _OPERATOR_WORDS):
        return None  # "20% of 50": words inside the arithmetic
    if first and before and re.match(r"[-+−*/^]", run.group().strip()):
        return None  # "x + 37": an expression with an unknown, not a label
    if not first and before:
        return None
    if after and (not last or re.search(r"\d", after)):
        return None  # "= 2 x 3" or "= 12 apples = ..." is not plain arithmetic
    return run.group().strip() or None


def _equations(clause: str) -> list[str]:
    """The equations in a clause ("Let x be ...: 5(20 - x) + 9x = 136", "so 2x = 8"), chains split pairwise."""
    text = clause.rstrip(".")
    trailing = _TRAILING_WORDS.match(text[::-1])  # "x = 4 apples": matched from the end, so never rescanned
    words = text[:len(text) - trailing.end()].split(":")[-1].split() if trailing else text.split(":")[-1].split()
    math: list[str] = []
    for word in reversed(words):
        if not _MATH_WORD.match(word) or word.lower() in _PROSE_SHORT:
            break
        math.insert(0, word)
    text = " ".join(math)
    if "=" not in text or not re.search(r"[A-Za-z]", text) or not re.search(r"\d", text):
        return []
    sides = [s.strip() for s in text.split("=")]
    if any(not s for s in sides):
        return []
    return [f"{a} = {b}" for a, b in zip(sides, sides[1:], strict=False)]


def _question_equations(question: str) -> list[str]:
    """The equations a question states ("Solve for x: 3x - 7 = 14."): what the steps' equations follow from."""
    return [e for clause in _clauses(phrases.rewrite(question)[0]) for e in _equations(clause)]


def _recompute(claims: list[Claim], given: list[str], deadline: float) -> AnswerCheck | None:
    """Decide `holds` of every arithmetic and equation claim in the sympy worker, the `given` equations
    (the question's) set up first; an AnswerCheck if the worker failed."""
    arithmetic = sorted({p for c in claims if c.kind == "arithmetic" for p in c.parts})
    equations = [c for c in claims if c.kind == "equation"]
    try:
        values = dict(zip(arithmetic, _call("evaluate", {"expressions": arithmetic}, deadline), strict=True)) \
            if arithmetic else {}
        texts = [*given, *(c.equation for c in equations)]
        checked = _call("check_equations", {"equations": texts, "premises": len(given)}, deadline)[len(given):] \
            if equations else []
    except WorkerTimeout:
        return AnswerCheck("undecidable", "recomputing the steps ran out of time", {"method": "sympy (killed)"})
    except WorkerDied as exc:
        return AnswerCheck("error", f"sympy worker crashed: {exc}", {"method": "sympy"})
    except ValueError as exc:
        return AnswerCheck("undecidable", f"recomputing the steps failed: {exc}", {"method": "sympy"})
    for part, value in values.items():  # a value past the caps is no value: Fraction would expand it for hours
        if value.get("ok") and _value(value) is None:
            values[part] = {"ok": False, "reason": "a value too large to read exactly"}
    for claim in claims:
        if claim.kind == "arithmetic":
            claim.holds = _claim_holds(claim, values)
            claim.values = [_value(values[p]) for p in claim.parts if values[p].get("ok")]
    for claim, result in zip(equations, checked, strict=True):
        claim.holds = {"holds": True, "fails": False}.get(result["status"])
        if result["status"] == "picks a solution":
            claim.why = "it picks one of several solutions, and the steps do not say why"
        elif result["status"] == "unreadable":
            claim.why = f"sympy could not read it: {result['reason']}"
        if result["status"] == "premise":
            claim.holds, claim.kind = True, "equation (premise)"
        claim.values = [v for v in map(exact_value, result.get("values", {}).values()) if v is not None]
        claim.values += [n.value for n in map(parse_number, claim.equation.split("=")) if n]
    return None


def _call(op: str, args: dict, deadline: float) -> list:
    reply = call_sympy(op, args, max(deadline - time.monotonic(), 0.5))
    if not reply["ok"]:
        raise ValueError(reply["error"])
    return reply["result"]


def _value(value: dict) -> Fraction | None:
    """The exact value the worker sent, or None where it is past the digit or exponent caps."""
    return exact_value(value["exact"] or value["approx"])


def _claim_holds(claim: Claim, values: dict[str, dict]) -> bool | None:
    """True/False when adjacent readable sides agree/disagree; None when a pair could not be evaluated."""
    for left, right in zip(claim.parts, claim.parts[1:], strict=False):
        a, b = values.get(left, {}), values.get(right, {})
        if not (a.get("ok") and b.get("ok")):
            return None
        x, y = _value(a), _value(b)
        x_number, y_number = parse_number(left), parse_number(right)  # "10/3 = 3.33" is a rounding
        same, _ = numbers_agree(x, x_number.places if x_number else None, y, y_number.places if y_number else None,
                                rel_tol=1e-12, abs_tol=0)
        if claim.approximate and not same:  # "≈ 3.3": the value rounded to the places written, no further
            places = y_number.places if y_number and y_number.places is not None else 0
            same = abs(x - y) <= Fraction(1, 2 * 10**places)
        if not same:
            return False
    return True


def _established(claims: list[Claim]) -> set[Fraction | str]:
    """The values recomputed claims establish: premise equations and restatements ("42 = 42") establish nothing."""
    return {v for c in claims if c.holds and _computes(c) for v in c.values}


def _computes(claim: Claim) -> bool:
    """Whether a claim computes a value: not an equation set up from the question, not "42 = 42"."""
    return claim.computes and claim.kind != "equation (premise)" and (
        claim.kind != "arithmetic" or any(_COMPUTES.search(p.lstrip("-−")) for p in claim.parts))


def _percents(claims: list[Claim], step: int | None = None) -> set[Fraction]:
    """The percentages arithmetic "E × 100 = V" states (V% is E), from every claim or from one step's."""
    return {c.values[-1] for c in claims if c.holds and c.kind in _CHAINS and c.values and
            _TIMES_100.search(c.parts[0]) and step in (None, c.step)}


def _conclusion(claims: list[Claim], given: set, final: str) -> tuple[int, set[Fraction | str]]:
    """The last computing step and the values it ends at. A last step that only checks the stated answer
    back against the question ("Check: 2*4 + 3 = 11" ends at a number the question gives) is passed over."""
    computing = [c for c in claims if _computes(c) and c.kind != "unit fact"] or [c for c in claims if _computes(c)]
    steps = sorted({c.step for c in computing}, reverse=True)
    for number, step in enumerate(steps):
        here = [c for c in computing if c.step == step]
        ends = {v for c in here for v in (c.values[-1:] if c.kind in _CHAINS else c.values)}
        stated = {n.value for c in here for n in map(parse_number, _NUMBER.findall(c.text)) if n}
        checks = ends and ends <= given and _among(final, stated) and not _among(final, ends)
        if not checks or number == len(steps) - 1:
            return step, ends
    return -1, set()


def _among(text: str, *pools: set, percent_of: set[Fraction] = frozenset()) -> bool:
    """Whether a number (or a sequence) written in `text` is one of the values in `pools`. A percentage
    p% is the value p/100 (or p, where `percent_of` holds what "E × 100 = p" made a percentage)."""
    number = parse_number(text.replace("−", "-"))
    if number is None and (quantity := units.parse_quantity(text)):
        number = parse_number(quantity[0])  # "350 mg": the unit was recomputed with the claim
    if number is None and (m := re.fullmatch(r"(\S*\d)\s+([A-Za-z][A-Za-z ]*)", text.strip())):
        if words.is_count_noun(m.group(2), lambda w: units.parse_unit(w) is not None):
            number = parse_number(m.group(1))  # "17 jars"
    if number is None:
        return any(text.strip().upper() in pool for pool in pools)
    value, places = number.value, number.places
    if number.percent:
        if value in percent_of:
            return True
        value, places = value / 100, None if places is None else places + 2
    return any(isinstance(v, Fraction) and numbers_agree(v, None, value, places, rel_tol=1e-9, abs_tol=0)[0]
               for pool in pools for v in pool)


def _record(claim: Claim) -> dict:
    status = {True: "holds", False: "does not hold", None: "skipped: could not be evaluated"}[claim.holds]
    record = {"step": claim.step + 1, "claim": claim.text, "kind": claim.kind, "recomputed": claim.holds is not None,
              "holds": claim.holds, "status": status}
    if claim.holds is False and claim.values and isinstance(claim.values[0], Fraction):
        record["computed"] = number_text(claim.values[0])  # what its first side comes to, for the reviewer
    return record
