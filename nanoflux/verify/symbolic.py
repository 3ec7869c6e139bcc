"""Everything that runs sympy on untrusted text: parsing answers and deciding equivalence.

This module runs only inside the worker process (see `worker.py`), because sympy has no way to
cancel work: `9**9**9**9` or a huge nested expression must be stoppable by killing the process.
It never calls `eval` on raw text: plain expressions go through a token whitelist before sympy's
parser sees them (names become symbols or whitelisted functions, nothing else), and LaTeX goes to
latex2sympy's grammar-based parser, which builds sympy objects without evaluating strings.
"""

from __future__ import annotations

import io
import json
import keyword
import random
import re
import signal
import sys
import tokenize
from fractions import Fraction
from typing import Any

import sympy
from latex2sympy2_extended import NormalizationConfig, latex2sympy
from sympy.parsing.sympy_parser import (
    auto_number,
    auto_symbol,
    convert_xor,
    factorial_notation,
    implicit_multiplication,
    parse_expr,
)

from .limits import MAX_EXPRESSION_CHARS
from .numeric import exact_value, numbers_agree

DIGITS = 30  # precision of numeric evaluation; agreement to ~25 digits counts as equality of exact forms

_FUNCTIONS: dict[str, Any] = {
    "sqrt": sympy.sqrt, "cbrt": sympy.cbrt, "exp": sympy.exp, "log": sympy.log, "ln": sympy.log,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "arcsin": sympy.asin, "arccos": sympy.acos,
    "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "abs": sympy.Abs, "Abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling, "ceiling": sympy.ceiling,
    "factorial": sympy.factorial, "binom": sympy.binomial, "binomial": sympy.binomial, "C": sympy.binomial,
    "comb": sympy.binomial, "nCr": sympy.binomial, "choose": sympy.binomial, "gcd": sympy.gcd, "lcm": sympy.lcm,
    "max": sympy.Max, "Max": sympy.Max, "min": sympy.Min, "Min": sympy.Min,
    "Mod": sympy.Mod, "perm": sympy.ff,  # what the claim readers write for "136 mod 9" and "P(5, 2)"
}
_CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E, "I": sympy.I, "oo": sympy.oo,
                              "inf": sympy.oo, "infinity": sympy.oo, "infty": sympy.oo}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda_", "mu",
          "nu", "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega"}
_ALLOWED_OPS = {"+", "-", "*", "/", "**", "^", "(", ")", ",", "<", ">", "<=", ">="}
_UNICODE = {"√": "sqrt", "π": "pi", "×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "∞": "oo", "≤": "<=",
            "≥": ">=", "²": "^2", "³": "^3"}
