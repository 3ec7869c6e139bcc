"""Plays rounds on an executor and journals each one as it finishes; resumable after any crash.

The driver (this module, one thread) is the journal's only writer: it builds each round's task,
receives finished records from the executor, decides curation in journal order, and appends.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dspy
from tqdm import tqdm

from nanoflux.curation.decide import Curator
from nanoflux.executors import Executor, ThreadExecutor
from nanoflux.journal import Journal
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
                      error_kind="parse" if isinstance(exc, dspy.utils.exceptions.AdapterParseError) else "error")
    record["seconds"] = round(time.time() - started, 3)
    return record


def run_rounds(spec: Spec, program: dspy.Module, journal: Journal, curator: Curator, *, program_hash: str,
               executor: Executor | None = None, progress: bool = True) -> RunProgress:
    """Play the spec's rounds not yet in the journal, until `spec.rounds` are played or the dataset is full.

    Ctrl-C stops taking new rounds; every finished round is already journaled, and `--resume` goes on.
    """
    state = RunProgress()
    done: set[int] = set()
    for record in journal:
        done.add(record["round_id"])
        state.count(record)
        if record["curation"]["accepted"]:
            curator.novelty.add(str(record["round_id"]), record["question"], {"topic": record["topic"]})
    todo = [round_id for round_id in range(spec.rounds) if round_id not in done]
    executor = executor or ThreadExecutor(spec.threads)

    def tasks() -> Iterator[dict[str, Any]]:
        for task in round_tasks(spec, todo):
            if state.accepted >= spec.curation.size:
                return
            yield {**task, "avoid": curator.novelty.nearest(task["topic"], k=AVOID_SHOWN)}

    bar = tqdm(total=spec.rounds, initial=state.played, unit="round", disable=not progress, dynamic_ncols=True)
    bar.set_postfix(accepted=state.accepted, failed=state.failed)
    try:
        for record in executor.run(lambda task: play_round(program, task, program_hash), tasks()):
            record["curation"] = curator.decide(record)
            journal.append(record)
            state.count(record)
            bar.update(1)
            bar.set_postfix(accepted=state.accepted, failed=state.failed)
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        bar.close()
    return state
