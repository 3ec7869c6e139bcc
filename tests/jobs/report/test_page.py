"""The run report: every figure matches the journal, unfinished and empty runs say so, `compile` and
`curate` write one, and a real headless Chromium draws its plots and browses its rounds without errors."""

import base64
import copy
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import JOURNAL_NAME, REPORT_NAME
from nanoflux.cli import main
from nanoflux.engine.journal import Journal, read_rounds
from nanoflux.jobs.report.packing import decode_page, unpack
from nanoflux.jobs.report.page import REPORT_TRACE_CHARS, build_report, review_page
from nanoflux.jobs.stats import format_stats, run_stats
from nanoflux.spec.model import parse_spec
from tests.support.records import checked_record, make_record, revised, with_revisions, with_solves, with_traces

SPEC = parse_spec("name: demo\ndescription: d\ntopics: [rates, ratios]\ncuration: {band: L3-L5, novelty: 0.8}\n")
PLOTS = ("acceptance", "levels", "scores", "similarity", "topics", "complexity", "defender", "roles")
RECORDS = [
    make_record(0, topic="rates", hops=2, overall=4.0, similarity=None),
    make_record(1, topic="rates", hops=3, overall=4.6, verdict="correct", similarity=0.35, steps=["a", "b", "c"]),
    make_record(2, topic="ratios", hops=3, overall=2.0, accepted=False, reason="out_of_band", similarity=0.12),
    make_record(3, topic="ratios", hops=4, overall=3.9, accepted=False, reason="duplicate", similarity=0.93),
    make_record(4, topic="ratios", hops=2, accepted=False, reason="incorrect_reference", reference_check="mismatch"),
    make_record(5, topic="rates", hops=4, status="failed"),
]


def timed(record: dict, started: str, seconds: float) -> dict:
    return {**record, "started_at": started, "seconds": seconds}


def make_run(path: Path, records: list[dict], *, manifest: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "spec.json").write_text(SPEC.model_dump_json())
    journal = Journal(path / JOURNAL_NAME)
    for record in reversed(records):  # the journal is in finishing order, not round order
        journal.append(record)
    if manifest:
        (path / "manifest.json").write_text(json.dumps({"counts": {"rounds_played": len(records)},
                                                        "interrupted": False}))
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    records = [timed(record, "2026-01-01T10:00:30+00:00", 1.0) for record in copy.deepcopy(RECORDS)]
    records[0], records[4] = (timed(records[0], "2026-01-01T10:00:00+00:00", 5.0),
                              timed(records[4], "2026-01-01T10:01:00+00:00", 15.0))
    records[1]["roles"]["judge"] = {"model": "openai/gpt-4o-mini", "seconds": 0.4, "input_tokens": 2000,
                                    "output_tokens": 2000}
    return make_run(tmp_path / "run", records)


def text_of(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1)


def embedded_rounds(html: str) -> list[dict]:
    """Every round the page holds, unpacked as its script does: the index, then each block's rounds."""
    def script(element_id: str) -> str:
        return re.search(rf'<script type="text/plain" id="{element_id}">([^<]*)</script>', html).group(1)

    index = unpack(script("rounds-index"))
    columns = {key: column if isinstance(column, list) else [column["values"][code] for code in column["codes"]]
               for key, column in index["columns"].items()}
    rounds = [{key: column[i] for key, column in columns.items()} for i in range(len(columns["id"]))]
    size = index["block"]
    for number, first in enumerate(range(0, len(rounds), size)):
        block = unpack(script(f"rounds-{number}"), index["words"])
        for j, row in enumerate(rounds[first:first + size]):
            row.update(zip(index["keys"], block[j], strict=True))
    return rounds


def test_the_summary_counts_rounds_acceptance_failures_and_cost_as_the_journal_has_them(run_dir: Path) -> None:
    html = decode_page(build_report(run_dir).read_bytes())
    assert (text_of(html, "played"), text_of(html, "accepted"), text_of(html, "failed")) == ("6", "2", "1")
    assert text_of(html, "rate") == "33.3%"
    # gpt-4o-mini at litellm's bundled prices ($0.15 / $0.60 per million tokens); the embedded model is free
    assert text_of(html, "cost") == "$0.0015"
    assert "local/smollm2-135m" in html and "1 min 15 s" in html, "models per role and wall time (10:00:00-10:01:15)"


