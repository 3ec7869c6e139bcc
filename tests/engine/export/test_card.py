"""The dataset card: every dataset folder loads with `datasets` by its card alone, and the manifest vouches for it."""

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import datasets
import pytest
import yaml

from nanoflux import parse_spec
from nanoflux.engine.export.card import render_card, size_category, verification
from nanoflux.engine.export.dataset import export_dataset
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.curate import curate
from nanoflux.testing import scripted_roles
from tests.support.fakes import SCRIPTED_SPEC
from tests.support.records import make_record

SPEC = SCRIPTED_SPEC + "output: {formats: [sft, dpo, rlvr], license: cc-by-4.0}\n"


class _Raise(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise AssertionError(f"datasets warned: {record.getMessage()}")


@contextmanager
def warnings_fail() -> Iterator[None]:
    """`datasets` warns through its logger (a malformed `dataset_info`, say): inside, a warning fails the test."""
    handler = _Raise(logging.WARNING)
    logger = logging.getLogger("datasets")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def load_every_config(dataset_dir: Path, cache: Path) -> dict[str, int]:
    """Rows of each config the card names, loaded by `datasets` with its warnings as errors."""
    with warnings_fail():
        return {entry["config_name"]: len(datasets.load_dataset(str(dataset_dir), entry["config_name"], split="train",
                                                                 cache_dir=str(cache)))
                for entry in header(dataset_dir / "README.md")["configs"]}


def header(card: Path) -> dict:
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def vouched(out_dir: Path) -> str:
    """The card's text, once its manifest entry matches its bytes."""
    entry = json.loads((out_dir / "manifest.json").read_text())["card"]
    data = (out_dir / entry["path"]).read_bytes()
    assert entry["path"] == "dataset/README.md" and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["bytes"] == len(data)
    return data.decode()


def test_a_run_and_a_curated_selection_each_get_a_card_that_datasets_loads(tmp_path: Path) -> None:
    spec = parse_spec(SPEC)
    run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=scripted_roles(),
                       progress=False).run_dir
    card = vouched(run)
    meta = header(run / "dataset" / "README.md")
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"] and meta["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in meta["configs"]] == ["sft", "dpo", "rlvr", "examples"]
    assert "Counting jars on shelves." in card and "shelves, crates" in card and "hf upload USER/NAME" in card
    rows = load_every_config(run / "dataset", tmp_path / "hf")
    files = json.loads((run / "manifest.json").read_text())["dataset"]
    assert rows == {name: files[name]["rows"] for name in rows}
    sft = datasets.load_dataset(str(run / "dataset"), "sft", split="train", cache_dir=str(tmp_path / "hf"))
    assert len(sft) == 6 and sft[0]["messages"][0]["role"] == "user"
    rlvr = datasets.load_dataset(str(run / "dataset"), "rlvr", split="train", cache_dir=str(tmp_path / "hf"))
    assert set(rlvr.column_names) >= {"prompt", "answer"}

    selection = curate(run, size=2, out=tmp_path / "picked").out_dir
    picked = vouched(selection)
    assert "size `2`" in picked and header(selection / "dataset" / "README.md")["license"] == "cc-by-4.0"
    assert len(datasets.load_dataset(str(selection / "dataset"), "sft", split="train",
                                     cache_dir=str(tmp_path / "hf"))) == 2


