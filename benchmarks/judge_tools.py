"""Speed and accuracy of the judge's tools: answer equivalence and the Python sandbox.

    python benchmarks/judge_tools.py                # figures
    python benchmarks/judge_tools.py --write-pairs  # regenerate tests/data/answer_pairs.jsonl

Prints the median time of `answers_match` over the answer pairs, the median time of one isolated
sandbox run (bubblewrap) and one unsafe-local run next to a bare `python -c pass`, with their ratio
(target: isolated under 2x bare), how many equivalent rewrites / wrong pairs NanoFlux and
math-verify (the Hugging Face grader) accept, and the reference check on the labelled whole
solutions (tests/data/reference_solutions.jsonl): wrong references confirmed (goal 0), right ones
confirmed (goal >= 90%), undecidable, and the time per solution.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from math import comb
from pathlib import Path

from nanoflux.jobs.reference_eval import evaluate_references, load_solutions
from nanoflux.verify import answers_match, run_python
from nanoflux.verify.sandbox import Sandbox

PAIRS_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "answer_pairs.jsonl"
SOLUTIONS_PATH = PAIRS_PATH.with_name("reference_solutions.jsonl")


def make_pairs() -> list[dict]:
    """Equivalent rewrites of competition-style answers (as models write them), near-miss wrong ones, and
    loose pairs (a percentage, bound, range or approximation against a value, some of several options)
    whose verdict is pinned: never a match, and `undecidable` where the answer might still be right."""
    rows: list[dict] = []

    def add(form: str, reference: str, equivalent: bool, *predictions: str, verdict: str | None = None) -> None:
        rows.extend({"predicted": p, "reference": reference, "equivalent": equivalent, "form": form,
                     **({"verdict": verdict} if verdict else {})} for p in predictions)

    for n in [7, 42, 252, 1024, 2024, 12345, 1000000, -17, 360, 99999]:
        s = str(n)
        rewrites = [f"\\boxed{{{s}}}", f"The final answer is ${s}$.", f"{s}.0", f"${s}$", f"**Answer:** {s}"]
        if abs(n) >= 1000:
            rewrites += [f"{n:,}", f"{n:,}".replace(",", "{,}"), f"{n:,}".replace(",", "\\,")]
        add("integer", s, True, *rewrites)
        add("integer", s, False, str(n + 1), f"\\boxed{{{n * 10}}}", f"The final answer is ${-n}$.")
    for p, q in [(1, 2), (3, 4), (2, 3), (5, 6), (7, 12), (-1, 3), (11, 8), (22, 7), (1, 16), (9, 10)]:
        value, a, sign = Fraction(p, q), abs(p), "-" if p < 0 else ""
        reference = f"{sign}\\frac{{{a}}}{{{q}}}"
        rewrites = [f"{sign}{a}/{q}", f"{sign}\\dfrac{{{a}}}{{{q}}}", f"\\boxed{{{reference}}}", f"({sign}{a})/{q}",
                    f"{sign}\\tfrac{{{a}}}{{{q}}}", f"\\frac{{{sign}{a}}}{{{q}}}"]
        if q in (2, 4, 8, 10, 16):
            rewrites.append(str(float(value)))
        if a < 10 and q < 10:
            rewrites.append(f"{sign}\\frac{a}{q}")
        add("fraction", reference, True, *rewrites)
        one_decimal = f"{float(value):.1f}" if float(value) * 10 % 1 else f"{float(value) + 0.1:.1f}"
        add("fraction", reference, False, f"\\frac{{{q}}}{{{a}}}" if a != q else "2",
            f"{sign}\\frac{{{a + 1}}}{{{q}}}", one_decimal)
    for c, r in [(2, 3), (3, 2), (5, 6), (4, 7)]:
        reference = f"{c}\\sqrt{{{r}}}"
        add("radical", reference, True, f"\\sqrt{{{c * c * r}}}", f"{c}*sqrt({r})", f"{c} \\sqrt {r}",
            f"\\sqrt{{{r}}} \\cdot {c}", f"{c}\\sqrt{r}", f"sqrt({c * c * r})")
        add("radical", reference, False, f"{r}\\sqrt{{{c}}}", f"\\sqrt{{{c * r}}}", f"{c + 1}\\sqrt{{{r}}}")
    for n, k in [(10, 5), (8, 3), (6, 2), (12, 4)]:
        value = str(comb(n, k))
        add("binomial", value, True, f"\\binom{{{n}}}{{{k}}}", f"C({n}, {k})", f"\\dbinom{{{n}}}{{{k}}}",
            f"{{{n} \\choose {k}}}", f"binom({n},{k})")
        add("binomial", value, False, f"\\binom{{{n}}}{{{k + 1}}}", f"C({n}, {k - 1})")
    for a, b in [(25, 76), (-3, 5), (1, 2)]:
        reference = f"\\{{{a}, {b}\\}}"
        add("set", reference, True, f"{b}, {a}", f"{a} and {b}", f"x = {a} \\text{{ or }} x = {b}",
            f"\\{{{b},{a}\\}}", f"{a}, {b}")
        add("set", reference, False, f"{a}", f"{a}, {b}, {a + b}", f"{a}, {b + 1}")
    for form, reference, equivalent, wrong in [
        ("pi", "\\frac{\\pi}{2}", ["\\pi/2", "pi/2", "0.5\\pi", "\\frac{1}{2}\\pi", "\\dfrac{\\pi}{2}", "π/2"],
         ["\\pi", "2\\pi", "\\frac{\\pi}{3}"]),
        ("pi", "4\\pi", ["4π", "4*pi", "\\pi \\cdot 4", "\\frac{8\\pi}{2}"], ["4", "8\\pi"]),
        ("polynomial", "(x+1)^2", ["x^2+2x+1", "x^2 + 2*x + 1", "1 + 2x + x^2", "(1+x)^{2}", "x**2 + 2*x + 1"],
         ["x^2+1", "x^2-2x+1", "(x-1)^2"]),
        ("polynomial", "(x-2)(x+3)", ["x^2+x-6", "x^2 + x - 6", "(x+3)(x-2)"], ["x^2-x-6", "(x+2)(x-3)"]),
        ("rational expression", "\\frac{a^3+2b}{3a}",
         ["(2*b + a**3)/(3*a)", "(a^3+2b)/(3a)", "\\frac{a^2}{3} + \\frac{2b}{3a}", "\\dfrac{2b+a^3}{3a}"],
         ["(a^3+2b)/(3b)", "\\frac{a^3+2b}{a}", "\\frac{a^3-2b}{3a}"]),
        ("rational expression", "\\frac{n(n+1)}{2}", ["n(n+1)/2", "\\frac{n^2+n}{2}", "(n^2 + n)/2", "\\binom{n+1}{2}"],
         ["n(n-1)/2", "\\frac{n^2}{2}"]),
        ("interval", "[2, \\infty)", ["x \\ge 2", "x \\geq 2", "[2,\\infty)", "2 \\le x"],
         ["(2, \\infty)", "x > 2", "x \\le 2"]),
        ("percent", "25\\%", ["25%", "25 percent"], ["0.025", "2.5", "250"]),
        ("scientific", "1.5 \\times 10^{3}", ["1500", "1.5e3", "1,500", "1500.0"], ["150", "1.5e4", "15000"]),
        ("power", "2^{10}", ["1024", "2**10", "4^5"], ["1000", "2^{9}", "20"]),
        ("trig", "\\frac{\\sqrt{3}}{2}",
         ["\\sin(\\pi/3)", "sqrt(3)/2", "\\cos\\frac{\\pi}{6}", "\\frac{1}{2}\\sqrt{3}"],
         ["\\frac{\\sqrt{2}}{2}", "\\frac{1}{2}"]),
        ("log", "3", ["\\log_2 8", "\\log_{2}(8)", "\\ln(e^3)"], ["\\log_2 16", "\\log_3 8"]),
        ("mixed number", "\\frac{5}{2}", ["2\\frac{1}{2}", "2.5", "2 1/2"], ["2\\frac{1}{3}", "1.5"]),
        ("tuple", "(1, 2)", ["(1,2)", "\\left(1, 2\\right)", "(1.0, 2)"], ["(2, 1)", "(1, 3)"]),
        ("equation", "2x+1", ["y = 2x+1", "y=1+2x"], ["y = 2x-1"]),
        ("assignment", "5", ["x = 5", "x=5"], ["x = 6"]),
        ("complex", "1+i", ["i+1", "1 + i", "(1+i)"], ["1-i", "i"]),
        ("exponential", "e^{2}", ["exp(2)", "e^2", "\\exp(2)"], ["2e", "e^{3}"]),
        ("choice", "B", ["(B)", "\\text{(B)}", "B) 42", "Answer: b", "The answer is (B).", "\\boxed{B}"],
         ["(C)", "A", "The answer is (D)."]),
    ]:
        add(form, reference, True, *equivalent)
        add(form, reference, False, *wrong)
    for form, reference, equivalent, undecidable, wrong in [
        ("percent vs plain number", "25\\%", [], ["0.25", "25", "\\frac{1}{4}", "2^{-2}"], []),
        ("percent vs plain number", "0.5", ["0.50"], ["0.5%", "50%", "50\\%", "0.5 per cent", "0.5 pct"], ["5%"]),
        ("percent vs plain number", "50%", ["50\\%", "50 percent", "\\boxed{50\\%}"], ["0.5", "1/2", "50"],
         ["5%"]),
        ("bound", "17", [], ["at least 17", "at most 17", ">= 17", "≥ 17", "\\geq 17", "17 or more", "more than 16",
                             "fewer than 18", "There are at least 17 ways.", "minimum of 17", "17 at least",
                             "maximum of 17", "17 at most"],
         ["at least 18", "more than 17", "fewer than 17"]),
        ("bound", "at least 17", ["at least 17", "\\ge 17", "17 or more", "no fewer than 17"],
         ["17", "20", "more than 16", "at most 17"], ["16", "at least 18"]),
        ("bound", "at most 5", ["up to 5", "no more than 5", "<= 5"], ["5", "3", "less than 6"], ["6", "at most 4"]),
        ("approximation", "17", [], ["about 17", "approximately 17", "~17", "≈ 17", "roughly 17", "around 17",
                                     "I count about 17 ways", "17 or so", "17 approximately", "17 (approx.)"], []),
        ("approximation", "about 17", ["approximately 17", "~17", "about seventeen"], ["17", "about 20"], []),
        ("range", "4", [], ["3-5", "3 to 5", "between 3 and 5", "3–5", "from 3 to 5", "3-5 apples", "3 - 5"],
         ["5-7", "6 to 9"]),
        ("range", "3-5", ["between 3 and 5", "3 to 5", "3–5", "from 3 to 5"], ["4", "3", "at most 5"], ["7", "3-6"]),
        ("several options", "(B) and (C)", ["B and C", "(C) and (B)", "B, C", "both B and C"],
         ["B", "(C)", "The answer is (B).", "B or C"], ["D", "B and D"]),
        ("several options", "(A) or (C)", ["A or C", "either A or C", "(C) or (A)"], ["A", "C", "A and C"], ["B"]),
        ("several options", "A, B", ["A and B", "B, A"], ["A", "(B)"], ["C", "A, C"]),
        ("several options", "B", [], ["(B) and (C)", "B or C", "A, B"], ["(A) and (C)", "C or D"]),
    ]:
        add(form, reference, True, *equivalent)
        add(form, reference, False, *undecidable, verdict="undecidable")
        add(form, reference, False, *wrong, verdict="mismatch")
    return rows


def load_pairs() -> list[dict]:
    return [json.loads(line) for line in PAIRS_PATH.read_text().splitlines() if line.strip()]


def timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def bench_answers(pairs: list[dict]) -> list[bool]:
    answers_match("x + 1", "1 + x")  # start the sympy worker outside the timing
    times, verdicts = [], []
    for pair in pairs:
        started = time.perf_counter()
        verdicts.append(answers_match(pair["predicted"], pair["reference"]))
        times.append(time.perf_counter() - started)
    times.sort()
    print(f"answers_match over {len(pairs)} pairs: median {statistics.median(times) * 1e3:.2f} ms, "
          f"p90 {times[int(0.9 * len(times))] * 1e3:.2f} ms, max {times[-1] * 1e3:.1f} ms")
    return verdicts


def bench_sandbox(runs: int = 20) -> None:
    """Start cost of a sandbox run against a bare interpreter, interleaved so that load hits all alike."""
    isolated = Sandbox()
    if refused := isolated.refusal():
        print(f"isolated sandbox unavailable here: {refused}")
    kinds = {"bare `python -c pass`": lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
             "unsafe-local run (print(1))": lambda: run_python("print(1)", sandbox=Sandbox(mode="unsafe-local"))}
    if not refused:
        kinds["isolated run (print(1))"] = lambda: run_python("print(1)", sandbox=isolated)
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(runs):
        for name, run in kinds.items():
            times[name].append(timed(run))
    bare = statistics.median(times["bare `python -c pass`"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name}: median {median * 1e3:.1f} ms over {runs} runs ({median / bare:.2f}x bare)")


def math_verify_verdicts(pairs: list[dict], *, wrap: bool) -> list[bool] | None:
    """math-verify's verdicts, the gold answer in `$...$` as its README does; with `wrap`, bare
    predictions get `$...$` too (its LaTeX extraction needs delimiters), which is kinder to it."""
    try:
        from math_verify import parse, verify
    except ImportError:
        return None
    verdicts = []
    for pair in pairs:
        predicted = pair["predicted"]
        if wrap and "$" not in predicted and "\\boxed" not in predicted:
            predicted = f"${predicted}$"
        try:
            verdicts.append(bool(verify(parse(f"${pair['reference']}$"), parse(predicted))))
        except Exception:  # noqa: BLE001 - math-verify raises many kinds on some inputs; count it as not accepted
            verdicts.append(False)
    return verdicts


def report_accuracy(name: str, pairs: list[dict], verdicts: list[bool]) -> None:
    equivalent = [v for p, v in zip(pairs, verdicts, strict=True) if p["equivalent"]]
    wrong = [v for p, v in zip(pairs, verdicts, strict=True) if not p["equivalent"]]
    print(f"{name:24} accepts {sum(equivalent)}/{len(equivalent)} equivalent rewrites "
          f"({100 * sum(equivalent) / len(equivalent):.1f}%) and {sum(wrong)}/{len(wrong)} wrong pairs")


def bench_references() -> None:
    """The reference check on labelled whole solutions, by kind where it is not perfect."""
    rows = load_solutions(SOLUTIONS_PATH)
    report = evaluate_references(rows)
    print(report.render())
    print(f"mean time per solution: {report.seconds / len(rows) * 1e3:.1f} ms")
    for kind, counts in report.by_kind.items():
        if counts.get("wrong match") or sum(v for k, v in counts.items() if k.startswith("right ")) != counts.get(
                "right match", 0):
            print(f"  {kind}: {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-pairs", action="store_true", help=f"regenerate {PAIRS_PATH.name} and exit")
    if parser.parse_args().write_pairs:
        PAIRS_PATH.write_text("".join(json.dumps(row) + "\n" for row in make_pairs()))
        print(f"wrote {PAIRS_PATH}")
        return
    pairs = load_pairs()
    ours = bench_answers(pairs)
    bench_sandbox()
    report_accuracy("nanoflux", pairs, ours)
    bench_references()
    for wrap, name in ((False, "math-verify"), (True, "math-verify ($-wrapped)")):
        if (theirs := math_verify_verdicts(pairs, wrap=wrap)) is not None:
            report_accuracy(name, pairs, theirs)


if __name__ == "__main__":
    main()
