"""Exported files load with `datasets` and train with TRL as they are: no conversion step."""

import json
from pathlib import Path

import pytest

from nanoflux.export import dpo_example, export_dataset, sft_example, verified_solution
from tests.records import make_record
from tests.trainkit import tiny_model


def exported(tmp_path: Path) -> Path:
    records = [make_record(i, verdict="incorrect" if i % 2 else "correct") for i in range(4)]
    export_dataset(tmp_path, records, ["sft", "dpo"])
    return tmp_path / "dataset"


def test_sft_rows_carry_the_verified_steps_the_annotation_and_the_answer() -> None:
    row = sft_example(make_record(0))
    user, assistant = row["messages"]
    assert user == {"role": "user", "content": make_record(0)["question"]}
    assert assistant["role"] == "assistant"
    assert "1. 3 * 4 = 12\n2. 12 + 5 = 17" in assistant["content"]
    assert assistant["content"].startswith("Approach: Multiplication") and assistant["content"].endswith("Answer: 17")


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


def test_one_real_trl_sft_step_on_the_exported_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    data = load_dataset("json", data_files=str(exported(tmp_path) / "sft.jsonl"), split="train")
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                     max_length=128, use_cpu=True, save_strategy="no", logging_steps=1)
    trainer = SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=data)
    trainer.train()
    assert trainer.state.global_step == 1 and trainer.state.log_history[0]["loss"] > 0


def test_one_real_trl_dpo_step_on_the_exported_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    data = load_dataset("json", data_files=str(exported(tmp_path) / "dpo.jsonl"), split="train")
    args = DPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                     max_length=128, use_cpu=True, save_strategy="no", logging_steps=1)
    trainer = DPOTrainer(model=str(tiny_model_dir), args=args, train_dataset=data)
    trainer.train()
    assert trainer.state.global_step == 1


def test_exported_files_are_readable_by_others(tmp_path: Path) -> None:
    assert (exported(tmp_path) / "sft.jsonl").stat().st_mode & 0o777 == 0o644
