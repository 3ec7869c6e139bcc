"""The main job, spec -> run directory: compile the program, play rounds, curate, export, manifest.

A run directory is the unit of work: the effective spec, the program's prompts, the journal, the
novelty collection, the dataset and the manifest all live in it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import write_json
from nanoflux.base.names import ROLES
from nanoflux.base.paths import PROGRAM_NAME, SPEC_NAME, RunDir
from nanoflux.base.rundir import exclusive, run_id
from nanoflux.base.versions import library_versions
from nanoflux.clients.lm import check_reachable, using_cache
from nanoflux.engine.budget import require_prices
from nanoflux.engine.compiler import build_role_lms, compile_program, program_digest
from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.decisions import read_review
from nanoflux.engine.curation.decontaminate import Decontaminator, journaled
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.curation.select import Selection, journal_selection, restores, select
from nanoflux.engine.executors import Executor, ThreadExecutor, executor_for
from nanoflux.engine.export.card import verification, write_card
from nanoflux.engine.export.dataset import export_dataset
from nanoflux.engine.journal import Journal, RoundRecord, is_refuted, last_attempts, read_journal
from nanoflux.engine.runner import RoundPlayer, RunProgress, rounds_to_play, run_rounds
from nanoflux.jobs.report.page import build_report
from nanoflux.jobs.stats import record_counts, role_usage
from nanoflux.modules import RoleLMs
from nanoflux.spec.model import Spec, apply_overrides, load_spec
from nanoflux.verify.worker import POOL as SYMPY_WORKERS


@dataclass
class RunResult:
    """What `compile_spec` made: the run directory, its manifest, and the run's counts."""

    run_dir: Path
    manifest: dict[str, Any]
    progress: RunProgress


