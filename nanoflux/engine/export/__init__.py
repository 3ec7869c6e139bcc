"""Export: accepted rounds -> TRL-ready datasets (SFT messages, DPO pairs, RLVR prompts, stepwise supervision).
It decides nothing: which rounds are accepted is curation's call."""

from nanoflux.engine.export.dataset import export_dataset
from nanoflux.engine.export.trl import dpo_example, rlvr_example, sft_example, stepwise_example, verified_solution

__all__ = ["dpo_example", "export_dataset", "rlvr_example", "sft_example", "stepwise_example", "verified_solution"]
