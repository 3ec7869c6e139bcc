"""Plays rounds on an executor and journals each one as it finishes; resumable after any crash.

The driver (this module, one thread) is the journal's only writer: it builds each round's task,
receives finished records from the executor, decides curation in round-id order, and appends.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import dspy
from dspy.utils.exceptions import AdapterParseError, LMError
from tqdm import tqdm

from nanoflux.base.errors import NanofluxError
from nanoflux.clients.lm import configure_cache
from nanoflux.engine.budget import Budget, Spending, expected_rounds
from nanoflux.engine.compiler import compile_program
from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.embeddings import encode
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.executors import Executor, executor_for
from nanoflux.engine.executors.base import Task
from nanoflux.engine.journal import Journal, PlayedRound, RoundRecord, is_accepted, last_attempts
from nanoflux.modules import RoleLMs
from nanoflux.modules.round import failed_call, paid_calls
from nanoflux.spec.model import Spec

logger = logging.getLogger(__name__)

AVOID_SHOWN = 3  # accepted questions nearest the topic shown to the attacker to steer it away
QUESTION_EMBEDDING = "question_embedding"  # what a player attaches (`attach_embedding`); never journaled
FLUSH_EVERY = 256  # accepted questions (and embeddings) the novelty collection (and cache) take in one write


@dataclass
class RunProgress:
    """Counts over the whole journal (resumed rounds included), each round once by its last attempt.

    `failures` counts failed rounds by `error_kind`; `breaker` says why the circuit breaker stopped
    the run (see `CircuitBreaker.trip`), None when it did not; `budget_stop` why the budget did
    (`nanoflux.engine.budget.Budget.stop`).
    """

    played: int = 0
    accepted: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False
    breaker: dict[str, Any] | None = None
    budget_stop: dict[str, Any] | None = None
    _counted: dict[int, RoundRecord] = field(default_factory=dict, repr=False)

    def count(self, record: RoundRecord) -> None:
        """Count a round's latest attempt, replacing what an earlier attempt at it counted."""
        earlier = self._counted.get(record["round_id"])
        if earlier is not None:
            self._tally(earlier, -1)
        self._counted[record["round_id"]] = record
        self._tally(record, 1)

    def _tally(self, record: RoundRecord, sign: int) -> None:
        self.played += sign
        self.failed += sign * (record["status"] != "ok")
        self.accepted += sign * is_accepted(record)
        self.reasons[record["curation"]["reason"]] += sign
        if record["status"] != "ok":
            self.failures[record.get("error_kind", "error")] += sign
        self.reasons, self.failures = +self.reasons, +self.failures  # drop kinds no round has any more


@dataclass
class CircuitBreaker:
    """Trips after `limit` rounds in a row failed because an LM call failed, in the order rounds finish
    (a round waiting for an earlier one to be journaled has still told us the server is down). The
    runner caps `limit` at the rounds it has to play, so a short run whose every round failed trips too.

    A round that reached the server and got any answer, even one that did not parse, resets the
    count: the breaker is for a server that is down, not for a model that writes badly.
    """

    limit: int
    streak: int = 0
    last: PlayedRound | None = None  # the latest round an LM call failed in

    @property
    def tripped(self) -> bool:
        return self.streak >= self.limit

    def see(self, record: PlayedRound) -> None:
        if lm_failed(record):
            self.streak += 1
            self.last = record
        else:
            self.streak = 0

    def trip(self) -> dict[str, Any]:
        """What the manifest and the CLI say about the trip: the failing role's server and its last error."""
        last: Mapping[str, Any] = self.last or {}
        return {"after": self.limit, "round_id": last.get("round_id"), "role": last.get("failed_role"),
                "model": last.get("failed_model"), "api_base": last.get("failed_api_base"), "error": last.get("error")}


def lm_failed(record: PlayedRound) -> bool:
    """The round failed because an LM call failed (server down, 5xx, timeout, rate limit after retries)."""
    return record["status"] != "ok" and record.get("error_kind") == "lm"