_LATEX_HINT = re.compile(r"\\|\^\{|_\{|\{|\}")
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")
_TRANSFORMS = (auto_symbol, auto_number, factorial_notation, convert_xor, implicit_multiplication)
_LATEX_CONFIG = NormalizationConfig(basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all")


class ParseError(ValueError):
    """The text is not a math expression this parser accepts (the message says why)."""


class SoftTimeout(Exception):
    """Raised by the worker's own alarm, so a slow request ends with a verdict instead of a kill."""


def parse_math(text: str) -> sympy.Basic:
    """Parse an answer (LaTeX or plain `(a^3+2b)/(3a)` style) into sympy, never evaluating raw text."""
    s = text.strip()
    if not s:
        raise ParseError("empty expression")
    if len(s) > MAX_EXPRESSION_CHARS:
        raise ParseError(f"expression too long ({len(s)} chars > {MAX_EXPRESSION_CHARS})")
    for old, new in _UNICODE.items():
        s = s.replace(old, new)
    if _LATEX_HINT.search(s):
        return _parse_latex(s)
    try:
        return _parse_plain(s)
    except ParseError:
        return _parse_latex(s)  # e.g. |x| or 2pi r, which the LaTeX grammar reads as math too


def _parse_latex(s: str) -> sympy.Basic:
    depth = 0
    for ch in s.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ParseError("unbalanced braces in LaTeX")
    try:
        return latex2sympy(s, normalization_config=_LATEX_CONFIG)
    except Exception as exc:  # noqa: BLE001 - the ANTLR parser raises bare Exceptions with a caret diagram
        raise ParseError(f"not parseable as LaTeX: {str(exc).splitlines()[0][:120]}") from None


def _parse_plain(s: str) -> sympy.Basic:
    s = s.replace("**", "^")
    local: dict[str, Any] = {}
    tokens = _tokens(s)
    for i, (kind, value) in enumerate(tokens):
        if kind == tokenize.NAME:
            calls = i + 1 < len(tokens) and tokens[i + 1][1] == "("
            local[value] = _name_value(value, calls)
        elif kind == tokenize.NUMBER and i > 0 and tokens[i - 1][0] == tokenize.NUMBER:
            raise ParseError("two numbers in a row")
    if len(sides := _EQUALS.split(s, maxsplit=1)) == 2:
        lhs, rhs = sides
        return sympy.Eq(_parse_plain(lhs.strip()), _parse_plain(rhs.strip()), evaluate=False)  # " 4s" is no token
    try:
        return parse_expr(s, local_dict=local, global_dict=_parser_globals(), transformations=_TRANSFORMS)
    except (SyntaxError, TypeError, ValueError, AttributeError, ZeroDivisionError, RecursionError) as exc:
        raise ParseError(f"not parseable as an expression: {type(exc).__name__}") from None


def _tokens(s: str) -> list[tuple[int, str]]:
    """Python tokens of `s`, refusing anything but numbers, plain names and arithmetic operators."""
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(s).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ParseError(f"not tokenizable: {exc}") from None
    out = []
    for tok in raw:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.NAME:
            if keyword.iskeyword(tok.string) or "__" in tok.string or len(tok.string) > 24:
                raise ParseError(f"name {tok.string!r} is not allowed in an expression")
        elif tok.type == tokenize.OP:
            if tok.string not in _ALLOWED_OPS and tok.string != "=":
                raise ParseError(f"operator {tok.string!r} is not allowed in an expression")
        elif not (tok.type == tokenize.NUMBER or (tok.type == tokenize.ERRORTOKEN and tok.string in ("!", " "))):
            raise ParseError(f"token {tok.string!r} is not allowed in an expression")
        out.append((tok.type, tok.string))
    return out


def _name_value(name: str, calls: bool) -> Any:
    if calls and name in _FUNCTIONS:
        return _FUNCTIONS[name]
    if name in _CONSTANTS:
        return _CONSTANTS[name]
    if name.isalpha() and 1 < len(name) <= 4 and name not in _GREEK:
        return sympy.Mul(*(sympy.Symbol(ch) for ch in name))  # "ab" is a times b, as in "2ab"
    return sympy.Symbol(name)


def _parser_globals() -> dict[str, Any]:
    # Only what sympy's own transformations emit (numbers, symbols, factorial); no builtins.
    return {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
            "Symbol": sympy.Symbol, "factorial": sympy.factorial}


def compare(pred: str, ref: str, *, rel_tol: float, abs_tol: float,
            pred_places: int | None = None, ref_places: int | None = None) -> dict:
    """Decide whether two math answers are equivalent: a verdict dict for `AnswerCheck`."""
    parsed = {}
    for side, text in (("predicted", pred), ("reference", ref)):
        try:
            parsed[side] = parse_math(text)
        except ParseError as exc:
            return _verdict("undecidable", f"could not parse {side} answer: {exc}")
    a, b = _unwrap_assignments(parsed["predicted"], parsed["reference"])
    evidence = {"predicted_parsed": _show(a), "reference_parsed": _show(b)}
    same, method = equivalent(a, b, a_places=pred_places, b_places=ref_places, rel_tol=rel_tol, abs_tol=abs_tol)
    evidence["method"] = method
    if same is None:
        return _verdict("undecidable", f"sympy could not decide: {method}", evidence)
    return _verdict("match" if same else "mismatch", method, evidence)


def _unwrap_assignments(a: sympy.Basic, b: sympy.Basic) -> tuple[sympy.Basic, sympy.Basic]:
    """`x = 5` against `5` compares 5 with 5; two assignments to the same name compare their values."""
    def value(e: sympy.Basic) -> sympy.Basic:
        return e.rhs if isinstance(e, sympy.Eq) and isinstance(e.lhs, sympy.Symbol) else e

    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq) and a.lhs != b.lhs:
        return a, b
    return value(a), value(b)


def equivalent(a: sympy.Basic, b: sympy.Basic, *, a_places: int | None = None, b_places: int | None = None,
               rel_tol: float = 1e-9, abs_tol: float = 0.0) -> tuple[bool | None, str]:
    """(True/False/None for undecided, how it was decided) for two parsed answers."""
    if a == b:
        return True, "identical after parsing"
    if isinstance(a, sympy.Rel) or isinstance(b, sympy.Rel) or isinstance(a, sympy.Set) or isinstance(b, sympy.Set):
        return _equivalent_sets_or_relations(a, b)
    if not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return None, f"cannot compare {type(a).__name__} with {type(b).__name__}"
    a, b = _rationalize(a).doit(), _rationalize(b).doit()  # LaTeX parses stay unevaluated: 2^{20000} - 1
    if a == b:
        return True, "equal after evaluation"
    if not a.free_symbols and not b.free_symbols:
        return _equivalent_constants(a, b, a_places, b_places, rel_tol, abs_tol)
    return _equivalent_functions(a, b)


