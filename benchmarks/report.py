"""How the run report scales: time and peak memory to build it and its file size for 10,000 and 100,000
rounds, and, where Chromium is installed, how long the page takes to open and list its first page of rounds
(the rounds come packed and are inflated on demand: this is the time until the first 50 are on screen).

The journals are synthetic rounds made of real model-written text: the GSM8K dev set of
`../shared/data/gsm8k_model_solutions_dev.jsonl` (919 questions, five solutions each, by GPT-3 models
and people; see its README). A round takes one question, one of its solutions as the attacker's
reference steps and answer, another as the defender's reasoning and answer, and the other three as the
independent solves (each as a program that computes the solution's arithmetic and prints its answer);
the judge's reference check is what `check_reference` makes of the reference steps, the answer check,
confirmation and critique are built from the checks as the judge writes them. Rounds go through the
questions in a shuffled order; from the second pass on (100,000 rounds pass 109 times), a round's
question has its sentences before the last shuffled and every whole number in the round's texts
mapped to another (`n -> k*n + pass`, k from 2 to 8 by round), so that no block holds copies that
compress for free. Without the data file the texts come from this repository's docs (a warning says
so: sizes are then not comparable). 5% of rounds fail, as unparseable output does.

`--traces` builds each size twice, without and with reasoning traces (a thinking run's): each played
round then has an attacker and a defender trace of 6,000 to 12,000 characters, other questions' solutions
(question and steps) drawn at random and joined, their numbers varied as the round's are, so deflate meets
real text, not repetition; the page shows each by its start and end, REPORT_TRACE_CHARS in all.

    python benchmarks/report.py [--sizes 10000 100000] [--data FILE] [--breakdown] [--traces]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from nanoflux.base.paths import JOURNAL_NAME
from nanoflux.engine.journal import Journal
from nanoflux.jobs.report.page import build_report
from nanoflux.spec.model import parse_spec

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k_model_solutions_dev.jsonl"
REASONS = ("accepted", "out_of_band", "duplicate", "unverified_reference", "incorrect_reference")
TOPICS = 8
SOLVES = 3
TRACE_ROLES = ("attacker", "defender")
TRACE_LENGTHS = (6_000, 12_000)  # a thinking model's trace, in characters (the journal keeps up to 16,000)
NUMBER = re.compile(r"\d+")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
ARITHMETIC = re.compile(r"([\d.()+\-*/x ]*\d[\d.()+\-*/x ]*)=\s*\$?(\d[\d,.]*)")

Solution = dict[str, Any]  # a row of the data file: question, steps, reference, truth


def load_questions(path: Path) -> list[list[Solution]]:
    """The questions, each with its solutions (questions 400 on only: 0-399 are the acceptance set)."""
    grouped: dict[int, list[Solution]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["q"] >= 400:
            grouped[row["q"]].append(row)
    return [solutions for _, solutions in sorted(grouped.items()) if len(solutions) >= 2]


def docs_questions() -> list[list[Solution]]:
    """Stand-in questions from the docs' sentences, where the data file is absent."""
    sentences = [s for path in sorted(Path("docs").glob("*.md")) for s in SENTENCE.split(path.read_text())
                 if 20 < len(s) < 300]
    questions = []
    for start in range(0, len(sentences) - 24, 24):
        chunk = sentences[start:start + 24]
        question = " ".join(chunk[:3])
        questions.append([{"q": start, "who": f"docs {k}", "question": question, "steps": chunk[3 + 4 * k:7 + 4 * k],
                           "reference": str(start % 997 + k % 2), "truth": str(start % 997)} for k in range(5)])
    return questions


@functools.cache
def reference_check(question: str, steps: tuple[str, ...], reference: str) -> dict[str, Any]:
    """What the judge's tools make of a solution's steps (the real check, once per solution)."""
    from nanoflux.verify import check_reference

    return check_reference(reference, list(steps), question=question).to_dict()


def program(steps: list[str], answer: str) -> str:
    """A solve's program: each step's arithmetic as a line of Python, the step as its comment."""
    lines, last = [], None
    for number, step in enumerate(steps, start=1):
        lines.append(f"# {step}")
        for expression, _ in ARITHMETIC.findall(step):
            if (code := expression.replace("x", "*").strip()) and code[0] not in "+-*/":
                last = f"v{number}"
                lines.append(f"{last} = {code}")
    lines.append(f"print({last})" if last else f"print({answer!r})")
    return "\n".join(lines)


def answer_check(predicted: str, reference: str) -> dict[str, Any]:
    """The defender's answer against the reference, as `check_answer` writes it for numbers."""
    same = predicted == reference
    return {"verdict": "match" if same else "mismatch", "reason": "equal" if same else "different numbers",
            "evidence": {"answer_type": "numeric", "predicted": predicted, "reference": reference,
                         "extraction": "whole text", "method": "exact numbers", "predicted_value": predicted,
                         "reference_value": reference}}


