"""`nanoflux optimize`: tune the roles' prompts with a DSPy optimizer, scored by the judge, into program.json.

Each tuned role gets its own optimizer run on a student program that plays only what that role
needs, with the other roles frozen (DSPy leaves a `_compiled` submodule's predictors alone):
the attacker on whole rounds, the defender on the known questions. The tuned prompts go back
into one Round, saved in DSPy's format, which `nanoflux compile --program` loads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.usage_tracker import UsageTracker

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import write_json
from nanoflux.base.paths import RunDir
from nanoflux.base.rundir import exclusive
from nanoflux.base.versions import library_versions
from nanoflux.clients.lm import using_cache
from nanoflux.clients.usage import token_usage
from nanoflux.engine.compiler import build_role_lms, compile_program, program_digest
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.runner import AVOID_SHOWN
from nanoflux.jobs.optimize.data import Case, attacker_example, defender_example, load_cases, split_cases
from nanoflux.jobs.optimize.metrics import AttackerMetric, DefenderMetric
from nanoflux.jobs.optimize.recipes import Recipe, load_recipe
from nanoflux.modules import RoleLMs, Round
from nanoflux.spec.model import Spec, apply_overrides, load_spec

Metric = Callable[..., dspy.Prediction]


class Defense(dspy.Module):
    """The defender's half of a round, for tuning the defender: it answers a known question, the frozen judge grades.

    Example:
        >>> student = Defense(program)
        >>> student(question="2+3*4?", reference_answer="14", solution_steps=["3*4 = 12", "2+12 = 14"]).judge["overall"]
    """

    def __init__(self, program: Round):
        super().__init__()
        self.defender = program.defender.deepcopy()
        self.judge = program.judge.deepcopy()
        self.judge._compiled = True
        self.lms = program.lms
        self.adapter = program.adapter

    def forward(self, question: str, reference_answer: str, solution_steps: list[str]) -> dspy.Prediction:
        with dspy.context(lm=self.lms.defender, adapter=self.adapter):
            defense = self.defender(question=question)
        answer = str(defense.answer or "").strip()
        reasoning = str(defense.reasoning or "").strip()
        with dspy.context(lm=self.lms.judge, adapter=self.adapter):
            verdict = self.judge(question=question, reference_answer=reference_answer, solution_steps=solution_steps,
                                 reasoning=reasoning, answer=answer)
        return dspy.Prediction(reasoning=reasoning, answer=answer, judge={key: verdict[key] for key in verdict.keys()})


def attack_student(program: Round) -> Round:
    """The whole round with the defender (its revisions too) and judge frozen: only the attacker's prompt moves."""
    student = program.deepcopy()
    student.defender._compiled = True
    student.reviser._compiled = True
    student.judge._compiled = True
    return student


@dataclass
class OptimizeResult:
    """What `optimize_spec` made: the output directory, the tuned program's path and the report."""

    out_dir: Path
    program_path: Path
    report: dict[str, Any]