def replayable(record: RoundRecord, *, retry_failed: bool = False) -> bool:
    """Whether `--resume` plays this round (its last attempt) again: LM failures always; with
    `retry_failed`, every failed round (output that did not parse is otherwise data about the model)."""
    return lm_failed(record) or (retry_failed and record["status"] != "ok")


def finished_round_ids(rounds: list[RoundRecord], *, retry_failed: bool = False) -> set[int]:
    """The ids of journaled rounds (given by their last attempts) that a run does not play again."""
    return {record["round_id"] for record in rounds if not replayable(record, retry_failed=retry_failed)}


def rounds_to_play(spec: Spec, rounds: list[RoundRecord], *, retry_failed: bool = False) -> list[int]:
    """The round ids a run plays: up to `spec.rounds`, those not journaled or whose last attempt is `replayable`."""
    done = finished_round_ids(rounds, retry_failed=retry_failed)
    return [round_id for round_id in range(spec.rounds) if round_id not in done]


def round_tasks(spec: Spec, round_ids: list[int]) -> Iterator[dict[str, Any]]:
    """Each round's inputs, a pure function of the spec's seed and the round id (so resume replays them)."""
    topics = list(spec.topics) or [spec.name]
    order = random.Random(spec.seed).sample(topics, len(topics))
    low, high = spec.questions.hops
    for round_id in round_ids:
        yield {
            "round_id": round_id,
            "topic": order[round_id % len(order)],
            "hops": random.Random(f"{spec.seed}:{round_id}").randint(low, high),
            "answer_type": spec.questions.answer_type,
        }