def test_the_roles_table_sums_calls_tokens_and_cost_over_the_played_rounds(run_dir: Path) -> None:
    html = decode_page(build_report(run_dir).read_bytes())
    judge = re.search(r'<tr data-role="judge">(.*?)</tr>', html).group(1)
    assert re.findall(r'class="num">([^<]*)<', judge) == ["5", str(4 * 10 + 2000), str(4 * 5 + 2000), "0.16", "$0.0015"]
    attacker = re.search(r'<tr data-role="attacker">(.*?)</tr>', html).group(1)
    assert re.findall(r'class="num">([^<]*)<', attacker) == ["5", "50", "25", "0.10", "$0 (embedded)"]


def test_a_model_litellm_cannot_price_makes_its_cost_unknown_not_free(tmp_path: Path) -> None:
    record = make_record(0)
    record["roles"]["judge"]["model"] = "openai/my-own-vllm-model"
    run = make_run(tmp_path / "run", [record])
    cost = run_stats(run)["cost"]
    assert cost["per_role"] == {"attacker": 0.0, "defender": 0.0, "judge": None}
    assert cost["unpriced"] == ["openai/my-own-vllm-model"]
    html = decode_page(build_report(run).read_bytes())
    headline = re.search(r'<b id="cost">([^<]*)</b>', html).group(1)
    judge = re.search(r'<tr data-role="judge">(.*?)</tr>', html).group(1)
    assert "unknown price" in headline and "unknown price" in judge and "$" not in judge
    assert "cost: " + headline in format_stats(run_stats(run)).replace("&#43;", "+")


def test_each_rejection_reason_is_counted_and_links_to_its_examples(run_dir: Path) -> None:
    html = decode_page(build_report(run_dir).read_bytes())
    rows = dict(re.findall(r'<tr data-reason="([^"]+)"><td>[^<]*</td><td class="num">(\d+)</td>', html))
    assert rows == {"accepted": "2", "out_of_band": "1", "duplicate": "1", "incorrect_reference": "1", "failed": "1"}
    assert len(re.findall(r'<a href="#examples" class="reason-link" data-reason=', html)) == 5


def test_every_plot_is_an_inline_png(run_dir: Path) -> None:
    html = decode_page(build_report(run_dir).read_bytes())
    for plot in PLOTS:
        image = re.search(rf'<figure id="plot-{plot}">.*?<img src="data:image/png;base64,([^"]+)"', html, re.S)
        assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG"), plot
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing is fetched from the network"


