"""The driver's fast path (embeddings attached by the players, rounds curated in batches, one fsync for the
rounds journaled together, lookups in memory) decides exactly what one round at a time decided: checked
against chromadb's own search, with the real all-MiniLM-L6-v2, and from the outside of a killed run."""

import json
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nanoflux import parse_spec
from nanoflux.base.names import EMBEDDING_MODEL
from nanoflux.base.paths import RunDir
from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.novelty import NoveltyFilter, open_collection
from nanoflux.engine.journal import Journal, read_journal
from nanoflux.engine.runner import QUESTION_EMBEDDING, attach_embedding, run_rounds
from nanoflux.jobs.compile import compile_spec
from nanoflux.testing import scripted_roles
from tests.support import ROOT
from tests.support.fakes import SCRIPTED_SPEC
from tests.support.kill import kill_once_journaled
from tests.support.records import ACCEPTED, DISTINCT, REWORDING, SAME_TOPIC, make_record

pytestmark = pytest.mark.slow

# Rewordings of earlier questions (duplicates), questions on one topic (close, mostly novel) and distinct ones,
# interleaved, some twice: a mix of accepted and duplicate decisions whose order matters.
QUESTIONS = [ACCEPTED, *DISTINCT[:4], REWORDING, *SAME_TOPIC, "What does DNA polymerase do in DNA replication?",
             *DISTINCT[4:8], DISTINCT[1], "Two cyclists 90 km apart ride towards each other at 12 and 18 km/h. "
             "When do they meet?", *DISTINCT[8:]]


def chromadb_decisions(path: Path, threshold: float) -> list[dict[str, Any]]:
    """Novelty decided as the driver decided it before: one round at a time, each question embedded alone,
    the nearest accepted question found by a chromadb query, an accepted one upserted at once."""
    embedder = Embedder(EMBEDDING_MODEL, cache=None)
    collection = open_collection(path, EMBEDDING_MODEL)
    assert collection is not None
    decisions = []
    for round_id, question in enumerate(QUESTIONS):
        vector = embedder.embed(question)
        found = collection.query(query_embeddings=[vector], n_results=1, include=["distances"])
        nearest = (found["ids"][0][0], min(1.0, 1.0 - found["distances"][0][0])) if found["ids"][0] else (None, None)
        accepted = nearest[1] is None or nearest[1] < threshold
        if accepted:
            collection.upsert(ids=[str(round_id)], embeddings=[vector], documents=[question])
        decisions.append({"accepted": accepted, "reason": "accepted" if accepted else "duplicate",
                          "nearest_id": nearest[0], "similarity": nearest[1]})
    return decisions


class Together:
    """Plays `batch` tasks, then returns them together, refilling first (`Feed.finished`), as a cluster's rounds
    that finish at once come back."""

    def __init__(self, batch: int):
        self.batch = batch

    def run(self, play: Callable[[dict[str, Any]], Any], tasks: Iterable[dict[str, Any]]) -> Iterator[Any]:
        source = iter(tasks)

        def pull() -> list[dict[str, Any]]:
            return [task for _, task in zip(range(self.batch), source, strict=False)]

        pulled = pull()
        while pulled:
            records = [play(task) for task in pulled]
            source.finished(records)  # type: ignore[attr-defined]
            pulled = pull()
            yield from records


def played(task: dict[str, Any], *, embed: bool) -> dict[str, Any]:
    """Round `task`'s pre-played record, its question's embedding attached as `RoundPlayer` attaches it."""
    record = {key: value for key, value in make_record(task["round_id"], question=QUESTIONS[task["round_id"]]).items()
              if key != "curation"}
    record.update(task)
    if embed:
        attach_embedding(record, EMBEDDING_MODEL)  # type: ignore[arg-type]
    return record


@pytest.mark.parametrize(("batch", "embed"), [(1, False), (5, True), (len(QUESTIONS), True)])
def test_a_run_decides_every_round_as_chromadb_one_at_a_time_did(tmp_path: Path, batch: int, embed: bool) -> None:
    spec = parse_spec(SCRIPTED_SPEC.replace("rounds: 6", f"rounds: {len(QUESTIONS)}")
                      + "curation: {band: L3-L5, size: 1000}\n")
    before = chromadb_decisions(tmp_path / "chromadb", spec.curation.novelty)
    assert {d["reason"] for d in before} == {"accepted", "duplicate"}, "the questions must test both decisions"

    run = RunDir(tmp_path / "run")
    novelty = NoveltyFilter(run.novelty, threshold=spec.curation.novelty)
    state = run_rounds(spec, lambda task: played(task, embed=embed), Journal(run.journal),
                       Curator(spec.curation.quality_band, novelty), executor=Together(batch), progress=False)

    records = read_journal(run.journal)
    assert state.played == len(QUESTIONS) and [r["round_id"] for r in records] == list(range(len(QUESTIONS)))
    assert not any(QUESTION_EMBEDDING in record for record in records), "the embedding is never journaled"
    decisions = [record["curation"] for record in records]
    assert [(d["accepted"], d["reason"], d["nearest_id"]) for d in decisions] == \
        [(d["accepted"], d["reason"], d["nearest_id"]) for d in before]
    for now, then in zip(decisions, before, strict=True):
        assert (now["similarity"] is None) == (then["similarity"] is None)
        assert now["similarity"] is None or now["similarity"] == pytest.approx(then["similarity"], abs=1e-5)
    # The collection on disk holds the accepted questions, as a later run's `against` reads it.
    stored = open_collection(run.novelty, EMBEDDING_MODEL, create=False)
    assert stored is not None
    assert sorted(stored.get(include=[])["ids"], key=int) == [str(i) for i, d in enumerate(before) if d["accepted"]]


