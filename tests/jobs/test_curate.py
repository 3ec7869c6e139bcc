"""Re-curation picks a new dataset from a journal: bands select what they say, picks cover topics
and levels, duplicates are dropped, and no LM is ever called."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.base.scoring import level_for
from nanoflux.cli import main
from nanoflux.engine.curation.embeddings import load_embedder
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.jobs.curate import coverage_order, curate
from tests.support.fakes import forbid_lm
from tests.support.records import (
    ACCEPTED,
    DISTINCT,
    REWORDING,
    SAME_TOPIC,
    TOPICS,
    checked_record,
    make_record,
    make_run,
)


def picked(result) -> list[str]:
    rows = (result.out_dir / "dataset" / "examples.jsonl").read_text().splitlines()
    return [json.loads(row)["question"] for row in rows]


def picked_ids(result) -> list[int]:
    rows = (result.out_dir / "dataset" / "examples.jsonl").read_text().splitlines()
    return [json.loads(row)["round_id"] for row in rows]


@pytest.fixture
def no_lm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any LM call, through DSPy or litellm, fails the test."""
    forbid_lm(monkeypatch)


# Levels L2..L5 by topic: rates 4.0 4.6 2.0 | geometry 3.6 3.0 4.9 | probability 4.2 3.5 2.7 | ...
SCORES = [4.0, 4.6, 2.0, 3.6, 3.0, 4.9, 4.2, 3.5, 2.7, 4.49, 1.6, 3.49]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    records = [make_record(i, question=q, topic=TOPICS[i // 3] if i < 9 else "numbers", overall=SCORES[i],
                           hops=2 + i % 3, steps=["step"] * (1 + i % 4))
               for i, q in enumerate(DISTINCT)]
    records += [make_record(12, status="failed"),
                make_record(13, question="What is 2 + 2?", reference_check="mismatch", accepted=False,
                            reason="incorrect_reference")]
    return make_run(tmp_path / "run", records)


@pytest.mark.slow
def test_paraphrases_and_duplicates_are_dropped_while_distinct_questions_on_one_topic_are_kept(
        tmp_path: Path) -> None:
    questions = [ACCEPTED, REWORDING, ACCEPTED, *SAME_TOPIC]
    run = make_run(tmp_path / "run", [make_record(i, question=q, topic="rates") for i, q in enumerate(questions)])
    result = curate(run)
    kept = picked(result)
    assert sum(q in (ACCEPTED, REWORDING) for q in kept) == 1
    assert set(SAME_TOPIC) <= set(kept) and len(kept) == 4
    assert result.manifest["counts"]["reasons"] == {"duplicate": 2}


@pytest.mark.slow
def test_questions_another_run_accepted_count_as_seen_when_the_spec_names_it(tmp_path: Path) -> None:
    NoveltyFilter(tmp_path / "old" / "novelty").add("old-1", ACCEPTED)
    records = [make_record(i, question=q) for i, q in enumerate([REWORDING, *SAME_TOPIC])]
    run = make_run(tmp_path / "run", records, curation=f"{{against: ['{tmp_path / 'old'}']}}")
    result = curate(run)
    assert picked(result) == SAME_TOPIC
    assert result.manifest["selection"]["against"] == [str(tmp_path / "old")]


@pytest.mark.slow
def test_a_level_band_keeps_exactly_the_rounds_scored_inside_it(run: Path) -> None:
    result = curate(run, band="L4")
    assert picked_ids(result) == [i for i, score in enumerate(SCORES) if 3.5 <= score < 4.5]
    assert result.manifest["counts"]["reasons"]["out_of_band"] == sum(not 3.5 <= s < 4.5 for s in SCORES)


@pytest.mark.slow
def test_score_and_level_range_bands_keep_exactly_their_scores(run: Path) -> None:
    assert picked_ids(curate(run, band="3.5-4.2")) == [i for i, s in enumerate(SCORES) if 3.5 <= s <= 4.2]
    assert picked_ids(curate(run, band="L2-L3")) == [i for i, s in enumerate(SCORES) if 1.5 <= s < 3.5]


@pytest.mark.slow
def test_complexity_bands_keep_exactly_the_hops_and_steps_they_name(run: Path) -> None:
    result = curate(run, band="L1-L5", hops="3-4", steps="2+")
    assert picked_ids(result) == [i for i in range(12) if 2 + i % 3 >= 3 and 1 + i % 4 >= 2]
    assert (result.manifest["selection"]["hops"], result.manifest["selection"]["steps"]) == ("3-4", "2+")


@pytest.mark.slow
def test_the_specs_complexity_defaults_apply_and_the_arguments_override_them(tmp_path: Path) -> None:
    records = [make_record(i, question=q, hops=2 + i % 3) for i, q in enumerate(DISTINCT[:6])]
    run = make_run(tmp_path / "run", records, curation="{hops: '4'}")
    assert picked_ids(curate(run)) == [2, 5]
    assert picked_ids(curate(run, hops="2")) == [0, 3]


@pytest.mark.slow
def test_when_more_qualify_than_the_size_every_topic_and_level_is_covered_first(run: Path) -> None:
    result = curate(run, band="L3-L5", size=4)
    counts = result.manifest["counts"]
    assert counts["selected"] == 4 and counts["reasons"]["over_size"] == counts["eligible"] - 4
    assert set(counts["by_topic"]) == {*TOPICS, "numbers"}


@pytest.mark.slow
def test_curation_is_deterministic_for_a_seed_and_never_calls_an_lm(run: Path, tmp_path: Path, no_lm: None) -> None:
    first = curate(run, band="L2-L5", size=5, seed=7, out=tmp_path / "a")
    again = curate(run, band="L2-L5", size=5, seed=7, out=tmp_path / "b")
    assert (first.out_dir / "dataset" / "sft.jsonl").read_text() \
        == (again.out_dir / "dataset" / "sft.jsonl").read_text()
    assert first.manifest["counts"] == again.manifest["counts"]
    others = {tuple(picked_ids(curate(run, band="L2-L5", size=5, seed=seed))) for seed in range(6)}
    assert len(others) > 1, "another seed draws another covering sample"


@pytest.mark.slow
def test_a_second_curation_embeds_nothing_again(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curate(run, band="L4")
    calls: list[list[str]] = []
    model = load_embedder()
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: calls.append(list(texts)) or encode(texts, **kw))
    curate(run, band="L3-L5", hops="2-3", novelty=0.9)
    assert calls == []


@pytest.mark.slow
def test_a_selection_writes_rlvr_for_its_picks_and_stepwise_with_the_refuted_rounds(tmp_path: Path) -> None:
    steps = ["3 * 4 = 12", "12 + 5 = 17"]
    records = [checked_record(0, "17", steps), checked_record(1, "17", steps, overall=1.0),
               checked_record(2, "18", ["3 * 4 = 13", "13 + 5 = 18"], accepted=False, reason="incorrect_reference")]
    run = make_run(tmp_path / "run", records)
    spec = json.loads((run / "spec.json").read_text())
    (run / "spec.json").write_text(json.dumps({**spec, "output": {"formats": ["rlvr", "stepwise"]}}))
    dataset = curate(run, band="L3-L5").manifest["dataset"]
    assert dataset["rlvr"]["rows"] == 1, "round 1 is out of the band"
    assert dataset["stepwise"]["rows"] == 2, "round 0, and the refuted round 2 for its wrong step"


@pytest.mark.slow
def test_the_new_dataset_has_its_own_manifest_and_leaves_the_runs_dataset_alone(run: Path) -> None:
    (run / "dataset").mkdir()
    (run / "dataset" / "sft.jsonl").write_text("original\n")
    result = curate(run, band="L4", size=3, novelty=0.9, seed=2)
    assert result.out_dir == run / "curated" / "L4_hops-any_size-3_novelty-0.9_seed-2"
    assert (run / "dataset" / "sft.jsonl").read_text() == "original\n"
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["selection"] == {"band": "L4", "hops": None, "steps": None, "length": None, "size": 3,
                                     "novelty": 0.9, "seed": 2, "embedding_model": "all-MiniLM-L6-v2",
                                     "require_verified_reference": True, "against": []}
    assert manifest["source"]["run_dir"] == str(run.resolve())
    counts = manifest["counts"]
    assert counts["rounds"] == counts["selected"] + sum(counts["reasons"].values()) == 14
    assert counts["reasons"]["failed"] == 1 and counts["reasons"]["incorrect_reference"] == 1
    assert manifest["dataset"]["sft"]["rows"] == counts["selected"] == 3


def test_the_pick_order_visits_every_topic_then_every_level_before_repeating() -> None:
    records = [make_record(i, topic=topic, overall=score)
               for i, (topic, score) in enumerate([("a", 4.0)] * 4 + [("a", 3.0), ("b", 4.0), ("c", 4.8), ("c", 4.0)])]
    order = coverage_order(records, ["a", "b", "c"], seed=0)
    assert {r["topic"] for r in order[:3]} == {"a", "b", "c"}
    assert {(r["topic"], level_for(r["judge"]["overall"])) for r in order[:5]} == {
        ("a", 4), ("a", 3), ("b", 4), ("c", 5), ("c", 4)}
    assert sorted(r["round_id"] for r in order) == list(range(8))
    assert order == coverage_order(records, ["a", "b", "c"], seed=0)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"band": "best"}, "not a band"), ({"hops": "4-2"}, "hops range"), ({"size": 0}, "at least 1"),
])
def test_a_malformed_selection_is_refused(run: Path, kwargs: dict, expected: str) -> None:
    with pytest.raises(NanofluxError, match=expected):
        curate(run, **kwargs)


