"""The replay benchmark (benchmarks/replay.py): real recorded solutions through `nanoflux compile` over HTTP, with and
without independent solves, against a stand-in server on loopback."""

import pytest

from benchmarks.replay import DATA, load_questions, replay

QUESTIONS = 12

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"the dev set of recorded GSM8K solutions is not here ({DATA}); "
                                                 "it lives in ../shared/data beside the repository"),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory):
    steps_only, default = replay(QUESTIONS, threads=4, work=tmp_path_factory.mktemp("replay"), max_seconds=300)
    return steps_only, default


def test_the_replay_plays_only_dev_questions_each_with_model_solutions() -> None:
    questions = load_questions(limit=QUESTIONS)
    assert len(questions) == QUESTIONS and min(q.q for q in questions) >= 400
    assert all(solution["who"] != "ground_truth" for q in questions for solution in q.solutions)
    assert all(q.attack not in q.others for q in questions if len(q.solutions) > 1)


def test_every_round_of_both_configs_is_journaled_and_played_on_its_own_question(outcomes) -> None:
    for outcome in outcomes:
        assert outcome.rounds == QUESTIONS and outcome.failed == 0
        assert sorted(record["round_id"] for record in outcome.records) == list(range(QUESTIONS))
        assert len({record["question"] for record in outcome.records}) == QUESTIONS
        assert outcome.server["unmatched"] == 0 and outcome.server["questions"] == QUESTIONS
        assert outcome.examples == outcome.accepted


def test_the_default_records_three_solves_a_round_and_solves_0_none(outcomes) -> None:
    steps_only, default = outcomes
    assert all("solves" not in record for record in steps_only.records)
    assert all(record["judge"]["confirmation"]["rule"] == "steps" for record in steps_only.records)
    assert all(len(record["solves"]) == 3 for record in default.records)
    assert all(solve["answer"] is not None and "program" in solve for record in default.records
               for solve in record["solves"])
    assert default.server["served"]["solver"] == 3 * QUESTIONS and "solver" not in steps_only.server["served"]


def test_both_configs_meet_the_same_references_and_solves_never_lower_precision(outcomes) -> None:
    steps_only, default = outcomes
    assert steps_only.right == default.right > 0
    assert default.precision >= steps_only.precision
