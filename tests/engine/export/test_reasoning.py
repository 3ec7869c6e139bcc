"""Reasoning traces and revisions in the exports: a trace rides in `reasoning_content` where the spec asks and the
tools verified the answer, a corrected round becomes a multi-turn conversation and a preference pair, and a real
thinking model's chat template renders what was written."""

import json
import re
from pathlib import Path

import pytest

from nanoflux.engine.export import dpo_example, export_dataset, revision_example, sft_example, verified_solution
from nanoflux.engine.journal import RoundRecord, outcome
from tests.support.records import make_record, revised, with_revisions, with_traces
from tests.support.trainkit import tiny_model

RIGHT = "3 * 4 + 5 = 17"


def right_at_once(round_id: int, **kwargs) -> RoundRecord:
    """A round whose defender answered 17, which the tools checked against the confirmed reference."""
    record = make_record(round_id, verdict="correct", **kwargs)
    record.update(defender_reasoning=RIGHT, defender_answer="17")
    record["judge"]["answer_check"] = {"verdict": "match", "reason": "17 == 17", "evidence": {}}
    return record


def corrected(round_id: int, *, source: str = "tools", **kwargs) -> RoundRecord:
    """A round the defender got wrong (12), then wrong again (16), then right (17) after two critiques."""
    record = make_record(round_id, **kwargs)
    return with_revisions(record, revised(record, "16", right=False, trace="T1", feedback="Step 1 adds; multiply."),
                          revised(record, "17", right=True, source=source, trace="T2", feedback="Still off by one."))


def assistant(row: dict) -> dict:
    return row["messages"][-1]


# --- SFT rows with a trace -------------------------------------------------------------------------------------

def test_defender_rows_are_its_own_verified_answer_with_its_trace_and_the_rest_stay_plain() -> None:
    verified = with_traces(right_at_once(0), defender="Let me think: 12 + 5.", attacker="A")
    assert assistant(sft_example(verified, reasoning="defender")) == {
        "role": "assistant", "content": f"{RIGHT}\n\nAnswer: 17", "reasoning_content": "Let me think: 12 + 5."}

    judge_said = with_traces(right_at_once(1), defender="D")
    judge_said["judge"]["verdict_source"] = "judge"  # the tools could not decide: the judge's word alone
    unconfirmed = with_traces(right_at_once(2, reference_check="undecidable"), defender="D")
    wrong = with_traces(make_record(3), defender="D")
    no_trace = right_at_once(4)
    for record in (judge_said, unconfirmed, wrong, no_trace):
        row = sft_example(record, reasoning="defender")
        assert row == sft_example(record) and assistant(row)["content"] == verified_solution(record)
        assert "reasoning_content" not in assistant(row)


def test_attacker_rows_keep_the_verified_solution_and_add_its_trace_where_the_reference_is_confirmed() -> None:
    confirmed = with_traces(make_record(0), attacker="First, boxes times apples.", defender="D")
    assert assistant(sft_example(confirmed, reasoning="attacker")) == {
        "role": "assistant", "content": verified_solution(confirmed), "reasoning_content": "First, boxes times apples."}
    unconfirmed = with_traces(make_record(1, reference_check="undecidable"), attacker="A")
    assert "reasoning_content" not in assistant(sft_example(unconfirmed, reasoning="attacker"))
    assert "reasoning_content" not in assistant(sft_example(make_record(2), reasoning="attacker")), "no trace"
    assert "reasoning_content" not in assistant(sft_example(confirmed)), "reasoning: none"


# --- revisions ---------------------------------------------------------------------------------------------------

def test_a_corrected_round_is_one_conversation_from_the_wrong_answer_through_each_feedback_to_the_right_one() -> None:
    record = with_traces(corrected(0), defender="T0")
    assert outcome(record) == ("corrected", 2)
    messages = revision_example(record)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == record["question"]
    assert messages[1]["content"] == "3 + 4 + 5 = 12\n\nAnswer: 12"
    assert [messages[2]["content"], messages[4]["content"]] == ["Step 1 adds; multiply.", "Still off by one."]
    assert [messages[3]["content"], messages[5]["content"]] == ["Reworked: 16\n\nAnswer: 16",
                                                                "Reworked: 17\n\nAnswer: 17"]
    assert all("reasoning_content" not in m for m in messages)
    traced = revision_example(record, reasoning="defender")["messages"]
    assert [m.get("reasoning_content") for m in traced] == [None, "T0", None, "T1", None, "T2"]


@pytest.mark.parametrize("case", ["right at once", "never corrected", "judge's word", "unconfirmed", "no revise"])
def test_only_a_correction_the_tools_verified_against_a_confirmed_reference_makes_a_revision_row(case: str) -> None:
    record = {"right at once": lambda: right_at_once(0),
              "never corrected": lambda: with_revisions(make_record(0), revised(make_record(0), "16", right=False)),
              "judge's word": lambda: corrected(0, source="judge"),
              "unconfirmed": lambda: corrected(0, reference_check="undecidable"),
              "no revise": lambda: make_record(0)}[case]()
    assert revision_example(record) is None