def _rationalize(e: sympy.Expr) -> sympy.Expr:
    """Read decimals inside expressions exactly (0.5x is x/2), as the writer meant them."""
    return e.xreplace({f: sympy.Rational(str(f)) for f in e.atoms(sympy.Float)}) if e.has(sympy.Float) else e


def _equivalent_constants(a: sympy.Expr, b: sympy.Expr, a_places: int | None, b_places: int | None,
                          rel_tol: float, abs_tol: float) -> tuple[bool | None, str]:
    if isinstance(a, sympy.Rational) and isinstance(b, sympy.Rational) and a_places is None and b_places is None:
        return False, f"different exact values ({_show(a)} vs {_show(b)})"  # 10^100 + 1 is not 10^100
    va, vb = sympy.N(a, DIGITS), sympy.N(b, DIGITS)
    if not (va.is_number and vb.is_number):
        return None, "values did not evaluate to numbers"
    if va.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) or vb.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return va == vb, "compared infinite values"
    tol = max(rel_tol, 10.0 ** (5 - DIGITS))
    parts = []
    for part in (sympy.re, sympy.im):
        x, y = _fraction(part(va)), _fraction(part(vb))
        same, how = numbers_agree(x, a_places, y, b_places, rel_tol=tol, abs_tol=abs_tol)
        if not same:
            return False, f"numeric values differ ({sympy.N(a, 12)} vs {sympy.N(b, 12)})"
        parts.append(how)
    return True, f"numerically {parts[0]} (evaluated to {DIGITS} digits)"


def _fraction(x: sympy.Expr) -> Fraction:
    r = sympy.Rational(x) if not isinstance(x, sympy.Rational) else x
    return Fraction(int(r.p), int(r.q))


