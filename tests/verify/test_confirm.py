"""The one rule that says a reference is right: recomputed steps and independent solves together."""

from nanoflux.verify.confirm import confirm_reference


def test_two_of_three_solves_matching_confirm_a_reference_the_steps_could_not_read() -> None:
    result = confirm_reference("17", "undecidable", ["17", "17.0", "12"], agree=2)
    assert (result.status, result.rule, result.agreeing) == ("confirmed", "solves", 2)
    assert result.verdicts == ["match", "match", "mismatch"]


def test_a_refuted_step_refutes_the_reference_even_when_every_solve_agrees_with_it() -> None:
    result = confirm_reference("17", "mismatch", ["17", "17", "17"], agree=2, steps_reason="step 2: 12 + 5 != 18")
    assert result.status == "refuted" and result.agreeing == 3 and "step 2" in result.reason
    assert confirm_reference("17", "error", ["17", "17", "17"], agree=2).status == "refuted"


def test_solves_agreeing_with_each_other_on_another_answer_refute_the_reference() -> None:
    result = confirm_reference("17", "match", ["20", "20.0", "17"], agree=2)
    assert result.status == "refuted" and result.other == "20" and result.agreeing == 1


def test_split_solves_leave_the_reference_unconfirmed() -> None:
    assert confirm_reference("17", "match", ["17", "20", "21"], agree=2).status == "unconfirmed"
    # Answers the tools cannot tell from the reference neither confirm it nor join a refuting majority.
    assert confirm_reference("17", "match", ["about 17", "about 17", "12"], agree=2).status == "unconfirmed"


def test_a_solve_without_an_answer_matches_nothing() -> None:
    result = confirm_reference("17", "undecidable", ["17", None, None], agree=2)
    assert result.status == "unconfirmed" and result.verdicts == ["match", "undecidable", "undecidable"]


def test_agree_sets_how_many_solves_must_match() -> None:
    assert confirm_reference("17", "undecidable", ["17", "17", "12"], agree=3).status == "unconfirmed"
    assert confirm_reference("17", "undecidable", ["17"], agree=1).status == "confirmed"


def test_one_solve_alone_never_refutes_a_reference() -> None:
    assert confirm_reference("17", "undecidable", ["12"], agree=1).status == "unconfirmed"
    assert confirm_reference("17", "undecidable", ["12", "12"], agree=1).status == "refuted"


def test_without_solves_the_steps_decide_alone_as_before() -> None:
    assert confirm_reference("17", "match", []).status == "confirmed"
    assert confirm_reference("17", "undecidable", []).status == "unconfirmed"
    assert confirm_reference("17", "mismatch", []).status == "refuted"
    assert confirm_reference("17", "match", []).rule == "steps"
