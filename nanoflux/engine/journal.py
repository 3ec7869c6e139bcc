"""The run journal, rounds.jsonl: one JSON object per finished attempt at a round, append-only.

Each record is written and fsynced as soon as its round finishes (rounds that finish together share
one fsync), before anything acts on it, so a killed run loses at most the rounds still in flight. A
line torn by a crash is dropped on the next open. A round played
again (its LM call failed, or `--retry-failed`) gets a new line with the next `attempt` number;
earlier attempts stay as the audit trail, and every reader counts a round by its last attempt
(`last_attempts`).

A record's shape is `RoundRecord`: the JSON on disk is the contract, the types only name it.
"""

# No `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations only.
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import append_lines, read_jsonl
from nanoflux.verify.confirm import REFUTING_STEPS

if TYPE_CHECKING:
    from nanoflux.verify.answers import Verdict  # importing it loads pint and sympy's wrappers

DAMAGED = ("a journal line is one JSON record, and this one was damaged outside NanoFlux: restore it from a backup, "
           "or delete that line (its round is then played again on --resume)")

ErrorKind = Literal["parse", "lm", "error"]  # why a round failed (`nanoflux.engine.runner._error_kind`)
REFUTED = REFUTING_STEPS  # reference-check verdicts that prove a reference wrong
ReferenceStatus = Literal["confirmed", "refuted", "unconfirmed"]


class Check(TypedDict):
    """A tool check (`nanoflux.verify.AnswerCheck.to_dict`): only `match` means the tools showed it."""

    verdict: "Verdict"
    reason: str
    evidence: dict[str, Any]


class ToolCall(TypedDict):
    """One call an agentic judge made before it scored (`nanoflux.modules.judge.tool_calls`)."""

    tool: str
    args: dict[str, Any]
    observation: Any


class Confirmation(TypedDict):
    """Whether the reference is right (`nanoflux.verify.confirm.Confirmation`): its recomputed steps and the
    independent solves together; absent from journals written before solves, where the steps decided alone."""

    status: ReferenceStatus
    reason: str
    rule: Literal["steps", "solves"]  # steps: no solve was asked for (`roles.judge.solves: 0`)
    steps: str  # the reference check's verdict
    agree: int  # solves that had to match
    agreeing: int  # solves that match the reference
    verdicts: list[str]  # each solve's answer against the reference
    other: str | None  # the other answer `agree` solves share, when that refuted the reference


class Solve(TypedDict):
    """One independent solve of a round's question by the solver, which saw only the question."""

    model: str
    answer: str | None  # its final answer (a program's last printed line); None: it gave none (see `error`)
    solution: str  # its working (a program's plan)
    program: NotRequired[str]  # a program solve's code, run in the sandbox
    output: NotRequired[str]  # what the program printed (its last 2000 characters)
    error: str | None  # why it has no answer: output that did not parse, the program's failure
    agreement: NotRequired[str]  # its answer against the reference (`check_answer`): match, mismatch, undecidable
    trace: NotRequired[str]  # the solver's reasoning trace, clipped (`roles.solver.keep_reasoning`); absent: none


class JudgeResult(TypedDict):
    """What the judge made of a round (`nanoflux.modules.Judge`): rubric scores, their weighted overall and
    its level, the verdict on the defender's answer, and the tools' evidence for it."""

    scores: dict[str, int]  # rubric dimension -> 1..5
    overall: float
    level: str  # L1..L5 (`nanoflux.base.scoring.level_name`)
    verdict: Literal["correct", "incorrect"]  # the defender's answer
    verdict_source: Literal["tools", "judge"]  # who decided the verdict: the tools when they could
    critique: str
    reference_check: Check  # the reference answer against the attacker's own solution steps
    answer_check: Check  # the defender's answer against the reference
    tool_calls: NotRequired[list[ToolCall]]  # absent from journals written before the agentic judge
    confirmation: NotRequired[Confirmation]  # absent from journals written before solves


class RoleUsage(TypedDict):
    """One role's call in a round: the model that played it, its latency and tokens (0 on a cache hit); a role
    called several times (the solver, once a solve) sums them and counts its `calls`."""

    model: str
    seconds: float
    input_tokens: int
    output_tokens: int
    calls: NotRequired[int]  # absent: 1
    # thinking tokens, as the provider counts them (`completion_tokens_details.reasoning_tokens`): already inside
    # `output_tokens`, and billed with them; absent when the provider reports none
    reasoning_tokens: NotRequired[int]


