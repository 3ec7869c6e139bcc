"""Train and dev sets for the optimizers: verified rounds of an earlier run, a JSONL file, or the spec's seeds.

Only questions with a verified reference teach anything: the attacker's demos show what a
valid question looks like, and the defender is scored against the reference.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dspy
from pydantic import ValidationError

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_jsonl
from nanoflux.base.paths import JOURNAL_NAME, RunDir
from nanoflux.engine.journal import RoundRecord, read_rounds, reference_verified
from nanoflux.spec.model import SeedExample, Spec


@dataclass(frozen=True)
class Case:
    """One verified question with the inputs the attacker wrote it for."""

    topic: str
    hops: int
    answer_type: str
    question: str
    reference_answer: str
    solution_steps: tuple[str, ...]
    annotation: str
    round_index: int


def load_cases(spec: Spec, source: str | Path | None = None) -> list[Case]:
    """The verified questions in `source` (a run directory, its journal or a JSONL file), else the spec's seeds.

    A JSONL line is a journal record (it has `status`) or a seed example (`question`,
    `reference_answer`, `solution_steps`, ...). Journal rounds count only if their reference is
    verified (`nanoflux.engine.journal.reference_verified`).
    """
    if source is None:
        if not spec.examples:
            raise NanofluxError(f"spec {spec.name!r} lists no `examples`; pass --trainset RUN_DIR (an earlier run of "
                                "`nanoflux compile`) or a JSONL file, or add seed examples to the spec")
        cases = [seed_case(spec, seed, index) for index, seed in enumerate(spec.examples)]
        where = "the spec's examples"
    else:
        path = Path(source)
        if path.is_dir():
            path = RunDir(path).journal
        if not path.is_file():
            raise NanofluxError(f"no training data at {source}: "
                                f"pass a run directory holding {JOURNAL_NAME} or a JSONL file")
        cases = [case for case in _read_cases(spec, path) if case is not None]
        where = str(path)
    if len(cases) < 2:
        raise NanofluxError(f"{where} holds {len(cases)} usable question(s) (status ok, reference verified by the "
                            "tools); an optimizer needs at least 2 (one to train on, one to score): play more rounds "
                            "or add seed examples")
    return cases


def _read_cases(spec: Spec, path: Path) -> Iterable[Case | None]:
    if path.name == JOURNAL_NAME:
        yield from (record_case(spec, record) for record in read_rounds(path))
        return
    fix = "write one JSON object per line with question, reference_answer and solution_steps"
    for number, data in read_jsonl(path, fix=fix):
        try:
            yield record_case(spec, data) if "status" in data \
                else seed_case(spec, SeedExample.model_validate(data), number)
        except (ValidationError, TypeError, KeyError) as exc:
            raise NanofluxError(f"{path}:{number}: neither a journal record nor a seed example ({exc}); "
                                f"{fix}") from None


def record_case(spec: Spec, record: RoundRecord) -> Case | None:
    """The case a journal record holds, or None when it failed or its reference is not verified."""
    required = spec.curation.require_verified_reference
    if record["status"] != "ok" or not reference_verified(record["judge"], required=required):
        return None
    return Case(topic=record["topic"], hops=int(record["hops"]),
                answer_type=record.get("answer_type") or spec.questions.answer_type, question=record["question"],
                reference_answer=record["reference_answer"], solution_steps=tuple(record.get("solution_steps") or ()),
                annotation=record.get("annotation") or "", round_index=int(record["round_id"]))


def seed_case(spec: Spec, seed: SeedExample, index: int) -> Case:
    topics = spec.topics or [spec.name]
    return Case(topic=seed.topic or topics[index % len(topics)],
                hops=seed.hops or len(seed.solution_steps) or spec.questions.hops[0],
                answer_type=spec.questions.answer_type, question=seed.question,
                reference_answer=seed.reference_answer, solution_steps=tuple(seed.solution_steps),
                annotation=seed.annotation, round_index=index)


def split_cases(cases: Sequence[Case], *, dev: float, seed: int = 0,
                max_examples: int | None = None) -> tuple[list[Case], list[Case]]:
    """A seeded shuffle cut into train and dev, each at least one case."""
    shuffled = random.Random(seed).sample(list(cases), len(cases))[:max_examples]
    n_dev = min(len(shuffled) - 1, max(1, round(len(shuffled) * dev)))
    return shuffled[n_dev:], shuffled[:n_dev]


def attacker_example(case: Case, avoid: Sequence[str] = ()) -> dspy.Example:
    """The attacker's inputs as a round gives them, labelled with the verified question (a demo to learn from)."""
    return dspy.Example(topic=case.topic, hops=case.hops, answer_type=case.answer_type, avoid=list(avoid),
                        round_index=case.round_index, question=case.question, reference_answer=case.reference_answer,
                        solution_steps=list(case.solution_steps), annotation=case.annotation,
                        ).with_inputs("topic", "hops", "answer_type", "avoid", "round_index")


def defender_example(case: Case) -> dspy.Example:
    """A question for the defender, labelled with the reference solution as the reasoning to imitate."""
    reasoning = "\n".join(case.solution_steps) or f"The answer is {case.reference_answer}."
    return dspy.Example(question=case.question, reference_answer=case.reference_answer,
                        solution_steps=list(case.solution_steps), reasoning=reasoning, answer=case.reference_answer,
                        ).with_inputs("question", "reference_answer", "solution_steps")
