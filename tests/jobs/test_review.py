"""A person reviews examples and the dataset follows: the review server answers only a browser its sign-in page
signed in (a one-time code for a cookie; the browser's command line signs nothing in), a real headless Chromium
keeps and rejects examples, and `curate` and the run's export apply them."""

import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner

from nanoflux.base.paths import RunDir
from nanoflux.cli import main
from nanoflux.engine.curation.decisions import append_decision, read_review
from nanoflux.jobs.compile import finish_run
from nanoflux.jobs.curate import curate, run_spec
from nanoflux.jobs.judge_eval import judge_eval, review_items
from nanoflux.jobs.report.packing import decode_page
from nanoflux.jobs.review import MAX_BODY, serve_review
from tests.jobs.report.test_page import browser, listed  # noqa: F401 - the headless Chromium fixture
from tests.support import ROOT
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


def request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            length: str | None = None) -> tuple[int, dict[str, str]]:
    """One raw HTTP request to the review server at `url` (`path` under it); `length` sends that Content-Length,
    whatever the body. Returns the status and the response's headers."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(method, parts.path + path)
        for name, value in {"Content-Length": str(len(body)) if length is None else length,
                            **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def code_of(page: Path) -> str:
    """The one-time code the sign-in page's form would POST."""
    return re.search(r'name="code" value="([^"]+)"', page.read_text()).group(1)