def test_the_plotted_figures_are_the_journals(run_dir: Path) -> None:
    stats = run_stats(run_dir)
    assert [point["accepted"] for point in stats["acceptance_curve"]] == [1, 2, 2, 2, 2, 2]
    assert stats["acceptance_curve"][-1]["rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert stats["by_level"] == {"L2": {"rounds": 1, "accepted": 0}, "L4": {"rounds": 3, "accepted": 1},
                                 "L5": {"rounds": 1, "accepted": 1}, "failed": {"rounds": 1, "accepted": 0}}
    assert stats["scores"] == {"correctness": {"1": 0, "2": 5, "3": 0, "4": 0, "5": 0},
                               "clarity": {"1": 0, "2": 0, "3": 0, "4": 5, "5": 0}}
    assert [b["count"] for b in stats["similarity"]["bins"]] == [0, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    assert stats["by_topic"] == {"rates": {"rounds": 3, "accepted": 2}, "ratios": {"rounds": 3, "accepted": 0}}
    l4 = stats["by_level_profile"]["L4"]
    assert (l4["rounds"], l4["hops"], l4["mean_hops"], l4["steps"]) == (3, {"2": 2, "4": 1}, 2.67, {"2": 3})
    assert stats["by_level_profile"]["L5"]["defender_correct_rate"] == 1.0
    assert l4["defender_correct_rate"] == 0.0
    assert stats["wall_seconds"] == 75.0


def test_the_examples_browser_embeds_every_round_with_its_decision_and_evidence(run_dir: Path) -> None:
    rounds = embedded_rounds(decode_page(build_report(run_dir).read_bytes()))
    assert [(r["id"], r["accepted"], r["reason"]) for r in rounds] == [
        (r["round_id"], r["curation"]["accepted"], r["curation"]["reason"]) for r in RECORDS]
    first = rounds[0]
    assert first["question"] == RECORDS[0]["question"]
    assert [step["text"] for step in first["steps"]] == RECORDS[0]["solution_steps"]
    assert first["defender_answer"] == "12" and first["critique"] == "Added instead of multiplying."
    assert first["evidence"]["answer_check"]["reason"] == "12 != 17" and first["scores"]["clarity"] == 4
    assert rounds[5]["level"] == "failed" and rounds[5]["error"].startswith("AdapterParseError")


def test_the_report_shows_each_rounds_solves_and_counts_references_by_what_became_of_them(tmp_path: Path) -> None:
    records = [with_solves(make_record(0, reference_check="undecidable"), ["17", "17", None]),
               with_solves(make_record(1, reference_check="match", accepted=False, reason="incorrect_reference"),
                           ["20", "20", "17"]),
               make_record(2, reference_check="undecidable", accepted=False, reason="unverified_reference")]
    html = decode_page(build_report(make_run(tmp_path / "run", records)).read_bytes())
    assert "1 confirmed, 1 refuted, 1 unconfirmed; 1 confirmed ones the defender got wrong" in html
    rounds = embedded_rounds(html)
    assert [s["answer"] for s in rounds[0]["solves"]] == ["17", "17", None]
    assert rounds[0]["confirmation"]["status"] == "confirmed" and rounds[1]["confirmation"]["other"] == "20"
    assert rounds[2]["solves"] == [] and rounds[2]["confirmation"] is None


def thinking_run(path: Path) -> Path:
    """Rounds of thinking models with revisions: right at once (traced), corrected after 2, never corrected after 1,
    and wrong with no revision asked."""
    right = with_traces(make_record(0, verdict="correct"), attacker="Boxes first, then the loose ones.",
                        defender="Twelve and five: seventeen.", judge="The answer matches.")
    fixed = make_record(1)
    fixed = with_revisions(fixed, revised(fixed, "16", right=False, feedback="The tools found 12 != 17.",
                                          trace="Maybe 16?"),
                           revised(fixed, "17", right=True, feedback="Still wrong: 16 != 17.", trace="Multiply first."))
    stuck = with_revisions(make_record(2), revised(make_record(2), "15", right=False))
    return make_run(path, [right, fixed, stuck, make_record(3)])


def test_the_report_counts_rounds_by_outcome_and_embeds_each_rounds_traces_and_revisions(tmp_path: Path) -> None:
    html = decode_page(build_report(thinking_run(tmp_path / "run")).read_bytes())
    assert "1 right at once, 1 corrected (1 after 2 critiques), 2 never corrected; 3 revisions" in html
    rounds = embedded_rounds(html)
    assert rounds[0]["traces"] == {"attacker": "Boxes first, then the loose ones.",
                                   "defender": "Twelve and five: seventeen.", "judge": "The answer matches."}
    assert [r["outcome"] for r in rounds] == ["right at once", "corrected after 2 critiques",
                                              "never corrected (1 critique)", "wrong (no revision asked)"]
    assert [(v["feedback"], v["answer"], v["verdict"], v["trace"]) for v in rounds[1]["revisions"]] == [
        ("The tools found 12 != 17.", "16", "incorrect", "Maybe 16?"), ("Still wrong: 16 != 17.", "17", "correct",
                                                                        "Multiply first.")]
    assert rounds[3]["revisions"] == [] and rounds[3]["traces"] == {}
    assert "defender: 1 right at once, 1 corrected" in format_stats(run_stats(tmp_path / "run"))
    reviewed = embedded_rounds(decode_page(review_page(tmp_path / "run", {})))  # the review page shows the same rows
    assert reviewed[1]["revisions"] == rounds[1]["revisions"] and reviewed[0]["traces"] == rounds[0]["traces"]


def test_lm_text_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [make_record(0, question="</script><script>alert(1)</script>")])
    html = decode_page(build_report(run).read_bytes())
    assert "<script>alert(1)" not in html
    assert embedded_rounds(html)[0]["question"] == "</script><script>alert(1)</script>"


