"""Export: accepted rounds -> TRL-ready datasets (SFT messages, DPO pairs) and their manifest."""

from nanoflux.export.dataset import export_dataset
from nanoflux.export.trl import dpo_example, sft_example, verified_solution

__all__ = ["dpo_example", "export_dataset", "sft_example", "verified_solution"]
