"""Fine-tuning: LoRA adapters trained with TRL on exported datasets, logged, plotted and reproducible."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.cli import main
from nanoflux.clients.hfmodels import load_model, resolve_base, split_model
from nanoflux.jobs.train import LoraSpec, finetune, read_rows
from tests.support.trainkit import emitted_run, tiny_model

FAST = dict(max_steps=2, batch_size=2, max_length=64, learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return emitted_run(tmp_path_factory.mktemp("run"))


def test_a_lora_spec_reads_rank_alpha_dropout_and_targets() -> None:
    assert LoraSpec.parse("r=8, alpha=16,dropout=0.1,targets=q_proj+v_proj") == LoraSpec(8, 16, 0.1, "q_proj+v_proj")
    assert LoraSpec.parse("r=4") == LoraSpec(r=4)


@pytest.mark.parametrize("text", ["r=x", "rank=4", "r16", "r=0", "dropout=1.5"])
def test_a_malformed_lora_spec_is_a_user_error(text: str) -> None:
    with pytest.raises(NanofluxError, match="LoRA spec"):
        LoraSpec.parse(text)


def test_missing_or_empty_data_is_a_user_error(tmp_path: Path, tiny: Path) -> None:
    with pytest.raises(NanofluxError, match="no sft dataset"):
        finetune(tmp_path / "nowhere", base=str(tiny), out=tmp_path / "out")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(NanofluxError, match="empty"):
        finetune(tmp_path / "empty.jsonl", base=str(tiny), out=tmp_path / "out")


def test_a_dataset_of_the_wrong_kind_is_a_user_error(tmp_path: Path, run_dir: Path, tiny: Path) -> None:
    with pytest.raises(NanofluxError, match="not a dpo dataset"):
        finetune(run_dir / "dataset" / "sft.jsonl", base=str(tiny), method="dpo", out=tmp_path)


def test_every_row_is_checked_and_a_bad_one_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    pair = {"prompt": "2 + 3?", "chosen": "5", "rejected": "6"}
    path.write_text(json.dumps(pair) + "\n" + json.dumps({"prompt": "2 + 3?", "chosen": "5"}) + "\n")
    with pytest.raises(NanofluxError, match=r":2: not a dpo dataset, the row lacks \['rejected'\]"):
        read_rows(path, "dpo")
    path.write_text(json.dumps(pair) + "\n{oops\n")
    with pytest.raises(NanofluxError, match=":2: not JSON"):
        read_rows(path, "dpo")


@pytest.mark.parametrize("base", ["local/no-such-model", "./no/such/dir", "not-a-hub-id", "no-org/no-such-model"])
def test_an_unknown_base_model_is_a_user_error(tmp_path: Path, run_dir: Path, base: str) -> None:
    with pytest.raises(NanofluxError, match="model"):
        finetune(run_dir, base=base, out=tmp_path, max_steps=1)


def test_a_model_string_names_its_adapter_after_a_plus(tmp_path: Path) -> None:
    (tmp_path / "ft" / "adapter").mkdir(parents=True)
    (tmp_path / "ft" / "adapter" / "adapter_config.json").write_text("{}")
    assert split_model(f"local/smollm2-135m+{tmp_path / 'ft'}") == ("local/smollm2-135m", tmp_path / "ft" / "adapter")
    assert split_model("local/smollm2-135m") == ("local/smollm2-135m", None)
    with pytest.raises(NanofluxError, match="no LoRA adapter"):
        split_model(f"local/smollm2-135m+{tmp_path / 'missing'}")


def test_finetune_writes_the_adapter_a_loss_log_a_plot_and_a_manifest(tmp_path: Path, run_dir: Path, tiny: Path,
                                                                       recwarn: pytest.WarningsRecorder) -> None:
    result = finetune(run_dir, base=str(tiny), out=tmp_path, seed=3, **FAST)
    assert not [w for w in recwarn if "gradient_checkpointing" in str(w.message)], "transformers' known deprecations"
    assert (result.adapter / "adapter_config.json").is_file() and (tmp_path / "loss.png").stat().st_size > 0
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2] and log[-1]["tokens"] == result.train_tokens > 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["data"]["rows"] == 4 and manifest["base"]["path"] == str(tiny) and manifest["seed"] == 3
    assert manifest["hyperparameters"]["lora"] == {"r": 16, "alpha": 32, "dropout": 0.05, "targets": "all-linear"}
    assert manifest["versions"]["trl"] and manifest["versions"]["peft"]


GRPO = dict(method="grpo", max_steps=2, batch_size=2, generations=2, max_length=4, learning_rate=1e-3)


def reward_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_grpo_trains_on_the_rlvr_prompts_and_logs_loss_and_reward_per_step(tmp_path: Path, run_dir: Path,
                                                                           tiny: Path) -> None:
    result = finetune(run_dir, base=str(tiny), out=tmp_path, **GRPO)
    log = reward_log(tmp_path)
    assert [row["step"] for row in log] == [1, 2] and result.steps == 2
    assert all(isinstance(row["loss"], float) and 0 <= row["reward"] <= 2 for row in log)
    assert set(log[0]["rewards"]) == {"answer_reward", "format_reward"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["data"]["path"].endswith("rlvr.jsonl") and manifest["hyperparameters"]["generations"] == 2
    assert manifest["result"]["final_reward"] == log[-1]["reward"] and (tmp_path / "loss.png").stat().st_size > 0


def test_grpo_needs_whole_groups_of_completions_in_a_batch(tmp_path: Path, run_dir: Path, tiny: Path) -> None:
    with pytest.raises(NanofluxError, match="multiple of it"):
        finetune(run_dir, base=str(tiny), out=tmp_path, method="grpo", batch_size=3, generations=2)
    (tmp_path / "run").mkdir()
    with pytest.raises(NanofluxError, match="no grpo dataset .* output.formats lists rlvr"):
        finetune(tmp_path / "run", base=str(tiny), out=tmp_path, method="grpo")


def test_the_same_seed_trains_the_same_adapter(tmp_path: Path, run_dir: Path, tiny: Path) -> None:
    first = finetune(run_dir, base=str(tiny), out=tmp_path / "a", **FAST)
    second = finetune(run_dir, base=str(tiny), out=tmp_path / "b", **FAST)
    assert first.losses == second.losses
    assert (first.adapter / "adapter_model.safetensors").read_bytes() == \
        (second.adapter / "adapter_model.safetensors").read_bytes()


def test_the_cli_trains_and_says_where_the_adapter_is(tmp_path: Path, run_dir: Path, tiny: Path) -> None:
    result = CliRunner().invoke(main, ["finetune", str(run_dir), "--base", str(tiny), "--max-steps", "1",
                                       "--max-length", "64", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Trained 1 steps on 4 examples" in result.output and str(tmp_path / "adapter") in result.output


def test_the_cli_exits_2_on_bad_input(tmp_path: Path, run_dir: Path) -> None:
    for args in (["finetune", str(tmp_path / "nowhere")], ["finetune", str(run_dir), "--lora", "r=oops"],
                 ["finetune", str(run_dir), "--base", "local/nope"],
                 ["finetune", str(run_dir), "--method", "grpo", "--batch-size", "3", "--generations", "2"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and "error:" in result.output, result.output


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded GGUF model dequantised once (into a temporary cache, never the user's)."""
    return Path(resolve_base("local/smollm2-135m", tmp_path_factory.mktemp("models")))


def logits(model_string: str, text: str = "What is 7 * 4 + 5?"):
    import torch

    model, tokenizer = load_model(model_string)
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_lora_on_the_embedded_model_lowers_the_loss_and_its_adapter_changes_the_output(
        tmp_path: Path, run_dir: Path, embedded: Path, method: str) -> None:
    result = finetune(run_dir, base=str(embedded), method=method, out=tmp_path, max_steps=3, batch_size=2,
                      max_length=64, learning_rate=1e-3)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0]
    assert not logits(str(embedded)).allclose(logits(f"{embedded}+{tmp_path}"), atol=1e-4)


@pytest.mark.slow
def test_grpo_on_the_embedded_model_logs_loss_and_reward_per_step(tmp_path: Path, run_dir: Path,
                                                                  embedded: Path) -> None:
    result = finetune(run_dir, base=str(embedded), out=tmp_path, **GRPO)
    log = reward_log(tmp_path)
    assert result.steps == 2 and [row["step"] for row in log] == [1, 2]
    assert all("loss" in row and "reward" in row for row in log)
    assert (result.adapter / "adapter_config.json").is_file()