class Revision(TypedDict):
    """Another answer by the defender after the judge found the one before it wrong (`roles.judge.revise`).

    The defender sees what `feedback` holds (the tools' findings on its own answer and the judge's critique,
    never the reference) and answers again; the answer is judged like the first.
    """

    feedback: str  # exactly what the defender was shown about its previous answer
    reasoning: str
    answer: str
    judge: JudgeResult
    trace: NotRequired[str]  # the defender's reasoning trace for this answer (`roles.defender.keep_reasoning`)


Outcome = Literal["right", "corrected", "uncorrected"]  # what became of the defender's answer (`outcome`)


class Contamination(TypedDict):
    """A benchmark item a question copies or paraphrases (`nanoflux.engine.curation.decontaminate`)."""

    benchmark: str  # the benchmark file, as the spec names it
    item: int  # the item's row in that file, from 0
    text: str  # the item's question
    method: Literal["ngram", "embedding"]  # a shared word 8-gram, or embeddings at least as close as the threshold
    similarity: float  # cosine similarity of the question's and the item's embeddings
    ngram: NotRequired[str]  # method "ngram": the first 8-gram they share, normalised


class Curation(TypedDict):
    """The curator's decision on a round (`nanoflux.engine.curation.decide.Curator.decide`)."""

    accepted: bool
    reason: str  # "accepted", or why not: one of `nanoflux.engine.curation.decide.REASONS`
    similarity: NotRequired[float | None]  # to the nearest accepted question (None: none yet); absent if failed
    nearest_id: NotRequired[str | None]
    # the benchmark items the question matches, most similar first (empty: clean); present only when the spec's
    # `curation.decontaminate` names benchmarks, and the round was played
    contamination: NotRequired[list[Contamination]]


class PlayedRound(TypedDict):
    """A round as a player returns it (`nanoflux.engine.runner.play_round`), before the driver curates it.

    The task's inputs and the timing are always there; a round with status "ok" adds what the
    roles made (question ... roles), a "failed" one adds what went wrong (error ... failed_api_base).
    """

    round_id: int
    topic: str
    hops: int
    answer_type: str
    avoid: list[str]  # accepted questions the attacker was shown to steer away from
    rollout_id: NotRequired[int]  # keys the round's LM calls in DSPy's cache (`runner.rollout_id`); absent before it
    program_hash: str
    started_at: str  # ISO 8601, UTC
    status: Literal["ok", "failed"]
    seconds: float
    # status "ok"
    question: NotRequired[str]
    reference_answer: NotRequired[str]
    solution_steps: NotRequired[list[str]]
    annotation: NotRequired[str]
    defender_reasoning: NotRequired[str]
    defender_answer: NotRequired[str]
    judge: NotRequired[JudgeResult]
    models: NotRequired[dict[str, str]]  # role -> model
    roles: NotRequired[dict[str, RoleUsage]]  # role -> its call; a failed round's: the calls it paid for
    solves: NotRequired[list[Solve]]  # the independent solves (absent with `roles.judge.solves: 0`, and before)
    # role -> the reasoning trace its model returned with this round's answer (a thinking model's `reasoning_content`,
    # or the `<think>` block it wrote inline), clipped; only roles whose trace was returned and kept
    # (`roles.<role>.keep_reasoning`). The defender's is its first answer's; each revision keeps its own.
    traces: NotRequired[dict[str, str]]
    # the defender's answers after the first, in order (`roles.judge.revise`); absent when none was asked for
    revisions: NotRequired[list[Revision]]
    # {"model", "vector"}: the question's embedding, attached by the player (`runner.attach_embedding`) for the
    # driver, which takes it off: never journaled
    question_embedding: NotRequired[dict[str, Any]]
    # status "failed"; failed_* are None when no role's call raised, absent from journals older than attempts
    error: NotRequired[str]  # "ExceptionType: message", at most 2000 characters
    error_kind: NotRequired[ErrorKind]
    failed_role: NotRequired[str | None]
    failed_model: NotRequired[str | None]
    failed_api_base: NotRequired[str | None]


