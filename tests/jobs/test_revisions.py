"""Revisions in a run: journaled, counted by outcome, paid for within the budget, replayed on resume, and never
shown the reference, checked from the server's side (every request body it received)."""

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from nanoflux import parse_spec
from nanoflux.engine.journal import outcome, read_journal, read_rounds
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.stats import format_stats, run_stats
from nanoflux.testing import SCRIPTED_SPEC, ScriptedEngine, default_answers, scripted_roles
from nanoflux.verify.tokens import tokenize
from tests.support.faultserver import CALLS_PER_ROUND, PRICED, ROUND_USD, FaultServer, fault_spec

REFERENCE = "402"
ATTACK = {"question": "A crate holds 17 rows of 23 bottles and 11 loose bottles. How many bottles are there?",
          "reference_answer": REFERENCE, "solution_steps": ["17 * 23 = 391", "391 + 11 = 402"],
          "annotation": "Multiply before adding."}
WRONG = {"reasoning": "17 * 23 = 381, then 381 + 11 = 392", "answer": "392"}
# The judge quotes the reference every way it can: as written, as decimals, with its noun, in words, as money.
CRITIQUE = ("The answer is 402, not 392: 402.0 (402.00 bottles, i.e. 402 bottles, four hundred and two, "
            "four hundred two, $402, 4.02e2) follows from 17 * 23 = 391.")
FORMS = ("402", "four hundred", "4.02e2")


def judged(critique: str) -> dict[str, Any]:
    return {"scores": dict.fromkeys(("correctness", "rigor", "completeness", "clarity"), 3), "verdict": "incorrect",
            "critique": critique}


def revise_spec(server: FaultServer, revise: int = 2, **replace: str) -> str:
    text = fault_spec(server, model=PRICED).replace("judge: {", f"judge: {{revise: {revise}, ")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def request_text(body: dict[str, Any]) -> str:
    return "\n".join(str(message.get("content")) for message in body.get("messages", []))


def test_no_revision_request_shows_the_reference_in_any_form_though_the_critique_quotes_it(tmp_path: Path) -> None:
    def answer(role: str, prompt: str) -> dict[str, Any]:
        if role == "attacker":
            return ATTACK
        if role == "solver":
            return {"solution": "17 * 23 + 11", "answer": REFERENCE}
        return WRONG if role == "defender" else judged(CRITIQUE)

    with FaultServer(answer=answer) as server:
        spec = parse_spec(revise_spec(server, **{"rounds: 6": "rounds: 2"}))
        run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False).run_dir
    revisions = [request_text(body) for body in server.bodies if "previous_answer" in request_text(body)]
    assert len(revisions) == 2 * 2, "two rounds, two revisions each"
    for text in revisions:
        assert ATTACK["question"] in text and "step 1 is wrong" in text and "not 392" in text
        assert not [form for form in FORMS if form in text], text
        assert not [t.raw for t in tokenize(text, limit=10**6) if t.kind == "num" and t.value == 402], text
    records = read_rounds(run / "rounds.jsonl")
    assert all(r["judge"]["critique"] == CRITIQUE for r in records), "the judge did quote it"
    assert all(any(revision["feedback"] in text for text in revisions) for r in records for revision in r["revisions"])


def plan(index: int) -> list[str]:
    """What the defender of the `index`-th question answers, in turn: right at once, wrong then right, always wrong."""
    return [["right"], ["wrong", "right"], ["wrong", "wrong", "wrong"]][index % 3]


def scripted_engine() -> ScriptedEngine:
    """The scripted rounds (question n's answer is 3n + 5), with defenders that answer as `plan` says."""
    base, questions, asked = default_answers(itertools.count()), [], {}

    def answer(role: str, prompt: str) -> dict[str, Any]:
        if role != "defender":
            out = base(role, prompt)
            if role == "attacker":
                questions.append((out["question"], out["reference_answer"]))
            return out
        index, (question, reference) = next((i, q) for i, q in enumerate(questions) if q[0] in prompt)
        turn = asked[question] = asked.get(question, -1) + 1
        right = plan(index)[min(turn, len(plan(index)) - 1)] == "right"
        return {"reasoning": "I multiply, then add.", "answer": reference if right else "0"}

    return ScriptedEngine(answer)


