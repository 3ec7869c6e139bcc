"""Small training fixtures: a tiny random Llama with SmolLM2's tokenizer, and an emitted dataset."""

import json
from pathlib import Path

from nanoflux.engine.export import export_dataset
from tests.support.records import make_record


def tiny_model(out: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's real tokenizer and chat template (read from the shipped GGUF)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nanoflux.base.names import EMBEDDED_MODEL
    from nanoflux.clients.lm import resolve_gguf

    gguf = resolve_gguf(EMBEDDED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def emitted_run(out: Path, rows: int = 4) -> Path:
    """A run directory whose dataset/ holds what the exporter writes (every defender wrong: DPO pairs too), and
    the RLVR prompts GRPO trains on."""
    records = [make_record(i, question=f"What is {i + 3} * 4 + 5?", reference=str((i + 3) * 4 + 5),
                           steps=[f"{i + 3} * 4 = {(i + 3) * 4}", f"{(i + 3) * 4} + 5 = {(i + 3) * 4 + 5}"])
               for i in range(rows)]
    export_dataset(out, records, ["sft", "dpo", "rlvr"])
    return out


def write_heldout(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
