"""Decontamination: questions that copy (a shared 8-gram) or paraphrase (an embedding, the real all-MiniLM-L6-v2)
a benchmark item are rejected as `contaminated`, questions that merely share its topic are kept, in a run, in
`curate` and in `nanoflux decontaminate`; benchmark files are read in every format or refused with the fix."""

import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import REPORT_NAME
from nanoflux.cli import main
from nanoflux.engine.curation.decontaminate import Benchmark, Decontaminator, NgramIndex, load_benchmark, words
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.similar import APPROXIMATE_FROM, ExactSearch, HyperplaneIndex
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.curate import curate, decontaminate
from nanoflux.jobs.report.packing import decode_page
from nanoflux.spec.model import parse_spec
from nanoflux.testing import scripted_roles
from tests.support.fakes import SCRIPTED_SPEC, forbid_lm
from tests.support.records import make_record, make_run

ITEMS = [
    "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20.",
    "What is the role of DNA polymerase during DNA replication in eukaryotic cells?",
    "A regular hexagon has side length 6. What is the area of the hexagon, in simplest radical form?",
]
COPY = "Consider this: find the number of ordered pairs of positive integers (m,n) such that m^2 n equals 20^20!"
PARAPHRASE = "During DNA replication in eukaryotic cells, what does DNA polymerase do?"  # cosine 0.96, no 8-gram
SAME_TOPIC = ["Which enzyme unwinds the double helix at the replication fork?",
              "A regular hexagon has side 4. What is its perimeter?"]