def test_the_card_shows_decontamination_and_review_only_when_the_manifest_has_them() -> None:
    spec = parse_spec(SCRIPTED_SPEC)
    reasons = {"out_of_band": 2, "accepted": 3, "duplicate": 1}
    plain = {"dataset": {"sft": {"rows": 3}}, "counts": {"accepted": 3, "reasons": reasons}}
    card = render_card(spec, plain)
    assert "Decontamination" not in card and "Human review" not in card
    assert "not kept:\n\n- duplicate: 1\n- out_of_band: 2\n" in card and "- accepted: 3\n\nWhy" in card
    assert header_of(card)["license"] == "other"
    benchmark = {"path": "math500.jsonl", "items": 500, "checked": 3, "matched": 1}
    full = {**plain, "decontamination": {"threshold": 0.9, "ngram": 8, "embedding_model": "all-MiniLM-L6-v2",
                                         "benchmarks": [benchmark]},
            "counts": {**plain["counts"], "review": {"reviewed": 2, "rejected": 1, "kept": 1}}}
    card = render_card(spec, full)
    assert "| math500.jsonl | 500 | 3 | 1 |" in card and "- rejected: 1" in card
    assert [size_category(n) for n in (0, 999, 1000, 250_000, 5_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "n>1M"]


def header_of(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


def test_an_empty_format_gets_no_config_and_every_config_loads_without_a_warning(tmp_path: Path) -> None:
    records = [make_record(i, verdict="correct") for i in range(3)]  # the defender was never wrong: no DPO pair
    files = export_dataset(tmp_path, records, ["sft", "dpo", "rlvr"])
    spec = parse_spec(SCRIPTED_SPEC)
    (tmp_path / "dataset" / "README.md").write_text(render_card(spec, {"dataset": files}))
    assert files["dpo"]["rows"] == 0
    assert load_every_config(tmp_path / "dataset", tmp_path / "hf") == {"sft": 3, "rlvr": 3, "examples": 3}
    assert "| (none: `dpo` is empty) | `dpo.jsonl` | 0 |" in (tmp_path / "dataset" / "README.md").read_text()


@pytest.mark.parametrize("solves", [0, 3])
def test_the_limitations_say_what_verified_meant_with_the_runs_counts(solves: int) -> None:
    spec = parse_spec(SCRIPTED_SPEC + f"roles: {{judge: {{solves: {solves}, agree: {min(solves, 2) or 2}}}}}\n")
    kept = [make_record(i, verdict="incorrect" if i == 0 else "correct") for i in range(3)]
    card = render_card(spec, {"dataset": {"sft": {"rows": 3}}, "verification": verification(spec, kept)})
    limitations = card.split("## Limitations")[1].split("##")[0]
    assert "Of the 3 kept rounds, 3 have a confirmed reference; in 1 of those the defender answered wrong" \
        in limitations
    if solves:
        assert "at least 2 of 3 independent solves" in limitations
    else:
        assert "can still be wrong" in limitations and "solves: 0" in limitations
    assert "Not established" in limitations


def test_the_card_counts_the_defenders_outcomes_and_says_which_rows_carry_a_trace(tmp_path: Path) -> None:
    from tests.support.records import revised, with_revisions, with_traces

    right = with_traces(make_record(0, verdict="correct"), defender="D0")
    right["judge"]["answer_check"]["verdict"] = "match"
    wrong = make_record(1)
    fixed = with_revisions(make_record(2), revised(make_record(2), "16", right=False), revised(make_record(2), "17",
                                                                                           right=True, trace="T"))
    kept = [right, wrong, fixed]
    spec = parse_spec(SCRIPTED_SPEC + "roles: {judge: {revise: 2}}\n"
                      "output: {formats: [sft, dpo, revision], reasoning: defender}\n")
    files = export_dataset(tmp_path, kept, spec.output.formats, reasoning=spec.output.reasoning)
    card = render_card(spec, {"dataset": files, "verification": verification(spec, kept)})
    (tmp_path / "dataset" / "README.md").write_text(card)
    section = card.split("## The defender's answers and reasoning traces")[1].split("##")[0]
    assert "right at once in 1, corrected its answer after the judge's critique in 1 (1 after 2 critiques), " \
           "and stayed wrong in 1" in section
    assert "1 of the 3 `sft` rows; 1 of the 1 `revision` rows" in section and "`reasoning_content`" in section
    assert load_every_config(tmp_path / "dataset", tmp_path / "hf") == {"sft": 3, "dpo": 2, "revision": 1,
                                                                       "examples": 3}
    plain = render_card(parse_spec(SCRIPTED_SPEC), {"dataset": files})
    assert "Reasoning traces: not included (`output.reasoning: none`)" in plain and "right at once" not in plain