def rollout_id(run_id: str, round_id: int, attempt: int) -> int:
    """The key every LM call of one attempt at a round carries (DSPy's `rollout_id`).

    DSPy's cache answers a repeated request from the cache; two rounds asking the attacker the same
    (same topic, hops and `avoid` list) would get one question. With this key each attempt at each
    round of each run samples afresh, and an attempt played again (a resume after a kill, an
    executor's retry) asks exactly what it asked before, which the cache answers: the run's cache is
    its replay log. A 60-bit integer, as DSPy wants one.
    """
    digest = hashlib.sha256(f"{run_id}:{round_id}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 4


def play_round(program: dspy.Module, task: Task, program_hash: str) -> PlayedRound:
    """Play one round; any failure (LM error, unparseable output) becomes a failed record."""
    started = time.time()
    record: dict[str, Any] = {**task, "program_hash": program_hash,
                              "started_at": datetime.fromtimestamp(started, UTC).isoformat()}
    try:
        result = program(topic=task["topic"], hops=task["hops"], answer_type=task["answer_type"],
                         avoid=task.get("avoid", []), round_index=task["round_id"], rollout_id=task.get("rollout_id"))
        record.update(status="ok", **{key: result[key] for key in result.keys()})
    except Exception as exc:  # noqa: BLE001 - LM output is untrusted: any failure is a failed round, not a crashed run
        call = failed_call(exc)
        record.update(status="failed", error=_error_text(exc, call.get("role")), error_kind=_error_kind(exc),
                      failed_role=call.get("role"), failed_model=call.get("model"),
                      failed_api_base=call.get("api_base"))
        if paid := paid_calls(exc):
            record["roles"] = paid  # what the round cost before it failed: the budget and stats count it
    record["seconds"] = round(time.time() - started, 3)
    return cast(PlayedRound, record)


class RoundPlayer:
    """The `play` every executor calls: one task in, one record out, on the compiled program.

    A played round carries its question's embedding (`attach_embedding`), computed here, where the
    round was played, so the one driver of a run of many workers looks it up instead of computing it.

    Pickling it ships a recipe, not the program: the spec, the prompts (`dump_state`) and
    `make_lms`, the factory of role LMs. Whatever process unpickles it (a Ray actor) compiles its
    own program with its own LMs, so LM clients never cross processes and an embedded model
    loads once per process.

    Args:
        spec: the effective spec.
        program: the compiled (maybe tuned) program this process plays on.
        program_hash: recorded with every round.
        make_lms: a picklable `spec -> RoleLMs` (default: the spec's models); None when the LMs
            were given as objects, which keeps rounds in this process.
        cache_dir: the run's DSPy cache directory, which a process that rebuilds the player (a Ray
            actor) uses too, so every executor reads and fills the run's one cache (None: that
            process keeps DSPy's cache as it is).
    """

    def __init__(self, spec: Spec, program: dspy.Module, program_hash: str,
                 make_lms: Callable[[Spec], RoleLMs] | None = None, cache_dir: Path | None = None):
        self.spec = spec
        self.program = program
        self.program_hash = program_hash
        self.make_lms = make_lms
        self.cache_dir = cache_dir

    def __call__(self, task: Task) -> PlayedRound:
        record = play_round(self.program, task, self.program_hash)
        if record["status"] == "ok":
            attach_embedding(record, self.spec.curation.embedding_model)
        return record

    def __reduce__(self) -> tuple[Any, ...]:
        if self.make_lms is None:
            raise NanofluxError("role LMs given as objects cannot be sent to other processes; pass lms= a "
                                "picklable factory `spec -> RoleLMs` (a module-level function or class)")
        return (_rebuild_player, (self.spec.model_dump(mode="json"), self.program.dump_state(),
                                  self.program_hash, self.make_lms, self.cache_dir))


def attach_embedding(record: PlayedRound, model: str) -> None:
    """Add the question's embedding by `model` to a played round (`QUESTION_EMBEDDING`), computed as the driver
    would compute it (`encode`); without it (the model cannot load here) the driver embeds the question."""
    try:
        record[QUESTION_EMBEDDING] = {"model": model, "vector": encode(model, [record["question"]])[0]}
    except NanofluxError as exc:
        logger.warning("the question of round %d is embedded by the driver instead: %s", record["round_id"], exc)


def take_embeddings(rounds: Sequence[PlayedRound], novelty: NoveltyFilter) -> list[PlayedRound]:
    """The rounds without the embeddings their players attached, which `novelty`'s embedder now knows (those
    by its model); the questions of the rest embedded in one model pass."""
    embedder = novelty.embedder
    shipped = {played["question"]: played[QUESTION_EMBEDDING]["vector"] for played in rounds
               if played.get(QUESTION_EMBEDDING, {}).get("model") == embedder.model}
    embedder.remember(shipped)
    if missing := [played["question"] for played in rounds if played["status"] == "ok"
                   and played["question"] not in shipped]:
        novelty.embed_many(missing)
    return [cast(PlayedRound, {key: value for key, value in played.items() if key != QUESTION_EMBEDDING})
            for played in rounds]


def _rebuild_player(spec_data: dict[str, Any], state: dict[str, Any], program_hash: str,
                    make_lms: Callable[[Spec], RoleLMs], cache_dir: Path | None) -> RoundPlayer:
    if cache_dir is not None:
        configure_cache(cache_dir)  # this process (an actor) plays the run's rounds: the run's cache
    spec = Spec.model_validate(spec_data)
    program = compile_program(spec, lms=make_lms(spec))
    program.load_state(state)
    return RoundPlayer(spec, program, program_hash, make_lms, cache_dir)


# DSPy's own client names its own setting in a timeout; a NanoFlux user sets the role's `timeout` instead.
_CLIENT_TIMEOUT_HINT = re.compile(r"raise it with Timeouts\(read=\.\.\.\)")


def _error_text(exc: Exception, role: str | None) -> str:
    """What the journal (and the circuit breaker's message) says of a failed round: the error, pointing
    at the spec's setting where the client's message names its own."""
    text = f"{type(exc).__name__}: {exc}"
    if role:
        text = _CLIENT_TIMEOUT_HINT.sub(f"raise it with roles.{role}.timeout in the spec", text)
    return text[:2000]


def _error_kind(exc: Exception) -> str:
    """parse: the LM's output did not fit the signature; lm: the LM call itself failed (after its retries:
    connection refused or dropped, timeout, 5xx, rate limit); error: anything else."""
    if isinstance(exc, AdapterParseError):
        return "parse"
    return "lm" if isinstance(exc, LMError) else "error"


class RoundFeed:
    """Hands out the spec's rounds not yet done and keeps them in order until they are journaled (a `Feed`).

    A round is handed out only while the dataset is not full, the circuit breaker has not tripped
    and the budget has room for it with the rounds in flight (a round already handed out is never
    revoked for the budget: its calls are paid for); with a `run_id` it carries the `rollout_id` of
    its attempt. With a refill-first executor, a round may be handed out before the rounds that
    finished with it are curated: such a round is provisional, and when curating those rounds fills
    the dataset it is revoked (its record, when it comes back, is not journaled; a resume replays it
    from the cache), so the journal holds the rounds it held when executors refilled only after
    curation. The breaker needs no such care: it sees finished rounds (`finished`) before the next
    round is handed out.
    """

    def __init__(self, spec: Spec, todo: list[int], state: RunProgress, breaker: CircuitBreaker,
                 novelty: NoveltyFilter, done: set[int], *, budget: Budget, journal: Journal,
                 run_id: str | None = None):
        self.spec = spec
        self.budget = budget
        self.journal = journal
        self.run_id = run_id
        self.state = state
        self.breaker = breaker
        self.novelty = novelty
        self.done = done
        self.notified = False  # the executor reports finished rounds through `finished` (it refills first)
        self.issued: deque[int] = deque()  # round ids handed out and not yet journaled, in order
        self.finished_rounds: dict[int, PlayedRound] = {}  # rounds that finished ahead of an earlier one
        self._provisional: list[int] = []  # handed out while finished rounds waited to be journaled
        self._revoked: set[int] = set()
        self._tasks = round_tasks(spec, todo)

    def stopped(self) -> bool:
        return self.state.accepted >= self.spec.curation.size or self.breaker.tripped

    def __iter__(self) -> RoundFeed:
        return self

    def __next__(self) -> Task:
        if self.stopped() or not self.budget.allows(in_flight=len(self.issued)):
            raise StopIteration
        task = next(self._tasks)
        if self.run_id is not None:
            task["rollout_id"] = rollout_id(self.run_id, task["round_id"], self.journal.next_attempt(task["round_id"]))
        if self.ready():
            self._provisional.append(task["round_id"])
        self.issued.append(task["round_id"])
        return {**task, "avoid": self.novelty.nearest(task["topic"], k=AVOID_SHOWN)}

    def finished(self, records: Sequence[PlayedRound]) -> None:
        self.notified = True
        for record in records:
            self.receive(record)

    def receive(self, played: PlayedRound) -> None:
        """Keep a finished round until it can be journaled; the breaker sees it at once."""
        round_id = played["round_id"]
        if round_id in self._revoked:
            logger.info("round %d was handed out as the dataset filled; not journaled (--resume plays it)", round_id)
        elif round_id in self.done or round_id in self.finished_rounds:
            logger.info("round %d came back twice (its executor played it again); journaled once", round_id)
        else:
            self.finished_rounds[round_id] = played
            self.breaker.see(played)

    def ready(self) -> bool:
        """The earliest round not yet journaled has finished."""
        return bool(self.issued) and self.issued[0] in self.finished_rounds

    def take_ready(self) -> list[PlayedRound]:
        """The finished rounds that can be journaled now, in round-id order: up to the first still in flight."""
        ready = []
        while self.ready():
            ready.append(self.finished_rounds.pop(self.issued.popleft()))
        return ready

    def settle(self) -> None:
        """After the finished rounds are journaled: revoke the provisional rounds if they filled the dataset."""
        if self._provisional and self.stopped():
            for round_id in self._provisional:
                self.issued.remove(round_id)
                self._revoked.add(round_id)
        self._provisional.clear()


def run_rounds(spec: Spec, player: Callable[[Task], PlayedRound], journal: Journal, curator: Curator, *,
               executor: Executor | None = None, progress: bool = True, retry_failed: bool = False,
               run_id: str | None = None) -> RunProgress:
    """Play the spec's rounds not yet done, until `spec.rounds` are played or the dataset is full.

    A round is done when the journal holds it and its last attempt is not `replayable`: rounds
    whose LM call failed are played again (with `retry_failed`, every failed round), as a new
    attempt. Rounds are curated and journaled in round-id order (one that finishes early waits for
    the earlier ones still in flight), so which of two near-duplicates is kept never depends on which
    worker was faster; a round delivered twice (an executor's retry) is written once. After
    `execution.max_consecutive_failures` rounds in a row failed for LM reasons, the circuit breaker
    stops taking rounds (`RunProgress.breaker` says why); so does the spec's `budget` when the next round
    would likely pass a cap (`RunProgress.budget_stop`). The progress bar shows the cost so far and
    projected (`nanoflux.engine.budget`). Ctrl-C stops at once: every finished round is journaled, the rounds in
    flight are abandoned (the thread executor does not wait for them), and `--resume` plays them. With
    `run_id`, each task carries the `rollout_id` of its attempt (see `rollout_id`), so every round samples
    afresh. See `RoundFeed` for how rounds are handed out.
    """
    state = RunProgress()
    attempts = list(journal)  # the rounds and the budget's spending both come from these
    rounds = last_attempts(attempts)
    for record in rounds:
        state.count(record)
    done = finished_round_ids(rounds, retry_failed=retry_failed)
    todo = rounds_to_play(spec, rounds, retry_failed=retry_failed)
    curator.novelty.rebuild([record for record in rounds if is_accepted(record)])
    if replays := len({record["round_id"] for record in rounds} & set(todo)):
        logger.info("playing %d failed round(s) again", replays)
    executor = executor or executor_for(spec)
    breaker = CircuitBreaker(max(1, min(spec.execution.max_consecutive_failures, len(todo))))
    budget = Budget.of(spec.budget, Spending.of(attempts))  # every attempt, earlier sessions included
    feed = RoundFeed(spec, todo, state, breaker, curator.novelty, done, budget=budget, journal=journal,
                     run_id=run_id)

    def write(finished: Sequence[PlayedRound]) -> None:
        """Curate rounds in round-id order, journal them with one fsync, and only then count them."""
        if not finished:
            return
        records: list[RoundRecord] = [{**played, "curation": curator.decide(played)}
                                      for played in take_embeddings(finished, curator.novelty)]
        journal.append_many(records)
        for record in records:
            done.add(record["round_id"])
            state.count(record)
            budget.spending.add(record)
        curator.novelty.flush(at_least=FLUSH_EVERY)  # after the journal: it is the truth the collection follows
        bar.update(len(records))
        show()

    def show() -> None:
        if bar.disable:
            return  # pricing may import litellm: not for a bar nobody sees
        expected = expected_rounds(played=state.played, accepted=state.accepted, planned=spec.rounds,
                                   size=spec.curation.size)
        bar.set_postfix({"accepted": state.accepted, "failed": state.failed,
                         **budget.spending.postfix(played=state.played, expected=expected)})

    bar = tqdm(total=spec.rounds, initial=len(done), unit="round", disable=not progress, dynamic_ncols=True)
    show()
    with curator.novelty.deferred():
        try:
            for played in executor.run(player, feed):
                if not feed.notified:  # an executor that refills first has passed it to `feed.finished` already
                    feed.receive(played)
                write(feed.take_ready())  # every round ready now shares one fsync (a group commit)
                feed.settle()
        except KeyboardInterrupt:
            state.interrupted = True
        finally:
            # finished work is kept though an earlier round never came back
            write([feed.finished_rounds.pop(round_id) for round_id in sorted(feed.finished_rounds)])
            bar.close()
    if breaker.tripped:
        state.breaker = breaker.trip()
    state.budget_stop = budget.stop()
    return state