def test_dpo_prefers_the_defenders_own_verified_correction_to_its_first_answer() -> None:
    pair = dpo_example(corrected(0))
    assert pair["chosen"] == [{"role": "assistant", "content": "Reworked: 17\n\nAnswer: 17"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "3 + 4 + 5 = 12\n\nAnswer: 12"}]
    for record in (corrected(1, source="judge"), with_revisions(make_record(2), revised(make_record(2), "16",
                                                                                         right=False))):
        assert dpo_example(record)["chosen"][0]["content"] == verified_solution(record), "as before revisions"


def test_export_writes_revision_rows_counts_the_traced_rows_and_records_each_outcome(tmp_path: Path) -> None:
    from datasets import load_dataset

    records = [with_traces(right_at_once(0), defender="D0"), with_traces(corrected(1), defender="D1"),
               with_revisions(make_record(2), revised(make_record(2), "16", right=False)), right_at_once(3)]
    files = export_dataset(tmp_path, records, ["sft", "dpo", "revision"], reasoning="defender")
    assert {name: (entry["rows"], entry.get("traces")) for name, entry in files.items()} == {
        "sft": (4, 1), "dpo": (2, None), "revision": (1, 1), "examples": (4, None)}
    examples = [json.loads(line) for line in (tmp_path / "dataset" / "examples.jsonl").read_text().splitlines()]
    assert [(e["outcome"], e["revisions"]) for e in examples] == [("right", 0), ("corrected", 2),
                                                                  ("uncorrected", 1), ("right", 0)]
    revision = load_dataset("json", data_files=str(tmp_path / "dataset" / "revision.jsonl"), split="train")
    assert revision.column_names == ["messages"] and len(revision[0]["messages"]) == 6
    plain = export_dataset(tmp_path / "plain", records, ["sft"])
    assert "traces" not in plain["sft"]
    assert "reasoning_content" not in (tmp_path / "plain" / "dataset" / "sft.jsonl").read_text()


# --- a thinking model's chat template reads what was written ----------------------------------------------------

def qwen3_template(training: bool = False) -> str:
    """Qwen3's chat template as TRL ships it (the training variant renders every assistant turn's thinking)."""
    import trl

    name = "qwen3_training.jinja" if training else "qwen3.jinja"
    return (Path(trl.__file__).parent / "chat_templates" / name).read_text()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def test_qwen3s_template_renders_the_trace_as_its_think_block_and_trls_parser_reads_it_back(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.chat_template_utils import qwen3_schema

    records = [with_traces(right_at_once(0), defender="Twelve plus five.\nSo 17."), right_at_once(1)]
    export_dataset(tmp_path, records, ["sft"], reasoning="defender")
    rows = load_dataset("json", data_files=str(tmp_path / "dataset" / "sft.jsonl"), split="train")
    assert rows[0]["messages"][1]["reasoning_content"] and "reasoning_content" not in rows[1]["messages"][1]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    text = tokenizer.apply_chat_template(rows[0]["messages"], chat_template=qwen3_template(), tokenize=False)
    reply = text.split("<|im_start|>assistant\n", 1)[1]
    assert reply == f"<think>\nTwelve plus five.\nSo 17.\n</think>\n\n{RIGHT}\n\nAnswer: 17<|im_end|>\n"
    parsed = re.match(qwen3_schema["x-regex"], reply, re.DOTALL).groupdict()
    assert parsed["reasoning_content"] == "Twelve plus five.\nSo 17." and parsed["content"] == f"{RIGHT}\n\nAnswer: 17"
    plain = tokenizer.apply_chat_template(rows[1]["messages"], chat_template=qwen3_template(), tokenize=False)
    assert "Twelve" not in plain and plain.endswith(f"{verified_solution(records[1])}<|im_end|>\n")


def test_one_real_sft_step_on_traced_revision_rows_with_a_thinking_template(tiny_model_dir: Path,
                                                                             tmp_path: Path) -> None:
    """SFTTrainer tokenizes every row through Qwen3's training template: the traces are in what it trains on."""
    import trl
    from datasets import load_dataset
    from transformers import AutoTokenizer

    export_dataset(tmp_path, [with_traces(corrected(i), defender=f"first try {i}") for i in range(2)], ["revision"],
                   reasoning="defender")
    data = load_dataset("json", data_files=str(tmp_path / "dataset" / "revision.jsonl"), split="train")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    tokenizer.chat_template = qwen3_template(training=True)
    args = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                         max_length=512, use_cpu=True, save_strategy="no", logging_steps=1, assistant_only_loss=True)
    trainer = trl.SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=data, processing_class=tokenizer)
    seen = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    assert "<think>\nfirst try 0\n</think>" in seen and "<think>\nT1\n</think>" in seen and "Still off by one." in seen
    trainer.train()
    assert trainer.state.global_step == 1 and trainer.state.log_history[0]["loss"] > 0
