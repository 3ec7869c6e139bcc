"""Re-curation: choose a new dataset from a run's journal without calling any LM.

A small dataset in the right band beats a large one, and the right band differs by domain, so
trying bands must be cheap: every round's question, scores and verdicts are already journaled, and
their embeddings cached, so a new band, complexity, size, novelty threshold, seed or set of benchmarks
to stay clean of is a re-selection.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import write_json
from nanoflux.base.paths import JOURNAL_NAME, RunDir
from nanoflux.base.scoring import Band, Complexity, level_for
from nanoflux.base.versions import CURATION, library_versions
from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.decisions import read_review
from nanoflux.engine.curation.decontaminate import Decontaminator
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.curation.select import select
from nanoflux.engine.export.card import verification, write_card
from nanoflux.engine.export.dataset import export_dataset
from nanoflux.engine.journal import RoundRecord, is_refuted
from nanoflux.jobs.report.page import build_report
from nanoflux.jobs.stats import breakdown, by_level, journal_records, level_order
from nanoflux.spec.model import BenchmarkFile, Spec


@dataclass
class CurateResult:
    """What `curate` made: the new dataset's directory and its manifest (the selection and its counts)."""

    out_dir: Path
    manifest: dict[str, Any]


def curate(run_dir: str | Path, *, band: str | None = None, hops: str | None = None, size: int | None = None,
           novelty: float | None = None, seed: int | None = None, out: str | Path | None = None,
           steps: str | None = None, length: str | None = None, executor: Literal["threads", "ray"] = "threads",
           address: str | None = None, decontaminate: Sequence[BenchmarkFile | str | Path] | None = None,
           decontaminate_threshold: float | None = None) -> CurateResult:
    """Select a new dataset from the rounds a run journaled; the run's own dataset is left as it is.

    Args:
        run_dir: a directory made by `nanoflux compile` (it holds rounds.jsonl and spec.json).
        band: quality band, "L4", "L3-L5" or "3.5-4.49" (default: the spec's `curation.band`).
        hops, steps, length: complexity bands, "2-4", "3" or "3+" (default: the spec's).
        size: the most examples to keep (default: the spec's `curation.size`).
        novelty: similarity at which a question repeats an earlier pick (default: the spec's).
        seed: seed of the coverage order (default: the spec's `seed`).
        out: where the dataset goes (default: RUN_DIR/curated/<band>_<complexity>_size-<n>_novelty-<x>_seed-<s>).
        executor: where embeddings missing from the run's cache are computed: here, or `ray` (Ray Data on
            the cluster at ``address``, the model loaded once per worker); selection runs here either way.
        decontaminate: benchmark files (paths, or entries naming the question column) to stay clean of
            (default: the spec's `curation.decontaminate`); every played question is checked, a contaminated
            one is not kept, and the manifest's `decontamination` says per benchmark how many were checked
            and matched.
        decontaminate_threshold: the cosine similarity to an item at which a question is contaminated
            (default: the spec's).

    Novelty is decided in round order, as the run decided it, against the earlier picks and the spec's
    `curation.against` runs, so the run's own settings give the run's own rows. A person's review
    (`nanoflux review`) applies: kept rounds join first and enter the novelty collection first, rejected
    ones leave (`nanoflux.engine.curation.select`), and the manifest's `review` says what it changed. When
    more rounds qualify than ``size``, picks go round-robin over the topics and, inside each topic, over
    the levels in the band, in an order drawn from ``seed``.

    Example::

        result = curate("runs/math-demo", band="L4", hops="3-4", size=100)
        print(result.out_dir, result.manifest["counts"])
    """
    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    records = journal_records(run_dir)
    spec = run_spec(run_dir)
    chosen_band = Band.parse(band or spec.curation.band)
    complexity = Complexity.parse(hops=hops or spec.curation.hops, steps=steps or spec.curation.steps,
                                  length=length or spec.curation.length)
    size = spec.curation.size if size is None else size
    if size < 1:
        raise NanofluxError(f"size must be at least 1, got {size}")
    threshold = spec.curation.novelty if novelty is None else novelty
    seed = spec.seed if seed is None else seed
    benchmarks = [entry if isinstance(entry, BenchmarkFile) else BenchmarkFile(path=str(entry))
                  for entry in (spec.curation.decontaminate if decontaminate is None else decontaminate)]
    contamination = (spec.curation.decontaminate_threshold if decontaminate_threshold is None
                     else decontaminate_threshold)
    name = _default_name(chosen_band, complexity, size, threshold, seed, benchmarks, contamination)
    out_dir = Path(out) if out else run.selection(name)
    _check_out_dir(out_dir, run_dir)

    # The run embedded its questions into its own cache: read it (never write it: curate writes only under
    # curated/, so it can run beside the run's writer); what it lacks is computed once into curated/'s cache.
    model = spec.curation.embedding_model
    embedder = Embedder(model, cache=run.curated_embedding_cache, read_from=run.embedding_cache,
                        encoder=_ray_encoder(model, address) if executor == "ray" else None)
    seen = NoveltyFilter(RunDir(out_dir).novelty, threshold=threshold, model=model,
                         against=[Path(other) for other in spec.curation.against], embedder=embedder)
    seen.clear()
    decontaminator = Decontaminator.load(benchmarks, embedder, contamination)
    curator = Curator(chosen_band, seen, complexity=complexity,
                      require_verified_reference=spec.curation.require_verified_reference,
                      decontaminator=decontaminator)

    # One batch over every played question, so any later selection finds them all cached.
    played = [record for record in records if record["status"] == "ok"]
    seen.embed_many([record["question"] for record in played])
    if decontaminator is not None:
        decontaminator.prepare([record["question"] for record in played])
    selection = select(records, curator, read_review(run.review), size=size,
                       order=lambda novel: coverage_order(novel, spec.topics, seed))
    selected = selection.rounds
    files = export_dataset(out_dir, selected, spec.output.formats, refuted=[r for r in records if is_refuted(r)],
                           annotation=spec.output.include_annotation, reasoning=spec.output.reasoning)
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "source": {"run_dir": str(run_dir.resolve()), "journal": JOURNAL_NAME, "spec_digest": spec.digest()},
        "selection": {"band": str(chosen_band), **complexity.to_dict(), "size": size, "novelty": threshold,
                      "seed": seed, "embedding_model": spec.curation.embedding_model,
                      "require_verified_reference": spec.curation.require_verified_reference,
                      "against": spec.curation.against},
        "counts": {"rounds": len(records), "eligible": selection.eligible, "selected": len(selected),
                   "reasons": dict(sorted(selection.reasons.items())),
                   "by_topic": {topic: row["accepted"] for topic, row in
                                breakdown(selected, lambda r: r["topic"]).items()},
                   "by_level": {level: row["accepted"] for level, row in
                                breakdown(selected, by_level, level_order).items()},
                   **({"review": selection.review} if run.review.exists() else {})},
        **({"review": selection.changes} if run.review.exists() else {}),
        "dataset": files,
        "verification": verification(spec, selected),
        "versions": library_versions(CURATION),
    }
    if decontaminator is not None:
        manifest["decontamination"] = decontaminator.summary(
            (record["round_id"], record["question"], decontaminator.check(record["question"])) for record in played)
    manifest["card"] = write_card(out_dir, spec, manifest)  # the manifest vouches for the card too
    write_json(RunDir(out_dir).manifest, manifest)
    build_report(out_dir)
    return CurateResult(out_dir, manifest)


