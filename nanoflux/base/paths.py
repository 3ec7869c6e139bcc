"""Where things live, named once: the files and folders of a run directory and of the other jobs' outputs, the caches.

A run directory is the unit of work (see `nanoflux.base.rundir`); `nanoflux compile` makes one, and
`nanoflux optimize` and each `nanoflux curate` selection write folders of the same shape. Every module
asks these classes for a path instead of joining names of its own, so a file is renamed in one place.

    >>> run = RunDir(Path("runs/math-demo"))
    >>> run.journal, run.dataset_file("sft")
    (PosixPath('runs/math-demo/rounds.jsonl'), PosixPath('runs/math-demo/dataset/sft.jsonl'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# A run directory (compile), an optimize output, a curate selection.
JOURNAL_NAME = "rounds.jsonl"  # the single source of truth: one line per attempt at a round
SPEC_NAME = "spec.json"  # the effective spec, overrides applied
RUN_NAME = "run.json"  # the run's identity: its id keys every LM call of its rounds in DSPy's cache
PROGRAM_NAME = "program.json"  # the compiled (or tuned) program's prompts and demos, in DSPy's format
MANIFEST_NAME = "manifest.json"  # written last: vouches for each dataset file of its generation
LOCK_NAME = ".lock"  # the writer's advisory lock, holding its PID
REPORT_NAME = "report.html"
REVIEW_NAME = "review.jsonl"  # a person's decisions on examples, appended by `nanoflux review`
STATS_NAME = "stats.json"  # `nanoflux stats --json`'s default
OPTIMIZE_NAME = "optimize.json"  # `nanoflux optimize`'s report
DATASET_DIR = "dataset"
DATASET_FILES = {"sft": "sft.jsonl", "dpo": "dpo.jsonl", "rlvr": "rlvr.jsonl", "stepwise": "stepwise.jsonl",
                 "revision": "revision.jsonl", "examples": "examples.jsonl"}  # examples: provenance
CARD_NAME = "README.md"  # the dataset card, in the Hugging Face format: what `datasets` and the Hub read
NOVELTY_DIR = "novelty"  # the chromadb collection of accepted questions, and the embedding cache
COLLECTION_STORE = "chroma.sqlite3"  # chromadb's own file in a persistent collection's folder
EMBEDDING_CACHE = "embeddings.sqlite"
CURATED_DIR = "curated"  # `nanoflux curate`'s selections and their shared embedding cache
ABLATE_DIR = "ablate"  # `nanoflux ablate`'s default output

# A `nanoflux finetune` output.
ADAPTER_DIR = "adapter"
TRAIN_LOG_NAME = "train_log.jsonl"
LOSS_PLOT_NAME = "loss.png"

# A `nanoflux eval` output.
ANSWERS_NAME = "answers.jsonl"
EVAL_NAME = "eval.json"


def dspy_cache_dir() -> Path:
    """DSPy's LM cache when the caller names none: shared by every run, so a rerun is served from it."""
    return _user_cache() / "dspy"


def model_cache_dir() -> Path:
    """Where the embedded GGUF model is dequantised once for training (`$NANOFLUX_MODEL_CACHE` moves it)."""
    return Path(os.environ.get("NANOFLUX_MODEL_CACHE", _user_cache() / "models"))


def _user_cache() -> Path:
    return Path.home() / ".cache" / "nanoflux"


def dataset_path(kind: str) -> str:
    """A dataset file's path relative to its run directory, as a manifest names it: `dataset/sft.jsonl`."""
    return f"{DATASET_DIR}/{DATASET_FILES[kind]}"


@dataclass(frozen=True)
class RunDir:
    """The files and folders of a run directory (or an optimize output, or a curate selection) at `root`."""

    root: Path

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL_NAME

    @property
    def spec(self) -> Path:
        return self.root / SPEC_NAME

    @property
    def identity(self) -> Path:
        """`run.json`: the run's id, made when the run starts and kept by every resume."""
        return self.root / RUN_NAME

    @property
    def program(self) -> Path:
        return self.root / PROGRAM_NAME

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def lock(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def report(self) -> Path:
        return self.root / REPORT_NAME

    @property
    def review(self) -> Path:
        return self.root / REVIEW_NAME

    @property
    def stats(self) -> Path:
        return self.root / STATS_NAME

    @property
    def optimize_report(self) -> Path:
        return self.root / OPTIMIZE_NAME

    @property
    def dataset(self) -> Path:
        return self.root / DATASET_DIR

    def dataset_file(self, kind: str) -> Path:
        """The dataset file of `kind`: "sft", "dpo", "rlvr", "stepwise", "revision" or "examples"."""
        return self.root / dataset_path(kind)

    @property
    def sft(self) -> Path:
        return self.dataset_file("sft")

    @property
    def dpo(self) -> Path:
        return self.dataset_file("dpo")

    @property
    def rlvr(self) -> Path:
        return self.dataset_file("rlvr")

    @property
    def stepwise(self) -> Path:
        return self.dataset_file("stepwise")

    @property
    def examples(self) -> Path:
        return self.dataset_file("examples")

    @property
    def card(self) -> Path:
        """The dataset card, `dataset/README.md`, beside the files it describes."""
        return self.dataset / CARD_NAME

    @property
    def novelty(self) -> Path:
        return self.root / NOVELTY_DIR

    @property
    def novelty_store(self) -> Path:
        """The collection's chromadb file: present once the run has accepted (or curated) a question."""
        return self.novelty / COLLECTION_STORE

    @property
    def embedding_cache(self) -> Path:
        return self.novelty / EMBEDDING_CACHE

    @property
    def curated(self) -> Path:
        return self.root / CURATED_DIR

    def selection(self, name: str) -> Path:
        """Where `nanoflux curate` writes a selection by default."""
        return self.curated / name

    @property
    def curated_embedding_cache(self) -> Path:
        """The embeddings curate computed that the run's own cache lacked (curate never writes the run's)."""
        return self.curated / EMBEDDING_CACHE

    @property
    def ablate(self) -> Path:
        return self.root / ABLATE_DIR


@dataclass(frozen=True)
class FinetuneDir:
    """The files of a `nanoflux finetune` output at `root`."""

    root: Path

    @property
    def adapter(self) -> Path:
        return self.root / ADAPTER_DIR

    @property
    def log(self) -> Path:
        """The loss per logged step (and GRPO's mean reward), one JSON object a line."""
        return self.root / TRAIN_LOG_NAME

    @property
    def plot(self) -> Path:
        return self.root / LOSS_PLOT_NAME

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME


@dataclass(frozen=True)
class EvalDir:
    """The files of a `nanoflux eval` output at `root`."""

    root: Path

    @property
    def answers(self) -> Path:
        return self.root / ANSWERS_NAME

    @property
    def scores(self) -> Path:
        return self.root / EVAL_NAME


@dataclass(frozen=True)
class AblateDir:
    """The files and folders of a `nanoflux ablate` output at `root`: one fine-tune per model, one eval."""

    root: Path

    def model(self, name: str) -> FinetuneDir:
        """The fine-tune of the baseline, or of the grid cell `name`."""
        return FinetuneDir(self.root / "baseline" if name == "baseline" else self.root / "cells" / name)

    def selection(self, name: str) -> Path:
        """The curated dataset of the grid cell `name`."""
        return self.root / "cells" / name / "data"

    @property
    def eval(self) -> EvalDir:
        return EvalDir(self.root / "eval")

    @property
    def table_csv(self) -> Path:
        return self.root / "ablation.csv"

    @property
    def table_json(self) -> Path:
        return self.root / "ablation.json"

    @property
    def accuracy_plot(self) -> Path:
        return self.root / "accuracy.png"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss_curves.png"
