"""English inside answers: number words, count nouns, and word forms that name the same thing.

Models write "twenty-four", "17 jars" or "the mitochondrion" where a reference says 24, 17 or
"mitochondria". Read as math, those words become products of letter variables; read as plain text,
they differ from the reference. These helpers turn number words into numbers, tell a count noun
("jars", "ways") from a unit or a math word, and compare words up to plural and Latin/Greek endings.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .limits import MAX_LITERAL_DIGITS

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: (i + 2) * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINALS = {"first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight", "ninth": "nine",
             "twelfth": "twelve"}
_CARDINALS = {**_UNITS, **_TEENS, **_TENS, "hundred": 100, "dozen": 12, **_SCALES}

# Words that change a number's meaning or say something about it: never dropped as a count noun.
_NOT_NOUNS = set(_CARDINALS) | {
    "and", "or", "of", "to", "by", "than", "from", "per", "over", "times", "plus", "minus", "divided", "multiplied",
    "squared", "cubed", "factorial", "power", "powers", "root", "roots", "percent", "percentage", "half", "halves",
    "thirds", "quarter", "quarters", "fourths", "fifths", "tenths", "hundredths", "dozens", "hundreds",
    "thousands", "millions", "billions", "less", "more", "fewer", "greater", "smaller", "larger", "least", "most",
    "at", "about", "approximately", "roughly", "around", "not", "no", "none", "only", "exactly", "is", "are",
    "st", "nd", "rd", "th", "mod", "modulo", "choose", "factorials", "degree", "degrees", "radian", "radians",
}
# Function, constant and Greek-letter names the math parsers know: math, not English, in an answer.
MATH_NAMES = {
    "sqrt", "cbrt", "exp", "log", "ln", "lg", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "abs", "floor", "ceil", "ceiling", "factorial", "binom",
    "binomial", "comb", "ncr", "choose", "gcd", "lcm", "max", "min", "mod", "pi", "inf", "infinity", "infty",
    "frac", "dfrac", "tfrac", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
}
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_ALPHA_RUN = re.compile(r"(?<![A-Za-z])[A-Za-z]+(?![A-Za-z])")
_SHORT_WORDS = {"no", "ok", "is", "it", "of", "on", "to", "an", "or", "at", "by", "be", "so", "do", "up", "if", "as",
                "we", "he", "me", "my", "us"}
_DIGITS = rf"\d{{1,{MAX_LITERAL_DIGITS}}}(?:\.\d{{1,{MAX_LITERAL_DIGITS}}})?"  # "2 million": digits before a scale
_NOUN_WORD = re.compile(r"^[A-Za-z][A-Za-z'-]*[A-Za-z]$")


def parse_number_words(text: str) -> Fraction | None:
    """The number an English phrase names, or None: "twenty-four" 24, "one hundred and five" 105,
    "a hundred" 100, "2 million" 2000000, "minus three" -3, "twenty-first" 21 (ordinals last only).

    Ill-formed runs ("five six", "twenty thirty", "thousand million") are not numbers.
    """
    tokens = text.lower().replace("-", " ").replace(",", " ").split()
    sign = 1
    if tokens and tokens[0] in ("minus", "negative"):
        sign, tokens = -1, tokens[1:]
    if not tokens:
        return None
    tokens = [_cardinal(t) if i == len(tokens) - 1 else t for i, t in enumerate(tokens)]
    if tokens[0] in ("a", "an") and len(tokens) > 1 and tokens[1] in ("hundred", "dozen", *_SCALES):
        tokens[0] = "one"
    if tokens[0] not in _CARDINALS and not re.fullmatch(_DIGITS, tokens[0]):
        return None
    if tokens[0][0].isdigit():  # "2 million", "1.5 billion": digits only before a scale word
        if len(tokens) < 2 or tokens[1] not in ("hundred", "dozen", *_SCALES):
            return None
        group, last = Fraction(tokens[0]), "digits"
        tokens = tokens[1:]
    else:
        group, last = Fraction(0), None
    total, last_scale, words = Fraction(0), None, 0
    for i, token in enumerate(tokens):
        if token == "and" and 0 < i < len(tokens) - 1 and last in ("hundred", "scale"):
            continue
        words += 1
        if token == "zero":
            if len(tokens) != 1:
                return None
        elif token in _UNITS:
            if last not in (None, "ten", "hundred", "scale"):
                return None
            group, last = group + _UNITS[token], "unit"
        elif token in _TEENS or token in _TENS:
            if last not in (None, "hundred", "scale"):
                return None
            group, last = group + (_TEENS.get(token) or _TENS[token]), "teen" if token in _TEENS else "ten"
        elif token == "hundred":
            if last not in ("unit", "teen", "ten", "digits") or group >= 100 or group == 0:
                return None
            group, last = group * 100, "hundred"
        elif token == "dozen":
            if i != len(tokens) - 1 or last not in ("unit", "teen", "ten", "digits"):
                return None
            group, last = group * 12, "dozen"
        elif token in _SCALES:
            scale = _SCALES[token]
            if group == 0 or (last_scale is not None and scale >= last_scale):
                return None
            total, group, last, last_scale = total + group * scale, Fraction(0), "scale", scale
        else:
            return None
    if words == 0:
        return None
    return sign * (total + group)


def _cardinal(token: str) -> str:
    """"twenty-first" -> "one", "fourth" -> "four", "sixtieth" -> "sixty"; else unchanged ("hundredth" may be 1/100)."""
    if token in _ORDINALS:
        return _ORDINALS[token]
    if token.endswith("ieth") and token[:-4] + "y" in _TENS:
        return token[:-4] + "y"
    if token.endswith("th") and (token[:-2] in _UNITS or token[:-2] in _TEENS):
        return token[:-2]
    return token


def is_count_noun(text: str, is_unit) -> bool:
    """Whether `text` ("jars", "glass jars", "ways") only names what a number counts.

    One to three words of letters, none a unit (`is_unit(word)`), a number word, a math name or a
    word that changes the number ("squared", "percent", "more"). At least one word has 3+ letters,
    so "2 ab" stays the product 2ab.
    """
    parts = text.split()
    if not 1 <= len(parts) <= 3 or not all(_NOUN_WORD.match(p) for p in parts):
        return False
    lowered = [p.lower() for p in parts]
    if any(p in _NOT_NOUNS or p in MATH_NAMES or is_unit(p) for p in lowered):
        return False
    return max(len(p) for p in parts) >= 3


def english_words(text: str) -> list[str]:
    """Words in a math answer: runs of 3+ letters that are no LaTeX command or math name ("six", "jars"),
    and common two-letter words standing alone ("no", "is"), which sympy would read as products."""
    runs = _ALPHA_RUN.findall(_LATEX_COMMAND.sub(" ", text))
    return [w for w in runs if (len(w) >= 3 and w.lower() not in MATH_NAMES) or w.lower() in _SHORT_WORDS]


# Plural and Latin/Greek endings: (ending, replacements). A word's forms are itself plus each rewrite.
_SUFFIXES = [
    ("ies", ("y",)), ("ves", ("f", "fe")), ("ices", ("ex", "ix")), ("ses", ("sis", "s")), ("xes", ("x",)),
    ("ches", ("ch",)), ("shes", ("sh",)), ("zes", ("z",)), ("oes", ("o",)), ("men", ("man",)),
    ("ae", ("a",)), ("ia", ("ion", "ium")), ("a", ("on", "um")), ("i", ("us",)), ("s", ("",)),
]
_IRREGULAR = {"feet": "foot", "teeth": "tooth", "mice": "mouse", "geese": "goose", "children": "child",
              "people": "person", "oxen": "ox", "lice": "louse", "dice": "die"}


def word_forms(word: str) -> set[str]:
    """`word` and the singular forms it may be the plural of: "mitochondria" -> {"mitochondrion", ...}."""
    forms = {word}
    if word in _IRREGULAR:
        forms.add(_IRREGULAR[word])
    if len(word) < 4 or word.endswith(("ss", "us", "is")):
        return forms
    for ending, replacements in _SUFFIXES:
        if word.endswith(ending):
            forms.update(word[: -len(ending)] + r for r in replacements)
    return forms


def same_words(a: list[str], b: list[str]) -> bool:
    """Whether two word lists are the same words up to singular/plural forms, position by position."""
    return len(a) == len(b) and all(x == y or word_forms(x) & word_forms(y) for x, y in zip(a, b, strict=True))
