"""Replaying real solutions end to end: how many accepted references are right, and how many right ones are kept.

Plays the dev set's recorded GSM8K solutions (`../shared/data/gsm8k_model_solutions_dev.jsonl`, questions
400-1318, written by GPT-3 models; see the README beside it) through `nanoflux compile` over HTTP, against a
stand-in OpenAI-compatible server bound to 127.0.0.1 that answers each role from the JSON schema of its
request (the roles have `structured_output: true`):

- attacker: the next question (a different one for every attacker request), with one of its model-written
  solutions: `reference_answer` its final answer, `solution_steps` its lines, a short annotation. Which of
  the question's model solutions it takes rotates with the question's position, so every model writes some;
- defender: another model solution of the same question (its steps as reasoning, its final answer);
- solver: each solve of a round another model solution of that question, never the attacker's while the
  question has another (the three others on all but 6 questions, which have two), in words and as a program
  that prints its final answer (the spec's solver reads the fields its signature has);
- judge: a fixed rubric score (4 on every dimension) and the verdict `correct`: the tools decide correctness.

The server finds a request's question in its prompt text (verbatim), among the questions handed out. The
human solutions are never played: the references, the defender's answers and the solves are all model-written,
so the figures are those of models checking models. The server stops by itself after a bounded number of
requests or seconds, and every run is bounded by its rounds.

`specs/math.yaml` is played twice over the same questions, each with a fresh run and cache directory: once
with `roles.judge.solves: 0` (the attacker's recomputed steps decide alone) and once with the judge's default
solves (3 program solves, 2 of which must match). So that the figures measure the reference check alone, the
spec's curation keeps every quality level (`band: L1-L5`) and rejects only a question identical to an
accepted one (`novelty: 1.0`): GSM8K questions that look alike are still different questions. The output
says how many accepted questions the default novelty (0.8) would have rejected.

For each config it prints, from the run's journal and its dataset/examples.jsonl: precision (the share of
accepted rounds whose reference equals the question's `truth`, by `check_answer`) and yield (the share of
rounds whose reference was right that were kept), with counts; why the other rounds were rejected; what the
solves made of right and wrong references; and the time taken. Goal (issue 22): precision >= 90% with yield
>= 55% with the default solves.

Run: .venv/bin/python benchmarks/replay.py [--questions N] [--threads 8] [--out DIR]  (default: all 919 questions;
--out keeps the two run directories for `nanoflux stats` or `nanoflux report`)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from nanoflux.testing import role_of  # noqa: E402  (light: no pint, no sympy)

DATA = ROOT.parent / "shared" / "data" / "gsm8k_model_solutions_dev.jsonl"
SPEC_PATH = ROOT / "specs" / "math.yaml"
FIRST_DEV_QUESTION = 400  # questions 0-399 are the acceptance set: never played here
JUDGE_SCORE = 4  # every rubric dimension: in any quality band from L3 up, so the tools alone decide
CONFIGS = (("solves: 0", {"solves": 0}), ("default solves", {}))  # judge settings over specs/math.yaml's


# --- the data ---------------------------------------------------------------------------------------------

@dataclass
class Question:
    """One dev-set question and its model-written solutions (the human one left out), in a fixed order."""

    q: int
    text: str
    truth: str
    solutions: list[dict[str, Any]]
    position: int = 0  # its place in the replay: picks which solution the attacker writes

    @property
    def attack(self) -> dict[str, Any]:
        return self.solutions[self.position % len(self.solutions)]

    @property
    def others(self) -> list[dict[str, Any]]:
        """The solutions other than the attacker's (the attacker's own only if the question has no other)."""
        return [s for s in self.solutions if s is not self.attack] or [self.attack]


def load_questions(path: Path = DATA, limit: int | None = None) -> list[Question]:
    """The first `limit` questions of the dev set (all by default), each with its model solutions."""
    by_q: dict[int, Question] = {}
    with path.open() as handle:
        for line in handle:
            row = json.loads(line)
            if row["q"] < FIRST_DEV_QUESTION:
                raise SystemExit(f"{path} holds question {row['q']}: questions 0-399 are the acceptance set, "
                                 "never replayed; use the dev file")
            question = by_q.setdefault(row["q"], Question(row["q"], row["question"], row["truth"], []))
            if row["who"] != "ground_truth":
                question.solutions.append(row)
    questions = [by_q[q] for q in sorted(by_q) if by_q[q].solutions][:limit]
    for position, question in enumerate(questions):
        question.solutions.sort(key=lambda s: s["who"])
        question.position = position
    return questions


# --- the stand-in server ----------------------------------------------------------------------------------

class Replay:
    """Answers each role for the question in the prompt; thread-safe. Counts what it served."""

    def __init__(self, questions: list[Question], dimensions: list[str]):
        self.queue = iter(questions)
        self.handed: dict[str, Question] = {}  # question text -> question, for every question an attacker got
        self.solves: Counter[int] = Counter()  # solve requests served per question
        self.dimensions = dimensions
        self.served: Counter[str] = Counter()
        self.unmatched = 0  # defender or solver requests whose prompt held no handed-out question
        self.lock = threading.Lock()

    def answer(self, role: str, prompt: str) -> dict[str, Any] | None:
        with self.lock:
            self.served[role] += 1
            if role == "attacker":
                question = next(self.queue, None)
                if question is None:
                    return None
                self.handed[question.text] = question
                row = question.attack
                return {"question": question.text, "reference_answer": row["reference"],
                        "solution_steps": row["steps"],
                        "annotation": "Chain the quantities step by step; the trap is skipping a step."}
            if role == "judge":
                return {"scores": dict.fromkeys(self.dimensions, JUDGE_SCORE), "verdict": "correct",
                        "critique": "The steps follow from the question."}
            found = [q for text, q in self.handed.items() if text in prompt]
            if not found:
                self.unmatched += 1
                return None
            question = max(found, key=lambda q: len(q.text))
            if role == "defender":
                row = question.others[0]
                return {"reasoning": "\n".join(row["steps"]), "answer": row["reference"]}
            others = question.others
            row = others[self.solves[question.q] % len(others)]
            self.solves[question.q] += 1
            return {"solution": "\n".join(row["steps"]), "answer": row["reference"],
                    "program": f"print({row['reference']!r})"}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"served": dict(self.served), "unmatched": self.unmatched, "questions": len(self.handed)}


class ReplayServer(ThreadingHTTPServer):
    """`/v1/chat/completions` on 127.0.0.1 (never another interface), `GET /stats`; it shuts itself down after
    `max_requests` completions or `max_seconds`, whichever comes first."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, replay: Replay, *, max_requests: int, max_seconds: float):
        super().__init__(("127.0.0.1", 0), Handler)
        self.replay = replay
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.requests = itertools.count(1)
        threading.Thread(target=self._stop_at_deadline, daemon=True).start()

    @property
    def api_base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _stop_at_deadline(self) -> None:
        while time.monotonic() < self.deadline:
            time.sleep(0.5)
        self.shutdown()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ReplayServer

    def do_POST(self) -> None:  # http.server's naming
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if next(self.server.requests) > self.server.max_requests:
            self._send(503, {"error": {"message": "the replay server's request limit is spent"}})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        response_format = body.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        payload = self.server.replay.answer(role_of(schema), prompt)
        if payload is None:
            self._send(404, {"error": {"message": "no question of the replay in this prompt (or none left)"}})
            return
        self._send(200, {"id": "chatcmpl-replay", "object": "chat.completion", "created": int(time.time()),
                         "model": body.get("model", "replay"),
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": json.dumps(payload)}}],
                         "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 100,
                                   "total_tokens": len(prompt) // 4 + 100}})

    def do_GET(self) -> None:
        self._send(200, self.server.replay.stats())

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        """Quiet."""


def serve(data: Path, questions: int, dimensions: list[str], max_requests: int, max_seconds: float) -> None:
    """Serve until a limit is reached; the first line on stdout is the api_base."""
    server = ReplayServer(Replay(load_questions(data, questions), dimensions), max_requests=max_requests,
                          max_seconds=max_seconds)
    print(server.api_base, flush=True)
    server.serve_forever()


@contextmanager
def replay_server(data: Path, questions: int, dimensions: list[str], *, max_requests: int,
                  max_seconds: float) -> Iterator[str]:
    """The replay server in a process of its own (its Python work off the run's interpreter lock); its api_base."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--data", str(data), "--questions", str(questions),
                             "--dimensions", ",".join(dimensions), "--max-requests", str(max_requests),
                             "--max-seconds", str(max_seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        api_base = proc.stdout.readline().strip()
        if not api_base:
            raise RuntimeError("the replay server did not start")
        yield api_base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def server_stats(api_base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api_base}/stats", timeout=10) as response:
        return json.load(response)


# --- the runs ---------------------------------------------------------------------------------------------

def replay_spec(api_base: str, rounds: int, judge: dict[str, Any]):
    """specs/math.yaml with every role on the server and the judge's solve settings at their defaults (then
    `judge` over them); curation that rejects only on the reference (band L1-L5, novelty 1.0)."""
    from nanoflux import load_spec
    from nanoflux.spec.model import Spec

    data = load_spec(SPEC_PATH).model_dump(mode="json", exclude_unset=True)
    for role in ("attacker", "defender", "judge"):
        data["roles"][role].update(model="openai/replay", api_base=api_base, structured_output=True, timeout=120,
                                   num_retries=0)
    for key in ("solves", "agree", "solve_programs"):  # the demo's 1 solve in words: back to the defaults
        data["roles"]["judge"].pop(key, None)
    data["roles"]["judge"].update(judge)
    data["roles"].pop("solver", None)  # the judge's settings, sampling (the default)
    data["curation"].update(band="L1-L5", novelty=1.0, size=rounds + 1)
    data["rounds"] = rounds
    return Spec.model_validate(data)


@dataclass
class Outcome:
    """One config's run, scored against the dev set's truth."""

    name: str
    seconds: float
    rounds: int = 0
    failed: int = 0
    accepted: int = 0
    accepted_right: int = 0
    right: int = 0  # played rounds whose reference is right
    right_kept: int = 0
    examples: int = 0  # lines of dataset/examples.jsonl
    reasons: Counter[str] = field(default_factory=Counter)
    statuses: dict[bool, Counter[str]] = field(default_factory=lambda: {True: Counter(), False: Counter()})
    solves: int = 0  # solves journaled
    solves_answered: int = 0
    near: int = 0  # accepted questions at least 0.8 similar to an earlier accepted one
    below_band: int = 0  # accepted rounds whose overall score is outside the spec's own quality band
    errors: Counter[str] = field(default_factory=Counter)  # failed rounds' errors
    # how the rule decided each reference, right (True) or wrong (False): refuted by a step, refuted by the solves,
    # or the number of solves that matched it
    decided: dict[bool, Counter[str]] = field(default_factory=lambda: {True: Counter(), False: Counter()})
    server: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.accepted_right / self.accepted if self.accepted else 0.0

    @property
    def yield_(self) -> float:
        return self.right_kept / self.right if self.right else 0.0


def is_right(reference: str, truth: str) -> bool:
    """The reference equals the truth (`check_answer`), or equals it as a number once commas are dropped."""
    from nanoflux.verify import check_answer

    if check_answer(reference, truth, answer_type="numeric").verdict == "match":
        return True
    try:
        return float(reference.replace(",", "").replace("$", "")) == float(truth.replace(",", ""))
    except ValueError:
        return False


def score(name: str, run_dir: Path, questions: list[Question], seconds: float, server: dict[str, Any]) -> Outcome:
    """Read the run's journal (each round by its last attempt) and dataset examples; count against the truth."""
    from nanoflux import load_spec
    from nanoflux.base.paths import RunDir
    from nanoflux.engine.journal import read_rounds, reference_status, steps_refuted

    band = load_spec(SPEC_PATH).curation.quality_band
    run = RunDir(run_dir)
    truth = {q.text: q.truth for q in questions}
    outcome = Outcome(name, seconds, server=server)
    outcome.records = read_rounds(run.journal)
    examples = run.root / "dataset" / "examples.jsonl"
    outcome.examples = sum(1 for line in examples.read_text().splitlines() if line.strip()) if examples.exists() else 0
    for record in outcome.records:
        outcome.rounds += 1
        curation = record["curation"]
        outcome.reasons[curation["reason"]] += 1
        if record["status"] != "ok":
            outcome.failed += 1
            outcome.errors[record.get("error", "")[:120]] += 1
            continue
        right = is_right(record["reference_answer"], truth[record["question"]])
        status = reference_status(record["judge"])
        outcome.statuses[right][status] += 1
        agreeing = record["judge"].get("confirmation", {}).get("agreeing", 0)
        outcome.decided[right][f"{status} by a step" if steps_refuted(record["judge"]) else
                               f"{status} by the solves" if status == "refuted" else
                               f"{status}, {agreeing} solves match"] += 1
        outcome.right += right
        outcome.solves += len(record.get("solves", []))
        outcome.solves_answered += sum(s["answer"] is not None for s in record.get("solves", []))
        if curation["accepted"]:
            outcome.accepted += 1
            outcome.accepted_right += right
            outcome.right_kept += right
            outcome.near += (curation.get("similarity") or 0) >= 0.8
            outcome.below_band += not band.contains(record["judge"]["overall"])
    return outcome


def run_config(name: str, judge: dict[str, Any], questions: list[Question], *, data: Path, threads: int,
               work: Path, max_seconds: float) -> Outcome:
    """One compile over the questions against a fresh replay server, scored."""
    from nanoflux.jobs.compile import compile_spec

    n = len(questions)
    dimensions = ["correctness", "rigor", "completeness", "clarity"]
    calls = 3 + (judge.get("solves", 3))
    slug = name.replace(" ", "-").replace(":", "")
    with replay_server(data, n, dimensions, max_requests=2 * n * calls + 50, max_seconds=max_seconds) as api_base:
        spec = replay_spec(api_base, n, judge)
        assert [d.name for d in spec.rubric.dimensions] == dimensions, spec.rubric.dimensions
        start = time.perf_counter()
        result = compile_spec(spec, rounds=n, threads=threads, out=work / slug, cache_dir=work / f"cache-{slug}",
                              progress=False)
        seconds = time.perf_counter() - start
        stats = server_stats(api_base)
    return score(name, result.run_dir, questions, seconds, stats)


def replay(questions: int | None = None, *, threads: int = 8, data: Path = DATA, work: Path | None = None,
           max_seconds: float = 1200) -> list[Outcome]:
    """Both configs over the first `questions` dev questions (all by default); their outcomes, in order."""
    chosen = load_questions(data, questions)
    with tempfile.TemporaryDirectory() as tmp:
        root = work or Path(tmp)
        return [run_config(name, judge, chosen, data=data, threads=threads, work=root, max_seconds=max_seconds)
                for name, judge in CONFIGS]


# --- the output -------------------------------------------------------------------------------------------

def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "- (0/0)"


def table(outcomes: list[Outcome]) -> str:
    rows = [("", *[o.name for o in outcomes]),
            ("rounds played (failed)", *[f"{o.rounds} ({o.failed})" for o in outcomes]),
            ("references right (truth)", *[f"{o.right}" for o in outcomes]),
            ("accepted", *[f"{o.accepted}" for o in outcomes]),
            ("precision: accepted right", *[pct(o.accepted_right, o.accepted) for o in outcomes]),
            ("yield: right ones kept", *[pct(o.right_kept, o.right) for o in outcomes]),
            ("wrong references accepted", *[f"{o.accepted - o.accepted_right}" for o in outcomes]),
            ("time", *[f"{o.seconds:.0f} s" for o in outcomes])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def details(outcome: Outcome) -> str:
    reasons = ", ".join(f"{reason} {count}" for reason, count in outcome.reasons.most_common())
    right, wrong = (", ".join(f"{s} {c}" for s, c in outcome.statuses[flag].most_common()) for flag in (True, False))
    served = ", ".join(f"{role} {count}" for role, count in sorted(outcome.server.get("served", {}).items()))
    lines = [f"{outcome.name}: curation {reasons}; dataset/examples.jsonl {outcome.examples} lines",
             f"  right references: {right or '-'}; wrong references: {wrong or '-'}",
             f"  server: {served}; prompts without a known question {outcome.server.get('unmatched', 0)}"]
    if outcome.solves:
        lines.append(f"  solves journaled {outcome.solves} ({outcome.solves_answered} with an answer)")
        for flag, what in ((True, "right"), (False, "wrong")):
            decided = "; ".join(f"{how} {count}" for how, count in sorted(outcome.decided[flag].items()))
            lines.append(f"  {what} references, how the rule decided: {decided}")
        right, wrong = (outcome.decided[flag]["confirmed, 3 solves match"] for flag in (True, False))
        lines.append(f"  had agree been 3 (the same solves, all three match): precision {pct(right, right + wrong)}, "
                     f"yield {pct(right, outcome.right)}")
    for error, count in outcome.errors.most_common():
        lines.append(f"  failed rounds ({count}): {error}")
    lines.append(f"  of the accepted rounds, the spec's own curation (novelty 0.8, band L3-L5) would reject "
                 f"{outcome.near} as duplicates and {outcome.below_band} as out of band")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=None, help="play the first N dev questions (default: all)")
    parser.add_argument("--threads", type=int, default=8, help="rounds in flight in each run")
    parser.add_argument("--data", type=Path, default=DATA, help="the dev set (JSONL)")
    parser.add_argument("--max-seconds", type=float, default=1200, help="each run's server stops after this long")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the two run directories here (default: a temporary directory)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dimensions", default="", help=argparse.SUPPRESS)
    parser.add_argument("--max-requests", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.data, args.questions, args.dimensions.split(","), args.max_requests, args.max_seconds)
        return
    if not args.data.exists():
        raise SystemExit(f"{args.data} is missing: the dev set lives in ../shared/data (see its README)")
    import torch

    torch.set_num_threads(1)  # as `nanoflux compile` runs the driver
    print(f"machine: {len(os.sched_getaffinity(0))} cores available, load average {os.getloadavg()[0]:.1f}; "
          f"{args.threads} threads", flush=True)
    outcomes = replay(args.questions, threads=args.threads, data=args.data, work=args.out, max_seconds=args.max_seconds)
    print(f"{outcomes[0].rounds} dev questions, one round each, the same questions and attacker solutions in both "
          "runs; curation isolates the reference check (band L1-L5, novelty 1.0):")
    print(table(outcomes))
    for outcome in outcomes:
        print(details(outcome))
    default = outcomes[-1]
    met = default.precision >= 0.9 and default.yield_ >= 0.55
    print(f"goal (default solves: precision >= 90% with yield >= 55%): {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
