"""Is a predicted answer equivalent to the reference? The judge's first, tool-verified check.

`check_answer` says "match" only when equivalence is shown (equal numbers, an algebraic proof or
agreement at random points, same option letters, same text up to normalisation and plurals, equal
quantities), "mismatch" only when a difference is proven (different numbers, quantities, expressions
or option letters), and "undecidable" (with the reason) when it cannot tell: empty or oversized
answers, unparseable math, sympy running past the time limit, texts worded differently, words that
sympy would misread as variables, a percentage against a plain number that agrees under one reading
of the percent sign, a bound, range or approximation against one value (`qualifiers.py`), a
reference naming several options against an answer naming some of them. The judge lets a "mismatch"
overrule its LM, so a doubt is never one.
Number words ("twenty-four") are read as numbers and a count noun after a number ("17 jars") is
ignored. Plain numbers are decided in-process; anything symbolic runs in the killable sympy worker.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Literal

from nanoflux.base.errors import NanofluxError

from . import extract
from .limits import MAX_ANSWER_CHARS, MAX_FINAL_ANSWER_CHARS, MAX_NUMBER_CHARS
from .numeric import compare_numbers, is_percentage, numbers_agree, parse_number, strip_percent
from .qualifiers import find_qualified, outside, read_qualified
from .units import parse_quantity, parse_unit, plain_unit_text, to_unit
from .words import english_words, is_count_noun, parse_number_words, same_words
from .worker import WorkerDied, WorkerTimeout, call_sympy

logger = logging.getLogger(__name__)
ANSWER_TYPES = ("auto", "numeric", "expression", "choice", "text", "set", "units")
MAX_ITEMS = 50
DEFAULT_TIMEOUT_S = 5.0

Verdict = Literal["match", "mismatch", "undecidable", "error"]
_MATH_WORDS = {"sqrt", "pi", "inf", "infinity", "infty", "log", "ln", "exp", "sin", "cos", "tan", "binom",
               "floor", "ceil", "frac", "choose", "mod", "gcd", "lcm", "max", "min", "abs"}
_WORD = re.compile(r"[A-Za-z]{3,}")
_PROSE = re.compile(r"^[^\\{}^=]*[A-Za-z]{2,}\s+[A-Za-z]{2,}[^\\{}^=]*$")
# A predicted sentence that holds the reference phrase: how long it may be, and the words that make
# holding it no proof of agreement ("not Paris", "Paris or Lyon", "Lyon, then Paris").
MAX_SENTENCE_WORDS = 12
_NEGATIONS = {"not", "no", "never", "neither", "nor", "none", "nothing", "cannot", "without", "except", "instead",
              "rather", "unlike", "t", "false", "incorrect", "wrong"}
_HEDGES = {"or", "either", "and", "but", "maybe", "perhaps", "possibly", "probably", "might", "may", "unclear",
           "unsure", "vs", "versus", "than", "if", "whether", "unless"}


@dataclass(frozen=True)
class AnswerCheck:
    """The outcome of a check: `verdict`, a one-line `reason`, and `evidence` (parsed forms, method).

    Only "match" means the answers were shown equivalent; `bool(check)` is that test.
    """

    verdict: Verdict
    reason: str
    evidence: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.verdict == "match"

    def to_dict(self) -> dict:
        return asdict(self)


def answers_match(predicted: str, reference: str, *, answer_type: str = "auto", rel_tol: float = 1e-9,
                  abs_tol: float = 0.0, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """True only when `predicted` is shown equivalent to `reference` (see `check_answer`)."""
    return check_answer(predicted, reference, answer_type=answer_type, rel_tol=rel_tol, abs_tol=abs_tol,
                        timeout_s=timeout_s).verdict == "match"


def check_answer(predicted: str, reference: str, *, answer_type: str = "auto", rel_tol: float = 1e-9,
                 abs_tol: float = 0.0, timeout_s: float = DEFAULT_TIMEOUT_S) -> AnswerCheck:
    """Compare a model's answer with the reference and say how the verdict was reached.

    `answer_type` is one of ANSWER_TYPES ("auto" infers it from the reference). Numbers match when
    equal, within `rel_tol`/`abs_tol`, or when a rounded decimal is the rounding of the other value
    (0.333 vs 1/3). The whole check, sympy included, finishes within about `timeout_s` seconds.

        >>> check_answer("The answer is $\\\\frac{1}{2}$.", "0.5").verdict
        'match'
    """
    if answer_type not in ANSWER_TYPES:
        raise NanofluxError(f"unknown answer_type {answer_type!r}; use one of: {', '.join(ANSWER_TYPES)}")
    for side, text in (("predicted", predicted), ("reference", reference)):
        if not isinstance(text, str):
            return AnswerCheck("error", f"{side} answer is {type(text).__name__}, not text")
        if len(text) > MAX_ANSWER_CHARS:
            return AnswerCheck("undecidable", f"{side} answer too long ({len(text)} chars > {MAX_ANSWER_CHARS})")
    deadline = time.monotonic() + timeout_s
    try:
        return _check(predicted, reference, answer_type, _Checker(rel_tol, abs_tol, deadline))
    except Exception as exc:  # noqa: BLE001 - LM output is odd in endless ways; the judge gets a verdict, never a crash
        logger.warning("check_answer failed: %s: %s", type(exc).__name__, exc)
        return AnswerCheck("undecidable", f"the check failed ({type(exc).__name__}: {str(exc)[:200]})")


def _check(predicted: str, reference: str, answer_type: str, checker: _Checker) -> AnswerCheck:
    pred, extraction = extract.final_answer(predicted)
    ref, _ = extract.final_answer(reference)
    for side, text in (("predicted", pred), ("reference", ref)):
        if not text:
            return AnswerCheck("undecidable", f"{side} answer is empty")
        if len(text) > MAX_FINAL_ANSWER_CHARS:
            return AnswerCheck("undecidable", f"the {side} answer found is too long to be one answer ({len(text)} "
                               f"chars > {MAX_FINAL_ANSWER_CHARS}): prose, not a value to compare")
    as_numbers: dict = {}
    qualified = answer_type != "choice" and bool(read_qualified(pred) or read_qualified(ref))
    if not qualified and answer_type != "choice" and not extract.is_choice(ref):
        pred, ref, as_numbers = read_numbers(pred, ref)  # after the bound is read: "17 or more" is no count noun
    kind = answer_type if answer_type != "auto" else _infer_type(pred, ref)
    try:
        result = checker.qualified(pred, ref) if qualified else checker.check(kind, pred, ref)
    except Exception as exc:  # noqa: BLE001 - as above, with the kind of check that failed named
        result = AnswerCheck("error", f"the {kind} check failed: {type(exc).__name__}: {exc}")
    evidence = {"answer_type": kind, "predicted": _clip(pred), "reference": _clip(ref), "extraction": extraction,
                **({"read_as_numbers": as_numbers} if as_numbers else {}), **result.evidence}
    return AnswerCheck(result.verdict, result.reason + _noun_note(as_numbers), evidence)


def read_numbers(pred: str, ref: str) -> tuple[str, str, dict]:
    """Both answers with number words as digits and count nouns dropped, where that makes them comparable.

    A side is rewritten ("twenty-four" -> "24", "17 jars" -> "17") when the other side is math or
    rewritable too, so a text answer ("Seven Samurai") keeps its words. Returns the texts and a note
    per rewritten side: {"predicted": {"text": "17 jars", "as": "17", "ignored_noun": "jars"}}.
    """
    forms = {"predicted": numeric_form(pred), "reference": numeric_form(ref)}
    texts = {"predicted": pred, "reference": ref}
    notes = {}
    for side, other in (("predicted", "reference"), ("reference", "predicted")):
        if forms[side] is not None and (forms[other] is not None or not _looks_like_text(texts[other])):
            notes[side] = {"text": _clip(texts[side]), "as": forms[side][0], **forms[side][1]}
    return (notes["predicted"]["as"] if "predicted" in notes else pred,
            notes["reference"]["as"] if "reference" in notes else ref, notes)


def numeric_form(text: str) -> tuple[str, dict] | None:
    """`text` as digits when it is number words or a number with a count noun, with how it was read.

        >>> numeric_form("one hundred and five"), numeric_form("17 jars")[0], numeric_form("17 kg")
        (('105', {'read': 'number words'}), '17', None)
    """
    if len(text) > MAX_NUMBER_CHARS:  # no number with its noun is longer; each cut below reads the text again
        return None
    s = plain_unit_text(text)
    if (value := parse_number_words(s)) is not None:
        return _digits(value), {"read": "number words"}
    tokens = s.split()
    for cut in range(len(tokens) - 1, 0, -1):  # the longest number first: "1 000 jars", "twenty four jars"
        head, tail = " ".join(tokens[:cut]), " ".join(tokens[cut:])
        number = parse_number(head)
        value = number.value if number else parse_number_words(head)
        if value is None:
            continue
        digits = head if number else _digits(value)
        if is_count_noun(tail, lambda word: parse_unit(word) is not None):
            return digits, {"read": "number with a count noun" if number else "number words with a count noun",
                            "ignored_noun": tail}
        if not number and parse_unit(tail) is not None:  # "five milligrams" -> "5 milligrams", for pint
            return f"{digits} {tail}", {"read": "number words with a unit"}
        return None
    return None


def _digits(value) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _noun_note(notes: dict) -> str:
    nouns = [f"{n['ignored_noun']!r}" for n in notes.values() if "ignored_noun" in n]
    return f" (count noun {' and '.join(nouns)} ignored)" if nouns else ""


def _infer_type(pred: str, ref: str) -> str:
    if extract.is_choice(ref) or extract.option_letters(ref):
        return "choice"
    if _looks_like_text(ref):
        return "text"
    if _is_list(pred, ref):
        return "set"
    if parse_quantity(ref) or parse_quantity(pred):
        return "units"
    return "numeric" if parse_number(ref) else "expression"


def _find_phrase(words: list[str], phrase: list[str]) -> int | None:
    """Where `phrase` occurs in `words` as whole words (plurals allowed), or None."""
    for start in range(len(words) - len(phrase) + 1):
        if same_words(words[start:start + len(phrase)], phrase):
            return start
    return None


def _is_list(pred: str, ref: str) -> bool:
    return bool(extract.split_items(ref) or (extract.split_items(pred) and not _is_interval_or_relation(ref)))


def _looks_like_text(s: str) -> bool:
    """Words, not math: "Paris", "autosomal recessive" (but not "x", "2ab", "sqrt(2)", "\\pi")."""
    return not re.search(r"[\d\\^=+*/<>]", s) and any(w.lower() not in _MATH_WORDS for w in _WORD.findall(s))


def _is_interval_or_relation(s: str) -> bool:
    return bool(re.search(r"[<>≤≥]|\\[lg]e|\\infty|\boo\b|\\in\b", s))


def _letters(letters: list[str], joined: str) -> str:
    return letters[0] if len(letters) == 1 else f" {joined} ".join(letters)


def _plain_value(text: str) -> Fraction | None:
    """The value of a plain number ("17", "17 jars", "seventeen"), not a percentage; else None."""
    form = numeric_form(text)
    number = parse_number(form[0] if form else text)
    return number.value if number and not number.percent else None


def _clip(s: str, limit: int = 300) -> str:
    return s if len(s) <= limit else s[:limit] + "..."


class _Checker:
    """One comparison's settings and deadline, shared by the items of a set answer."""

    def __init__(self, rel_tol: float, abs_tol: float, deadline: float) -> None:
        self.rel_tol, self.abs_tol, self.deadline = rel_tol, abs_tol, deadline

    def check(self, kind: str, pred: str, ref: str) -> AnswerCheck:
        if kind in ("numeric", "expression") and _is_list(pred, ref):
            kind = "set"  # a list answer under a numeric spec is compared item by item
        return {"choice": self.choice, "text": self.text, "set": self.items, "units": self.units,
                "numeric": self.numeric, "expression": self.expression}[kind](pred, ref)

    def choice(self, pred: str, ref: str) -> AnswerCheck:
        if several := extract.option_letters(ref):
            return self.options(pred, *several)
        ref_letter, pred_letter = extract.choice_letter(ref), extract.choice_letter(pred)
        evidence = {"method": "option letter", "predicted_letter": pred_letter, "reference_letter": ref_letter}
        if ref_letter is None:
            return AnswerCheck("undecidable", "reference names no option letter", evidence)
        if named := extract.option_letters(pred):  # before the letter: "(B) and (C)" reads as a "(B)" answer
            evidence["predicted_letters"] = named[0]
            if ref_letter in named[0]:
                return AnswerCheck("undecidable", f"the predicted answer names several options ({_letters(*named)}), "
                                   f"the reference only {ref_letter}", evidence)
            return AnswerCheck("mismatch", f"options {_letters(*named)} do not include {ref_letter}", evidence)
        if pred_letter is None:
            if option_text := extract.choice_text(ref):  # "B) 42" against "42"
                return self.check(_infer_type(pred, option_text), pred, option_text)
            return AnswerCheck("undecidable", "predicted answer names no option letter", evidence)
        if pred_letter == ref_letter:
            return AnswerCheck("match", f"same option {ref_letter}", evidence)
        return AnswerCheck("mismatch", f"option {pred_letter} is not {ref_letter}", evidence)

    def options(self, pred: str, letters: list[str], joined: str) -> AnswerCheck:
        """A reference naming several options matches only the same options joined the same way; a
        predicted option it does not name is a mismatch; anything else (some of them) is undecidable."""
        named = extract.option_letters(pred) or ((letter := extract.choice_letter(pred)) and ([letter], "one"))
        evidence = {"method": "option letters", "reference_letters": letters, "reference_joined": joined,
                    "predicted_letters": named[0] if named else None}
        if not named:
            return AnswerCheck("undecidable", "predicted answer names no option letter", evidence)
        if extra := sorted(set(named[0]) - set(letters)):
            return AnswerCheck("mismatch", f"option {', '.join(extra)} is not among {_letters(letters, joined)}",
                               evidence)
        if set(named[0]) == set(letters) and named[1] == joined != "and/or":
            return AnswerCheck("match", f"the same options: {_letters(letters, joined)}", evidence)
        return AnswerCheck("undecidable", f"the reference names several options ({_letters(letters, joined)}), the "
                           f"answer {_letters(*named)}; whether that answers the question needs a reader", evidence)

    def qualified(self, pred: str, ref: str) -> AnswerCheck:
        """A bound, range or approximation matches only the same one (a bound or range with other limits is a
        mismatch). Against one value it is another answer: a mismatch when the value lies outside it,
        otherwise undecidable (the LM judge decides)."""
        p, r = read_qualified(pred), read_qualified(ref)
        evidence = {"method": "bounds, ranges and approximations", "predicted_qualifier": p.kind if p else None,
                    "reference_qualifier": r.kind if r else None}
        if p and r:
            what = r.describe()
            if p.kind != r.kind:
                return AnswerCheck("undecidable", f"{p.text!r} and {r.text!r} are different kinds of answer "
                                   f"({p.kind}, {r.kind})", evidence)
            verdicts = [self._same_value(a, b).verdict for a, b in zip(p.values, r.values, strict=True)]
            if all(v == "match" for v in verdicts):
                return AnswerCheck("match", f"the same {what[what.index(' ') + 1:]}: {r.text!r}", evidence)
            if "mismatch" in verdicts and r.kind != "about":
                return AnswerCheck("mismatch", f"{p.text!r} is not {r.text!r}", evidence)
            return AnswerCheck("undecidable", f"could not tell whether {p.text!r} is the same as {r.text!r}", evidence)
        q, plain, side = (p, ref, "predicted") if p else (r, pred, "reference")
        limits, value = [_plain_value(v) for v in q.values], _plain_value(plain)
        if q.kind != "about" and value is not None and None not in limits and outside(q.kind, tuple(limits), value):
            return AnswerCheck("mismatch", f"{plain!r} is outside {q.text!r}", evidence)
        return AnswerCheck("undecidable", f"the {side} answer {q.text!r} is {q.describe()}, not one value like "
                           f"{plain!r}; only the question can say whether it answers it", evidence)

    def _same_value(self, a: str, b: str) -> AnswerCheck:
        a, b, _ = read_numbers(a, b)
        return self.check(_infer_type(a, b), a, b)

    def text(self, pred: str, ref: str) -> AnswerCheck:
        """Texts match when equal up to normalisation and plurals, or when a short predicted sentence
        states the reference phrase without negating or hedging it; otherwise undecidable, never a
        mismatch: different words may mean the same thing, and only the LM can tell."""
        a, b = extract.normalize_text(pred), extract.normalize_text(ref)
        evidence = {"method": "normalised text", "predicted_normalised": _clip(a), "reference_normalised": _clip(b)}
        if not a:
            return AnswerCheck("undecidable", "predicted answer has no words", evidence)
        if a == b:
            return AnswerCheck("match", "same text after normalisation", evidence)
        words, ref_words = a.split(), b.split()
        if same_words(words, ref_words):
            return AnswerCheck("match", "same words up to singular/plural forms", {**evidence, "method": "word forms"})
        at = _find_phrase(words, ref_words) if ref_words and len(words) <= MAX_SENTENCE_WORDS else None
        if at is None:
            return AnswerCheck("undecidable", "different wording; whether the texts mean the same needs a reader",
                               evidence)
        evidence["method"] = "reference phrase in the predicted sentence"
        rest = set(words[:at] + words[at + len(ref_words):])
        if doubts := sorted(rest & (_NEGATIONS | _HEDGES)):
            return AnswerCheck("undecidable", f"the predicted sentence holds the reference but also {doubts}", evidence)
        if re.search(r"[,;/]", pred) and not re.search(r"[,;/]", ref):
            return AnswerCheck("undecidable", "the predicted sentence holds the reference in a list", evidence)
        return AnswerCheck("match", "the predicted sentence states the reference phrase", evidence)

    def items(self, pred: str, ref: str) -> AnswerCheck:
        (pred_items, pred_kind), (ref_items, ref_kind) = (extract.split_items(s) or ([s], "list") for s in (pred, ref))
        ordered = "tuple" in (pred_kind, ref_kind) and "set" not in (pred_kind, ref_kind)
        evidence = {"method": "ordered items" if ordered else "unordered items",
                    "predicted_items": pred_items[:MAX_ITEMS], "reference_items": ref_items[:MAX_ITEMS]}
        if max(len(pred_items), len(ref_items)) > MAX_ITEMS:
            return AnswerCheck("undecidable", f"more than {MAX_ITEMS} items", evidence)
        if len(pred_items) != len(ref_items):
            return AnswerCheck("mismatch", f"{len(pred_items)} items, expected {len(ref_items)}", evidence)
        unmatched = list(pred_items)
        undecided = []
        for r_item in ref_items:
            candidates = [unmatched[0]] if ordered else list(unmatched)
            for p in candidates:
                p_item, r, _ = read_numbers(p, r_item)
                result = self.check(_infer_type(p_item, r), p_item, r)
                if result.verdict == "match":
                    unmatched.remove(p)
                    break
                if result.verdict in ("undecidable", "error"):
                    undecided.append(f"{p!r} vs {r!r}: {result.reason}")
            else:
                evidence["undecided"] = undecided
                if undecided:
                    return AnswerCheck("undecidable", f"could not decide item {r_item!r}: {undecided[0]}", evidence)
                return AnswerCheck("mismatch", f"no predicted item equals {r_item!r}", evidence)
        return AnswerCheck("match", "every item matches", evidence)

    def units(self, pred: str, ref: str) -> AnswerCheck:
        p, r = parse_quantity(pred), parse_quantity(ref)
        if p is None or r is None:  # models often drop the unit the question asked for: compare magnitudes
            missing = "predicted" if p is None else "reference"
            result = self.numeric(p[0] if p else pred, r[0] if r else ref)
            return AnswerCheck(result.verdict, f"{result.reason} (the {missing} answer gives no unit)",
                               {**result.evidence, "unit_missing": missing})
        (p_text, p_unit), (r_text, r_unit) = p, r
        p_num, r_num = parse_number(p_text), parse_number(r_text)
        evidence = {"method": "pint unit conversion", "predicted_unit": str(p_unit), "reference_unit": str(r_unit)}
        try:
            converted = to_unit(p_num.value, p_unit, r_unit)
        except ValueError as exc:  # past a float's range: no value to compare
            return AnswerCheck("undecidable", f"{p_unit} in {r_unit}: {exc}", evidence)
        if converted is None:
            return AnswerCheck("mismatch", f"{p_unit} cannot be converted to {r_unit}", evidence)
        evidence["predicted_in_reference_unit"] = float(converted)
        same, how = numbers_agree(converted, None, r_num.value, r_num.places,
                                  rel_tol=max(self.rel_tol, 1e-12), abs_tol=self.abs_tol)
        return AnswerCheck("match" if same else "mismatch", f"in {r_unit}: {how}", evidence)

    def numeric(self, pred: str, ref: str) -> AnswerCheck:
        if parse_quantity(pred) or parse_quantity(ref):  # a numeric spec still gets "350 mg" = "0.35 g"
            return self.units(pred, ref)
        p, r = parse_number(pred), parse_number(ref)
        if r is not None and p is None and _PROSE.search(pred) and (number := extract.last_number(pred)):
            if hedge := find_qualified(pred):  # "There are at least 17 ways" is the answer "at least 17"
                return self.qualified(hedge, ref)
            p, pred = parse_number(number), number  # "I count 252 ways" -> 252
        if p is not None and r is not None:
            same, how = compare_numbers(p, r, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
            evidence = {"method": "exact numbers", "predicted_value": str(p.value), "reference_value": str(r.value)}
            return AnswerCheck({True: "match", False: "mismatch", None: "undecidable"}[same], how, evidence)
        return self.expression(pred, ref)

    def expression(self, pred: str, ref: str) -> AnswerCheck:
        if " ".join(pred.split()) == " ".join(ref.split()):
            return AnswerCheck("match", "identical text", {"method": "identical text"})
        if is_percentage(pred) != is_percentage(ref):
            return AnswerCheck("undecidable", "a percentage against an answer without a percent sign: whether the "
                               "sign scales by 100 is the question's to settle", {"method": "percent sign"})
        pred, ref = strip_percent(pred), strip_percent(ref)  # both percentages: compare what is before the sign
        p, r = parse_number(pred), parse_number(ref)  # plain numbers go to sympy as exact values
        budget = self.deadline - time.monotonic()
        if budget <= 0.05:
            return AnswerCheck("undecidable", "time limit reached before the sympy check")
        args = {"pred": str(p.value) if p else pred, "ref": str(r.value) if r else ref, "rel_tol": self.rel_tol,
                "abs_tol": self.abs_tol, "pred_places": p.places if p else None, "ref_places": r.places if r else None}
        try:
            reply = call_sympy("compare", args, budget)
        except WorkerTimeout:
            return AnswerCheck("undecidable", f"sympy did not finish within {budget:.1f} s; the worker was stopped",
                               {"method": "sympy (killed)"})
        except WorkerDied as exc:
            return AnswerCheck("error", f"sympy worker crashed: {exc}", {"method": "sympy"})
        if reply["ok"]:
            result = reply["result"]
            if result["verdict"] == "mismatch" and (words := english_words(pred) + english_words(ref)):
                return AnswerCheck("undecidable", f"the answers hold words ({', '.join(words[:3])}) that sympy reads "
                                   "as products of variables, so its difference proves nothing", result["evidence"])
            return AnswerCheck(result["verdict"], result["reason"], result["evidence"])
        if reply.get("timeout"):
            return AnswerCheck("undecidable", f"sympy did not finish within {budget:.1f} s", {"method": "sympy"})
        return AnswerCheck("undecidable", f"sympy failed: {reply['error']}", {"method": "sympy"})