def write_benchmark(path: Path, rows: list[dict]) -> Path:
    """`rows` in the format `path`'s extension names."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows))
    elif path.suffix == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return write_benchmark(tmp_path / "bench.jsonl", [{"id": i, "problem": item} for i, item in enumerate(ITEMS)])


# Benchmark files

@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_a_benchmark_is_read_from_jsonl_json_csv_and_parquet_alike(tmp_path: Path, suffix: str) -> None:
    rows = [{"id": 0, "Question": ITEMS[0]}, {"id": 1, "Question": ""}, {"id": 2, "Question": ITEMS[2]}]
    benchmark = load_benchmark(write_benchmark(tmp_path / f"b{suffix}", rows), "Question")
    assert (benchmark.field, benchmark.rows, benchmark.texts) == ("Question", [0, 2], [ITEMS[0], ITEMS[2]])
    assert len(benchmark.sha256) == 64


@pytest.mark.parametrize("column", ["question", "problem", "prompt"])
def test_the_question_column_is_found_by_its_usual_names(tmp_path: Path, column: str) -> None:
    path = write_benchmark(tmp_path / "b.csv", [{"answer": "42", column: ITEMS[0]}])
    assert load_benchmark(path).field == column


def test_a_json_file_may_hold_its_items_under_one_key(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"data": [{"problem": item} for item in ITEMS]}))
    assert load_benchmark(path).texts == ITEMS


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match=r"benchmark file .*nope.jsonl does not exist; pass the path of a local"):
        load_benchmark(tmp_path / "nope.jsonl")


def test_an_unknown_format_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text(ITEMS[0])
    with pytest.raises(NanofluxError, match=r"unknown format '.txt'; use a .jsonl, .ndjson, .json, .csv, .parquet"):
        load_benchmark(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_missing_question_column_names_the_columns_there_are_and_the_fix(tmp_path: Path, suffix: str) -> None:
    path = write_benchmark(tmp_path / f"b{suffix}", [{"id": 0, "Problem": ITEMS[0]}])
    with pytest.raises(NanofluxError, match=r"has none of the columns question, problem, prompt \(its columns: id, "
                                            r"Problem\); name the question column with --field COLUMN"):
        load_benchmark(path)
    with pytest.raises(NanofluxError, match=r"has no column 'text' \(its columns: id, Problem\)"):
        load_benchmark(path, "text")


def test_a_column_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = write_benchmark(tmp_path / "b.jsonl", [{"prompt": [{"role": "user", "content": ITEMS[0]}]}])
    with pytest.raises(NanofluxError, match=r"column 'prompt' of row 0 holds a list, not a question's text"):
        load_benchmark(path)


def test_a_file_that_is_not_what_its_name_says_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text('{"problem": ')
    with pytest.raises(NanofluxError, match=r"is not JSON .*; a JSON benchmark file holds a list of objects"):
        load_benchmark(tmp_path / "b.json")
    (tmp_path / "b.parquet").write_text("not parquet")
    with pytest.raises(NanofluxError, match=r"is not a readable Parquet file"):
        load_benchmark(tmp_path / "b.parquet")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("kind", "said"), [("fifo", "is a FIFO (named pipe), not a regular file"),
                                            ("device", "is a device, not a regular file"),
                                            ("directory", "is a directory, not a regular file")])
def test_a_benchmark_path_that_is_not_a_regular_file_exits_2_in_one_line_at_once(
        tmp_path: Path, kind: str, said: str) -> None:
    run = make_run(tmp_path / "run", [make_record(0, question=COPY)])
    path = tmp_path / "bench.jsonl"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it to read would wait forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # read whole, it never ends
    else:
        path.mkdir()
    result = CliRunner().invoke(main, ["decontaminate", str(run), "--against", str(path)])
    assert result.exit_code == 2 and f"benchmark file {path} {said}; pass the path of a local" in result.output
    assert result.output.count("\n") == 1, result.output


def test_a_benchmark_past_the_size_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nanoflux.engine.curation.decontaminate as module

    path = write_benchmark(tmp_path / "b.jsonl", [{"problem": item} for item in ITEMS * 20])
    limit = path.stat().st_size - 1
    monkeypatch.setattr(module, "MAX_BENCHMARK_BYTES", limit)
    with pytest.raises(NanofluxError, match=rf"benchmark file .*b.jsonl is larger than {limit:,} bytes"):
        load_benchmark(path)


def test_the_format_is_the_one_the_name_given_says_not_the_symlinks_target(tmp_path: Path) -> None:
    target = write_benchmark(tmp_path / "b.csv", [{"problem": item} for item in ITEMS]).rename(tmp_path / "b.txt")
    link = tmp_path / "bench.csv"
    link.symlink_to(target)
    benchmark = load_benchmark(link)
    assert benchmark.texts == ITEMS and benchmark.path == str(link)
    (tmp_path / "other.txt").symlink_to(link)
    with pytest.raises(NanofluxError, match=r"unknown format '.txt'"):
        load_benchmark(tmp_path / "other.txt")


def test_a_benchmark_edited_in_place_is_read_again(tmp_path: Path) -> None:
    path = write_benchmark(tmp_path / "b.jsonl", [{"problem": item} for item in ITEMS])
    assert load_benchmark(path) is load_benchmark(path), "indexed once while unchanged"
    write_benchmark(path, [{"problem": item} for item in ITEMS[:2]])
    assert load_benchmark(path).texts == ITEMS[:2]


def test_a_file_with_thousands_of_columns_names_a_few(tmp_path: Path) -> None:
    path = write_benchmark(tmp_path / "b.jsonl", [{f"{'c' * 500}{i}": "x" for i in range(5000)}])
    with pytest.raises(NanofluxError) as caught:
        load_benchmark(path)
    assert "and 4980 more" in str(caught.value) and len(str(caught.value)) < 4000


# The 8-gram test (no model)

def test_words_are_lowercased_with_punctuation_and_whitespace_collapsed() -> None:
    assert words("  Find (m, n):\tm^2 n = 20^20! ") == ["find", "m", "n", "m", "2", "n", "20", "20"]


def test_a_question_sharing_an_8_gram_with_an_item_is_found_whatever_its_case_and_punctuation() -> None:
    index = NgramIndex(ITEMS)
    assert index.find(COPY) == (0, "find the number of ordered pairs of positive")
    assert index.find("WHAT IS THE ROLE OF DNA-POLYMERASE during DNA replication?") == (1, "what is the role of dna "
                                                                                       "polymerase during")


def test_seven_shared_words_or_words_across_two_items_are_not_an_8_gram() -> None:
    index = NgramIndex(ITEMS)
    assert index.find("Find the number of ordered pairs of integers.") is None  # 7 words in a row, then not
    assert index.find("in simplest radical form? Find the number of ordered pairs") is None  # end of one, start of next
    assert index.find(SAME_TOPIC[0]) is None and NgramIndex([]).find(COPY) is None


def test_the_item_sharing_the_most_8_grams_is_the_one_named() -> None:
    index = NgramIndex(["alpha beta gamma delta epsilon zeta eta theta", "x alpha beta gamma delta epsilon zeta eta "
                                                                        "theta iota kappa"])
    assert index.find("alpha beta gamma delta epsilon zeta eta theta iota") == (1, "alpha beta gamma delta epsilon "
                                                                                   "zeta eta theta")


# A large benchmark searched through the index (random vectors, no model)

def test_a_large_benchmark_searched_through_the_index_finds_the_same_contaminated_items_as_exact_search(
        tmp_path: Path) -> None:
    """20,000 items (the index's lower bound) of random 64-d unit vectors; 400 questions paraphrase an item at
    similarity 0.9-0.99 (the index is sized for 0.999 recall at exactly 0.9), 400 are random."""
    rng = np.random.default_rng(1)
    items = unit(rng.standard_normal((APPROXIMATE_FROM, 64), dtype=np.float32))
    targets = rng.choice(len(items), size=400, replace=False)
    similarity = rng.uniform(0.9, 0.99, size=(400, 1)).astype(np.float32)
    away = unit(rng.standard_normal((400, 64), dtype=np.float32))
    away = unit(away - (away * items[targets]).sum(axis=1, keepdims=True) * items[targets])  # orthogonal to the item
    questions = np.concatenate([similarity * items[targets] + np.sqrt(1 - similarity**2) * away,
                                unit(rng.standard_normal((400, 64), dtype=np.float32))])
    texts = [f"item {i}" for i in range(len(items))] + [f"question {i}" for i in range(len(questions))]
    vectors = dict(zip(texts, np.concatenate([items, questions]), strict=True))
    embedder = Embedder("random-64", cache=None, encoder=lambda batch: np.stack([vectors[t] for t in batch]))
    bench = write_benchmark(tmp_path / "large.jsonl", [{"problem": text} for text in texts[: len(items)]])
    approximate, exact = (Decontaminator([load_benchmark(bench)], embedder, approximate_from=bound)
                          for bound in (APPROXIMATE_FROM, sys.maxsize))
    assert isinstance(load_benchmark(bench).search(embedder, 0.9), HyperplaneIndex)
    asked = texts[len(items) :]
    approximate.prepare(asked)
    exact.prepare(asked)
    found = [[(m["item"], m["method"], m["similarity"]) for m in approximate.check(q)] for q in asked]
    assert found == [[(m["item"], m["method"], pytest.approx(m["similarity"], abs=1e-6)) for m in exact.check(q)]
                     for q in asked]  # the same numbers but for float rounding: a gemv against a matrix product
    assert [match for match, in found[:400]] == [(int(i), "embedding", pytest.approx(float(s), abs=1e-5))
                                                  for i, s in zip(targets, similarity[:, 0], strict=True)]
    assert found[400:] == [[]] * 400


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_index_is_sized_for_the_threshold_and_a_low_threshold_or_a_small_benchmark_is_searched_exactly() -> None:
    rng = np.random.default_rng(2)
    matrix = unit(rng.standard_normal((APPROXIMATE_FROM, 64), dtype=np.float32))
    index = HyperplaneIndex.for_threshold(matrix, 0.9)
    assert index is not None
    alike = (1 - math.acos(0.9) / math.pi) ** index.bits  # one table's chance for an item at the threshold
    assert 1 - (1 - alike) ** index.tables >= 0.999 > 1 - (1 - alike) ** (index.tables - 1)
    assert HyperplaneIndex.for_threshold(matrix, 0.5) is None  # would need thousands of tables
    texts = [f"item {i}" for i in range(100)]
    embedder = Embedder("random-64", cache=None, encoder=lambda batch: unit(rng.standard_normal((len(batch), 64))))
    assert isinstance(Benchmark("b", "problem", list(range(100)), texts, "0").search(embedder, 0.9), ExactSearch)


# Copies, paraphrases and questions on the same topic, with the real embedder

@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_copies_and_paraphrases_are_contaminated_and_questions_on_the_same_topic_are_not(
        bench: Path, embedder: Embedder) -> None:
    checker = Decontaminator([load_benchmark(bench)], embedder)
    checker.prepare([COPY, PARAPHRASE, *SAME_TOPIC])
    copied, = checker.check(COPY)
    assert (copied["item"], copied["text"], copied["method"]) == (0, ITEMS[0], "ngram")
    assert copied["ngram"] == "find the number of ordered pairs of positive" and copied["benchmark"] == str(bench)
    paraphrased, = checker.check(PARAPHRASE)
    assert (paraphrased["item"], paraphrased["method"]) == (1, "embedding") and paraphrased["similarity"] >= 0.9
    assert "ngram" not in paraphrased
    assert [checker.check(question) for question in SAME_TOPIC] == [[], []]


def test_a_stricter_threshold_lets_the_paraphrase_through_but_never_a_copy(bench: Path, embedder: Embedder) -> None:
    checker = Decontaminator([load_benchmark(bench)], embedder, threshold=0.99)
    assert checker.check(PARAPHRASE) == [] and checker.check(COPY)[0]["method"] == "ngram"


def test_the_summary_counts_per_benchmark_the_questions_checked_and_matched_with_the_worst_first(
        tmp_path: Path, bench: Path, embedder: Embedder) -> None:
    other = write_benchmark(tmp_path / "other.csv", [{"question": "What is the capital of Australia?"}])
    checker = Decontaminator([load_benchmark(bench), load_benchmark(other)], embedder)
    questions = [COPY, PARAPHRASE, *SAME_TOPIC]
    summary = checker.summary((i, q, checker.check(q)) for i, q in enumerate(questions))
    first, second = summary["benchmarks"]
    assert (summary["threshold"], summary["ngram"], summary["embedding_model"]) == (0.9, 8, "all-MiniLM-L6-v2")
    assert (first["path"], first["field"], first["items"], first["checked"], first["matched"]) == (
        str(bench), "problem", 3, 4, 2)
    assert first["methods"] == {"embedding": 1, "ngram": 1}
    worst = first["worst"]
    assert sorted((m["round_id"], m["question"], m["item"]) for m in worst) == [(0, COPY, 0), (1, PARAPHRASE, 1)]
    assert worst[0]["similarity"] >= worst[1]["similarity"]
    assert (second["checked"], second["matched"], second["worst"]) == (4, 0, [])


def test_an_embedding_threshold_outside_0_1_is_refused(bench: Path, embedder: Embedder) -> None:
    with pytest.raises(NanofluxError, match=r"threshold must be in \(0, 1\], got 1.5"):
        Decontaminator([load_benchmark(bench)], embedder, threshold=1.5)


# The spec

def test_the_spec_takes_paths_or_entries_naming_the_question_column() -> None:
    spec = parse_spec("name: t\ndescription: d\ncuration: {decontaminate: [a.jsonl, {path: b.csv, field: Q}]}\n")
    assert [(b.path, b.field) for b in spec.curation.decontaminate] == [("a.jsonl", None), ("b.csv", "Q")]
    assert spec.curation.decontaminate_threshold == 0.9


def test_naming_benchmarks_changes_the_spec_digest_and_naming_none_keeps_it() -> None:
    solves = "roles: {judge: {solves: 0}}\n"  # the digest of a spec from before solves (test_model checks it)
    plain = parse_spec("name: t\ndescription: d\n" + solves)
    unused = parse_spec("name: t\ndescription: d\ncuration: {decontaminate_threshold: 0.8}\n" + solves)
    named = parse_spec("name: t\ndescription: d\ncuration: {decontaminate: [a.jsonl]}\n" + solves)
    assert plain.digest() == unused.digest() == "d98d3338364ee74c" != named.digest()


# A run, `curate` and `nanoflux decontaminate`

TRAIN_ITEM = "A train passes 9 stations, each stop adding 3 carriages, then 5 more are coupled. How many were added?"


def test_a_run_rejects_a_question_copying_a_benchmark_item_and_curate_applies_it_again_without_an_lm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = write_benchmark(tmp_path / "bench.jsonl", [{"question": "What is the capital of France?"},
                                                       {"question": TRAIN_ITEM}])
    spec = parse_spec(SCRIPTED_SPEC + f"curation: {{decontaminate: ['{bench}']}}\n")
    result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=scripted_roles(),
                          progress=False)
    records = read_journal(result.run_dir / "rounds.jsonl")
    train, = [r for r in records if r["question"].startswith("A train passes")]
    assert train["curation"]["accepted"] is False and train["curation"]["reason"] == "contaminated"
    match, = train["curation"]["contamination"]
    assert (match["benchmark"], match["item"], match["text"], match["method"]) == (str(bench), 1, TRAIN_ITEM, "ngram")
    assert all(r["curation"]["contamination"] == [] and r["curation"]["accepted"] for r in records if r is not train)
    checked, = result.manifest["decontamination"]["benchmarks"]
    assert (checked["checked"], checked["matched"], checked["methods"]) == (6, 1, {"ngram": 1})
    assert checked["worst"][0]["round_id"] == train["round_id"] and result.manifest["dataset"]["sft"]["rows"] == 5
    html = decode_page((result.run_dir / REPORT_NAME).read_bytes())
    assert 'id="decontamination-table"' in html and "Closest matches in" in html

    forbid_lm(monkeypatch)
    again = curate(result.run_dir)
    assert again.manifest["counts"]["reasons"] == {"contaminated": 1} and again.manifest["counts"]["selected"] == 5
    assert again.manifest["decontamination"]["benchmarks"][0]["matched"] == 1
    assert again.out_dir.name.endswith("_decontam-bench-0.9")


def test_decontaminate_curates_a_finished_run_again_without_its_contaminated_questions(
        tmp_path: Path, bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_lm(monkeypatch)
    questions = [COPY, PARAPHRASE, *SAME_TOPIC]
    run = make_run(tmp_path / "run", [make_record(i, question=q) for i, q in enumerate(questions)])
    result = decontaminate(run, [bench])
    assert result.manifest["counts"]["reasons"] == {"contaminated": 2} and result.manifest["counts"]["selected"] == 2
    rows = (result.out_dir / "dataset" / "examples.jsonl").read_text().splitlines()
    assert [json.loads(row)["question"] for row in rows] == SAME_TOPIC
    summary, = result.manifest["decontamination"]["benchmarks"]
    assert (summary["checked"], summary["matched"]) == (4, 2)
    assert "Closest matches in" in decode_page((result.out_dir / REPORT_NAME).read_bytes())
    assert result.out_dir.parent == run / "curated" and result.out_dir.name.endswith("_decontam-bench-0.9")


def test_the_cli_prints_the_matches_per_benchmark_and_exits_2_on_a_bad_file(tmp_path: Path, bench: Path) -> None:
    run = make_run(tmp_path / "run", [make_record(i, question=q) for i, q in enumerate([COPY, SAME_TOPIC[0]])])
    result = CliRunner().invoke(main, ["decontaminate", str(run), "--against", str(bench), "--out",
                                       str(tmp_path / "clean")])
    assert result.exit_code == 0, result.output
    assert f"{bench} (3 items, column problem): 2 questions checked, 1 matched {{'ngram': 1}}" in result.output
    assert "round 0 ~ item 0 (ngram, similarity 0.9" in result.output
    bad = CliRunner().invoke(main, ["decontaminate", str(run), "--against", str(bench), "--field", "text"])
    assert bad.exit_code == 2 and "has no column 'text' (its columns: id, problem); name the question" in bad.output
    missing = CliRunner().invoke(main, ["decontaminate", str(run), "--against", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "none.csv does not exist" in missing.output