def varied(value: Any, vary: Any) -> Any:
    """Every string in `value` with `vary` applied (keys and numbers that are not text stay as they are)."""
    if isinstance(value, str):
        return vary(value)
    if isinstance(value, list):
        return [varied(item, vary) for item in value]
    if isinstance(value, dict):
        return {key: varied(item, vary) for key, item in value.items()}
    return value


def trace(rng: random.Random, pool: list[Solution], skip: int) -> str:
    """A reasoning trace of TRACE_LENGTHS characters: solutions of questions other than `skip`, each its
    question and steps, drawn at random and joined until long enough."""
    length, parts, size = rng.randint(*TRACE_LENGTHS), [], 0
    while size < length:
        if (solution := rng.choice(pool))["q"] != skip:
            parts.append(f"{solution['question']} {' '.join(solution['steps'])}")
            size += len(parts[-1]) + 2
    return "\n\n".join(parts)[:length]


def synthetic_round(round_id: int, questions: list[list[Solution]], order: list[int],
                    pool: list[Solution] | None = None) -> dict:
    """Round `round_id`, with attacker and defender traces drawn from `pool` where one is given (by a random
    generator of their own, so the round is otherwise the one built without them)."""
    rng = random.Random(round_id)
    passes, slot = divmod(round_id, len(order))
    solutions = list(questions[order[slot]])
    rng.shuffle(solutions)
    reference, defender, solves = solutions[0], solutions[1], (solutions[2:] * SOLVES)[:SOLVES]
    factor = rng.randint(2, 8)

    def vary(text: str) -> str:
        return NUMBER.sub(lambda m: str(factor * int(m.group(0)) + passes), text) if passes else text

    question = reference["question"]
    if passes:
        *told, asked = SENTENCE.split(question.strip())
        rng.shuffle(told)
        question = " ".join([*told, asked])
    started = f"2026-01-01T{round_id // 3600 % 24:02d}:{round_id // 60 % 60:02d}:{round_id % 60:02d}+00:00"
    base = {"round_id": round_id, "topic": f"topic {round_id % TOPICS}", "hops": max(2, len(reference["steps"])),
            "answer_type": "numeric", "started_at": started, "seconds": round(3 + 4 * rng.random(), 2)}
    if rng.random() < 0.05:
        reply = " ".join(defender["steps"])
        return {**base, "status": "failed", "error_kind": "parse", "curation": {"accepted": False, "reason": "failed"},
                "error": vary(f"AdapterParseError: the LM's response is not valid JSON: {reply[:300]}")}
    check = varied(reference_check(reference["question"], tuple(reference["steps"]), reference["reference"]), vary)
    ref, answer = vary(reference["reference"]), vary(defender["reference"])
    answered = answer_check(answer, ref)
    agreements = [answer_check(vary(solve["reference"]), ref)["verdict"] for solve in solves]
    agreeing = agreements.count("match")
    status = ("refuted" if check["verdict"] == "mismatch" else
              "confirmed" if check["verdict"] == "match" and agreeing >= 2 else "unconfirmed")
    scores = {name: rng.randint(1, 5) for name in ("correctness", "rigor", "completeness", "clarity")}
    overall = round(0.4 * scores["correctness"] + 0.3 * scores["rigor"] + 0.2 * scores["completeness"]
                    + 0.1 * scores["clarity"], 2)
    level = next(f"L{n}" for n, floor in ((5, 4.5), (4, 3.5), (3, 2.5), (2, 1.5), (1, 0)) if overall >= floor)
    reason = rng.choice(REASONS)
    right = answered["verdict"] == "match"
    first = vary(defender["steps"][0]) if defender["steps"] else ""
    critique = (f"The defender {'reaches' if right else 'does not reach'} the reference {ref}: it answers {answer}. "
                f"Its first step, \"{first}\", {'holds' if right else 'is where it goes wrong'}. "
                f"The reference check: {check['reason']}.")
    return {
        **base, "status": "ok", "question": question, "reference_answer": ref,
        "solution_steps": [vary(step) for step in reference["steps"]],
        "annotation": vary(f"Chains {len(reference['steps'])} steps; the trap: {reference['steps'][-1]}"),
        "defender_reasoning": vary(" ".join(defender["steps"])), "defender_answer": answer,
        "solves": [{"model": "local/smollm2-135m", "answer": vary(solve["reference"]),
                    "solution": vary(" ".join(solve["steps"])),
                    "program": vary(program(solve["steps"], solve["reference"])),
                    "output": vary(solve["reference"]) + "\n", "error": None, "agreement": agreement}
                   for solve, agreement in zip(solves, agreements, strict=True)],
        "judge": {"scores": scores, "overall": overall, "level": level, "verdict": "correct" if right else "incorrect",
                  "verdict_source": "tools", "critique": critique, "reference_check": check,
                  "answer_check": answered,
                  "confirmation": {"status": status, "reason": f"{agreeing} of {SOLVES} solves match the reference "
                                   f"and its steps are a {check['verdict']}", "rule": "solves",
                                   "steps": check["verdict"], "agree": 2, "agreeing": agreeing,
                                   "verdicts": agreements, "other": None}},
        "roles": {role: {"model": "local/smollm2-135m", "seconds": 1.2, "input_tokens": 600, "output_tokens": 150}
                  for role in ("attacker", "defender", "judge")},
        **({"traces": {role: vary(trace(random.Random(f"{role} {round_id}"), pool, reference["q"]))
                       for role in TRACE_ROLES}} if pool else {}),
        "curation": {"accepted": reason == "accepted", "reason": reason, "similarity": round(rng.random(), 3),
                     **({"nearest_id": str(rng.randrange(round_id))} if reason == "duplicate" and round_id else {})},
    }