def decontaminate(run_dir: str | Path, against: Sequence[str | Path], *, field: str | None = None,
                  threshold: float | None = None, out: str | Path | None = None,
                  executor: Literal["threads", "ray"] = "threads", address: str | None = None) -> CurateResult:
    """Check a run's questions against benchmark files and select its dataset again without the contaminated ones.

    The journal is append-only and a run's dataset is its journal's, so a finished run is decontaminated as
    a re-curation: the spec's selection (band, size, novelty, seed) with `against` added to its
    `curation.decontaminate`, into a new dataset whose manifest and report show the matches.

    Args:
        run_dir: a directory made by `nanoflux compile`.
        against: benchmark files (JSONL, JSON, CSV or Parquet) of the benchmarks you will report.
        field: their question column (default: the first of `question`, `problem`, `prompt` each has).
        threshold: the cosine similarity at which a question paraphrases an item (default: the spec's
            `curation.decontaminate_threshold`).
        out, executor, address: as `curate` (default out: RUN_DIR/curated/<selection>_decontam-<files>-<threshold>).

    Example::

        result = decontaminate("runs/math-demo", ["bench/math500.jsonl"], field="problem")
        print(result.manifest["decontamination"]["benchmarks"][0]["matched"])
    """
    if not against:
        raise NanofluxError("name at least one benchmark file to check against, e.g. --against bench/math500.jsonl")
    own = run_spec(Path(run_dir)).curation
    threshold = own.decontaminate_threshold if threshold is None else threshold
    if not 0.0 < threshold <= 1.0:
        raise NanofluxError(f"--threshold must be in (0, 1], got {threshold}; 0.9 is the default")
    added = [BenchmarkFile(path=str(path), field=field) for path in against]
    benchmarks = list({(entry.path, entry.field): entry for entry in [*own.decontaminate, *added]}.values())
    return curate(run_dir, out=out, executor=executor, address=address, decontaminate=benchmarks,
                  decontaminate_threshold=threshold)