class RoundRecord(PlayedRound):
    """One line of rounds.jsonl: a played round with the curator's decision and its attempt number."""

    curation: Curation
    attempt: NotRequired[int]  # 1, 2, ... per round (`Journal.append`); absent from journals older than it


def is_accepted(record: RoundRecord) -> bool:
    """Whether the curator kept the round (the dataset holds it)."""
    return record["curation"]["accepted"]


def is_refuted(record: RoundRecord) -> bool:
    """A played round whose reference answer was proven wrong: never accepted, the source of wrong steps."""
    return record["status"] == "ok" and reference_refuted(record["judge"])


def reference_status(judge: JudgeResult) -> ReferenceStatus:
    """Whether the reference is confirmed, refuted or unconfirmed (`nanoflux.verify.confirm`); a record written
    before solves says it by its reference check alone (`match` confirmed, `mismatch` or `error` refuted)."""
    if confirmation := judge.get("confirmation"):
        return confirmation["status"]
    verdict = judge["reference_check"]["verdict"]
    return "confirmed" if verdict == "match" else "refuted" if verdict in REFUTED else "unconfirmed"


def reference_refuted(judge: JudgeResult) -> bool:
    """The reference answer was proven wrong: a step of its own solution is false, or independent solves agree on
    another answer."""
    return reference_status(judge) == "refuted"


def steps_refuted(judge: JudgeResult) -> bool:
    """A recomputed claim in the attacker's own steps is false (or its code failed): the steps themselves are wrong."""
    return judge["reference_check"]["verdict"] in REFUTED


def reference_verified(judge: JudgeResult, *, required: bool) -> bool:
    """Whether a round's reference answer counts as verified, the one rule curation and the optimizers share.

    `required` is the spec's `curation.require_verified_reference`: True, only a confirmed reference counts
    (`reference_status`: its steps and `roles.judge.agree` independent solves agree with it, or with
    `roles.judge.solves: 0` the tools recomputed its steps, `match`); False, also an unconfirmed one. A
    refuted one never counts.
    """
    status = reference_status(judge)
    return status == "confirmed" or (not required and status == "unconfirmed")


def confirmed_and_defender_failed(record: RoundRecord) -> bool:
    """The best kind of example: the solves (or steps) confirmed the reference, and the defender still got it wrong."""
    return (record["status"] == "ok" and reference_status(record["judge"]) == "confirmed"
            and record["judge"]["verdict"] == "incorrect")


def outcome(record: RoundRecord) -> tuple[Outcome, int]:
    """What became of a played round's defender, and after how many critiques: right at once (`right`, 0); judged
    wrong, then right after k revisions (`corrected`, k); or wrong to the end (`uncorrected`, the k revisions it
    was given, 0 with `roles.judge.revise: 0`). Every reader counts rounds by this one rule."""
    revisions = record.get("revisions") or []
    if record["judge"]["verdict"] == "correct":
        return "right", 0
    if revisions and revisions[-1]["judge"]["verdict"] == "correct":
        return "corrected", len(revisions)
    return "uncorrected", len(revisions)


def outcome_counts(records: Iterable[RoundRecord]) -> dict[str, Any]:
    """Played rounds counted by `outcome`: `right`, `corrected`, `uncorrected`, and `corrected_after` (critiques
    -> rounds corrected after that many, as JSON keys), with the `revisions` the defenders gave in all
    (`roles.judge.revise`), for the run's counts, stats, the report and the dataset card."""
    played = [record for record in records if record["status"] == "ok"]
    found = Counter(outcome(record) for record in played)
    total = Counter(name for name, _ in found.elements())
    return {"right": total["right"], "corrected": total["corrected"], "uncorrected": total["uncorrected"],
            "corrected_after": {str(k): n for (name, k), n in sorted(found.items()) if name == "corrected"},
            "revisions": sum(len(record.get("revisions") or []) for record in played)}


def critiques(count: int) -> str:
    """`count` critiques in words ("1 critique", "2 critiques"), as every count of outcomes names them."""
    return f"{count} critique" + ("" if count == 1 else "s")