def test_a_run_journals_revisions_counts_rounds_by_outcome_and_curates_on_the_first_answer(tmp_path: Path) -> None:
    results = {}
    for revise in (0, 2):
        spec = parse_spec(SCRIPTED_SPEC + f"roles: {{judge: {{revise: {revise}}}}}\ncuration: {{band: L1-L5}}\n")
        results[revise] = compile_spec(spec, out=tmp_path / f"revise{revise}", lms=scripted_roles(scripted_engine()),
                                       progress=False)
    plain, revised = (read_rounds(results[revise].run_dir / "rounds.jsonl") for revise in (0, 2))
    assert all("revisions" not in record for record in plain)
    assert {key for record in plain for key in record} | {"revisions"} == {key for r in revised for key in r}
    assert [outcome(record) for record in revised] == [("right", 0), ("corrected", 1), ("uncorrected", 2)] * 2
    assert [outcome(record) for record in plain] == [("right", 0), ("uncorrected", 0), ("uncorrected", 0)] * 2
    assert [r["curation"] for r in revised] == [r["curation"] for r in plain], "curation decides on the first answer"
    assert [r["defender_answer"] for r in revised] == [r["defender_answer"] for r in plain]

    counts = results[2].manifest["counts"]
    assert counts["outcomes"] == {"right": 2, "corrected": 2, "uncorrected": 2, "corrected_after": {"1": 2},
                                  "revisions": 2 * 1 + 2 * 2}
    assert results[0].manifest["counts"]["outcomes"] == {"right": 2, "corrected": 0, "uncorrected": 4,
                                                         "corrected_after": {}, "revisions": 0}
    stats = run_stats(results[2].run_dir)
    assert stats["outcomes"] == counts["outcomes"]
    assert stats["roles"]["defender"]["calls"] == 6 + 6 and stats["roles"]["judge"]["calls"] == 6 + 6
    assert "defender: 2 right at once, 2 corrected (2 after 1 critique), 2 never corrected; 6 revisions" in \
        format_stats(stats)
    assert "defender:" not in format_stats(run_stats(results[0].run_dir))


def test_the_budget_counts_the_revisions(tmp_path: Path) -> None:
    # The scripted defender is always wrong, and always says the same: two revisions, each its own sample, whose
    # judging (at temperature 0, of the answer judged already) the cache answers.
    calls = CALLS_PER_ROUND + 2
    round_usd = ROUND_USD / CALLS_PER_ROUND * calls
    with FaultServer() as server:
        spec = parse_spec(revise_spec(server, **{"rounds: 6": "rounds: 10",
                                                 "topics: [shelves, crates]": "topics: [t0, t1, t2, t3, t4]"}))
        result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False,
                              budget={"max_cost": 2.5 * round_usd})
    assert server.count() == 2 * calls, "room for 2 rounds with their revisions, not the 4 without"
    assert result.manifest["budget_stop"]["spent"] == pytest.approx(2 * round_usd)
    assert result.manifest["tokens"]["defender"]["calls"] == 2 * 3


def test_a_resume_replays_a_lost_round_with_its_revisions_from_the_cache(tmp_path: Path) -> None:
    with FaultServer() as server:
        # a band no round reaches keeps the attacker's `avoid` list empty, so a replayed round asks what it asked
        spec = parse_spec(revise_spec(server, **{"rounds: 6": "rounds: 4",
                                                 "curation: {band: L3-L5}": "curation: {band: 1-1.1, size: 100}"}))
        run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False).run_dir
        journal = run / "rounds.jsonl"
        before = [json.dumps(r["revisions"], sort_keys=True) for r in read_journal(journal)]
        lines = journal.read_text().splitlines(keepends=True)
        journal.write_text("".join(lines[:-2]))  # killed before its last two rounds were journaled
        requests = server.count()
        compile_spec(spec, out=run, cache_dir=tmp_path / "cache", resume=True, progress=False)
    assert server.count() == requests, "the replayed rounds and their revisions were answered from the cache"
    assert [json.dumps(r["revisions"], sort_keys=True) for r in read_journal(journal)] == before
