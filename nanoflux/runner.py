"""Plays rounds on an executor and journals each one as it finishes; resumable after any crash.

The driver (this module, one thread) is the journal's only writer: it builds each round's task,
receives finished records from the executor, decides curation in round-id order, and appends.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError, LMError
from tqdm import tqdm

from nanoflux.compiler import compile_program
from nanoflux.curation.decide import Curator
from nanoflux.errors import NanofluxError
from nanoflux.executors import Executor, executor_for
from nanoflux.executors.base import Record, Task
from nanoflux.journal import Journal
from nanoflux.modules import RoleLMs
from nanoflux.spec import Spec

AVOID_SHOWN = 3  # accepted questions nearest the topic shown to the attacker to steer it away


@dataclass
class RunProgress:
    """Counts over the whole journal (resumed rounds included)."""

    played: int = 0
    accepted: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    def count(self, record: dict[str, Any]) -> None:
        self.played += 1
        self.failed += record["status"] != "ok"
        self.accepted += record["curation"]["accepted"]
        self.reasons[record["curation"]["reason"]] += 1


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


def play_round(program: dspy.Module, task: dict[str, Any], program_hash: str) -> dict[str, Any]:
    """Play one round; any failure (LM error, unparseable output) becomes a failed record."""
    started = time.time()
    record: dict[str, Any] = {**task, "program_hash": program_hash,
                              "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat()}
    try:
        result = program(topic=task["topic"], hops=task["hops"], answer_type=task["answer_type"],
                         avoid=task.get("avoid", []), round_index=task["round_id"])
        record.update(status="ok", **{key: result[key] for key in result.keys()})
    except Exception as exc:  # noqa: BLE001 - LM output is untrusted: any failure is a failed round, not a crashed run
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
                      error_kind=_error_kind(exc))
    record["seconds"] = round(time.time() - started, 3)
    return record


class RoundPlayer:
    """The `play` every executor calls: one task in, one record out, on the compiled program.

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
    """

    def __init__(self, spec: Spec, program: dspy.Module, program_hash: str,
                 make_lms: Callable[[Spec], RoleLMs] | None = None):
        self.spec = spec
        self.program = program
        self.program_hash = program_hash
        self.make_lms = make_lms

    def __call__(self, task: Task) -> Record:
        return play_round(self.program, task, self.program_hash)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.make_lms is None:
            raise NanofluxError("role LMs given as objects cannot be sent to other processes; pass lms= a "
                                "picklable factory `spec -> RoleLMs` (a module-level function or class)")
        return (_rebuild_player, (self.spec.model_dump(mode="json"), self.program.dump_state(),
                                  self.program_hash, self.make_lms))


def _rebuild_player(spec_data: dict[str, Any], state: dict[str, Any], program_hash: str,
                    make_lms: Callable[[Spec], RoleLMs]) -> RoundPlayer:
    spec = Spec.model_validate(spec_data)
    program = compile_program(spec, lms=make_lms(spec))
    program.load_state(state)
    return RoundPlayer(spec, program, program_hash, make_lms)


def _error_kind(exc: Exception) -> str:
    """parse: the LM's output did not fit the signature; lm: the LM call itself failed; error: anything else."""
    if isinstance(exc, AdapterParseError):
        return "parse"
    return "lm" if isinstance(exc, LMError) else "error"


def run_rounds(spec: Spec, player: Callable[[Task], Record], journal: Journal, curator: Curator, *,
               executor: Executor | None = None, progress: bool = True) -> RunProgress:
    """Play the spec's rounds not yet in the journal, until `spec.rounds` are played or the dataset is full.

    Rounds are curated and journaled in round-id order (one that finishes early waits for the
    earlier ones still in flight), so which of two near-duplicates is kept never depends on which
    worker was faster; a round delivered twice (an executor's retry) is written once. Ctrl-C stops
    taking new rounds; every finished round is journaled, and `--resume` goes on.
    """
    state = RunProgress()
    done: set[int] = set()
    for record in journal:
        done.add(record["round_id"])
        state.count(record)
    curator.novelty.rebuild([record for record in journal if record["curation"]["accepted"]])
    todo = [round_id for round_id in range(spec.rounds) if round_id not in done]
    executor = executor or executor_for(spec)
    issued: deque[int] = deque()  # round ids handed out and not yet journaled, in order
    finished: dict[int, Record] = {}  # rounds that finished ahead of an earlier one

    def tasks() -> Iterator[dict[str, Any]]:
        for task in round_tasks(spec, todo):
            if state.accepted >= spec.curation.size:
                return
            issued.append(task["round_id"])
            yield {**task, "avoid": curator.novelty.nearest(task["topic"], k=AVOID_SHOWN)}

    def write(record: Record) -> None:
        record["curation"] = curator.decide(record)
        journal.append(record)
        done.add(record["round_id"])
        state.count(record)
        bar.update(1)
        bar.set_postfix(accepted=state.accepted, failed=state.failed)

    bar = tqdm(total=spec.rounds, initial=state.played, unit="round", disable=not progress, dynamic_ncols=True)
    bar.set_postfix(accepted=state.accepted, failed=state.failed)
    try:
        for record in executor.run(player, tasks()):
            if record["round_id"] not in done:
                finished[record["round_id"]] = record
            while issued and issued[0] in finished:
                write(finished.pop(issued.popleft()))
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        for round_id in sorted(finished):  # finished work is kept even when an earlier round never came back
            write(finished.pop(round_id))
        bar.close()
    return state