def coverage_order(records: list[RoundRecord], topics: Iterable[str], seed: int) -> list[RoundRecord]:
    """The order picks are made in: round-robin over topics, and inside each over levels, shuffled by ``seed``.

    Taking the first ``size`` of this order covers every topic, and every level of each topic,
    before any gets a second example; the spec's topics come first, then any others the journal has.
    """
    rng = random.Random(seed)
    cells: dict[str, dict[int, list[RoundRecord]]] = {}
    for record in records:
        cells.setdefault(record["topic"], {}).setdefault(level_for(record["judge"]["overall"]), []).append(record)
    known = list(topics)
    topic_order = sorted(cells, key=lambda topic: (known.index(topic) if topic in known else len(known), topic))
    rng.shuffle(topic_order)
    per_topic = []
    for topic in topic_order:
        levels = sorted(cells[topic])
        rng.shuffle(levels)
        for level in levels:
            rng.shuffle(cells[topic][level])
        per_topic.append(list(_round_robin([cells[topic][level] for level in levels])))
    return list(_round_robin(per_topic))


def run_spec(run_dir: Path) -> Spec:
    """The effective spec a run was made with (its spec.json)."""
    path = RunDir(run_dir).spec
    if not path.is_file():
        raise NanofluxError(f"{run_dir} has no {path.name}; pass a directory made by `nanoflux compile`")
    try:
        return Spec.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise NanofluxError(f"{path} is not a valid spec ({exc}); "
                            "was the run made by another NanoFlux version?") from None


def _ray_encoder(model: str, address: str | None) -> Callable[[Sequence[str]], np.ndarray]:
    from nanoflux.engine.executors.ray import RayEncoder  # Ray is an optional extra

    return RayEncoder(model, address=address)


def _round_robin(groups: list[list[RoundRecord]]) -> Iterator[RoundRecord]:
    for index in range(max(map(len, groups), default=0)):
        yield from (group[index] for group in groups if index < len(group))


def _default_name(band: Band, complexity: Complexity, size: int, novelty: float, seed: int,
                  benchmarks: list[BenchmarkFile], contamination: float) -> str:
    spans = "_".join(f"{name}-{span}" for name, span in complexity.to_dict().items() if span is not None)
    parts = [str(band), spans or "hops-any", f"size-{size}", f"novelty-{novelty:g}", f"seed-{seed}"]
    if benchmarks:
        stems = "+".join(dict.fromkeys(Path(entry.path).stem for entry in benchmarks))
        parts.append(f"decontam-{stems}-{contamination:g}")
    return "_".join(parts)


def _check_out_dir(out_dir: Path, run_dir: Path) -> None:
    """Re-curation writes a dataset of its own (under the run's curated/ by default): never into a run's files."""
    target, run = out_dir.resolve(), RunDir(run_dir.resolve())
    run_files = target == run.root or any(target.is_relative_to(own) for own in (run.dataset, run.novelty))
    if run_files or RunDir(out_dir).journal.exists():
        raise NanofluxError(f"--out {out_dir} is a run's own directory; re-curation never overwrites a run's dataset "
                            f"or files. Pass another --out, or leave it out for {RunDir(run_dir).curated}/<selection>")
