"""Reasoning traces and revisions together, end to end: a compile run against a thinking stand-in server with
`roles.judge.revise` and every export that carries them, checked from the files the run left on disk.

The server (tests/support/faultserver.py) answers over real HTTP through DSPy, as a thinking model does (its
trace as `reasoning_content`, or inline as `<think>...</think>`). Its defenders answer the i-th question as
`PLAN` says: right at once, wrong then right, or wrong to the end; its judge quotes the reference in every
critique, which no feedback turn of an exported row may show.
"""

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from nanoflux import parse_spec
from nanoflux.base.paths import RunDir
from nanoflux.engine.journal import outcome, read_rounds
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.report.packing import decode_page
from nanoflux.jobs.report.page import review_page
from nanoflux.spec.model import Spec
from nanoflux.testing import Answer, default_answers
from nanoflux.verify.withhold import reveals
from tests.jobs.report.test_page import embedded_rounds
from tests.support.faultserver import THINKING, THOUGHT, FaultServer, fault_spec

ROUNDS = 6  # the scripted spec's
REVISE = 2
PLAN = (["right"], ["wrong", "right"], ["wrong", "wrong", "wrong"])  # the i-th question's defender, % 3
OUTPUT = "output: {reasoning: defender, formats: [sft, dpo, revision]}\n"


def thought(role: str, attempt: int = 1) -> str:
    """The trace the server sends `role`; the defender's names which of its answers it is for."""
    return THOUGHT.replace("{role}", role) + (f" (attempt {attempt})" if role == "defender" else "")


def server_thought(role: str, prompt: str) -> str:
    """`thought` for a request: a revision's prompt shows the previous answer's reasoning, "Attempt k: ..."."""
    return thought(role, 1 + max(map(int, re.findall(r"Attempt (\d+):", prompt)), default=0))


def planned_answers() -> Answer:
    """The server's answers: default_answers' rounds, with defenders that follow PLAN and a judge that quotes the
    reference."""
    base, questions, asked = default_answers(itertools.count()), [], {}

    def answer(role: str, prompt: str) -> dict[str, Any]:
        out = base(role, prompt)
        if role == "attacker":
            questions.append((out["question"], out["reference_answer"]))
        if role not in ("defender", "judge"):
            return out
        index, (question, reference) = next((i, q) for i, q in enumerate(questions) if q[0] in prompt)
        if role == "judge":
            return {**out, "critique": f"The total is {reference}, not what you wrote: multiply first."}
        turn = asked[question] = asked.get(question, -1) + 1
        plan = PLAN[index % 3]
        right = plan[min(turn, len(plan) - 1)] == "right"
        return {"reasoning": f"Attempt {turn + 1}: I multiply, then add.", "answer": reference if right else "0"}

    return answer


def rows(run: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in RunDir(run).dataset_file(name).read_text().splitlines()]


def thinking_spec(server: FaultServer, **replace: str) -> Spec:
    text = fault_spec(server).replace("judge: {", f"judge: {{revise: {REVISE}, ")
    for old, new in {"topics: [shelves, crates]": "topics: [t0, t1, t2, t3, t4, t5]", **replace}.items():
        text = text.replace(old, new)
    return parse_spec(text + OUTPUT)


def dataset_bytes(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((run / "dataset").iterdir())}


