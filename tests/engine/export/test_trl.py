"""Exported files load with `datasets` and train with TRL as they are: no conversion step."""

import json
from pathlib import Path

import pytest

from nanoflux.engine.export import (
    dpo_example,
    export_dataset,
    rlvr_example,
    sft_example,
    stepwise_example,
    verified_solution,
)
from nanoflux.rewards import answer_reward, format_reward
from tests.support.records import CRATE, checked_record, make_record, with_solves
from tests.support.trainkit import tiny_model


def exported(tmp_path: Path) -> Path:
    records = [make_record(i, verdict="incorrect" if i % 2 else "correct") for i in range(4)]
    export_dataset(tmp_path, records, ["sft", "dpo"])
    return tmp_path / "dataset"


def test_sft_rows_carry_the_verified_steps_and_the_answer_not_the_attackers_note() -> None:
    row = sft_example(make_record(0))
    user, assistant = row["messages"]
    assert user == {"role": "user", "content": make_record(0)["question"]}
    assert assistant == {"role": "assistant", "content": "1. 3 * 4 = 12\n2. 12 + 5 = 17\n\nAnswer: 17"}
    noted = sft_example(make_record(0), annotation=True)["messages"][1]["content"]
    assert noted.startswith("Approach: Multiplication") and noted.endswith(assistant["content"])


def test_the_annotation_stays_in_the_provenance_and_enters_the_rows_only_when_the_spec_asks(tmp_path: Path) -> None:
    records = [make_record(i, verdict="incorrect") for i in range(2)]
    for annotation, out in ((False, tmp_path / "plain"), (True, tmp_path / "noted")):
        export_dataset(out, records, ["sft", "dpo"], annotation=annotation)
        sft = [json.loads(line) for line in (out / "dataset" / "sft.jsonl").read_text().splitlines()]
        dpo = [json.loads(line) for line in (out / "dataset" / "dpo.jsonl").read_text().splitlines()]
        examples = [json.loads(line) for line in (out / "dataset" / "examples.jsonl").read_text().splitlines()]
        texts = [row["messages"][1]["content"] for row in sft] + [row["chosen"][0]["content"] for row in dpo]
        assert len(texts) == 4 and all(("Approach:" in text) is annotation for text in texts)
        assert [row["annotation"] for row in examples] == [record["annotation"] for record in records]


def test_a_preference_pair_exists_only_when_the_defender_was_judged_wrong() -> None:
    pair = dpo_example(make_record(0, verdict="incorrect"))
    assert pair["chosen"][0]["content"] == verified_solution(make_record(0))
    assert pair["rejected"][0]["content"].endswith("Answer: 12")
    assert dpo_example(make_record(0, verdict="correct")) is None


def test_export_writes_sft_dpo_and_provenance_files(tmp_path: Path) -> None:
    directory = exported(tmp_path)
    assert len((directory / "sft.jsonl").read_text().splitlines()) == 4
    assert len((directory / "dpo.jsonl").read_text().splitlines()) == 2
    provenance = [json.loads(line) for line in (directory / "examples.jsonl").read_text().splitlines()]
    assert [p["round_id"] for p in provenance] == [0, 1, 2, 3] and provenance[0]["level"] == "L4"
    assert not list(directory.glob(".*.tmp")), "atomic writes leave no temporary files"


def test_files_load_with_datasets(tmp_path: Path) -> None:
    from datasets import load_dataset

    directory = exported(tmp_path)
    sft = load_dataset("json", data_files=str(directory / "sft.jsonl"), split="train")
    dpo = load_dataset("json", data_files=str(directory / "dpo.jsonl"), split="train")
    assert sft.column_names == ["messages"] and len(sft) == 4
    assert set(dpo.column_names) == {"prompt", "chosen", "rejected"} and len(dpo) == 2


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_one_real_trl_step_on_the_exported_file(tmp_path: Path, tiny_model_dir: Path, kind: str) -> None:
    import trl
    from datasets import load_dataset

    config, trainer_class = {"sft": (trl.SFTConfig, trl.SFTTrainer), "dpo": (trl.DPOConfig, trl.DPOTrainer)}[kind]
    data = load_dataset("json", data_files=str(exported(tmp_path) / f"{kind}.jsonl"), split="train")
    args = config(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                  max_length=128, use_cpu=True, save_strategy="no", logging_steps=1)
    trainer = trainer_class(model=str(tiny_model_dir), args=args, train_dataset=data)
    trainer.train()
    assert trainer.state.global_step == 1 and trainer.state.log_history[0]["loss"] > 0


def test_exported_files_are_readable_by_others(tmp_path: Path) -> None:
    assert (exported(tmp_path) / "sft.jsonl").stat().st_mode & 0o777 == 0o644


def test_an_rlvr_row_is_the_question_as_a_prompt_with_its_verified_answer_and_type() -> None:
    assert rlvr_example(make_record(0)) == {"prompt": [{"role": "user", "content": make_record(0)["question"]}],
                                            "answer": "17", "answer_type": "numeric"}


def test_stepwise_labels_only_the_steps_the_tools_recomputed() -> None:
    record = checked_record(0, "17", ["Let us count the apples.", "1. 3 * 4 = 12", "2. 12 + 5 = 17"])
    assert record["judge"]["reference_check"]["verdict"] == "match"
    assert stepwise_example(record) == {"prompt": CRATE, "completions": ["3 * 4 = 12", "12 + 5 = 17", "Answer: 17"],
                                        "labels": [True, True, True]}