def test_a_killed_run_is_reported_up_to_its_last_complete_round(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", RECORDS[:3], manifest=False)
    with (run / JOURNAL_NAME).open("a") as journal:
        journal.write('{"round_id": 3, "topic": "ra')  # the line a kill -9 tore
    html = decode_page(build_report(run).read_bytes())
    assert "no manifest yet: it is still going, or was stopped before it finished" in html
    assert text_of(html, "played") == "3" and len(embedded_rounds(html)) == 3


def test_a_run_whose_journal_outgrew_its_manifest_says_it_is_still_going(run_dir: Path) -> None:
    Journal(run_dir / JOURNAL_NAME).append(make_record(6))
    assert "The journal holds 7 rounds, the manifest 6" in decode_page(build_report(run_dir).read_bytes())


@pytest.mark.parametrize("journal", ["", '{"round_id": 0, "top'], ids=["no journal", "only a torn line"])
def test_an_empty_run_renders_a_clear_message_and_no_plots(tmp_path: Path, journal: str) -> None:
    run = make_run(tmp_path / "run", [], manifest=False)
    if journal:
        (run / JOURNAL_NAME).write_text(journal)
    html = decode_page(build_report(run).read_bytes())
    assert "No round has finished yet in" in html and "<figure" not in html
    assert text_of(html, "played") == "0"


def test_a_directory_without_a_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match="holds no run"):
        build_report(tmp_path)
    with pytest.raises(NanofluxError, match="does not exist"):
        build_report(tmp_path / "missing")


def test_the_cli_writes_the_report_where_asked_and_exits_2_on_a_bad_directory(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(tmp_path / "out" / "r.html")])
    assert result.exit_code == 0 and (tmp_path / "out" / "r.html").is_file()
    assert str(tmp_path / "out" / "r.html") in result.output
    failed = CliRunner().invoke(main, ["report", str(tmp_path / "missing")])
    assert failed.exit_code == 2 and "does not exist" in failed.output


def test_compile_writes_the_report_into_its_run_directory(tmp_path: Path) -> None:
    from nanoflux.jobs.compile import compile_spec
    from nanoflux.testing import scripted_roles

    result = compile_spec(SPEC, rounds=2, out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=scripted_roles(),
                          progress=False)
    assert text_of(decode_page((result.run_dir / REPORT_NAME).read_bytes()), "played") == "2"


def test_curate_writes_a_report_of_its_selection(tmp_path: Path) -> None:
    from nanoflux.jobs.curate import curate

    questions = ["How many apples are in 3 crates of 4?", "A train covers 120 km in 2 hours; what is its speed?",
                 "Split 45 sweets in the ratio 2:3; how many in the larger share?"]
    run = make_run(tmp_path / "run", [make_record(i, question=q, overall=2.5 + i) for i, q in enumerate(questions)])
    result = curate(run, band="L4-L5")
    html = decode_page((result.out_dir / REPORT_NAME).read_bytes())
    assert "A re-curation of" in html and text_of(html, "accepted") == "2"
    assert [(r["id"], r["reason"]) for r in embedded_rounds(html)] == [(0, "not_selected"), (1, "accepted"),
                                                                     (2, "accepted")]


MATCH = {"benchmark": "bench/math500.jsonl", "item": 17, "text": "A shelf holds 9 boxes of 3 jars and 5 more jars.",
         "method": "ngram", "similarity": 0.985, "ngram": "boxes of 3 jars and 5 more jars"}