def make_run(path: Path, rounds: int, questions: list[list[Solution]], traces: bool = False) -> Path:
    path.mkdir(parents=True)
    spec = parse_spec("name: bench\ndescription: d\n")
    (path / "spec.json").write_text(spec.model_dump_json())
    order = list(range(len(questions)))
    random.Random(0).shuffle(order)
    pool = [solution for solutions in questions for solution in solutions] if traces else None
    journal = Journal(path / JOURNAL_NAME)
    for round_id in range(rounds):
        journal.append(synthetic_round(round_id, questions, order, pool))
    return path


def open_in_chromium(report: Path) -> float | None:
    """Seconds until Chromium has loaded the page and listed its first rounds; None without Chromium."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return None
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='nanoflux-bench-')}"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        started = time.perf_counter()
        driver.get(report.as_uri())  # returns after the load event; the first blocks are inflated after it
        WebDriverWait(driver, 60, poll_frequency=0.01).until(lambda _: driver.execute_script(
            "return document.querySelectorAll('#round-list .round').length") == 50)
        return time.perf_counter() - started
    finally:
        driver.quit()


def breakdown(run: Path) -> None:
    """What the packed rounds are made of: each field's bytes in the page when packed alone, block by block."""
    from nanoflux.jobs.report.packing import BLOCK, INDEXED, pack
    from nanoflux.jobs.report.page import browser_row, load_view

    view = load_view(run)
    rows = [browser_row(record) for record in view.records]
    keys = [key for key in rows[0] if key not in INDEXED]
    whole = sum(map(len, pack(len(rows), rows.__getitem__)[1]))
    print(f"blocks: {whole / 1e6:.2f} MB for {len(rows)} rounds ({whole / len(rows):.0f} bytes a round); "
          f"each field packed alone, {BLOCK} rounds a block:")
    for key in keys:
        alone = sum(map(len, pack(len(rows), lambda i, key=key: {
            **{name: rows[i][name] for name in INDEXED}, key: rows[i][key]})[1]))
        raw = sum(len(json.dumps(row[key])) for row in rows)
        print(f"  {key:<18} {alone / 1e6:>6.2f} MB packed  {raw / 1e6:>6.2f} MB as JSON")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--data", type=Path, default=DATA, help="the GSM8K dev set (default: %(default)s)")
    parser.add_argument("--breakdown", action="store_true", help="print what the packed rounds are made of")
    parser.add_argument("--traces", action="store_true",
                        help="build each size without and with attacker and defender reasoning traces")
    args = parser.parse_args()
    if args.data.exists():
        questions = load_questions(args.data)
    else:
        print(f"warning: {args.data} is missing (it lives in ../shared/data, see its README): the rounds' texts "
              "come from the docs instead, so the sizes are not comparable with the documented ones", file=sys.stderr)
        questions = docs_questions()
    build_report(make_run(Path(tempfile.mkdtemp()) / "warm", 10, questions))  # imports matplotlib and Jinja2 once
    print(f"{'rounds':>7}  {'traces':>6}  {'build (s)':>9}  {'peak RSS (GB)':>13}  {'size (MB)':>9}  "
          f"{'first page in Chromium (s)':>26}")
    for size in args.sizes:
        for traces in (False, True) if args.traces else (False,):
            with tempfile.TemporaryDirectory() as tmp:
                run = make_run(Path(tmp) / "run", size, questions, traces)
                started = time.perf_counter()
                report = build_report(run)
                seconds = time.perf_counter() - started
                opened = open_in_chromium(report)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux; the peak so far
                print(f"{size:>7}  {'yes' if traces else 'no':>6}  {seconds:>9.2f}  {peak:>13.2f}  "
                      f"{report.stat().st_size / 1e6:>9.2f}  {'n/a' if opened is None else f'{opened:.2f}':>26}",
                      flush=True)
                if args.breakdown:
                    breakdown(run)


if __name__ == "__main__":
    main()