def test_an_unchecked_step_is_left_out_never_labelled() -> None:
    steps = ["3 * 4 = 12", "The boxes hold 12 apples and 7 more lie beside them", "12 + 5 = 17"]
    record = with_solves(checked_record(0, "17", steps), ["17", "17", "12"])  # the solves confirm it
    skipped = record["judge"]["reference_check"]["evidence"]["skipped"]
    assert record["judge"]["reference_check"]["verdict"] == "undecidable" and [s["step"] for s in skipped] == [2]
    row = stepwise_example(record)
    assert row["completions"] == ["3 * 4 = 12", "12 + 5 = 17"] and row["labels"] == [True, True]


def test_steps_of_an_unconfirmed_reference_are_never_labelled() -> None:
    steps = ["3 * 4 = 12", "The boxes hold 12 apples and 7 more lie beside them", "12 + 5 = 17"]
    assert stepwise_example(checked_record(0, "17", steps)) is None  # steps undecidable, no solve
    assert stepwise_example(with_solves(checked_record(0, "17", steps), ["17", "12", None])) is None  # a split


def test_steps_refuted_only_by_the_solves_are_never_labelled() -> None:
    # Every step holds (the method is consistent) but two solves agree on another answer: the method is wrong,
    # and which step is wrong the tools cannot say, so no step is labelled either way.
    record = with_solves(checked_record(0, "17", ["3 * 4 = 12", "12 + 5 = 17"]), ["20", "20.0", "17"])
    assert record["judge"]["confirmation"]["status"] == "refuted"
    assert stepwise_example(record) is None


def test_a_false_claim_labels_its_step_false_whatever_the_solves_say() -> None:
    record = with_solves(checked_record(0, "18", ["3 * 4 = 13", "13 + 5 = 18"]), ["18", "18", "18"])
    assert record["judge"]["confirmation"]["status"] == "refuted"
    assert stepwise_example(record)["labels"] == [False]


def test_a_refuted_round_ends_at_its_wrong_step_labelled_false() -> None:
    row = stepwise_example(checked_record(0, "18", ["3 * 4 = 13", "13 + 5 = 18"]))
    assert row["completions"] == ["3 * 4 = 13"] and row["labels"] == [False]
    row = stepwise_example(checked_record(0, "36", ["3 * 4 = 12", "12 + 5 = 18", "18 * 2 = 36"]))
    assert row["completions"] == ["3 * 4 = 12", "12 + 5 = 18"] and row["labels"] == [True, False]


def test_a_reference_the_steps_do_not_reach_is_a_false_final_answer_step() -> None:
    row = stepwise_example(checked_record(0, "999", ["3 * 4 = 12", "12 + 5 = 17"]))
    assert row["completions"] == ["3 * 4 = 12", "12 + 5 = 17", "Answer: 999"] and row["labels"] == [True, True, False]


def test_a_round_without_per_step_evidence_gives_no_stepwise_row() -> None:
    assert stepwise_example(make_record(0)) is None  # evidence {}: an old journal
    ran = make_record(0, steps=["```python\nprint(3 * 4 + 5)\n```"])
    ran["judge"]["reference_check"]["evidence"] = {"method": "ran the solution's python in the sandbox (isolated)",
                                                   "printed": "17", "final_check": {"verdict": "match"}}
    assert stepwise_example(ran) is None, "code is checked as a whole, not step by step"
    assert stepwise_example(checked_record(0, "17", ["Count them all: there are seventeen."])) is None


def test_export_writes_rlvr_for_accepted_rounds_and_stepwise_with_the_refuted_ones(tmp_path: Path) -> None:
    from datasets import load_dataset

    accepted = [checked_record(i, "17", ["3 * 4 = 12", "12 + 5 = 17"]) for i in (0, 2)]
    refuted = [checked_record(1, "18", ["3 * 4 = 13", "13 + 5 = 18"], accepted=False, reason="incorrect_reference")]
    files = export_dataset(tmp_path, accepted, ["rlvr", "stepwise"], refuted=refuted)
    assert {name: entry["rows"] for name, entry in files.items()} == {"rlvr": 2, "stepwise": 3, "examples": 2}
    assert not (tmp_path / "dataset" / "sft.jsonl").exists()
    rlvr = load_dataset("json", data_files=str(tmp_path / "dataset" / "rlvr.jsonl"), split="train")
    assert rlvr.column_names == ["prompt", "answer", "answer_type"] and rlvr[0]["answer"] == "17"
    stepwise = load_dataset("json", data_files=str(tmp_path / "dataset" / "stepwise.jsonl"), split="train")
    assert stepwise.column_names == ["prompt", "completions", "labels"]
    assert stepwise.features["labels"].feature.dtype == "bool" and isinstance(stepwise[0]["prompt"], str)
    assert stepwise["labels"] == [[True, True, True], [False], [True, True, True]], "in round order"


def test_grpo_passes_the_rlvr_columns_to_the_reward_functions(tmp_path: Path, tiny_model_dir: Path) -> None:
    """One real GRPOTrainer step on the exported file: its rewards get `answer` and `answer_type` per completion."""
    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    export_dataset(tmp_path, [make_record(i, reference=str(17 + i)) for i in range(2)], ["rlvr"])
    data = load_dataset("json", data_files=str(tmp_path / "dataset" / "rlvr.jsonl"), split="train")
    calls: list[dict] = []

    def spy(completions, **kwargs):
        calls.append({"completions": completions, **kwargs})
        return answer_reward(completions, **kwargs)

    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=4, report_to=[], use_cpu=True, save_strategy="no", logging_steps=1,
                      shuffle_dataset=False)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[spy, format_reward], args=args, train_dataset=data)
    trainer.train()
    call = calls[0]
    assert call["answer"] == ["17", "17", "18", "18"] and call["answer_type"] == ["numeric"] * 4
    assert all(isinstance(c, list) and c[-1]["role"] == "assistant" for c in call["completions"])
    assert "reward" in trainer.state.log_history[0] and "rewards/format_reward/mean" in trainer.state.log_history[0]