@pytest.fixture(scope="module", params=THINKING)
def thinking_run(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """One run per thinking mode, shared by the tests that read its files (none writes to it)."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    with FaultServer(answer=planned_answers(), thinking=request.param, thought=server_thought) as server:
        run = compile_spec(thinking_spec(server), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                           progress=False).run_dir
    records = read_rounds(run / "rounds.jsonl")
    assert [r["status"] for r in records] == ["ok"] * ROUNDS, [r.get("error") for r in records]
    return run, records


def test_the_journal_keeps_every_roles_trace_and_each_revisions_own(thinking_run) -> None:
    run, records = thinking_run
    assert [outcome(r) for r in records] == [("right", 0), ("corrected", 1), ("uncorrected", 2)] * 2
    for record in records:
        assert record["traces"] == {role: thought(role) for role in ("attacker", "defender", "judge")}
        assert all(solve["trace"] == thought("solver") for solve in record["solves"])
        assert [revision["trace"] for revision in record["revisions"]] == [
            thought("defender", attempt) for attempt in range(2, 2 + len(record["revisions"]))]
        assert all("trace" not in revision["judge"] for revision in record["revisions"])
    journal = (run / "rounds.jsonl").read_text()
    assert "<think>" not in journal and "</think>" not in journal
    assert all(r["curation"]["accepted"] for r in records), "every round is in the exports"


def test_the_exports_carry_the_traces_and_the_corrections(thinking_run) -> None:
    run, records = thinking_run
    corrected = [r for r in records if outcome(r)[0] == "corrected"]
    right = [r for r in records if outcome(r)[0] == "right"]

    revision = rows(run, "revision")
    assert len(revision) == len(corrected) == 2
    for row, record in zip(revision, corrected, strict=True):
        messages = row["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[0]["content"] == record["question"]
        assert messages[1]["content"].endswith("Answer: 0") and messages[3]["content"].endswith(
            f"Answer: {record['reference_answer']}")
        assert messages[2]["content"] == record["revisions"][0]["feedback"]
        assert "multiply first" in messages[2]["content"], "the judge's critique reaches the defender"
        assert [m["reasoning_content"] for m in messages[1::2]] == [thought("defender", 1), thought("defender", 2)]
        for feedback in messages[2::2]:  # the feedback turns: the reference withheld though the judge quoted it
            assert not reveals(feedback["content"], record["reference_answer"]), feedback["content"]
            assert record["reference_answer"] not in feedback["content"]

    dpo = {row["prompt"][0]["content"]: row for row in rows(run, "dpo")}
    assert len(dpo) == 4, "every round the defender first got wrong"
    for record in corrected:
        pair = dpo[record["question"]]
        assert pair["chosen"][0]["content"] == (f"{record['revisions'][-1]['reasoning']}\n\n"
                                                f"Answer: {record['reference_answer']}"), "its own correction"
        assert pair["rejected"][0]["content"].endswith("Answer: 0")

    sft = {row["messages"][0]["content"]: row["messages"][1] for row in rows(run, "sft")}
    assert len(sft) == ROUNDS
    traced = {question for question, turn in sft.items() if "reasoning_content" in turn}
    assert traced == {r["question"] for r in right}, "a trace only where the defender was right at once"
    assert all(sft[q]["reasoning_content"] == thought("defender", 1) for q in traced)

    examples = {row["round_id"]: (row["outcome"], row["revisions"]) for row in rows(run, "examples")}
    assert examples == {r["round_id"]: outcome(r) for r in records}
    manifest = json.loads(RunDir(run).manifest.read_text())
    assert manifest["dataset"]["sft"]["traces"] == 2 and manifest["dataset"]["revision"]["traces"] == 2
    card = (run / "dataset" / "README.md").read_text()
    assert ("the defender answered right at once in 2, corrected its answer after the judge's critique in 2 "
            "(2 after 1 critique), and stayed wrong in 2") in card
    assert "2 of the 6 `sft` rows; 2 of the 2 `revision` rows" in card


def test_the_report_and_the_review_page_show_the_traces_and_revisions(thinking_run) -> None:
    run, records = thinking_run
    report = decode_page((run / "report.html").read_bytes())
    assert "2 right at once, 2 corrected (2 after 1 critique), 2 never corrected; 6 revisions" in report
    for page in (embedded_rounds(report), embedded_rounds(decode_page(review_page(run, {})))):
        by_question = {row["question"]: row for row in page}
        for record in records:
            shown = by_question[record["question"]]
            assert shown["traces"] == record["traces"]
            assert [(v["feedback"], v["answer"], v["trace"]) for v in shown["revisions"]] == [
                (v["feedback"], v["answer"], v["trace"]) for v in record["revisions"]]


@pytest.mark.parametrize("thinking", THINKING)
def test_resuming_a_finished_run_asks_nothing_and_writes_the_same_exports(tmp_path: Path, thinking: str) -> None:
    with FaultServer(answer=planned_answers(), thinking=thinking, thought=server_thought) as server:
        spec = thinking_spec(server)
        run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False).run_dir
        journal, exports, requests = (run / "rounds.jsonl").read_bytes(), dataset_bytes(run), server.count()
        assert exports["revision.jsonl"], "corrections were exported"
        compile_spec(spec, out=run, cache_dir=tmp_path / "cache", resume=True, progress=False)
    assert server.count() == requests, "nothing played again"
    assert (run / "rounds.jsonl").read_bytes() == journal
    assert dataset_bytes(run) == exports


@pytest.mark.parametrize("thinking", THINKING)
def test_a_resume_replays_lost_rounds_with_their_traces_and_revisions_from_the_cache(tmp_path: Path,
                                                                                    thinking: str) -> None:
    with FaultServer(answer=planned_answers(), thinking=thinking, thought=server_thought) as server:
        # a band no round reaches keeps the attacker's `avoid` list empty, so a replayed round asks what it asked
        spec = thinking_spec(server, **{"curation: {band: L3-L5}": "curation: {band: 1-1.1, size: 100}"})
        run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False).run_dir
        journal = run / "rounds.jsonl"
        played = {r["round_id"]: (r["traces"], r["solves"], r["revisions"]) for r in read_rounds(journal)}
        lines = journal.read_text().splitlines(keepends=True)
        journal.write_text("".join(lines[:-2]))  # killed before its last two rounds were journaled
        requests = server.count()
        compile_spec(spec, out=run, cache_dir=tmp_path / "cache", resume=True, progress=False)
    assert server.count() == requests, "the lost rounds, revisions included, were answered from the cache"
    replayed = {r["round_id"]: (r["traces"], r["solves"], r["revisions"]) for r in read_rounds(journal)}
    assert replayed == played
    assert any(revisions for _, _, revisions in (played[json.loads(line)["round_id"]] for line in lines[-2:]))