def test_curating_into_the_run_itself_is_refused(run: Path) -> None:
    with pytest.raises(NanofluxError, match="never overwrites a run's dataset"):
        curate(run, out=run)


@pytest.mark.parametrize(("setup", "args", "expected"), [
    ("missing", [], "does not exist"),
    ("empty", [], "no journal"),
    ("run", ["--band", "L6"], "not a band"),
    ("run", ["--hops", "two"], "hops range"),
])
def test_the_curate_command_exits_2_with_a_message(run: Path, tmp_path: Path, setup: str, args: list[str],
                                                   expected: str) -> None:
    target = {"missing": tmp_path / "nowhere", "empty": tmp_path, "run": run}[setup]
    result = CliRunner().invoke(main, ["curate", str(target), *args])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_the_curate_command_reports_where_the_dataset_went(run: Path) -> None:
    result = CliRunner().invoke(main, ["curate", str(run), "--band", "L4", "--size", "2"])
    assert result.exit_code == 0, result.output
    assert "Curated 2 of 14 rounds" in result.output and "L4_hops-any_size-2" in result.output


def templated_run(tmp_path: Path) -> Path:
    """A real 12-round run on the scripted engine whose attacker writes five distinct questions, then rewordings of
    two of them (each a duplicate at the default threshold)."""
    import itertools

    from nanoflux.jobs.compile import compile_spec
    from nanoflux.spec.model import parse_spec
    from nanoflux.testing import SCENES, ScriptedEngine, default_answers, scripted_roles
    from tests.support.fakes import SCRIPTED_SPEC

    others, counter = default_answers(itertools.count()), itertools.count()

    def answer(role: str, prompt: str) -> dict:
        if role != "attacker":
            return others(role, prompt)
        n = next(counter)
        return {"question": SCENES[n % 5 if n < 5 else n % 2].format(n=n), "reference_answer": str(3 * n + 5),
                "solution_steps": [f"{n} * 3 = {3 * n}", f"{3 * n} + 5 = {3 * n + 5}"], "annotation": "a"}

    spec = parse_spec(SCRIPTED_SPEC.replace("rounds: 6", "rounds: 12") + "curation: {band: L3-L5}\n")
    return compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache",
                        lms=scripted_roles(ScriptedEngine(answer)), progress=False).run_dir


