"""The main job end to end on a scripted LM: journal, curation, dataset, manifest, resume after SIGKILL."""

import json
import logging
import os
import textwrap
from pathlib import Path

import dspy
import litellm
import pytest

from nanoflux import NanofluxError, parse_spec
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.report.packing import decode_page
from nanoflux.modules import RoleLMs
from nanoflux.testing import ScriptedEngine, scripted_roles
from nanoflux.verify.worker import POOL as SYMPY_WORKERS
from tests.support import ROOT
from tests.support.fakes import SCRIPTED_SPEC
from tests.support.kill import kill_once_journaled

SPEC = SCRIPTED_SPEC + "curation: {band: L3-L5, require_verified_reference: true}\n"


def run(tmp_path: Path, **kwargs):
    options = {"out": tmp_path / "run", "cache_dir": tmp_path / "cache", "lms": scripted_roles(), "progress": False}
    return compile_spec(parse_spec(SPEC), **{**options, **kwargs})


def test_a_run_journals_every_round_and_exports_accepted_ones(tmp_path: Path) -> None:
    result = run(tmp_path)
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert sorted(r["round_id"] for r in records) == list(range(6))
    assert all(r["status"] == "ok" and r["curation"]["accepted"] for r in records)
    assert {r["topic"] for r in records} == {"shelves", "crates"}
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["counts"]["accepted"] == 6 and manifest["counts"]["parse_failure_rate"] == 0.0
    assert manifest["dataset"]["sft"]["rows"] == 6 and manifest["dataset"]["dpo"]["rows"] == 6
    assert manifest["spec"]["digest"] == parse_spec(SPEC).digest()
    assert manifest["versions"]["dspy"] and manifest["tokens"]["attacker"]["output_tokens"] == 6 * 20
    first = json.loads((result.run_dir / "dataset" / "sft.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["role"] == "user" and "Answer: 5" in first["messages"][1]["content"]


def cached_roles(engine: ScriptedEngine) -> RoleLMs:
    """The scripted roles with DSPy's cache on, as the roles built from a spec have it."""
    return RoleLMs(*(dspy.LM(name, engine=engine, cache=True, num_retries=0)
                     for name in ("scripted/a", "scripted/b", "scripted/judge")),
                   solver=dspy.LM("scripted/solver", engine=engine, cache=True, num_retries=0, temperature=0.7))


def test_a_library_run_caches_in_its_cache_dir_and_leaves_the_process_as_it_was(tmp_path: Path) -> None:
    callers = dspy.cache  # an in-memory cache of this test's own (conftest)
    engine = ScriptedEngine()
    run(tmp_path, rounds=2, lms=cached_roles(engine))
    assert dspy.cache is callers and len(callers.memory_cache) == 0, "the run's calls went to the run's cache"
    calls = len(engine.calls)
    # Measured from the second run: sklearn and torch set variables of their own when the first one loads them.
    environ, quiet = dict(os.environ), litellm.suppress_debug_info
    run(tmp_path, rounds=2, lms=cached_roles(engine), out=tmp_path / "again")
    # The same calls with the same cache_dir are answered from it; the solves (which sample, each keyed by its
    # run, round and attempt) are asked afresh by another run.
    assert engine.calls[calls:] == ["solver"] * 2 * 3
    assert dspy.cache is callers and dict(os.environ) == environ and litellm.suppress_debug_info == quiet


def test_a_library_run_without_a_cache_dir_uses_dspys_cache_as_the_caller_set_it(tmp_path: Path) -> None:
    callers = dspy.cache
    run(tmp_path, rounds=2, lms=cached_roles(ScriptedEngine()), cache_dir=None)
    assert dspy.cache is callers and len(callers.memory_cache) == 2 * (3 + 3)  # three roles and three solves a round
    assert not (tmp_path / "cache").exists()


class TwiceExecutor:
    """Delivers every round twice, as an executor that played a round again might."""

    def run(self, play, tasks):
        for task in tasks:
            record = play(task)
            yield {**record}
            yield {**record}


def test_a_round_delivered_twice_is_journaled_once_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nanoflux")
    result = run(tmp_path, rounds=2, executor=TwiceExecutor())
    assert [r["round_id"] for r in read_journal(result.run_dir / "rounds.jsonl")] == [0, 1]
    assert "round 1 came back twice (its executor played it again); journaled once" in caplog.text


def test_the_attacker_is_shown_nearby_accepted_questions(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    prompts: list[str] = []
    answer = engine.answer
    engine.answer = lambda role, prompt: (prompts.append(prompt) if role == "attacker" else None) \
        or answer(role, prompt)
    run(tmp_path, lms=scripted_roles(engine))
    assert "shelf holds 0 boxes" not in prompts[0] and "shelf holds 0 boxes" in prompts[-1]


def test_a_failing_round_is_journaled_as_failed_and_the_run_goes_on(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    answer = engine.answer

    def flaky(role: str, prompt: str) -> dict:
        if role == "defender" and len(engine.calls) == 2:
            return {"nonsense": True}
        return answer(role, prompt)

    engine.answer = flaky
    result = run(tmp_path, lms=scripted_roles(engine))
    counts = result.manifest["counts"]
    assert counts["rounds_played"] == 6 and counts["failed"] == 1 and counts["reasons"]["failed"] == 1
    failed = next(r for r in read_journal(result.run_dir / "rounds.jsonl") if r["status"] == "failed")
    assert failed["error_kind"] == "parse" and counts["parse_failures"] == 1


def test_a_refuted_reference_is_never_accepted(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    answer = engine.answer
    engine.answer = lambda role, prompt: {**answer(role, prompt), "reference_answer": "999"} if role == "attacker" \
        else answer(role, prompt)
    result = run(tmp_path, lms=scripted_roles(engine))
    assert result.manifest["counts"]["accepted"] == 0
    assert result.manifest["counts"]["reasons"] == {"incorrect_reference": 6}
    assert (result.run_dir / "dataset" / "sft.jsonl").read_text() == ""


def test_every_round_journals_its_solves_and_accepts_only_references_they_confirm(tmp_path: Path) -> None:
    result = run(tmp_path)
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert all(r["judge"]["confirmation"]["status"] == "confirmed" and r["curation"]["accepted"] for r in records)
    first = records[0]
    solves = [(s["model"], s["answer"], s["agreement"]) for s in first["solves"]]
    assert solves == [("scripted/solver", "5", "match")] * 3
    assert first["roles"]["solver"]["calls"] == 3 and first["models"]["solver"] == "scripted/solver"
    assert result.manifest["tokens"]["solver"]["calls"] == 6 * 3, "each solve is a call, counted like the others"
    assert result.manifest["models"]["solver"] == parse_spec(SPEC).roles.judge.model  # the spec's, not the scripted
    assert result.manifest["counts"]["confirmed_defender_failed"] == 6, "the defender fails every scripted round"


def test_with_python_among_the_tools_each_solve_is_a_program_run_in_the_sandbox(tmp_path: Path) -> None:
    result = compile_spec(parse_spec(SPEC.replace("rounds: 6", "rounds: 2") + "tools: [sympy, python]\n"),
                          out=tmp_path / "run", cache_dir=tmp_path / "c", lms=scripted_roles(), progress=False)
    solve = read_journal(result.run_dir / "rounds.jsonl")[1]["solves"][0]
    assert (solve["program"], solve["output"], solve["answer"], solve["error"]) == ("print('8')", "8\n", "8", None)
    assert result.manifest["counts"]["accepted"] == 2


def solved_by(*answers: str):
    """A solver whose solves answer `answers` in turn, round after round."""
    turns = iter(answers * 100)
    return lambda role, prompt: {"solution": "...", "answer": next(turns)}


def test_solves_agreeing_on_another_answer_refute_a_reference_whose_steps_hold(tmp_path: Path) -> None:
    result = run(tmp_path, lms=scripted_roles(ScriptedEngine(solver=solved_by("999", "999", "5"))))
    assert result.manifest["counts"]["reasons"] == {"incorrect_reference": 6}
    record = read_journal(result.run_dir / "rounds.jsonl")[0]
    assert record["judge"]["reference_check"]["verdict"] == "match"
    assert record["judge"]["confirmation"]["status"] == "refuted" and record["judge"]["confirmation"]["other"] == "999"


def test_split_solves_leave_a_reference_unconfirmed_and_unaccepted_unless_verification_is_not_required(
        tmp_path: Path) -> None:
    split = solved_by("998", "999", "5")
    result = run(tmp_path, lms=scripted_roles(ScriptedEngine(solver=split)))
    assert result.manifest["counts"]["reasons"] == {"unverified_reference": 6}
    relaxed = parse_spec(SPEC.replace("require_verified_reference: true", "require_verified_reference: false"))
    result = compile_spec(relaxed, out=tmp_path / "relaxed", cache_dir=tmp_path / "c2", progress=False,
                          lms=scripted_roles(ScriptedEngine(solver=split)))
    assert result.manifest["counts"]["accepted"] == 6


def test_with_no_solves_the_steps_alone_confirm_as_before(tmp_path: Path) -> None:
    engine = ScriptedEngine(solver=solved_by("999"))
    result = compile_spec(parse_spec(SPEC + "roles: {judge: {solves: 0}}\n"), out=tmp_path / "run",
                          cache_dir=tmp_path / "c", lms=scripted_roles(engine), progress=False)
    assert "solver" not in engine.calls and result.manifest["counts"]["accepted"] == 6
    record = read_journal(result.run_dir / "rounds.jsonl")[0]
    assert "solves" not in record and "solver" not in record["roles"] and "solver" not in record["models"]
    assert record["judge"]["confirmation"]["rule"] == "steps"


def test_a_run_exports_rlvr_prompts_and_stepwise_rows_with_the_refuted_rounds_steps(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    answer = engine.answer

    def some_wrong(role: str, prompt: str) -> dict:  # rounds 1, 3, 5: the steps give 3n + 5, the reference not
        out = answer(role, prompt)
        return {**out, "reference_answer": "999"} if role == "attacker" and int(out["reference_answer"]) % 2 == 0 \
            else out

    engine.answer = some_wrong
    spec = parse_spec(SPEC + "output: {formats: [sft, rlvr, stepwise]}\n")
    result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "c", lms=scripted_roles(engine),
                          progress=False)
    dataset = result.manifest["dataset"]
    assert set(dataset) == {"sft", "rlvr", "stepwise", "examples"} and result.manifest["counts"]["accepted"] == 3
    assert dataset["sft"]["rows"] == dataset["rlvr"]["rows"] == 3 and dataset["stepwise"]["rows"] == 6
    rlvr = [json.loads(line) for line in (result.run_dir / dataset["rlvr"]["path"]).read_text().splitlines()]
    assert rlvr[0]["prompt"][0]["role"] == "user" and rlvr[0]["answer"] == "5" and rlvr[0]["answer_type"] == "numeric"
    rows = [json.loads(line) for line in (result.run_dir / dataset["stepwise"]["path"]).read_text().splitlines()]
    assert [row["labels"] for row in rows] == [[True, True, True], [True, True, False]] * 3
    assert rows[1]["completions"] == ["1 * 3 = 3", "3 + 5 = 8", "Answer: 999"]
    report = decode_page((result.run_dir / "report.html").read_bytes())
    assert "dataset/stepwise.jsonl 6 rows" in report and "dataset card dataset/README.md" in report


def test_the_run_stops_once_the_dataset_is_full(tmp_path: Path) -> None:
    spec = parse_spec(SPEC.replace("curation: {", "curation: {size: 2, "))
    result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "c", lms=scripted_roles(), progress=False)
    assert result.manifest["counts"]["accepted"] == 2 and result.manifest["counts"]["rounds_played"] < 6


def test_a_round_handed_out_while_the_dataset_filled_is_played_but_not_journaled(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nanoflux")
    engine = ScriptedEngine()
    spec = parse_spec(SPEC.replace("curation: {", "curation: {size: 2, "))
    result = compile_spec(spec, out=tmp_path / "run", lms=scripted_roles(engine), progress=False)
    assert [r["round_id"] for r in read_journal(result.run_dir / "rounds.jsonl")] == [0, 1]
    assert engine.calls.count("attacker") == 3, "round 2 took round 1's slot before round 1 was curated"
    assert "round 2 was handed out as the dataset filled; not journaled (--resume plays it)" in caplog.text


def test_a_run_on_threads_starts_sympy_workers_for_its_threads_before_its_first_round(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, started = ScriptedEngine(), []
    monkeypatch.setattr(SYMPY_WORKERS, "prestart", lambda count: started.append((count, len(engine.calls))))
    run(tmp_path, rounds=2, threads=3, lms=scripted_roles(engine))
    assert started == [(3, 0)]


def test_a_second_run_into_the_same_directory_needs_resume(tmp_path: Path) -> None:
    run(tmp_path)
    with pytest.raises(NanofluxError, match="--resume"):
        run(tmp_path)


def test_resume_with_different_models_is_refused(tmp_path: Path) -> None:
    run(tmp_path)
    with pytest.raises(NanofluxError, match="differ"):
        run(tmp_path, resume=True, models={"judge": "openai/gpt-4o-mini"})


def test_an_unwritable_output_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NanofluxError, match="cannot write to output directory"):
        run(tmp_path, out=blocker / "run")


KILLABLE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from nanoflux import parse_spec
    from nanoflux.jobs.compile import compile_spec
    from nanoflux.testing import ScriptedEngine, scripted_roles
    spec = parse_spec({spec!r})
    compile_spec(spec, out={out!r}, rounds=12, threads=2, cache_dir={cache!r},
                 lms=scripted_roles(ScriptedEngine(latency=0.15)), progress=False)
""")


def test_resume_after_sigkill_loses_and_repeats_no_finished_round(tmp_path: Path) -> None:
    out = tmp_path / "run"
    script = KILLABLE.format(root=str(ROOT), spec=SPEC, out=str(out), cache=str(tmp_path / "c"))
    journal = out / "rounds.jsonl"
    kill_once_journaled(script, journal, 3, within=120)
    before = journal.read_text().splitlines(keepends=True)
    finished = [json.loads(line) for line in before if line.endswith("\n")]
    assert 3 <= len(finished) < 12, "the kill must land mid-run"

    result = compile_spec(parse_spec(SPEC), out=out, rounds=12, resume=True, cache_dir=tmp_path / "c",
                          lms=scripted_roles(), progress=False)
    after = read_journal(journal)
    ids = [r["round_id"] for r in after]
    assert sorted(ids) == list(range(12)) and len(ids) == len(set(ids))
    assert after[: len(finished)] == finished  # finished rounds kept exactly as written
    assert result.manifest["counts"]["rounds_played"] == 12