def compile_spec(spec: Spec | str | Path, *, out: str | Path | None = None, rounds: int | None = None,
                 models: Mapping[str, str] | None = None, threads: int | None = None, resume: bool = False,
                 program_path: str | Path | None = None, cache_dir: str | Path | None = None,
                 lms: RoleLMs | Callable[[Spec], RoleLMs] | None = None, executor: Executor | None = None,
                 execution: Mapping[str, Any] | None = None, budget: Mapping[str, Any] | None = None,
                 retry_failed: bool = False, progress: bool = True) -> RunResult:
    """Compile a spec into its adversarial program and run it into a dataset.

    Args:
        spec: a Spec or the path of a spec file.
        out: the run directory (default `runs/<spec name>`).
        rounds, threads: override the spec's values.
        models: role -> model string overrides, e.g. {"judge": "openai/gpt-4o-mini"}.
        resume: continue the run in `out`; finished rounds are neither repeated nor lost, and rounds
            whose LM call failed are played again.
        program_path: a tuned `program.json` whose prompts replace the compiled defaults.
        cache_dir: DSPy's LM cache directory for this run (Ray workers use it too), swapped in for the
            call and DSPy's cache restored after; rerun or resume with the same one to replay answered
            calls for free (the CLI's default: `~/.cache/nanoflux/dspy`). None: DSPy's cache as it is.
        lms: role LMs to use instead of building them from the spec (tests, custom backends), or a
            picklable factory `spec -> RoleLMs`, which executors in other processes (Ray) call once each.
        executor: where rounds run (default: the spec's `execution`, after `execution` overrides).
        execution: overrides of the spec's `execution` section, e.g. {"executor": "ray", "address": "auto"}.
        budget: overrides of the spec's `budget` section, e.g. {"max_cost": 5.0} or {"max_tokens": 2_000_000}.
        retry_failed: with `resume`, also play again the rounds that failed for other reasons (output
            that did not parse), which are otherwise kept as they are.

    When `execution.max_consecutive_failures` rounds in a row fail because an LM call failed, the
    run stops early (the circuit breaker): the dataset and manifest are written from the rounds
    played, and `result.progress.breaker` (also the manifest's `circuit_breaker`) names the role,
    model, server and last error. Every attempt at a round stays in the journal; everything counts
    a round once, by its last attempt.

    When the next round would likely pass a cap of `budget` (the whole run's spending, earlier sessions
    included), the run stops taking rounds the same way: `result.progress.budget_stop` (the manifest's
    `budget_stop`) says which cap and what was spent; resume with a higher cap to go on. A cost cap with
    a model litellm cannot price is refused before any call.
    """
    if retry_failed and not resume:
        raise NanofluxError("--retry-failed plays the failed rounds of an existing run again; add --resume "
                            "(and --out RUN_DIR)")
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    spec = apply_overrides(spec, rounds=rounds, threads=threads, models=models, execution=execution, budget=budget)
    cache = Path(cache_dir) if cache_dir else None
    with (exclusive(Path(out) if out else Path("runs") / spec.name) as run_dir,  # before any LM call or write
          using_cache(cache)):
        prepare_run_dir(run_dir, spec, resume=resume)
        run = RunDir(run_dir)
        make_lms = lms if callable(lms) else build_role_lms if lms is None else None
        role_lms = build_role_lms(spec) if lms is None else lms(spec) if callable(lms) else lms
        require_prices(spec.budget, [lm.model for lm in role_lms.for_round(0).values()])
        journal = Journal(run.journal)
        if lms is None and rounds_to_play(spec, journal.rounds(), retry_failed=retry_failed):
            for lm in {id(lm): lm for lm in role_lms.for_round(0).values()}.values():
                check_reachable(lm)  # fail before the run, not in every round; a finished run needs no server
        program = compile_program(spec, lms=role_lms, program_path=program_path)
        program_hash = program_digest(program)
        program.save(str(run.program))
        novelty = NoveltyFilter(run.novelty, threshold=spec.curation.novelty, model=spec.curation.embedding_model,
                                against=[Path(other) for other in spec.curation.against])
        decontaminator = Decontaminator.load(spec.curation.decontaminate, novelty.embedder,
                                             spec.curation.decontaminate_threshold)
        curator = Curator(spec.curation.quality_band, novelty, complexity=spec.curation.complexity,
                          require_verified_reference=spec.curation.require_verified_reference,
                          decontaminator=decontaminator)
        player = RoundPlayer(spec, program, program_hash, make_lms, cache)
        executor = executor or executor_for(spec, [lm.model for lm in role_lms.for_round(0).values()])
        if isinstance(executor, ThreadExecutor):  # rounds play here: their judges' sympy checks start warm
            SYMPY_WORKERS.prestart(executor.threads)
        state = run_rounds(spec, player, journal, curator, executor=executor,
                           progress=progress, retry_failed=retry_failed, run_id=run_id(run_dir))
        manifest = finish_run(run_dir, spec, program_hash=program_hash, program_path=program_path,
                              interrupted=state.interrupted, breaker=state.breaker, budget_stop=state.budget_stop,
                              decontaminator=decontaminator)
    return RunResult(run_dir, manifest, state)


def prepare_run_dir(run_dir: Path, spec: Spec, *, resume: bool) -> Path:
    """Reopen a run directory (held with `exclusive`); refuses to mix two runs in one directory."""
    run = RunDir(run_dir)
    saved = run.spec
    has_rounds = bool(read_journal(run.journal))
    if has_rounds and not resume:
        raise NanofluxError(f"{run_dir} already holds a run; "
                            "pass --resume to continue it or --out NEW_DIR for a new one")
    if resume and saved.exists():
        before = Spec.model_validate(json.loads(saved.read_text()))
        if before.digest() != spec.digest():
            raise NanofluxError(f"cannot resume {run_dir}: the spec or models differ from the ones it was started "
                                "with; resume with the same spec and --model options, or start a new run with --out")
    write_json(saved, spec.model_dump(mode="json"))
    return run_dir