@pytest.mark.slow
def test_re_curating_a_run_with_its_own_settings_gives_its_rows_before_and_after_a_review(tmp_path: Path) -> None:
    from nanoflux.base.paths import RunDir
    from nanoflux.engine.curation.decisions import append_decision
    from nanoflux.jobs.compile import finish_run
    from nanoflux.jobs.curate import run_spec
    from nanoflux.jobs.stats import journal_records

    run = templated_run(tmp_path)

    def rows(directory: Path) -> list[int]:
        return [json.loads(line)["round_id"] for line in RunDir(directory).examples.read_text().splitlines()]

    records = journal_records(run)
    accepted = [r["round_id"] for r in records if r["curation"]["accepted"]]
    duplicates = {r["round_id"]: int(r["curation"]["nearest_id"]) for r in records
                  if r["curation"]["reason"] == "duplicate"}
    assert rows(run) == accepted == [0, 1, 2, 3, 4] and len(duplicates) == 7, "the run: 5 distinct, 7 rewordings"
    assert picked_ids(curate(run, out=tmp_path / "plain")) == accepted, "no review: the run's own rows"

    # A person rejects #2 and keeps #6, a rewording of #0: #6 comes in, and #0 (and any other rewording of it) goes.
    append_decision(RunDir(run).review, 2, "reject")
    append_decision(RunDir(run).review, 6, "accept")
    manifest = finish_run(run, run_spec(run), program_hash="p0", program_path=None, interrupted=False)
    result = curate(run, out=tmp_path / "reviewed")
    assert picked_ids(result) == rows(run), "re-curation with the run's settings gives the reviewed run's rows"
    assert json.loads(json.dumps(result.manifest["review"])) == json.loads(json.dumps(manifest["review"]))
    displaced = manifest["review"]["displaced"]
    assert duplicates[6] == 0 and 0 in displaced and all(seen["kept"] == 6 and seen["similarity"] >= 0.8
                                                          for seen in displaced.values())
    assert rows(run) == sorted({*accepted, 6} - {2} - set(displaced))
    assert manifest["review"]["removed"] == [2] and manifest["review"]["restored"] == [6]
