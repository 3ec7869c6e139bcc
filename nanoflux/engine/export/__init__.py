"""Export: accepted rounds -> TRL-ready datasets (SFT messages, DPO pairs, RLVR prompts, stepwise supervision,
multi-turn revisions). It decides nothing: which rounds are accepted is curation's call."""

from nanoflux.engine.export.dataset import export_dataset
from nanoflux.engine.export.trl import (
    dpo_example,
    revision_example,
    rlvr_example,
    sft_example,
    stepwise_example,
    verified_solution,
)

__all__ = ["dpo_example", "export_dataset", "revision_example", "rlvr_example", "sft_example", "stepwise_example",
           "verified_solution"]
