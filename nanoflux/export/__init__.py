"""Export: accepted rounds -> TRL-ready datasets (SFT messages, DPO pairs) and their manifest."""

from nanoflux.export.trl import dpo_example, sft_example, verified_solution
from nanoflux.export.dataset import export_dataset

__all__ = ["dpo_example", "export_dataset", "sft_example", "verified_solution"]
