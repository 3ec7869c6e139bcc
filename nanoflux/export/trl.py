"""TRL's dataset formats: conversational SFT (`messages`) and conversational preference pairs.

SFTTrainer takes `{"messages": [...]}` rows and DPOTrainer takes `{"prompt", "chosen", "rejected"}`
rows with message lists, both without conversion.
"""

import re
from typing import Any

from nanoflux.journal import RoundRecord

# "1. ", "2) ", "Step 3: " at the start of a step: the export numbers steps itself.
_STEP_NUMBER = re.compile(r"^\s*(?:step\s*)?\d+\s*[.):]\s+", re.IGNORECASE)


def verified_solution(record: RoundRecord) -> str:
    """The tool-verified worked solution: the skill it trains, numbered steps, the final answer."""
    steps = "\n".join(f"{i}. {_STEP_NUMBER.sub('', step)}" for i, step in enumerate(record["solution_steps"], 1))
    parts = [f"Approach: {record['annotation']}" if record.get("annotation") else "", steps,
             f"Answer: {record['reference_answer']}"]
    return "\n\n".join(part for part in parts if part)


def _user(record: RoundRecord) -> dict[str, str]:
    return {"role": "user", "content": record["question"]}


def sft_example(record: RoundRecord) -> dict[str, Any]:
    return {"messages": [_user(record), {"role": "assistant", "content": verified_solution(record)}]}


def dpo_example(record: RoundRecord) -> dict[str, Any] | None:
    """A preference pair when the judge found the defender wrong: chosen = verified, rejected = the defender's."""
    if record["judge"]["verdict"] != "incorrect" or not record.get("defender_answer"):
        return None
    rejected = f"{record['defender_reasoning']}\n\nAnswer: {record['defender_answer']}".strip()
    return {
        "prompt": [_user(record)],
        "chosen": [{"role": "assistant", "content": verified_solution(record)}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }
