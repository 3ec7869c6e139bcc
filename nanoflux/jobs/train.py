"""LoRA fine-tuning on an exported dataset with TRL (SFT, DPO or GRPO): adapter, loss log, plot, manifest.

GRPO samples completions of each `rlvr.jsonl` prompt and rewards them with `nanoflux.rewards`: the
judge's answer check against the verified reference, plus a reward for a final answer it can find.

    >>> from nanoflux.jobs.train import finetune
    >>> result = finetune("runs/math-demo", method="sft", max_steps=20, out="runs/math-demo-sft")
    >>> result.adapter, result.final_loss
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_jsonl, write_json
from nanoflux.base.names import EMBEDDED_MODEL
from nanoflux.base.paths import DATASET_FILES, FinetuneDir, RunDir, dataset_path
from nanoflux.base.rundir import verified
from nanoflux.base.versions import TRAINING, library_versions
from nanoflux.clients.hfmodels import device, dtype, resolve_base
from nanoflux.jobs.report.plots import plot_losses
from nanoflux.rewards import answer_reward, format_reward
from nanoflux.spec.model import OutputSpec

METHODS = ("sft", "dpo", "grpo")
FILES = {"sft": "sft", "dpo": "dpo", "grpo": "rlvr"}  # method -> the dataset file (`layout.DATASET_FILES`) it reads
REWARDS = (answer_reward, format_reward)  # what GRPO maximises, summed
COLUMNS = {"sft": {"messages"}, "dpo": {"prompt", "chosen", "rejected"}, "grpo": {"prompt", "answer"}}


@dataclass(frozen=True)
class LoraSpec:
    """LoRA settings parsed from `r=16,alpha=32[,dropout=0.05][,targets=q_proj+v_proj]`.

    `targets` defaults to every linear layer (QLoRA's choice: small models learn more that way).
    """

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: str = "all-linear"

    @classmethod
    def parse(cls, text: str) -> LoraSpec:
        fields: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            try:
                if not sep or key not in {"r", "alpha", "dropout", "targets"}:
                    raise ValueError(part)
                fields[key] = value.strip() if key == "targets" else (float if key == "dropout" else int)(value)
            except ValueError:
                raise NanofluxError(f"malformed LoRA spec {text!r} at {part!r}: write e.g. r=16,alpha=32 "
                                    f"(keys: r, alpha, dropout, targets)") from None
        spec = cls(**fields)
        if spec.r < 1 or spec.alpha < 1 or not 0 <= spec.dropout < 1:
            raise NanofluxError(f"LoRA spec {text!r} out of range: r and alpha >= 1, 0 <= dropout < 1")
        return spec

    def config(self) -> Any:
        from peft import LoraConfig

        targets = self.targets if self.targets == "all-linear" else self.targets.split("+")
        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=targets,
                          task_type="CAUSAL_LM")


@dataclass
class FinetuneResult:
    """Where a fine-tune wrote its outputs, and what it measured."""

    out: Path
    adapter: Path
    steps: int
    losses: list[float]
    train_tokens: int
    wall_s: float
    manifest: dict[str, Any] = field(repr=False)

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def dataset_file(data: str | Path, method: str) -> Path:
    """The `method`'s file in a run or curated directory (as its manifest vouches for it), or `data` itself."""
    if method not in METHODS:
        raise NanofluxError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
    kind, path = FILES[method], Path(data).expanduser()
    candidates = [path] if path.is_file() else [RunDir(path).dataset_file(kind), path / DATASET_FILES[kind]]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        when = "" if kind in OutputSpec().formats else f" when the spec's output.formats lists {kind}"
        raise NanofluxError(f"no {method} dataset at {path}: give a run directory, a curated directory or a "
                            f"{DATASET_FILES[kind]} file (nanoflux compile writes RUN_DIR/{dataset_path(kind)}{when})")
    return verified(found)


def read_rows(path: Path, method: str) -> list[dict[str, Any]]:
    """The dataset's rows, each checked to be in the exporter's format for `method`."""
    columns = ", ".join(sorted(COLUMNS[method]))
    fix = f"write one {method} example a line, as `nanoflux compile` exports them ({columns})"
    rows = []
    for number, row in read_jsonl(path, fix=fix):
        if missing := COLUMNS[method] - set(row):
            raise NanofluxError(f"{path}:{number}: not a {method} dataset, the row lacks {sorted(missing)}; SFT rows "
                                "hold messages, DPO rows prompt, chosen and rejected, GRPO rows (rlvr.jsonl) prompt "
                                "and answer: train with the file's method")
        rows.append(row)
    if not rows:
        raise NanofluxError(f"{path}: empty, no examples to train on; did the run accept any rounds?")
    return rows


def finetune(data: str | Path, *, base: str = EMBEDDED_MODEL, method: str = "sft",
             lora: str | LoraSpec = "r=16,alpha=32", epochs: float = 1, max_steps: int | None = None,
             out: str | Path = "runs/finetune", seed: int = 0, learning_rate: float = 2e-4, batch_size: int = 4,
             max_length: int = 512, beta: float = 0.1, generations: int = 4,
             cache_dir: Path | None = None) -> FinetuneResult:
    """Train a LoRA adapter on DATA with TRL and write it, its loss log and plot and a manifest to OUT.

    `max_steps` overrides `epochs`. DPO trains against the base model itself (the adapter switched
    off), so it needs no second copy. GRPO samples `generations` completions of each prompt, of at
    most `max_length` tokens; `batch_size` counts completions, so it is a multiple of `generations`.
    For SFT and DPO, the same data, base, settings and seed give the same adapter.
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    spec = lora if isinstance(lora, LoraSpec) else LoraSpec.parse(lora)
    if method == "grpo" and (generations < 2 or batch_size % generations):
        raise NanofluxError(f"GRPO compares at least 2 completions of each prompt, and a batch holds whole groups: "
                            f"give --generations >= 2 and a --batch-size that is a multiple of it (got "
                            f"{generations} and {batch_size})")
    path = dataset_file(data, method)
    rows = read_rows(path, method)
    model_path = resolve_base(base, cache_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype())
    except OSError as exc:
        raise NanofluxError(f"cannot load base model {base!r}: {str(exc).splitlines()[0]}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    settings = {"method": method, "lora": asdict(spec), "epochs": epochs, "max_steps": max_steps,
                "learning_rate": learning_rate, "batch_size": batch_size, "max_length": max_length,
                **({"beta": beta} if method == "dpo" else {}),
                **({"generations": generations, "rewards": [f.__name__ for f in REWARDS]} if method == "grpo" else {})}
    files = FinetuneDir(out)
    log = LossLog(files.log)
    with _known_warnings_hidden():
        trainer = _trainer(method, model, tokenizer, Dataset.from_list(rows), spec, settings, out, seed, log)
        started = time.perf_counter()
        trainer.train()
        wall_s = time.perf_counter() - started
    adapter = files.adapter
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    plot_losses({method: log.losses}, files.plot, rewards={method: log.rewards} if method == "grpo" else None)
    train_tokens = int(log.tokens)
    manifest = {
        "data": {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                 "rows": len(rows)},
        "base": {"model": base, "path": model_path},
        "hyperparameters": settings,
        "seed": seed,
        "device": device(),
        "result": {"steps": trainer.state.global_step, "final_loss": log.losses[-1] if log.losses else None,
                   **({"final_reward": log.rewards[-1] if log.rewards else None} if method == "grpo" else {}),
                   "train_tokens": train_tokens, "wall_s": round(wall_s, 2)},
        "files": {"adapter": files.adapter.name, "log": files.log.name, "plot": files.plot.name},
        "versions": library_versions(TRAINING),
    }
    write_json(files.manifest, manifest)
    return FinetuneResult(out, adapter, trainer.state.global_step, log.losses, train_tokens, wall_s, manifest)


# Deprecations transformers raises from inside TRL's own calls: nothing a user of `finetune` can change.
KNOWN_WARNINGS = (r"`gradient_checkpointing` is deprecated", r"`is_gradient_checkpointing` is deprecated")


@contextmanager
def _known_warnings_hidden() -> Iterator[None]:
    """Hide `KNOWN_WARNINGS` while training, and only those: any other warning still reaches the user."""
    with warnings.catch_warnings():
        for message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=FutureWarning)
        yield


def _trainer(method: str, model: Any, tokenizer: Any, dataset: Any, spec: LoraSpec, settings: dict[str, Any],
             out: Path, seed: int, log: LossLog) -> Any:
    import torch
    from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

    common = dict(output_dir=str(out), num_train_epochs=settings["epochs"],
                  max_steps=settings["max_steps"] or -1, per_device_train_batch_size=settings["batch_size"],
                  learning_rate=settings["learning_rate"], seed=seed,
                  data_seed=seed, logging_steps=1, save_strategy="no", report_to=[], use_cpu=device() == "cpu",
                  bf16=dtype() == torch.bfloat16, disable_tqdm=True)
    if method == "grpo":
        config = GRPOConfig(num_generations=settings["generations"], max_completion_length=settings["max_length"],
                            **common)
        return GRPOTrainer(model=model, reward_funcs=list(REWARDS), args=config, train_dataset=dataset,
                           processing_class=tokenizer, peft_config=spec.config(), callbacks=[log])
    common["max_length"] = settings["max_length"]
    if method == "sft":
        return SFTTrainer(model=model, args=SFTConfig(**common), train_dataset=dataset, processing_class=tokenizer,
                          peft_config=spec.config(), callbacks=[log])
    return DPOTrainer(model=model, args=DPOConfig(beta=settings["beta"], **common), train_dataset=dataset,
                      processing_class=tokenizer, peft_config=spec.config(), callbacks=[log])


class LossLog(TrainerCallback):
    """Appends each logged step (loss, tokens so far; GRPO's mean reward, overall and per reward function) to a
    JSONL file while training runs."""

    def __init__(self, path: Path):
        self.path = path
        self.losses: list[float] = []
        self.rewards: list[float] = []
        self.tokens = 0
        path.write_text("")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
        if not logs or "loss" not in logs:
            return
        self.losses.append(float(logs["loss"]))
        self.tokens = int(logs.get("num_tokens", self.tokens))
        row = {"step": state.global_step, "loss": float(logs["loss"]), "tokens": self.tokens,
               "learning_rate": logs.get("learning_rate"), "epoch": logs.get("epoch")}
        if "reward" in logs:  # GRPO: "rewards/<function>/mean" per reward function
            self.rewards.append(float(logs["reward"]))
            row["reward"] = float(logs["reward"])
            row["rewards"] = {key.split("/")[1]: value for key, value in logs.items()
                              if key.startswith("rewards/") and key.endswith("/mean")}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