def _equivalent_functions(a: sympy.Expr, b: sympy.Expr) -> tuple[bool | None, str]:
    """Cheap disproof first (random points), then a proof by simplification if time allows."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    rng = random.Random(0)
    agreed = 0
    for trial in range(8):
        point = {s: (sympy.Integer(rng.randint(2, 9)) if trial % 2 else sympy.Rational(rng.randint(11, 97), 29))
                 for s in symbols}
        va, vb = (sympy.N(e.subs(point), 20) for e in (a, b))
        if not (va.is_real and vb.is_real and va.is_finite and vb.is_finite):
            continue
        if abs(va - vb) > 1e-10 * max(1, abs(va), abs(vb)):
            shown = ", ".join(f"{s}={v}" for s, v in point.items())
            return False, f"values differ at {shown} ({sympy.N(va, 8)} vs {sympy.N(vb, 8)})"
        agreed += 1
    try:
        if sympy.simplify(a - b) == 0:
            return True, "difference simplifies to 0"
    except SoftTimeout:
        if agreed >= 3:
            return True, f"equal at {agreed} random points (simplification ran out of time)"
        raise
    if agreed >= 3:
        return True, f"equal at {agreed} random points (simplify could not prove it)"
    return None, "no real sample points and simplification did not prove equality"


def _equivalent_sets_or_relations(a: sympy.Basic, b: sympy.Basic) -> tuple[bool | None, str]:
    """Inequalities and intervals compared as the sets of values they describe (x > 2 is (2, oo))."""
    try:
        sa, sb = (_as_set(e) for e in (a, b))
    except (ValueError, NotImplementedError, TypeError) as exc:
        return None, f"cannot turn the answer into a set: {exc}"
    if sa is None or sb is None:
        if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
            da, db = a.lhs - a.rhs, b.lhs - b.rhs
            same, how = _equivalent_functions(da, db)
            if same:
                return True, f"equations with equal sides: {how}"
            flipped, how = _equivalent_functions(da, -db)
            return (True, f"equations with swapped sides: {how}") if flipped else (same, how)
        return None, "cannot compare these relations"
    diff = sa.symmetric_difference(sb)
    if diff == sympy.S.EmptySet:
        return True, "same set of values"
    return False, f"sets differ by {_show(diff)}"


def _as_set(e: sympy.Basic) -> sympy.Set | None:
    if isinstance(e, sympy.Set):
        return e
    if isinstance(e, sympy.Rel) and len(e.free_symbols) == 1 and not isinstance(e, sympy.Eq):
        return e.as_set()
    if isinstance(e, sympy.Expr) and not e.free_symbols:
        return sympy.FiniteSet(e)
    return None


def evaluate(expressions: list[str]) -> list[dict]:
    """Exact (rational) and approximate values of closed arithmetic expressions from solution steps."""
    values = []
    for text in expressions:
        try:
            e = parse_math(text)
        except ParseError as exc:
            values.append({"ok": False, "reason": str(exc)})
            continue
        if not isinstance(e, sympy.Expr) or e.free_symbols or not e.is_number:
            values.append({"ok": False, "reason": "not a closed arithmetic expression"})
            continue
        e = _rationalize(e)
        approx = sympy.N(e, 25)
        if not (approx.is_real and approx.is_finite):
            values.append({"ok": False, "reason": "not a finite real number"})
            continue
        exact = _show(e, limit=None) if isinstance(e, sympy.Rational) else None
        if exact_value(exact or str(approx)) is None:  # the caller reads values exactly: only those within the caps
            values.append({"ok": False, "reason": "a value past the digit or exponent caps"})
            continue
        values.append({"ok": True, "exact": exact, "approx": str(approx)})
    return values


def simplify(expression: str) -> dict:
    """Simplified form of an expression."""
    return {"result": _show(sympy.simplify(parse_math(expression)))}


def solve(equation: str, variable: str) -> dict:
    """Solutions of `lhs = rhs` (or `expr = 0`) for one variable."""
    e = parse_math(equation)
    if isinstance(e, sympy.Eq):
        e = e.lhs - e.rhs
    return {"solutions": [_show(s) for s in sympy.solve(e, sympy.Symbol(variable))]}


def check_equations(equations: list[str], premises: int = 0) -> list[dict]:
    """Each equation of a solution, in order: a "premise" (it sets up what the earlier ones leave open),
    or, where the earlier premises determine all its unknowns, whether it "holds" or "fails" there.

    "2x + 3 = 11" is a premise; then "2x = 8" holds and "x = 5" fails (x is 4); "x = 3" after
    "x^2 = 5x - 6" "picks a solution" (the question decides which). `values` are the unknowns'
    values where the premises determine them (one solution), so later steps may use them. The
    first `premises` equations (the question's own) are premises whatever they determine.
    """
    system: list[sympy.Expr] = []
    out = []
    for index, text in enumerate(equations):
        try:
            e = parse_math(text)
        except ParseError as exc:
            out.append({"status": "unreadable", "reason": str(exc)})
            continue
        if not isinstance(e, sympy.Eq) or not e.free_symbols:
            out.append({"status": "unreadable", "reason": "not an equation with unknowns"})
            continue
        difference = _rationalize(e.lhs - e.rhs)
        solutions = sympy.solve(system, dict=True) if system else []
        known = [{k for k, v in s.items() if not v.free_symbols} for s in solutions]  # x = y + 6 is not known
        if index >= premises and solutions and all(difference.free_symbols <= k for k in known):
            held = [sympy.simplify(difference.subs(s)) == 0 for s in solutions]
            values = {str(k): _show(v, limit=None) for k, v in solutions[0].items() if v.is_Rational} \
                if len(solutions) == 1 else {}
            status = "holds" if all(held) else "fails" if not any(held) else "picks a solution"
            out.append({"status": status, "values": values})
        else:
            system.append(difference)
            out.append({"status": "premise"})
    return out


def _show(e: Any, limit: int | None = 300) -> str:
    try:
        text = sympy.sstr(e)
    except ValueError:  # Python refuses to print integers of more than 4300 digits
        return f"<{type(e).__name__} too large to print>"
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


def _verdict(verdict: str, reason: str, evidence: dict | None = None) -> dict:
    return {"verdict": verdict, "reason": reason, "evidence": evidence or {}}


OPERATIONS = {"check_equations": check_equations, "compare": compare, "evaluate": evaluate, "simplify": simplify,
              "solve": solve}


def serve() -> None:
    """The worker loop: one JSON request per stdin line, one JSON reply per stdout line.

    Each request carries a soft time limit enforced by an alarm here; the parent kills the process
    when even that does not return (a C-level computation ignores signals).
    """
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    signal.signal(signal.SIGALRM, _on_alarm)
    parse_math("\\frac{1}{2}")  # load the LaTeX grammar before saying ready
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, request["soft_timeout_s"])
        try:
            reply = {"ok": True, "result": OPERATIONS[request["op"]](**request["args"])}
        except SoftTimeout:
            reply = {"ok": False, "timeout": True, "error": f"ran past {request['soft_timeout_s']:.2f} s"}
        except Exception as exc:  # noqa: BLE001 - sympy raises many types; a reply is better than a dead worker
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps(reply) + "\n")
        out.flush()


def _on_alarm(signum: int, frame: object) -> None:
    raise SoftTimeout()
