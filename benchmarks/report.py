"""How the run report scales: time and peak memory to build it and its file size for 10,000 and 100,000
rounds, and, where Chromium is installed, how long the page takes to open and list its first page of rounds
(the rounds come packed and are inflated on demand: this is the time until the first 50 are on screen).

The journals are synthetic but sized like real rounds (a 60-word question, five solution steps, a
150-word defender reasoning, the judge's evidence), over 8 topics, all levels and every reason. Their
words come from a 16-word vocabulary, which compresses far better than prose: `--prose` draws them
from this repository's docs instead (runs of consecutive words), closer to what models write.

    python benchmarks/report.py [--sizes 10000 100000] [--prose]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from nanoflux.base.paths import JOURNAL_NAME
from nanoflux.engine.journal import Journal
from nanoflux.jobs.report.page import build_report
from nanoflux.spec.model import parse_spec

REASONS = ("accepted", "out_of_band", "duplicate", "unverified_reference", "incorrect_reference")
WORDS = "the crate holds boxes of apples each costing three dollars and a discount applies after tax".split()


PROSE: list[str] = []  # with --prose: the docs' words, in order


def sentence(rng: random.Random, words: int) -> str:
    if PROSE:
        start = rng.randrange(len(PROSE) - words)
        return " ".join(PROSE[start:start + words])
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def synthetic_round(round_id: int, rng: random.Random) -> dict:
    if rng.random() < 0.05:
        return {"round_id": round_id, "topic": f"topic {round_id % 8}", "hops": 3, "status": "failed",
                "error": "AdapterParseError: " + sentence(rng, 40), "error_kind": "parse", "seconds": 4.0,
                "started_at": f"2026-01-01T00:00:{round_id % 60:02d}+00:00",
                "curation": {"accepted": False, "reason": "failed"}}
    scores = {name: rng.randint(1, 5) for name in ("correctness", "rigor", "completeness", "clarity")}
    overall = round(0.4 * scores["correctness"] + 0.3 * scores["rigor"] + 0.2 * scores["completeness"]
                    + 0.1 * scores["clarity"], 2)
    level = next(f"L{n}" for n, floor in ((5, 4.5), (4, 3.5), (3, 2.5), (2, 1.5), (1, 0)) if overall >= floor)
    reason = rng.choice(REASONS)
    check = {"verdict": "match", "reason": "recomputed", "evidence": {"method": sentence(rng, 12)}}
    return {
        "round_id": round_id, "topic": f"topic {round_id % 8}", "hops": rng.randint(2, 5), "answer_type": "numeric",
        "status": "ok", "started_at": f"2026-01-01T00:00:{round_id % 60:02d}+00:00", "seconds": 4.0,
        "question": sentence(rng, 60), "reference_answer": str(rng.randint(1, 999)),
        "solution_steps": [sentence(rng, 12) for _ in range(5)], "annotation": sentence(rng, 15),
        "defender_reasoning": sentence(rng, 150), "defender_answer": str(rng.randint(1, 999)),
        "judge": {"scores": scores, "overall": overall, "level": level, "verdict": rng.choice(("correct", "incorrect")),
                  "verdict_source": "tools", "critique": sentence(rng, 40), "reference_check": check,
                  "answer_check": check},
        "roles": {role: {"model": "local/smollm2-135m", "seconds": 1.2, "input_tokens": 600, "output_tokens": 150}
                  for role in ("attacker", "defender", "judge")},
        "curation": {"accepted": reason == "accepted", "reason": reason, "similarity": round(rng.random(), 3)},
    }


def make_run(path: Path, rounds: int) -> Path:
    path.mkdir(parents=True)
    spec = parse_spec("name: bench\ndescription: d\n")
    (path / "spec.json").write_text(spec.model_dump_json())
    rng = random.Random(0)
    journal = Journal(path / JOURNAL_NAME)
    for round_id in range(rounds):
        journal.append(synthetic_round(round_id, rng))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--prose", action="store_true", help="words from the docs, not a 16-word vocabulary")
    args = parser.parse_args()
    if args.prose:
        PROSE.extend(" ".join(path.read_text() for path in sorted(Path("docs").glob("*.md"))).split())
    build_report(make_run(Path(tempfile.mkdtemp()) / "warm", 10))  # imports matplotlib and Jinja2 once
    print(f"{'rounds':>7}  {'build (s)':>9}  {'peak RSS (GB)':>13}  {'size (MB)':>9}  "
          f"{'first page in Chromium (s)':>26}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            run = make_run(Path(tmp) / "run", size)
            started = time.perf_counter()
            report = build_report(run)
            seconds = time.perf_counter() - started
            opened = open_in_chromium(report)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux; the process's peak so far
            print(f"{size:>7}  {seconds:>9.2f}  {peak:>13.2f}  {report.stat().st_size / 1e6:>9.2f}  "
                  f"{'n/a' if opened is None else f'{opened:.2f}':>26}")


if __name__ == "__main__":
    main()