KILLABLE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from nanoflux import parse_spec
    from nanoflux.engine.executors import ThreadExecutor
    from nanoflux.jobs.compile import compile_spec
    from nanoflux.testing import ScriptedEngine, scripted_roles

    class Logged(ThreadExecutor):
        '''Threads that note each task as it is handed out (its round and the questions it is told to avoid).'''

        def run(self, play, tasks):
            def logged(task):
                with open({handed!r}, "a") as log:
                    log.write(json.dumps({{"round_id": task["round_id"], "avoid": task["avoid"]}}) + "\\n")
                return play(task)
            return super().run(logged, tasks)

    compile_spec(parse_spec({spec!r}), out={out!r}, rounds={rounds}, cache_dir={cache!r}, executor=Logged(6),
                 lms=scripted_roles(ScriptedEngine(latency=0.05)), progress=True)
""")


def test_a_killed_run_journaled_every_round_it_counted_or_handed_out_work_on(tmp_path: Path) -> None:
    """SIGKILL mid-run: every round the progress bar counted, and every accepted question a later round was told
    to avoid, is in the journal on disk; a resume then plays each round exactly once, keeping what was written."""
    rounds, out, handed = 30, tmp_path / "run", tmp_path / "handed.jsonl"
    spec = SCRIPTED_SPEC + "curation: {band: L3-L5, size: 1000}\n"
    script = KILLABLE.format(root=str(ROOT), spec=spec, out=str(out), rounds=rounds, cache=str(tmp_path / "c"),
                             handed=str(handed))
    journal = out / "rounds.jsonl"
    with (tmp_path / "stderr").open("w") as stderr:
        kill_once_journaled(script, journal, 8, within=180, stderr=stderr)
    lines = journal.read_text().splitlines(keepends=True)
    written = [json.loads(line) for line in lines if line.endswith("\n")]
    assert 8 <= len(written) < rounds, "the kill must land mid-run"

    counted = [int(n) for n in re.findall(rf"(\d+)/{rounds}\b", (tmp_path / "stderr").read_text())]
    assert counted and max(counted) <= len(written), "a round was counted before its line was on disk"
    accepted = {record["question"] for record in written if record["curation"]["accepted"]}
    avoided = {question for line in handed.read_text().splitlines() for question in json.loads(line)["avoid"]}
    assert avoided, "later rounds must have been told to avoid accepted questions"
    assert avoided <= accepted, "a round was handed out on a decision not yet on disk"

    compile_spec(parse_spec(spec), out=out, rounds=rounds, resume=True, cache_dir=tmp_path / "c",
                 lms=scripted_roles(), progress=False)
    after = read_journal(journal)
    assert sorted(r["round_id"] for r in after) == list(range(rounds))
    assert after[: len(written)] == written


def test_no_round_is_handed_out_on_a_decision_not_yet_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds come back five at a time and share an fsync; each task handed out avoids only accepted questions
    that the journal held at its last fsync."""
    spec = parse_spec(SCRIPTED_SPEC.replace("rounds: 6", f"rounds: {len(QUESTIONS)}")
                      + "curation: {band: L3-L5, size: 1000}\n")
    run = RunDir(tmp_path / "run")
    durable: set[str] = set()  # the accepted questions on disk as of the journal's last fsync
    fsynced, avoided = [], []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if run.journal.exists():
            written = read_journal(run.journal)
            fsynced.append(len(written))
            durable.update(r["question"] for r in written if r["curation"]["accepted"])

    def play(task: dict[str, Any]) -> dict[str, Any]:
        assert set(task["avoid"]) <= durable, "handed out on a decision not yet fsynced"
        avoided.extend(task["avoid"])
        return played(task, embed=True)

    monkeypatch.setattr(os, "fsync", fsync)
    run_rounds(spec, play, Journal(run.journal), Curator(spec.curation.quality_band, NoveltyFilter(run.novelty)),
               executor=Together(5), progress=False)
    assert avoided and fsynced[-1] == len(QUESTIONS)
    assert len(fsynced) <= len(QUESTIONS) // 5 + 2, "rounds that came back together share an fsync"