def redeem(url: str, code: str) -> tuple[int, dict[str, str]]:
    return request(url, "POST", "session", urlencode({"code": code}).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded"})


def sign_in(url: str, page: Path) -> dict[str, str]:
    """What a browser does with the sign-in page: POST its code; the session cookie as request headers."""
    status, headers = redeem(url, code_of(page))
    assert status == 200, status
    return {"Cookie": headers["Set-Cookie"].split(";")[0]}


def post(url: str, body: dict, headers: dict | None = None, path: str = "review") -> int:
    return request(url, "POST", path, json.dumps(body).encode(),
                   {"Content-Type": "application/json", **(headers or {})})[0]


def exported_ids(directory: Path) -> list[int]:
    return [json.loads(line)["round_id"] for line in RunDir(directory).examples.read_text().splitlines()]


def export_run(run_dir: Path) -> dict:
    return finish_run(run_dir, run_spec(run_dir), program_hash="p0", program_path=None, interrupted=False)


def test_a_request_without_the_session_cookie_is_refused_and_writes_nothing(server, run_dir: Path) -> None:
    decision = {"round_id": 0, "decision": "reject", "note": ""}
    assert post(server.url, decision) == 403
    assert post(server.url, decision, {"Cookie": "nanoflux_review=guess"}) == 403
    assert post(server.url, decision, path=f"review?token={server.token}") == 403, "the session never works from a URL"
    assert request(server.url, "GET", "")[0] == 403, "the page itself needs the session"
    assert not RunDir(run_dir).review.exists()
    cookie = sign_in(server.url, server.sign_in)
    assert post(server.url, decision, {**cookie, "Origin": "http://evil.example"}) == 403, "another site's page"
    assert post(server.url, {**decision, "round_id": 99}, cookie) == 400, "not a played round"
    assert post(server.url, {**decision, "decision": "delete"}, cookie) == 400
    assert not RunDir(run_dir).review.exists()
    assert post(server.url, decision, cookie) == 200
    assert read_review(RunDir(run_dir).review) == {0: {"decision": "reject", "note": ""}}
    assert server.url.startswith("http://127.0.0.1:") and server.token not in server.url


def test_a_one_time_code_signs_in_once_and_the_sign_in_page_then_holds_the_next(run_dir: Path) -> None:
    server = serve_review(run_dir, port=0)
    try:
        page = server.sign_in
        assert stat.S_IMODE(page.stat().st_mode) == 0o600 and stat.S_IMODE(page.parent.stat().st_mode) == 0o700
        first = code_of(page)
        status, headers = redeem(server.url, first)
        cookie = headers["Set-Cookie"]
        assert status == 200 and {"HttpOnly", "SameSite=Strict", f"Path={urlsplit(server.url).path}"} <= {
            part.strip() for part in cookie.split(";")}
        again, headers = redeem(server.url, first)
        assert again == 403 and "Set-Cookie" not in headers, "a code signs in once"
        assert redeem(server.url, "")[0] == 403
        second = code_of(page)
        assert second != first and redeem(server.url, second)[0] == 200, "the page signs in again, with a new code"
        assert request(server.url, "GET", "", headers={"Cookie": cookie.split(";")[0]})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    assert not page.parent.exists(), "the sign-in page goes with the server"


@pytest.mark.parametrize(("length", "status"), [("abc", 400), ("-1", 400), ("1_0", 400), ("", 400),
                                                ("99999999999999999999", 413), (str(MAX_BODY + 1), 413)])
def test_a_bad_content_length_is_refused_and_the_server_keeps_serving(server, run_dir: Path, length: str,
                                                                      status: int) -> None:
    cookie = sign_in(server.url, server.sign_in)
    body = json.dumps({"round_id": 0, "decision": "reject"}).encode()
    assert request(server.url, "POST", "review", body, cookie, length=length)[0] == status
    assert request(server.url, "POST", "session", b"code=x", length=length)[0] == status
    assert not RunDir(run_dir).review.exists()
    assert post(server.url, {"round_id": 1, "decision": "accept"}, cookie) == 200
    assert read_review(RunDir(run_dir).review) == {1: {"decision": "accept", "note": ""}}


# Records the argv it is started with: what `--open` hands the browser, which every local user can read (ps).
RECORDER = "#!{python}\nimport json, os, sys\nopen(os.environ['ARGV_TO'], 'w').write(json.dumps(sys.argv))\n"


@pytest.mark.timeout(300)
def test_open_hands_the_browser_nothing_that_signs_in(run_dir: Path, tmp_path: Path) -> None:
    recorder, argv_file = tmp_path / "browser", tmp_path / "argv.json"
    recorder.write_text(RECORDER.format(python=sys.executable))
    recorder.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "BROWSER": str(recorder),
           "ARGV_TO": str(argv_file)}
    child = subprocess.Popen([sys.executable, "-c", "from nanoflux.cli import main; main()", "review", str(run_dir),
                              "--open"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        url = re.search(r"signs it in to (http://127\.0\.0\.1:\d+/\S+/)", line).group(1)
        deadline = time.monotonic() + 120
        while not argv_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        argv = json.loads(argv_file.read_text())
        pieces = {piece for arg in argv for piece in re.split(r"[/?=&#:.]", arg) if piece} | set(argv)
        for piece in pieces:  # whatever another user reads off the command line, nothing in it signs in
            assert redeem(url, piece)[0] == 403
            assert post(url, {"round_id": 0, "decision": "reject"}, {"Cookie": f"nanoflux_review={piece}"}) == 403
        page = Path(urlsplit(argv[1]).path)
        assert argv[1] == page.as_uri() and stat.S_IMODE(page.stat().st_mode) == 0o600
        assert post(url, {"round_id": 0, "decision": "reject"}, sign_in(url, page)) == 200, "its owner signs in"
        assert read_review(RunDir(run_dir).review) == {0: {"decision": "reject", "note": ""}}
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=120)
    assert child.returncode == 0 and not page.parent.exists()


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

    browser.get(server.sign_in.as_uri())  # as `--open` does: the page signs the browser in, then goes to the review
    bars = WebDriverWait(browser, 60).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#round-list .review"))
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

    state = Select(browser.find_element(By.ID, "filter-state"))
    for value, rounds in (("rejected", ["0"]), ("kept", ["3"]), ("accepted", ["1", "2"]), ("dropped", ["4", "5"])):
        state.select_by_value(value)
        assert listed(browser, rounds), value
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []

    browser.refresh()  # the page shows the decisions already made
    until_state(0, "rejected")
    assert card(3).get_attribute("data-state") == "kept"

    counts = {"reviewed": 2, "rejected": 1, "kept": 1, "removed": 1, "restored": 1}
    manifest = export_run(run_dir)
    assert exported_ids(run_dir) == [1, 2, 3], "round 0 rejected; round 3 kept though out of band"
    assert manifest["counts"]["review"] == counts
    assert manifest["review"] == {"removed": [0], "restored": [3], "not_restored": {}, "displaced": {}}
    report = decode_page(RunDir(run_dir).report.read_bytes())
    assert "2 examples reviewed: 1 kept, 1 rejected" in report, "the report says so"
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