def optimize_spec(spec: Spec | str | Path, recipe: Recipe | str | Path, *, trainset: str | Path | None = None,
                  out: str | Path | None = None, models: Mapping[str, str] | None = None,
                  cache_dir: str | Path | None = None, lms: RoleLMs | None = None,
                  progress: bool = True) -> OptimizeResult:
    """Tune the spec's role prompts with a recipe's optimizer, scoring each role with the judge's metric.

    Evaluates the program on the dev set, optimizes each role the recipe names, evaluates again,
    and writes `program.json` (load it with `compile --program`) and `optimize.json` (recipe,
    metric before/after per role, LM calls and tokens, seconds) into `out`. LM calls go through
    DSPy's cache, so running the same recipe on the same data again costs no new calls.

    Args:
        spec: a Spec or the path of a spec file.
        recipe: a Recipe or the path of a recipe (`optimizers/*.yaml`).
        trainset: an earlier run directory or a JSONL file of rounds or seed examples (default:
            the spec's `examples`).
        out: the output directory (default `runs/<spec name>-<recipe name>`).
        models: role -> model string overrides, as for `compile`.
        cache_dir: DSPy's LM cache directory, swapped in for the call and DSPy's cache restored after
            (the CLI's default: `~/.cache/nanoflux/dspy`). None: DSPy's cache as it is.
        lms: role LMs to use instead of building them from the spec (tests, custom backends).
    """
    started = time.perf_counter()
    spec = apply_overrides(spec if isinstance(spec, Spec) else load_spec(spec), models=models)
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    out_dir = Path(out) if out else Path("runs") / f"{spec.name}-{recipe.name or recipe.optimizer.lower()}"
    if RunDir(out_dir).journal.exists():
        raise NanofluxError(f"--out {out_dir} holds a compile run, whose program.json and novelty collection optimize "
                            "would overwrite; pass another --out (default: runs/<spec>-<recipe>)")
    # One writer: a second optimize into the same directory is refused.
    with exclusive(out_dir), using_cache(Path(cache_dir) if cache_dir else None):
        cases = load_cases(spec, trainset)
        train, dev = split_cases(cases, dev=recipe.split.dev, seed=recipe.split.seed,
                                 max_examples=recipe.split.max_examples)
        lms = lms or build_role_lms(spec)
        program = compile_program(spec, lms=lms)
        novelty = known_questions(spec, out_dir, cases, trainset)
        role_lms = lms.for_round(0)
        metrics: dict[str, Metric] = {
            "attacker": AttackerMetric(spec.curation.quality_band, novelty,
                                       require_verified_reference=spec.curation.require_verified_reference),
            "defender": DefenderMetric(spec.questions.answer_type),
        }
        optimizers = {}
        for role in recipe.roles:  # built before any LM call, so a bad recipe costs nothing
            with optimizer_context(role_lms[role]):
                metric = metrics[role] if recipe.metric == "feedback" else as_score(metrics[role])
                optimizers[role] = recipe.build(metric, role_lms)
        results: dict[str, Any] = {}
        with dspy.track_usage() as usage:
            for role in recipe.roles:
                if role == "attacker":
                    student: dspy.Module = attack_student(program)
                    examples = [[attacker_example(c, novelty.nearest(c.topic, k=AVOID_SHOWN)) for c in part]
                                for part in (train, dev)]
                else:
                    student = Defense(program)
                    examples = [[defender_example(c) for c in part] for part in (train, dev)]
                trainset_, devset = examples
                with optimizer_context(role_lms[role]):
                    before = evaluate(student, devset, metrics[role], recipe.threads, progress)
                    tuned = compile_role(optimizers[role], student, trainset_, recipe.compile_kwargs(devset), recipe)
                    after = evaluate(tuned, devset, metrics[role], recipe.threads, progress)
                getattr(program, role).load_state(getattr(tuned, role).dump_state())
                results[role] = {"before": before, "after": after}
        program_path = RunDir(out_dir).program
        program.save(str(program_path))
        report = {
            "created_at": datetime.now(UTC).isoformat(),
            "spec": {"name": spec.name, "digest": spec.digest()},
            "recipe": recipe.model_dump(mode="json"),
            "trainset": {"source": str(trainset) if trainset else "spec examples", "train": len(train),
                         "dev": len(dev)},
            "metric": results,
            "program": {"file": program_path.name, "hash": program_digest(program)},
            "cost": cost(usage),
            "seconds": round(time.perf_counter() - started, 2),
            "versions": library_versions(),
        }
        write_json(RunDir(out_dir).optimize_report, report)
        return OptimizeResult(out_dir, program_path, report)


def known_questions(spec: Spec, out_dir: Path, cases: list[Case], trainset: str | Path | None) -> NoveltyFilter:
    """The questions a tuned attacker must not repeat: the training cases, and the training run's accepted ones."""
    run = Path(trainset) if trainset else None
    against = [run] if run is not None and RunDir(run).novelty_store.is_file() else []
    novelty = NoveltyFilter(RunDir(out_dir).novelty, threshold=spec.curation.novelty,
                            model=spec.curation.embedding_model, against=against)
    for index, case in enumerate(cases):
        novelty.add(f"train-{index}", case.question, {"topic": case.topic})
    return novelty


def optimizer_context(lm: dspy.BaseLM) -> Any:
    """The optimizer's own calls (proposals, reflections) go to the tuned role's LM unless the recipe names
    another, through the JSON adapter so that schema-constrained models answer them too."""
    return dspy.context(lm=lm, adapter=dspy.JSONAdapter())


def as_score(metric: Metric) -> Callable[..., float]:
    """The metric's number alone, for optimizers that treat any truthy result as a success (BootstrapFewShot)."""

    def score(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None) -> float:
        return float(metric(gold, pred, trace).score)

    return score


def evaluate(program: dspy.Module, devset: list[dspy.Example], metric: Metric, threads: int, progress: bool) -> float:
    """The mean metric score on the dev set, 0..1; a round that fails scores 0."""
    result = dspy.Evaluate(devset=devset, metric=as_score(metric), num_threads=threads, display_progress=progress,
                           max_errors=len(devset) + 1, failure_score=0.0)(program)
    return round(sum(score for *_, score in result.results) / len(devset), 4)


def compile_role(optimizer: dspy.teleprompt.Teleprompter, student: dspy.Module, trainset: list[dspy.Example],
                 kwargs: dict[str, Any], recipe: Recipe) -> dspy.Module:
    try:
        return optimizer.compile(student, trainset=trainset, **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:  # DSPy checks a budget's consistency only when compiling
        raise NanofluxError(f"recipe {recipe.name}: {type(optimizer).__name__}.compile failed: {exc}; check the "
                            "recipe's `params` and `compile`") from None


def cost(usage: UsageTracker) -> dict[str, dict[str, int]]:
    """LM calls and tokens per model that were paid for: cache hits are not counted."""
    tokens = token_usage(usage)
    return {model: {"calls": len(entries), **tokens[model]} for model, entries in usage.usage_data.items()}
