"""A person reviews examples and the dataset follows: the review server writes decisions only with its
token, a real headless Chromium keeps and rejects examples, and `curate` and the run's export apply them."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.base.paths import RunDir
from nanoflux.cli import main
from nanoflux.engine.curation.decisions import append_decision, read_review
from nanoflux.jobs.compile import finish_run
from nanoflux.jobs.curate import curate, run_spec
from nanoflux.jobs.judge_eval import judge_eval, review_items
from nanoflux.jobs.review import serve_review
from tests.jobs.report.test_page import browser  # noqa: F401 - the headless Chromium fixture
from tests.support.records import DISTINCT, make_record, make_run

# Rounds 0-2 accepted; 3 out of band (a person may keep it); 4 has a refuted reference (no one can keep it).
RECORDS = [
    make_record(0, question=DISTINCT[0], topic="rates"),
    make_record(1, question=DISTINCT[3], topic="geometry", verdict="correct"),
    make_record(2, question=DISTINCT[6], topic="probability"),
    make_record(3, question=DISTINCT[1], topic="rates", overall=2.0, accepted=False, reason="out_of_band"),
    make_record(4, question=DISTINCT[4], topic="geometry", accepted=False, reason="incorrect_reference",
                reference_check="mismatch"),
    make_record(5, status="failed"),
]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", RECORDS, curation="{band: L4}")


@pytest.fixture
def server(run_dir: Path):
    server = serve_review(run_dir, port=0)
    yield server
    server.shutdown()
    server.server_close()


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def exported_ids(directory: Path) -> list[int]:
    return [json.loads(line)["round_id"] for line in RunDir(directory).examples.read_text().splitlines()]


def export_run(run_dir: Path) -> dict:
    return finish_run(run_dir, run_spec(run_dir), program_hash="p0", program_path=None, interrupted=False)


def test_a_post_without_the_right_token_is_refused_and_writes_nothing(server, run_dir: Path) -> None:
    base = server.url.split("?")[0]
    decision = {"round_id": 0, "decision": "reject", "note": ""}
    assert post(base + "review", decision) == 403
    assert post(base + "review?token=guess", decision) == 403
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base, timeout=10)
    assert refused.value.code == 403, "the page itself needs the token"
    assert not RunDir(run_dir).review.exists()
    assert post(base + f"review?token={server.token}", {**decision, "round_id": 99}) == 400, "not a played round"
    assert post(base + f"review?token={server.token}", {**decision, "decision": "delete"}) == 400
    assert not RunDir(run_dir).review.exists()
    assert post(base + f"review?token={server.token}", decision) == 200
    assert read_review(RunDir(run_dir).review) == {0: {"decision": "reject", "note": ""}}
    assert server.url.startswith("http://127.0.0.1:")


def test_the_last_decision_wins_and_a_note_changes_no_verdict(run_dir: Path) -> None:
    path = RunDir(run_dir).review
    append_decision(path, 1, "reject", "wrong unit")
    append_decision(path, 1, "accept")
    append_decision(path, 1, "note", "fine after all")
    append_decision(path, 2, "note", "check this")
    assert read_review(path) == {1: {"decision": "accept", "note": "fine after all"},
                                 2: {"decision": None, "note": "check this"}}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [set(row) for row in rows] == [{"round_id", "decision", "note", "time"}] * 4


def test_a_kept_round_never_overrides_a_refuted_reference(run_dir: Path) -> None:
    append_decision(RunDir(run_dir).review, 4, "accept")
    manifest = export_run(run_dir)
    assert exported_ids(run_dir) == [0, 1, 2]
    assert manifest["counts"]["review"] == {"reviewed": 1, "rejected": 0, "kept": 1, "removed": 0, "restored": 0}


def test_a_kept_round_never_puts_a_contaminated_question_back(tmp_path: Path) -> None:
    copied = make_record(6, question=DISTINCT[2], topic="rates", accepted=False, reason="contaminated")
    run = make_run(tmp_path / "run", [*RECORDS, copied], curation="{band: L4}")
    append_decision(RunDir(run).review, 3, "accept")
    append_decision(RunDir(run).review, 6, "accept")
    manifest = export_run(run)
    assert exported_ids(run) == [0, 1, 2, 3]
    assert manifest["counts"]["review"]["restored"] == 1


def test_a_run_without_a_review_exports_as_before(run_dir: Path) -> None:
    manifest = export_run(run_dir)
    assert exported_ids(run_dir) == [0, 1, 2] and "review" not in manifest["counts"]


def test_reviewed_rounds_label_the_judge_for_judge_eval(run_dir: Path) -> None:
    path = RunDir(run_dir).review
    append_decision(path, 0, "accept")   # the judge said incorrect, the person agrees
    append_decision(path, 1, "reject")   # the judge said correct, the person disagrees
    append_decision(path, 2, "note", "unsure")
    items = review_items(run_dir)
    assert [(item.line, item.label, item.answer, item.reference) for item in items] == [
        (0, "incorrect", "12", "17"), (1, "incorrect", "12", "17")]
    assert items[0].question == DISTINCT[0] and items[0].answer_type == "numeric"


def test_judge_eval_scores_the_runs_judge_against_the_review(run_dir: Path) -> None:
    import dspy
    from dspy.utils.dummies import DummyLM

    path = RunDir(run_dir).review
    append_decision(path, 0, "accept")
    append_decision(path, 1, "reject")
    scores = {"correctness": 2, "rigor": 3, "completeness": 3, "clarity": 4}
    lm = DummyLM([{"scores": scores, "verdict": "correct", "critique": "c"}] * 2, adapter=dspy.JSONAdapter())
    report = judge_eval(from_review=run_dir, lm=lm)
    # The tools find 12 != 17 in both rounds: the judge agrees with the person on both.
    assert report.total == 2 and report.confusion["incorrect"]["incorrect"] == 2 and report.accuracy == 1.0


def test_judge_eval_takes_a_file_or_a_review_not_both(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["judge-eval"])
    assert result.exit_code == 2 and "--from-review RUN_DIR" in result.output
    result = CliRunner().invoke(main, ["judge-eval", "--from-review", str(run_dir)])
    assert result.exit_code == 2 and "nanoflux review" in result.output, "no review yet"


def test_a_person_reviews_with_the_keyboard_and_the_page_styles_and_filters_each_state(
        server, run_dir: Path, browser) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(server.url)
    bars = browser.find_elements(By.CSS_SELECTOR, "#round-list .review")
    assert [bar.get_attribute("data-round") for bar in bars] == ["0", "1", "2", "3", "4"], "every played round"
    assert "How to review" in browser.find_element(By.ID, "howto").text
    body = browser.find_element(By.TAG_NAME, "body")

    def card(round_id: int):
        return browser.find_element(By.CSS_SELECTOR, f'.round[data-round="{round_id}"]')

    def until_state(round_id: int, state: str) -> None:
        # fetch() answers in a later task: wait, bounded, for the card to be redrawn in its new state.
        script = f'return document.querySelector(\'.round[data-round="{round_id}"]\').dataset.state'
        WebDriverWait(browser, 10).until(lambda driver: driver.execute_script(script) == state)

    body.send_keys("j")   # the first example becomes the current one
    assert "current" in card(0).get_attribute("class")
    body.send_keys("r")
    until_state(0, "rejected")
    assert card(0).find_element(By.CSS_SELECTOR, ".review-reject").get_attribute("aria-pressed") == "true"
    assert "rejected by a person" in card(0).find_element(By.CSS_SELECTOR, "summary").text
    body.send_keys("jjj")  # round 3, out of band: a person may keep it
    assert "current" in card(3).get_attribute("class")
    body.send_keys("a")
    until_state(3, "kept")
    body.send_keys("j")    # round 4, refuted: the page says at the button why it cannot be kept
    keep = card(4).find_element(By.CSS_SELECTOR, ".review-accept")
    assert not keep.is_enabled() and "the tools refuted its reference answer" in keep.get_attribute("title")
    assert "cannot be kept: the tools refuted its reference answer" in card(4).text
    body.send_keys("a")
    body.send_keys("k")    # back to round 3; n opens it and puts the cursor in its note
    body.send_keys("n")
    note = WebDriverWait(browser, 10).until(lambda _: card(3).find_element(By.CSS_SELECTOR, ".review-text"))
    WebDriverWait(browser, 10).until(lambda driver: driver.switch_to.active_element == note)
    note.send_keys("fine though out of band", Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda driver: "note saved" in driver.execute_script(
        'return document.querySelector(\'.round[data-round="3"] .review-state\').textContent'))
    rows = [json.loads(line) for line in RunDir(run_dir).review.read_text().splitlines()]
    assert [(row["round_id"], row["decision"], row["note"]) for row in rows] == [
        (0, "reject", ""), (3, "accept", ""), (3, "note", "fine though out of band")], "no keep of round 4 written"
    body.send_keys("?")
    assert browser.find_element(By.ID, "keys").is_displayed()

    def shown() -> list[str]:
        return [item.get_attribute("data-round")
                for item in browser.find_elements(By.CSS_SELECTOR, "#round-list .round")]

    state = Select(browser.find_element(By.ID, "filter-state"))
    for value, rounds in (("rejected", ["0"]), ("kept", ["3"]), ("accepted", ["1", "2"]), ("dropped", ["4", "5"])):
        state.select_by_value(value)
        assert shown() == rounds, value
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []

    browser.refresh()  # the page shows the decisions already made
    until_state(0, "rejected")
    assert card(3).get_attribute("data-state") == "kept"

    counts = {"reviewed": 2, "rejected": 1, "kept": 1, "removed": 1, "restored": 1}
    manifest = export_run(run_dir)
    assert exported_ids(run_dir) == [1, 2, 3], "round 0 rejected; round 3 kept though out of band"
    assert manifest["counts"]["review"] == counts
    assert manifest["review"] == {"removed": [0], "restored": [3], "not_restored": {}, "displaced": {}}
    assert "2 examples reviewed: 1 kept, 1 rejected" in RunDir(run_dir).report.read_text(), "the report says so"
    result = curate(run_dir, band="L4-L5")
    assert exported_ids(result.out_dir) == [1, 2, 3]
    assert result.manifest["counts"]["review"] == counts and result.manifest["counts"]["selected"] == 3


def test_a_keep_the_rules_refuse_is_explained_by_curate_and_stats(run_dir: Path) -> None:
    append_decision(RunDir(run_dir).review, 4, "accept")
    append_decision(RunDir(run_dir).review, 0, "reject")
    result = CliRunner().invoke(main, ["curate", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "removed (rejected by a person): #0" in result.output
    assert "#4 kept but not restored: the tools refuted its reference answer" in result.output
    export_run(run_dir)
    result = CliRunner().invoke(main, ["stats", str(run_dir)])
    assert "review: 2 examples reviewed (1 kept, 1 rejected): removed 1, restored 0" in result.output
    assert "#4 kept but not restored: the tools refuted its reference answer" in result.output


def test_review_of_a_directory_without_a_run_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["review", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "nanoflux compile" in result.output