def finish_run(run_dir: Path, spec: Spec, *, program_hash: str, program_path: str | Path | None,
               interrupted: bool, breaker: dict[str, Any] | None = None,
               budget_stop: dict[str, Any] | None = None,
               decontaminator: Decontaminator | None = None) -> dict[str, Any]:
    """Export the journal's accepted rounds and write the manifest; safe to call on a partial run.

    `breaker`: why the circuit breaker stopped the run (`RunProgress.breaker`), recorded as the
    manifest's `circuit_breaker`; None when it did not trip. `budget_stop`: likewise for the budget
    (`RunProgress.budget_stop`). `decontaminator`: the run's benchmarks,
    whose checks (journaled in each decision) the manifest's `decontamination` sums up per benchmark;
    None when the spec names none (no such key). The manifest is written last and names
    each dataset file with its size and SHA-256 (see `nanoflux.base.rundir`): a kill before it leaves the
    previous manifest, which the new files do not match. A person's review (`RUN_DIR/review.jsonl`)
    is applied to the accepted rounds (`reviewed_selection`): the manifest's `counts.review` counts it and its
    `review` says what it changed, round by round.

    The report (`report.html`) is rebuilt only when the run was not `interrupted`: after a Ctrl-C only the
    fast writes happen (its plots took 1-2 s of the few a user waits for), and a report an earlier session
    left is removed rather than left describing fewer rounds; `nanoflux report RUN_DIR` writes it.
    """
    run = RunDir(run_dir)
    attempts = read_journal(run.journal)
    records = last_attempts(attempts)
    selection = reviewed_selection(run, spec, records)
    files = export_dataset(run_dir, selection.rounds, spec.output.formats,
                           refuted=[r for r in records if is_refuted(r)], annotation=spec.output.include_annotation,
                           reasoning=spec.output.reasoning)
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "spec": {"name": spec.name, "digest": spec.digest(), "file": SPEC_NAME},
        "program": {"hash": program_hash, "file": PROGRAM_NAME,
                    "loaded_from": str(program_path) if program_path else None},
        "models": {role: spec.roles.settings(role).model for role in ROLES},
        "alternate": spec.roles.alternate,
        "seed": spec.seed,
        "run_id": run_id(run_dir),
        "curation": {"band": spec.curation.band, **spec.curation.complexity.to_dict(),
                     "novelty": spec.curation.novelty, "size": spec.curation.size, "against": spec.curation.against},
        "counts": run_counts(attempts, spec.rounds) | ({"review": selection.review} if run.review.exists() else {}),
        **({"review": selection.changes} if run.review.exists() else {}),
        "tokens": token_counts(records),
        "dataset": files,
        "verification": verification(spec, selection.rounds),
        "interrupted": interrupted,
        "sandbox": spec.code_sandbox().record(),
        "circuit_breaker": breaker,
        "budget_stop": budget_stop,
        "versions": library_versions(),
    }
    if decontaminator is not None:
        manifest["decontamination"] = decontaminator.summary(journaled(records))
    manifest["card"] = write_card(run_dir, spec, manifest)  # the manifest vouches for the card too
    write_json(run.manifest, manifest)
    if interrupted:
        run.report.unlink(missing_ok=True)
    else:
        build_report(run_dir)
    return manifest


def reviewed_selection(run: RunDir, spec: Spec, records: list[RoundRecord]) -> Selection:
    """The journal's accepted rounds with a person's review applied (`nanoflux.engine.curation.select`).

    A review that keeps a round curation left out changes what its rewordings are (duplicates of it), so
    novelty is decided again, in round order with the kept rounds first, in a scratch collection from the
    run's cached embeddings: the same rows `nanoflux curate` selects with the run's settings.
    """
    review = read_review(run.review)
    required = spec.curation.require_verified_reference
    if not restores(records, review, require_verified_reference=required):
        return journal_selection(records, review, require_verified_reference=required)
    curation = spec.curation
    with tempfile.TemporaryDirectory(prefix="nanoflux-review-") as scratch:
        novelty = NoveltyFilter(Path(scratch), threshold=curation.novelty, model=curation.embedding_model,
                                against=[Path(other) for other in curation.against],
                                embedder=Embedder(curation.embedding_model, cache=run.embedding_cache))
        curator = Curator(curation.quality_band, novelty, complexity=curation.complexity,
                          require_verified_reference=required)
        return select(records, curator, review,
                      contaminated={r["round_id"] for r in records if r["curation"]["reason"] == "contaminated"})


def run_counts(attempts: list[RoundRecord], rounds_requested: int) -> dict[str, Any]:
    """The manifest's counts from every journaled attempt: those of `nanoflux stats` (computed in one place,
    each round by its last attempt), plus the rounds asked for and the attempts (a replayed round has several)."""
    return {"rounds_requested": rounds_requested, "attempts": len(attempts), **record_counts(last_attempts(attempts))}


def token_counts(records: list[RoundRecord]) -> dict[str, dict[str, Any]]:
    """Calls, tokens and latency per role, as `nanoflux stats` reports them."""
    return role_usage(records, ROLES)
