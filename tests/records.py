"""Hand-made journal records, shaped exactly like the runner's."""

from typing import Any

from nanoflux.curation.quality import level_name


def make_record(round_id: int, *, question: str | None = None, reference: str = "17", verdict: str = "incorrect",
                overall: float = 4.0, accepted: bool = True, reason: str = "accepted", status: str = "ok",
                topic: str = "arithmetic", hops: int = 2, steps: list[str] | None = None,
                reference_check: str = "match", similarity: float | None = 0.2) -> dict[str, Any]:
    if status != "ok":
        return {"round_id": round_id, "topic": topic, "hops": hops, "answer_type": "numeric", "status": status,
                "error": "AdapterParseError: no JSON", "error_kind": "parse", "program_hash": "p0",
                "curation": {"accepted": False, "reason": "failed"}}
    return {
        "round_id": round_id, "topic": topic, "hops": hops, "answer_type": "numeric", "status": "ok",
        "program_hash": "p0",
        "question": question or f"A crate holds {round_id + 3} boxes of 4 apples and 5 loose apples. How many apples?",
        "reference_answer": reference,
        "solution_steps": ["3 * 4 = 12", "12 + 5 = 17"] if steps is None else steps,
        "annotation": "Multiplication before addition; the trap is adding first.",
        "defender_reasoning": "3 + 4 + 5 = 12", "defender_answer": "12",
        "judge": {"scores": {"correctness": 2, "clarity": 4}, "overall": overall, "level": level_name(overall), "verdict": verdict,
                  "verdict_source": "tools", "critique": "Added instead of multiplying.",
                  "reference_check": {"verdict": reference_check, "reason": "recomputed", "evidence": {}},
                  "answer_check": {"verdict": "mismatch", "reason": "12 != 17", "evidence": {}}},
        "models": {"attacker": "local/smollm2-135m", "defender": "local/smollm2-135m", "judge": "local/smollm2-135m"},
        "roles": {role: {"model": "local/smollm2-135m", "seconds": 0.1, "input_tokens": 10, "output_tokens": 5}
                  for role in ("attacker", "defender", "judge")},
        "curation": {"accepted": accepted, "reason": reason, "similarity": similarity, "nearest_id": None},
    }
