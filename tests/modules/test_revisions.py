"""The defender's revisions (`roles.judge.revise`): a defender judged wrong answers again with the judge's
feedback, each answer judged like the first, until one is right; every call is the defender's or the judge's,
under its own key."""

from collections.abc import Iterator
from typing import Any

import dspy

from nanoflux import parse_spec
from nanoflux.engine.compiler import compile_program
from nanoflux.engine.journal import outcome
from nanoflux.modules import RoleLMs, Round
from nanoflux.modules.round import revision_rollout_id, solve_rollout_id
from nanoflux.testing import SCRIPTED_SPEC, ScriptedEngine, scripted_roles

QUESTION = "A crate holds 17 rows of 23 bottles and 11 loose bottles. How many bottles are there?"
ATTACK = {"question": QUESTION, "reference_answer": "402", "solution_steps": ["17 * 23 = 391", "391 + 11 = 402"],
          "annotation": "Multiply before adding."}
WRONG = {"reasoning": "17 * 23 = 381, then 381 + 11 = 392", "answer": "392"}
RIGHT = {"reasoning": "17 * 23 = 391, then 391 + 11 = 402", "answer": "402"}
CRITIQUE = "The total is 402 (402.0 bottles, four hundred and two), not 392."


class Script:
    """Scripted roles for one question: the defender answers `answers` in turn; the prompts each role was sent."""

    def __init__(self, *answers: dict[str, str]):
        self.answers: Iterator[dict[str, str]] = iter(answers)
        self.prompts: list[tuple[str, str]] = []

    def __call__(self, role: str, prompt: str) -> dict[str, Any]:
        self.prompts.append((role, prompt))
        if role == "attacker":
            return ATTACK
        if role == "defender":
            return next(self.answers)
        return {"scores": dict.fromkeys(("correctness", "rigor", "completeness", "clarity"), 3),
                "verdict": "incorrect", "critique": CRITIQUE}

    def revision_prompts(self) -> list[str]:
        return [prompt for role, prompt in self.prompts if role == "defender" and "previous_answer" in prompt]


def program(revise: int, script: Script, lms: RoleLMs | None = None) -> tuple[Round, ScriptedEngine]:
    engine = ScriptedEngine(script)
    spec = parse_spec(SCRIPTED_SPEC + f"roles: {{judge: {{revise: {revise}, solves: 2, agree: 1}}}}\n")
    return compile_program(spec, lms=lms or scripted_roles(engine)), engine


def play(round_: Round, rollout_id: int = 7) -> dspy.Prediction:
    return round_(topic="crates", hops=2, answer_type="numeric", rollout_id=rollout_id)


def test_revise_0_plays_one_answer_and_the_prediction_has_no_revisions() -> None:
    round_, engine = program(0, Script(WRONG))
    out = play(round_)
    assert "revisions" not in out.keys() and out.judge["verdict"] == "incorrect"
    assert engine.calls == ["attacker", "defender", "solver", "solver", "judge"]


def test_a_defender_wrong_then_right_is_corrected_after_one_revision() -> None:
    script = Script(WRONG, RIGHT)
    round_, engine = program(2, script)
    out = play(round_)
    assert (out.defender_answer, out.judge["verdict"]) == ("392", "incorrect"), "the first attempt stays on top"
    [revision] = out.revisions
    assert (revision["answer"], revision["judge"]["verdict"], revision["judge"]["verdict_source"]) == \
        ("402", "correct", "tools")
    assert "step 1 is wrong: '17 * 23 = 381' does not hold" in revision["feedback"]
    assert "402" not in revision["feedback"] and "not 392" in revision["feedback"]
    assert outcome({**out.toDict(), "curation": {}}) == ("corrected", 1)
    assert engine.calls == ["attacker", "defender", "solver", "solver", "judge", "defender", "judge"], \
        "the solves are not played again"
    assert out.roles["defender"]["calls"] == 2 and out.roles["judge"]["calls"] == 2
    assert revision["judge"]["confirmation"]["verdicts"] == out.judge["confirmation"]["verdicts"]
    [prompt] = script.revision_prompts()
    assert WRONG["reasoning"] in prompt and revision["feedback"] in prompt


def test_a_defender_wrong_every_time_answers_revise_more_times_and_stays_uncorrected() -> None:
    round_, _ = program(2, Script(WRONG, WRONG, WRONG))
    out = play(round_)
    assert [r["judge"]["verdict"] for r in out.revisions] == ["incorrect", "incorrect"]
    assert outcome({**out.toDict(), "curation": {}}) == ("uncorrected", 2)
    assert out.roles["defender"]["calls"] == 3 and out.roles["judge"]["calls"] == 3


def test_a_defender_right_at_once_is_never_revised() -> None:
    round_, engine = program(2, Script(RIGHT))
    out = play(round_)
    assert out.revisions == [] and engine.calls.count("defender") == 1


def test_each_revision_samples_under_its_own_key_and_a_replayed_attempt_asks_the_same() -> None:
    keys = {key(rollout, index) for key in (solve_rollout_id, revision_rollout_id) for rollout in (1, 2)
            for index in range(3)}
    assert len(keys) == 12 and revision_rollout_id(1, 0) == revision_rollout_id(1, 0)
    engine = ScriptedEngine(Script(*[WRONG] * 9))
    cached = {role: dspy.LM(f"scripted/{role}", engine=engine, cache=True, num_retries=0, temperature=0.7)
              for role in ("attacker", "defender", "judge", "solver")}
    round_, _ = program(2, Script(), lms=RoleLMs(**cached))
    # The defender repeats itself: its second revision is asked what its first was, and still samples afresh.
    play(round_, rollout_id=7)
    assert engine.calls.count("defender") == 3
    play(round_, rollout_id=7)  # the attempt played again (a resume): every call answered from the cache
    assert engine.calls.count("defender") == 3
    play(round_, rollout_id=8)  # another attempt samples afresh
    assert engine.calls.count("defender") == 6


def test_a_program_saved_before_revisions_still_loads_and_keeps_the_revisers_prompt() -> None:
    round_, _ = program(2, Script())
    state = round_.dump_state()
    instructions = state["reviser.answer"]["signature"]["instructions"]
    assert "judged wrong" in instructions and "Counting jars" in instructions, "the domain is in the reviser's prompt"
    round_.load_state({name: value for name, value in state.items() if not name.startswith("reviser.")})
    assert round_.dump_state()["reviser.answer"]["signature"]["instructions"] == instructions