def contaminated_run(path: Path) -> Path:
    """A run whose round 0 copied a benchmark item: its decision and the manifest's `decontamination` say so."""
    copied = make_record(0, question="A shelf holds 8 boxes of 3 jars and 5 more jars. How many jars?",
                         accepted=False, reason="contaminated")
    copied["curation"]["contamination"] = [MATCH]
    clean = make_record(1)
    clean["curation"]["contamination"] = []
    run = make_run(path, [copied, clean], manifest=False)
    benchmark = {"path": MATCH["benchmark"], "field": "problem", "items": 500, "sha256": "ab" * 32, "checked": 2,
                 "matched": 1, "methods": {"ngram": 1}, "worst": [{"round_id": 0, "question": copied["question"],
                                                                   **MATCH}]}
    (run / "manifest.json").write_text(json.dumps({
        "counts": {"rounds_played": 2}, "interrupted": False,
        "decontamination": {"threshold": 0.9, "ngram": 8, "embedding_model": "all-MiniLM-L6-v2",
                            "benchmarks": [benchmark]}}))
    return run


def test_the_benchmark_matches_are_shown_per_benchmark_with_the_question_beside_the_item(tmp_path: Path) -> None:
    html = decode_page(build_report(contaminated_run(tmp_path / "run")).read_bytes())
    row = re.search(r'<tr data-benchmark="bench/math500.jsonl">(.*?)</tr>', html).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == ["bench/math500.jsonl", "problem", "500", "2", "1", "ngram 1"]
    matches = re.search(r'<table class="matches" data-benchmark="bench/math500.jsonl">(.*?)</table>', html, re.S)
    assert "A shelf holds 8 boxes" in matches.group(1) and "#17: A shelf holds 9 boxes" in matches.group(1)
    assert "ngram" in matches.group(1) and "0.985" in matches.group(1)
    assert [r["contamination"] for r in embedded_rounds(html)] == [[MATCH], []]


def test_a_report_without_benchmarks_has_no_contamination_section(run_dir: Path) -> None:
    assert 'id="decontamination"' not in decode_page(build_report(run_dir).read_bytes())


# A real browser: the plots are drawn, the examples browser lists, pages and filters rounds, no console errors.

