"""Ablation: which curation settings make the best training data, and at what compute?

Every cell of a grid over curation settings (quality band, hops, size, novelty) re-curates the
same run, fine-tunes the same base model the same way and is scored on the same held-out set,
beside a baseline fine-tuned on a full training set the user gives and the untuned base model.

    >>> from nanoflux.jobs.ablate import ablate
    >>> result = ablate("runs/math", heldout="heldout.jsonl", baseline="data/gsm8k_sft.jsonl",
    ...                 bands=["L3", "L4", "L5"], sizes=[50, 100], out="runs/ablate")
    >>> result.table[0]
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_jsonl, write_atomic, write_json
from nanoflux.base.names import EMBEDDED_MODEL
from nanoflux.base.paths import JOURNAL_NAME, AblateDir, RunDir
from nanoflux.jobs.curate import curate
from nanoflux.jobs.eval import evaluate, read_heldout
from nanoflux.jobs.report.plots import plot_accuracy, plot_losses
from nanoflux.jobs.train import dataset_file, finetune

COLUMNS = ("name", "band", "hops", "size", "novelty", "examples", "train_tokens", "steps", "final_loss", "wall_s",
           "compute_vs_baseline", "accuracy", "heldout_loss")


@dataclass
class AblateResult:
    """The table (one dict a row: base, baseline, then each cell) and the directory holding its files."""

    out: Path
    table: list[dict[str, Any]]


def grid(bands: Sequence[str | None] = (None,), hops: Sequence[str | None] = (None,),
         sizes: Sequence[int | None] = (None,), novelty: Sequence[float | None] = (None,)) -> list[dict[str, Any]]:
    """Every combination of the given settings; None keeps the run's spec value for that setting."""
    cells = [dict(zip(("band", "hops", "size", "novelty"), values, strict=True))
             for values in itertools.product(bands or (None,), hops or (None,), sizes or (None,), novelty or (None,))]
    return [{"name": "_".join(f"{k}-{v}" for k, v in cell.items() if v is not None) or "spec-defaults", **cell}
            for cell in cells]


def ablate(run_dir: str | Path, *, heldout: str | Path, baseline: str | Path,
           bands: Sequence[str | None] = (None,), hops: Sequence[str | None] = (None,),
           sizes: Sequence[int | None] = (None,), novelty: Sequence[float | None] = (None,),
           base: str = EMBEDDED_MODEL, method: str = "sft", lora: str = "r=16,alpha=32", epochs: float = 1,
           max_steps: int | None = None, seed: int = 0, out: str | Path = "runs/ablate", answer_type: str = "auto",
           max_new_tokens: int = 256, **train_options: Any) -> AblateResult:
    """Curate, fine-tune and evaluate every grid cell and the baseline; write the table and plots to OUT.

    `train_options` (learning_rate, batch_size, max_length, cache_dir) go to `finetune` unchanged, so
    every model trains alike. Writes ablation.csv, ablation.json, accuracy.png and loss_curves.png.
    A cell whose selection is empty stays in the table with no model, rather than stopping the grid.
    """
    out = Path(out)
    files = AblateDir(out)
    run_dir = Path(run_dir)
    if not RunDir(run_dir).journal.is_file():
        raise NanofluxError(f"{run_dir} is not a run directory (no {JOURNAL_NAME}); "
                            "give the run `nanoflux compile` made")
    read_heldout(heldout)  # missing inputs fail now, not after the grid has trained
    dataset_file(baseline, method)
    train = dict(base=base, method=method, lora=lora, epochs=epochs, max_steps=max_steps, seed=seed, **train_options)
    rows, models = [], {}
    baseline_run = finetune(baseline, out=files.model("baseline").root, **train)
    rows.append(_trained_row({"name": "baseline"}, baseline_run))
    models["baseline"] = f"{base}+{baseline_run.adapter}"
    for cell in grid(bands, hops, sizes, novelty):
        settings = {k: cell[k] for k in ("band", "hops", "size", "novelty")}
        selection = curate(run_dir, **settings, seed=seed, out=files.selection(cell["name"]))
        examples = selection.manifest["dataset"].get(method, {}).get("rows", 0)
        if not examples:
            rows.append({**cell, "examples": 0})
            continue
        run = finetune(selection.out_dir, out=files.model(cell["name"]).root, **train)
        rows.append(_trained_row(cell, run))
        models[cell["name"]] = f"{base}+{run.adapter}"
    names = ["base", *models]
    scores = evaluate([base, *models.values()], heldout, out=files.eval.root, answer_type=answer_type,
                      max_new_tokens=max_new_tokens, cache_dir=train_options.get("cache_dir"))
    by_name = dict(zip(names, scores.models, strict=True))
    table = [{"name": "base", "examples": 0, "train_tokens": 0}, *rows]
    for row in table:
        score = by_name.get(row["name"])
        row.update(accuracy=score.accuracy if score else None, heldout_loss=score.heldout_loss if score else None)
        if row.get("train_tokens") is not None and rows[0]["train_tokens"]:
            row["compute_vs_baseline"] = round(row["train_tokens"] / rows[0]["train_tokens"], 4)
    table = [{column: row.get(column) for column in COLUMNS} for row in table]
    _write(files, table, settings={"run_dir": str(run_dir.resolve()), "heldout": str(Path(heldout).resolve()),
                                   "baseline": str(Path(baseline).resolve()), **train, "answer_type": answer_type,
                                   "max_new_tokens": max_new_tokens})
    return AblateResult(out, table)


def _trained_row(cell: dict[str, Any], run: Any) -> dict[str, Any]:
    return {**cell, "examples": run.manifest["data"]["rows"], "train_tokens": run.train_tokens, "steps": run.steps,
            "final_loss": round(run.final_loss, 4), "wall_s": round(run.wall_s, 2)}


def _write(files: AblateDir, table: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    write_atomic(files.table_csv, buffer.getvalue())
    write_json(files.table_json, {"settings": settings, "table": table,
                                  "notes": {"compute_vs_baseline": "training tokens / the baseline's; "
                                            "0.25 is a quarter of the baseline's compute"}})
    reference = {row["name"]: row["accuracy"] for row in table if row["name"] in ("baseline", "base")}
    cells = [row for row in table if row["name"] not in reference and row["accuracy"] is not None]
    plot_accuracy([row["name"] for row in cells], [row["accuracy"] for row in cells], files.accuracy_plot, reference)
    curves, tokens = {}, {}
    for row in table:
        log = files.model(row["name"]).log
        if row["steps"] and log.is_file():
            steps = [step for _, step in read_jsonl(log, fix="`nanoflux finetune` wrote this file: train again")]
            curves[row["name"]], tokens[row["name"]] = [s["loss"] for s in steps], [s["tokens"] for s in steps]
    plot_losses(curves, files.loss_plot, tokens)
