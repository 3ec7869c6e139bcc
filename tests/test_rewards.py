"""Verifiable rewards: the judge's answer check scores each completion, as TRL's GRPOTrainer calls it."""

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.rewards import answer_reward, completion_text, format_reward
from nanoflux.verify import check_answer

RIGHT = "4 * 3 = 12 and 12 + 5 = 17, so the answer is \\boxed{17}."
WRONG = "4 + 3 + 5 = 12\n\nAnswer: 12"
UNPARSEABLE = "I am not sure how many jars there are."
TIMEOUT = "Answer: 9**9**9**9"  # sympy cannot finish this power tower in time: the check gives up


def conversational(text: str) -> list[dict[str, str]]:
    """A completion as GRPOTrainer passes it for a conversational dataset (rlvr.jsonl's prompts are messages)."""
    return [{"role": "assistant", "content": text}]


@pytest.mark.parametrize("shape", [str, conversational], ids=["standard", "conversational"])
def test_a_right_answer_scores_one_and_a_wrong_unparseable_or_timed_out_one_zero(shape) -> None:
    completions = [shape(text) for text in (RIGHT, WRONG, UNPARSEABLE, TIMEOUT, RIGHT)]
    rewards = answer_reward(completions, answer=["17", "17", "17", "1", "17"], answer_type=["numeric"] * 5,
                            timeout_s=1.0)
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0], "the check after a timed-out one is answered again"


def test_a_timed_out_completion_is_one_the_check_could_not_finish() -> None:
    check = check_answer(completion_text(TIMEOUT), "1", answer_type="numeric", timeout_s=1.0)
    assert check.verdict == "undecidable" and "did not finish within 1.0 s" in check.reason


def test_a_hedged_answer_is_no_match_as_for_the_judge() -> None:
    assert answer_reward(["Answer: 17 or 18"], answer=["17"], answer_type=["numeric"]) == [0.0]


def test_the_answer_type_column_reaches_the_check_and_defaults_to_auto() -> None:
    assert answer_reward(["The answer is (B)."], answer=["B"]) == [1.0]
    assert answer_reward(["Answer: Paris"], answer=["paris"], answer_type=[None]) == [1.0]
    with pytest.raises(NanofluxError, match="unknown answer_type 'date'"):
        answer_reward(["Answer: 17"], answer=["17"], answer_type=["date"])


@pytest.mark.parametrize("shape", [str, conversational], ids=["standard", "conversational"])
def test_the_format_reward_is_one_for_a_final_answer_the_judge_can_find(shape) -> None:
    texts = [RIGHT, WRONG, "#### 17", "The answer is 17.", UNPARSEABLE, "17", "Answer:"]
    assert format_reward([shape(text) for text in texts]) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_a_completion_is_its_last_message_with_text_parts_joined() -> None:
    assert completion_text([{"role": "assistant", "content": "Answer: 3"}]) == "Answer: 3"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "Answer: "},
                                                              {"type": "text", "text": "3"}]}]) == "Answer: 3"
    assert completion_text([]) == "" and completion_text([{"role": "assistant", "content": None}]) == ""


def test_a_completion_longer_than_the_judge_reads_scores_zero_on_both_rewards() -> None:
    from nanoflux.verify.limits import MAX_ANSWER_CHARS

    padded = "x" * MAX_ANSWER_CHARS + "\n\nAnswer: 17"
    fits = "x" * (MAX_ANSWER_CHARS - 20) + "\n\nAnswer: 17"
    assert answer_reward([padded, fits], answer=["17", "17"]) == [0.0, 1.0]
    assert format_reward([padded, fits]) == [0.0, 1.0]