@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Chromium is not installed (make test installs it)")
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1300,1000"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="nanoflux-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def listed(browser, wanted=None) -> list[str]:
    """The round ids the examples browser lists, once it lists any (or `wanted`): it draws a page only after
    inflating the blocks that hold its rounds, a task or two after a click or the load event."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ids(_) -> list[str] | None:  # read in one script: the list may be redrawn between two reads
        shown = browser.execute_script(
            "return [...document.querySelectorAll('#round-list .round')].map((node) => node.dataset.round)")
        return shown if (shown if wanted is None else shown == wanted) else None
    return WebDriverWait(browser, 30).until(ids)


def test_a_headless_browser_draws_the_plots_and_browses_and_filters_the_rounds(tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    topics = ["rates", "ratios", "percentages"]
    records = [make_record(i, topic=topics[i % 3], overall=1.0 + (i % 9) / 2, accepted=i % 4 == 0,
                           reason="accepted" if i % 4 == 0 else "out_of_band", similarity=(i % 10) / 10)
               for i in range(120)]
    browser.get(build_report(make_run(tmp_path / "run", records)).as_uri())

    images = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(images) == len(PLOTS)
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 100", img)
               for img in images), "every plot decodes and is drawn"
    assert listed(browser) == [str(i) for i in range(50)], "the first page lists 50 rounds"
    browser.find_element(By.ID, "next").click()
    assert listed(browser, [str(i) for i in range(50, 100)])
    assert "rounds 51-100 of 120" in browser.find_element(By.ID, "page-info").text

    Select(browser.find_element(By.ID, "filter-state")).select_by_value("accepted")
    assert listed(browser, [str(i) for i in range(0, 120, 4)])
    Select(browser.find_element(By.ID, "filter-topic")).select_by_visible_text("ratios")
    assert listed(browser, [str(i) for i in range(0, 120, 4) if i % 3 == 1])
    Select(browser.find_element(By.ID, "filter-level")).select_by_visible_text("L5")
    assert listed(browser, [str(i) for i in range(0, 120, 4) if i % 3 == 1 and i % 9 >= 7]), "L5: overall 4.5 or more"

    browser.find_element(By.CSS_SELECTOR, '.reason-link[data-reason="out_of_band"]').click()
    assert listed(browser, [str(i) for i in range(120) if i % 4][:50])
    assert "of 90" in browser.find_element(By.ID, "page-info").text
    first = browser.find_element(By.CSS_SELECTOR, "#round-list .round summary")
    first.click()
    # The details body is built by the "toggle" event, which the browser dispatches as a later task.
    body = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#round-list .round .body"))
    assert records[1]["question"] in body.text
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_a_headless_browser_shows_the_benchmark_item_a_contaminated_round_matches(tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(build_report(contaminated_run(tmp_path / "run")).as_uri())
    listed(browser)
    browser.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="0"] summary').click()
    body = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#round-list .round .body"))
    assert "BENCHMARK MATCH (NGRAM, SIMILARITY 0.985)" in body.text.upper()
    assert f"bench/math500.jsonl item #17: {MATCH['text']}" in body.text
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_a_headless_browser_folds_each_trace_until_opened_and_lists_the_revisions_in_order(tmp_path: Path,
                                                                                           browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(build_report(thinking_run(tmp_path / "run")).as_uri())
    listed(browser)
    outcome = browser.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="1"] summary .outcome')
    assert outcome.text == "corrected after 2 critiques"
    browser.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="0"] summary').click()
    body = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="0"] .body'))
    traces = body.find_elements(By.CSS_SELECTOR, "details.trace")
    assert [t.get_attribute("data-role") for t in traces] == ["attacker", "defender", "judge"]
    defender = traces[1]
    assert defender.get_attribute("open") is None and "seventeen" not in body.text, "folded: the trace is hidden"
    assert "defender's reasoning trace (27 characters)" in defender.text
    defender.find_element(By.TAG_NAME, "summary").click()
    WebDriverWait(browser, 10).until(lambda _: defender.find_element(By.TAG_NAME, "pre").is_displayed())
    assert "Twelve and five: seventeen." in body.text and "Boxes first" not in body.text, "only that one opened"

    browser.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="1"] summary').click()
    body = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '#round-list .round[data-round="1"] .body'))
    items = body.find_elements(By.CSS_SELECTOR, "ol.revisions > li")
    assert [item.find_element(By.CSS_SELECTOR, ".feedback").text for item in items] == [
        "The tools found 12 != 17.", "Still wrong: 16 != 17."]
    assert [item.find_element(By.CSS_SELECTOR, ".answer").text for item in items] == ["answer: 16", "answer: 17"]
    assert items[1].find_element(By.CSS_SELECTOR, ".verdict").text.startswith("verdict: correct (tools)")
    assert "Multiply first." not in body.text, "a revision's trace is folded too"
    assert "OUTCOME\ncorrected after 2 critiques" in body.text  # headings are uppercase by the page's style
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_each_step_shows_what_the_tools_did_to_it_and_the_checks_fit_in_a_line(tmp_path: Path) -> None:
    from nanoflux.jobs.report.page import browser_row

    wrong = browser_row(checked_record(0, "18", ["3 * 4 = 13", "13 + 5 = 18"]))
    assert [(step["status"], step["detail"]) for step in wrong["steps"]] == [
        ("false", "3 * 4 = 13 is false: the tools get 12"), ("holds", "recomputed, holds (1 claim)")]
    unread = browser_row(checked_record(1, "17", ["3 * 4 = 12", "12 + 5 = 17", "then 2 spare ones arrive"]))
    assert [step["status"] for step in unread["steps"]] == ["holds", "holds", "unchecked"]
    assert "it states 2, which no step recomputes" in unread["steps"][2]["detail"]
    assert unread["answer_check"] == "mismatch (12 != 17)"
    assert wrong["reference_check"].startswith("mismatch (step 1 is wrong")


def test_a_duplicate_links_to_what_it_repeats_and_the_static_report_shows_a_persons_review(
        tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from nanoflux.engine.curation.decisions import append_decision

    records = [make_record(i, topic="rates") for i in range(60)]
    records[55] = {**records[55], "curation": {"accepted": False, "reason": "duplicate", "similarity": 0.971,
                                               "nearest_id": "2"}}
    run = make_run(tmp_path / "run", records)
    append_decision(run / "review.jsonl", 0, "reject", "gives the answer away")
    browser.get(build_report(run).as_uri())
    listed(browser)
    Select(browser.find_element(By.ID, "filter-state")).select_by_value("dropped")
    listed(browser, ["55"])
    link = browser.find_element(By.CSS_SELECTOR, '.round[data-round="55"] .duplicate-of')
    assert link.text == "duplicate of #2 (similarity 0.97)"
    link.click()
    target = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '.round[data-round="2"].current[open]'))
    assert target.get_attribute("data-state") == "accepted" and Select(
        browser.find_element(By.ID, "filter-state")).first_selected_option.text == "all", "the filter that hid it"
    rejected = browser.find_element(By.CSS_SELECTOR, '.round[data-round="0"]')
    assert rejected.get_attribute("data-state") == "rejected" and "rejected by a person" in rejected.text
    assert browser.find_elements(By.CSS_SELECTOR, ".review") == [], "a static report has no buttons"
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_a_large_report_inflates_only_the_rounds_it_lists_and_reaches_any_round_by_page_or_filter(
        tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    far = 2777
    records = [make_record(i, topic="rates") for i in range(3000)]
    records[far] = {**make_record(far, topic="ratios", question="How many jars do 7 shelves of 6 jars hold?",
                                  steps=["7 * 6 = 42"], reference="42"),
                    "defender_reasoning": "Seven shelves, six jars on each: forty-two jars in all."}
    report = build_report(make_run(tmp_path / "run", records))
    html = decode_page(report.read_bytes())
    assert len(html) < len(json.dumps(embedded_rounds(html))) / 3, "the rounds are packed, not embedded as JSON"
    # Count, from outside the page, every stream it inflates: the index, then one per block it needs.
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.inflated = 0;
        const Native = window.DecompressionStream;
        window.DecompressionStream = class extends Native { constructor(f) { super(f); window.inflated += 1; } };
    """})
    browser.get(report.as_uri())

    def inflated() -> int:
        return browser.execute_script("return window.inflated")

    assert listed(browser) == [str(i) for i in range(50)] and inflated() == 2, "the index and the first block"
    assert not browser.find_elements(By.CSS_SELECTOR, f'.round[data-round="{far}"]')
    browser.find_element(By.ID, "next").click()
    assert listed(browser, [str(i) for i in range(50, 100)]) and inflated() == 2, "rounds 50-99: the same block"
    browser.find_element(By.ID, "next").click()
    assert listed(browser, [str(i) for i in range(100, 150)]) and inflated() == 3, "rounds 100-149: the next one"

    Select(browser.find_element(By.ID, "filter-topic")).select_by_visible_text("ratios")
    assert listed(browser, [str(far)]) and inflated() == 4
    browser.find_element(By.CSS_SELECTOR, f'.round[data-round="{far}"] summary').click()
    body = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, f'.round[data-round="{far}"] .body'))
    for text in ("How many jars do 7 shelves of 6 jars hold?", "7 * 6 = 42",
                 "Seven shelves, six jars on each: forty-two jars in all."):
        assert text in body.text
    Select(browser.find_element(By.ID, "filter-topic")).select_by_visible_text("all")
    assert listed(browser, [str(i) for i in range(50)])
    for page in range(1, 60):  # page through every round: each block is inflated once, when first listed
        browser.find_element(By.ID, "next").click()
        assert listed(browser, [str(i) for i in range(50 * page, 50 * page + 50)])
    assert inflated() == 1 + 30 and not browser.find_element(By.ID, "next").is_enabled()
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