def corrected_after(outcomes: dict[str, Any]) -> str:
    """`outcome_counts`' corrected rounds by the critiques each took, in words: "1 after 1 critique, 2 after 2
    critiques" ("" when none was corrected)."""
    return ", ".join(f"{n} after {critiques(int(k))}" for k, n in outcomes["corrected_after"].items())


class Journal:
    """Append-only JSONL journal with torn-tail repair; numbers each round's attempts from 1.

    The file is read once, on open: the directory has one writer (`rundir.exclusive`), so what it
    held then and what this journal appended since is all there is.
    """

    def __init__(self, path: Path):
        self.path = path
        self._repair_tail()
        self._records = read_journal(path)
        self._attempts = Counter(record["round_id"] for record in self._records)

    def __iter__(self) -> Iterator[RoundRecord]:
        """Every attempt, in the order written."""
        return iter(list(self._records))

    def rounds(self) -> list[RoundRecord]:
        """Each round once, by its last attempt, in round order."""
        return last_attempts(self)

    def next_attempt(self, round_id: int) -> int:
        """The attempt number the next line written for `round_id` gets."""
        return self._attempts[round_id] + 1

    def append(self, record: RoundRecord) -> None:
        """Write one attempt at a round and fsync it (`append_many`)."""
        self.append_many([record])

    def append_many(self, records: Sequence[RoundRecord]) -> None:
        """Write attempts at rounds, in order, with one write and one fsync (rounds that finished together share
        it); sets each one's `attempt` (1 for a round's first line, then 2, ...). A failed write (a full disk) is
        cut off, keeping every earlier line; a kill mid-write keeps a prefix of them, the torn line dropped on
        the next open."""
        if not records:
            return
        attempts = self._attempts.copy()
        for record in records:
            attempts[record["round_id"]] += 1
            record["attempt"] = attempts[record["round_id"]]
        append_lines(self.path, records)
        self._records.extend(records)
        self._attempts = attempts

    def _repair_tail(self) -> None:
        """Cut a last line without its newline (a write interrupted by a kill)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as handle:
                handle.truncate(keep)


def read_journal(path: Path) -> list[RoundRecord]:
    """All complete records of a journal, none if there is none yet (a torn last line is skipped; a damaged one,
    not JSON or not a record, is a NanofluxError naming its line)."""
    if not path.exists():
        return []
    records = []
    for number, row in read_jsonl(path, fix=DAMAGED, torn_tail=True):
        if problem := not_a_record(row):
            raise NanofluxError(f"{path}:{number}: not a journal record ({problem}); {DAMAGED}")
        records.append(cast(RoundRecord, row))
    return records


def not_a_record(row: dict[str, Any]) -> str | None:
    """What keeps a JSON object from being a journal record, checked on the fields every reader relies on; None
    when it is one."""
    def number(key: str) -> bool:
        return isinstance(row.get(key), int) and not isinstance(row.get(key), bool) and row[key] >= 0

    curation = row.get("curation")
    if not number("round_id"):
        return f"round_id is {row.get('round_id')!r}, not a round number"
    if row.get("status") not in ("ok", "failed"):
        return f"status is {row.get('status')!r}, not 'ok' or 'failed'"
    if not isinstance(row.get("topic"), str) or not number("hops"):
        return "no topic or hops"
    if not (isinstance(curation, dict) and isinstance(curation.get("accepted"), bool)
            and isinstance(curation.get("reason"), str)):
        return "no curation decision"
    if row["status"] == "ok" and not (isinstance(row.get("question"), str) and isinstance(row.get("judge"), dict)):
        return "a played round without its question or judge"
    if "attempt" in row and not number("attempt"):
        return f"attempt is {row['attempt']!r}, not a number"
    return None


def last_attempts(records: Iterable[RoundRecord]) -> list[RoundRecord]:
    """Each round once, by its last attempt (the last line written for it), in round order.

    The one rule every reader of a journal follows: counts, datasets, stats, the report, novelty
    replay and training sets describe a round by what its last attempt made.
    """
    last: dict[int, RoundRecord] = {}
    for record in records:
        last[record["round_id"]] = record
    return [last[round_id] for round_id in sorted(last)]


def read_rounds(path: Path) -> list[RoundRecord]:
    """A journal's rounds, each once by its last attempt, in round order (see `last_attempts`)."""
    return last_attempts(read_journal(path))