# The page is windows-1252, one byte a character: every byte of a block must come back as it was written.

WHATWG_0X80 = ("20AC 0081 201A 0192 201E 2026 2020 2021 02C6 2030 0160 2039 0152 008D 017D 008F "
               "0090 2018 2019 201C 201D 2022 2013 2014 02DC 2122 0161 203A 0153 009D 017E 0178")  # index-windows-1252


def test_the_pages_byte_table_is_the_whatwg_windows_1252_index() -> None:
    from nanoflux.jobs.report.packing import WINDOWS_1252

    whatwg = [*range(0x80), *(int(code, 16) for code in WHATWG_0X80.split()), *range(0xA0, 0x100)]
    assert [ord(c) for c in WINDOWS_1252] == whatwg


def question_of(browser, round_id: int) -> str:
    """The question a round's opened card shows, exactly as the page holds it (textContent, not layout text)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.CSS_SELECTOR, f'.round[data-round="{round_id}"] summary').click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_element(
        By.CSS_SELECTOR, f'.round[data-round="{round_id}"] .body'))
    return browser.execute_script(
        "const heads = [...arguments[0].querySelectorAll('.body h4')];"
        "return heads.find((h) => h.textContent === 'question').nextElementSibling.textContent;",
        browser.find_element(By.CSS_SELECTOR, f'.round[data-round="{round_id}"]'))


def test_a_block_holding_every_byte_value_comes_back_whole_in_chromium(tmp_path: Path, browser) -> None:
    import random

    from nanoflux.jobs.report.packing import WINDOWS_1252, from_eights

    rng = random.Random(7)  # text deflate cannot shrink: its gzip bytes are as good as random
    alphabet = [*map(chr, range(0x20, 0x7F)), *map(chr, range(0xA0, 0x250)), *map(chr, range(0x4E00, 0x4F00))]
    question = "".join(rng.choice(alphabet) for _ in range(6000))
    records = [make_record(i) for i in range(3)]
    records[1] = make_record(1, question=question)
    report = build_report(make_run(tmp_path / "run", records))
    html = decode_page(report.read_bytes())
    block = re.search(r'<script type="text/plain" id="rounds-0">([^<]*)</script>', html).group(1)
    assert set(from_eights(block)) == set(range(256)), "the block holds every byte value"
    assert all(value in report.read_bytes() for value in (b"=@", b"=M", b"=|", b"=}")), "NUL, CR, < and = escaped"

    browser.get(report.as_uri())
    assert browser.execute_script(
        "return new TextDecoder('windows-1252').decode(Uint8Array.from({ length: 256 }, (_, b) => b))"
    ) == WINDOWS_1252, "the page's bytes decode in Chromium as packing reads them"
    listed(browser)
    assert question_of(browser, 1) == question
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_non_ascii_text_outside_and_inside_the_blocks_is_shown_as_written(tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    question = "Zürich — 東京: 3 € a ticket, “return” 5 €. How much?"
    records = [make_record(0, topic="Zürich"), make_record(1, topic="東京", question=question)]
    report = build_report(make_run(tmp_path / "Zürich — 東京 run", records))
    browser.get(report.as_uri())
    assert "Zürich — 東京 run" in browser.find_element(By.CSS_SELECTOR, "p.meta").text
    listed(browser, ["0", "1"])
    Select(browser.find_element(By.ID, "filter-topic")).select_by_visible_text("東京")
    listed(browser, ["1"])
    summary = browser.find_element(By.CSS_SELECTOR, '.round[data-round="1"] summary').text
    assert "東京" in summary and question in summary
    assert question_of(browser, 1) == question
    steps = browser.find_element(By.CSS_SELECTOR, '.round[data-round="1"] .body ol.steps').text
    assert "\u00b7 not checked step by step" in steps, "the script's own non-ASCII, written as \\u escapes"
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_the_page_shows_the_start_and_end_of_a_long_trace_and_says_the_journal_has_the_rest(tmp_path: Path) -> None:
    long = " ".join(f"thought {i}" for i in range(2_000))  # 19,889 characters
    record = with_traces(make_record(0), defender=long)
    record = with_revisions(record, revised(record, "17", right=True, trace=long))
    shown = embedded_rounds(decode_page(build_report(make_run(tmp_path / "run", [record])).read_bytes()))[0]
    half = REPORT_TRACE_CHARS // 2
    expected = f"{long[:half]}\n[... {len(long) - 2 * half:,} more characters of reasoning in rounds.jsonl ...]\n" \
               f"{long[-half:]}"
    assert shown["traces"]["defender"] == expected and shown["revisions"][0]["trace"] == expected
    assert read_rounds(tmp_path / "run" / JOURNAL_NAME)[0]["traces"]["defender"] == long  # the journal keeps it
    short = with_traces(make_record(1), defender=long[:REPORT_TRACE_CHARS])
    assert embedded_rounds(decode_page(build_report(make_run(tmp_path / "short", [short])).read_bytes()))[0][
        "traces"]["defender"] == long[:REPORT_TRACE_CHARS]  # shown whole
