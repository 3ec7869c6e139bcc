"""The `nanoflux` command: thin click wrappers over the library; user errors exit 2 without a traceback."""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from nanoflux.base.errors import NanofluxError, disk_error
from nanoflux.base.names import EMBEDDED_MODEL, ROLES
from nanoflux.base.paths import AblateDir, EvalDir, FinetuneDir, RunDir, dspy_cache_dir


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a NanofluxError (or a full disk) as one clear message and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (NanofluxError, OSError) as exc:
            # An OSError here is a full disk under a library that writes on its own (DSPy's save), or a bug.
            error = exc if isinstance(exc, NanofluxError) else disk_error(Path(exc.filename or "a file"), exc)
            if not isinstance(error, NanofluxError):
                raise
            click.secho(f"error: {error}", fg="red", err=True)
            _leave_abandoned_rounds(2)  # a run that stopped on an error (a full disk) may leave rounds in flight
            sys.exit(2)

    return wrapper


def parse_models(values: tuple[str, ...]) -> dict[str, str]:
    models = {}
    for value in values:
        role, sep, model = value.partition("=")
        if not sep or not model:
            raise NanofluxError(f"--model {value!r} is not ROLE=MODEL; write e.g. --model judge=openai/gpt-4o-mini")
        models[role.strip()] = model.strip()
    return models


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line, like NanoFlux's own errors (click's shows the usage, a hint, then it)."""

    def show(self, file: Any = None) -> None:
        see = f" See `{self.ctx.command_path} --help`." if self.ctx else ""
        click.secho(f"error: {self.format_message()}{see}", fg="red", err=True, file=file)


class Group(click.Group):
    """The `nanoflux` group: an option out of range, a word where a number goes, an unknown option is one line
    and exit code 2 (`OneLineUsageError`). `nanoflux` alone still shows the help."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _one_line_usage():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_usage():
            return super().invoke(ctx)


@contextmanager
def _one_line_usage() -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:
        if isinstance(exc, (OneLineUsageError, getattr(click.exceptions, "NoArgsIsHelpError", ()))):
            raise  # the help itself (click >= 8.2 raises it for `nanoflux` alone)
        raise OneLineUsageError(exc.format_message(), exc.ctx) from None


class SpecOption(click.Option):
    """An option that overrides a spec field: its help is that field's description in the spec model,
    read when help is shown (so the CLI starts without importing the model)."""

    def __init__(self, *args: Any, field: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field = field

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from nanoflux.spec.model import describe, field_at

        # A description is written for the spec, where `null` can be typed; here the option is left out instead.
        text = re.sub(r"\bnull\b", "unset (null in the spec)", describe(field_at(self.field)))
        self.help = f"{text[:1].upper()}{text[1:]}. Default: the spec's `{self.field}`."
        return super().get_help_record(ctx)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nanoflux")
@click.option("-v", "--verbose", is_flag=True,
              help="Say on stderr what NanoFlux recovers from on its own: failed rounds played again, a dead Ray "
                   "worker replaced, a server switched to another JSON-schema format, a cut answer sampled again.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """NanoFlux compiles a YAML domain spec into an adversarial DSPy program (attacker, defender,
    tool-augmented judge) and runs it into a small, verified, TRL-ready dataset.

    \b
    Start here:
      nanoflux validate specs/math.yaml
      nanoflux compile specs/math.yaml --rounds 10
      nanoflux compile specs/genomics.yaml --model judge=openai/gpt-4o-mini --threads 8
      nanoflux -v compile specs/math.yaml --out runs/demo --resume
    """
    if verbose:
        ctx.with_resource(_log_to_stderr(logging.getLogger("nanoflux")))


@contextmanager
def _log_to_stderr(logger: logging.Logger) -> Iterator[None]:
    """`logger`'s INFO records on stderr for one command (the library itself logs nowhere by default)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def _torch_on_one_thread() -> Iterator[None]:
    """Torch on one intra-op thread while a command runs (restored after), unless OMP_NUM_THREADS chooses.

    The driver embeds one question at a time: torch's default, a thread per core, gains nothing on
    so small a batch and spins against whatever else holds the cores. On 2 busy cores one
    embedding took a median 113 ms and a mean 332 ms on the default against 43 ms and 42 ms on one
    thread (`benchmarks/novelty.py`); the curate command's batches of 64 ran 3-4 times faster on one.
    Imported here, not at start: the command would import torch for its embeddings anyway.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@user_errors
def validate(spec: Path) -> None:
    """Check a spec file and print what it declares.

    Prints the rate limit each API model gets (roles on one model share the strictest they set).
    Warns (on stderr) when the judge could not run model-written code here because the sandbox
    (bubblewrap) cannot start, and the spec does not say `sandbox: unsafe-local`.

    \b
    Example:
      nanoflux validate specs/genomics.yaml
    """
    from nanoflux.spec.model import load_spec

    loaded = load_spec(spec)
    roles = ", ".join(f"{role}={loaded.roles.settings(role).model}" for role in ROLES)
    click.echo(f"{spec}: valid spec {loaded.name!r}: {loaded.rounds} rounds, {len(loaded.topics)} topics, "
               f"tools {loaded.tools}, band {loaded.curation.band}, roles {roles}, sandbox {loaded.sandbox}")
    settings = {role: loaded.roles.settings(role) for role in ROLES}
    if any(role.rpm or role.tpm for role in settings.values()):  # else no need to import DSPy
        from nanoflux.clients.ratelimit import model_key, model_limits

        for key, limit in model_limits(settings.values()).items():
            sharing = [role for role, its in settings.items() if model_key(its.model, its.api_base) == key]
            click.echo(f"rate limit of {key} ({', '.join(sharing)}"
                       f"{'; the strictest they set' if len(sharing) > 1 else ''}): {limit}")
    if refused := loaded.code_sandbox().refusal():
        runs = "python blocks in solution steps" + (" and the `python` tool" if "python" in loaded.tools else "")
        click.secho(f"warning: the judge runs model-written code ({runs}), but {refused}", fg="yellow", err=True)


@main.command(name="compile")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--rounds", type=click.IntRange(min=1), cls=SpecOption, field="rounds")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/<spec name>).")
@click.option("--model", "models", multiple=True, metavar="ROLE=MODEL",
              help="Override a role's model, e.g. --model judge=openai/gpt-4o-mini (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), cls=SpecOption, field="threads")
@click.option("--resume", is_flag=True, help="Continue the run in --out: finished rounds are kept, the rest played, "
                                             "and rounds whose LM call failed are played again.")
@click.option("--retry-failed", is_flag=True,
              help="With --resume, also play again rounds whose output did not parse (kept as they are otherwise).")
@click.option("--program", "program_path", type=click.Path(path_type=Path),
              help="A tuned program.json (from `nanoflux optimize`) whose prompts replace the defaults.")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="DSPy's LM cache directory (default: ~/.cache/nanoflux/dspy).")
@click.option("--executor", type=click.Choice(["threads", "ray"]), cls=SpecOption, field="execution.executor")
@click.option("--address", cls=SpecOption, field="execution.address")
@click.option("--workers", type=click.IntRange(min=1), cls=SpecOption, field="execution.workers")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True), metavar="USD", cls=SpecOption,
              field="budget.max_cost")
@click.option("--max-tokens", type=click.IntRange(min=1), metavar="N", cls=SpecOption, field="budget.max_tokens")
@user_errors
def compile_(spec: Path, rounds: int | None, out: Path | None, models: tuple[str, ...], threads: int | None,
             resume: bool, retry_failed: bool, program_path: Path | None, cache_dir: Path | None,
             executor: str | None, address: str | None, workers: int | None, max_cost: float | None,
             max_tokens: int | None) -> None:
    """Compile SPEC into its adversarial program and run it into a dataset.

    Every finished round is appended to RUN_DIR/rounds.jsonl at once; accepted rounds become
    the files the spec's `output.formats` names in RUN_DIR/dataset/ (sft.jsonl: TRL SFT messages,
    dpo.jsonl: preference pairs, rlvr.jsonl: prompts with verified answers for GRPO, stepwise.jsonl:
    steps labelled by the tools), with a dataset card, described by RUN_DIR/manifest.json.
    Ctrl-C stops at once (finished rounds are kept, those in flight abandoned); --resume continues.
    When a role's server fails `execution.max_consecutive_failures` rounds in a row, the run stops,
    names the server, and exits 1; --resume plays the failed rounds again once it is back. The
    progress bar shows the cost so far and projected; with --max-cost or --max-tokens the run stops
    before the next round would likely pass the cap (the whole run's spending), and --resume with a
    higher cap goes on.

    \b
    Examples:
      nanoflux compile specs/math.yaml --rounds 6 --out runs/demo
      nanoflux compile specs/math.yaml --rounds 20 --out runs/demo --resume
      nanoflux compile specs/math.yaml --out runs/demo --resume --retry-failed
      nanoflux compile specs/medical.yaml --model attacker=openai/gpt-4o --model defender=openai/gpt-4o-mini
      nanoflux compile specs/math.yaml --executor ray --address auto --workers 8 --threads 4
      nanoflux compile specs/math.yaml --model judge=openai/gpt-4o-mini --max-cost 2.50 --out runs/paid
    """
    from nanoflux.jobs.compile import compile_spec

    click.get_current_context().with_resource(_torch_on_one_thread())
    execution = {key: value for key, value in
                 {"executor": executor, "address": address, "workers": workers}.items() if value is not None}
    result = compile_spec(spec, out=out, rounds=rounds, models=parse_models(models), threads=threads,
                          resume=resume, retry_failed=retry_failed, program_path=program_path,
                          cache_dir=cache_dir or dspy_cache_dir(), execution=execution,
                          budget={key: value for key, value in {"max_cost": max_cost, "max_tokens": max_tokens}.items()
                                  if value is not None})
    counts, dataset = result.manifest["counts"], result.manifest["dataset"]
    again = resume_command(click.get_current_context(), result.run_dir)
    if result.progress.interrupted:
        click.echo(f"Interrupted. Finished rounds are kept; continue with: {again}\n"
                   f"  (no report on Ctrl-C: `nanoflux report {shlex.quote(str(result.run_dir))}` writes it)")
    click.echo(f"Run directory: {result.run_dir}")
    click.echo(f"  rounds: {counts['rounds_played']} played, {counts['failed']} failed, {counts['accepted']} accepted"
               f"  (reasons: {counts['reasons']})")
    if counts["outcomes"]["revisions"]:
        from nanoflux.jobs.stats import outcomes_line

        click.echo(f"  defender: {outcomes_line(counts['outcomes'])}")
    if counts["failed"]:
        kinds = ", ".join(f"{FAILURE_KINDS.get(kind, kind)} {n}" for kind, n in sorted(counts["failures"].items()))
        click.echo(f"  failed rounds: {kinds}. --resume plays LM failures again; --resume --retry-failed all of them")
    for name, entry in dataset.items():
        click.echo(f"  {name}: {result.run_dir / entry['path']} ({entry['rows']} rows)")
    click.echo(f"  manifest: {RunDir(result.run_dir).manifest}")
    if stop := result.progress.budget_stop:
        from nanoflux.engine.budget import describe_stop

        option = "--max-cost" if stop["limit"] == "max_cost" else "--max-tokens"
        click.secho(f"Stopped: {describe_stop(stop)}. Raise {option} (budget.{stop['limit']} in the spec) and "
                    f"continue with: {again}", fg="yellow", err=True)
    code = 0
    if trip := result.progress.breaker:
        server = f"{trip['model']} at {trip['api_base']}" if trip["api_base"] else trip["model"]
        in_a_row = "1 round" if trip["after"] == 1 else f"{trip['after']} rounds in a row"
        click.secho(f"error: stopped after {in_a_row} failed calling the {trip['role']}'s model "
                    f"{server}. Last error (round {trip['round_id']}): {trip['error']}\n"
                    f"Fix the server or roles.<role> in the spec (timeout, num_retries), then continue with: {again}",
                    fg="red", err=True)
        code = 1
    if result.progress.interrupted:
        # After a Ctrl-C the exit may skip the interpreter's last full garbage collection, 3-4 s with torch, DSPy
        # and litellm loaded: gc.freeze, the last exit handler, leaves those objects to the process's end. Not on a
        # normal exit: the embedded model, left uncollected, is then freed during teardown and prints a traceback.
        atexit.register(gc.freeze)
        _leave_abandoned_rounds(code)
    if code:
        sys.exit(code)


def _leave_abandoned_rounds(code: int) -> None:
    """After a Ctrl-C or an error that stopped a run, end the process at once if rounds it abandoned still play:
    run the exit handlers (the sympy workers stop, logging flushes), then `os._exit`, without the interpreter's
    teardown.

    An abandoned round may be inside native code (a llama.cpp generation, the embedding of its question) on its
    daemon thread, and the teardown under it crashed the process (SIGSEGV, or SIGABRT: "terminate called without
    an active exception") after everything was written. By now the journal is written and the run directory's
    lock released (`compile_spec` has returned or raised). An in-process caller (a test's CliRunner) never gets
    here with rounds in flight: only a real SIGINT or an error mid-run leaves them.
    """
    from nanoflux.engine.executors.threads import rounds_in_flight

    if not rounds_in_flight():
        return
    atexit._run_exitfuncs()  # what the interpreter's exit runs first; os._exit skips only the teardown after it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


FAILURE_KINDS = {"lm": "LM call failed", "parse": "output did not parse", "error": "other error"}


def resume_command(ctx: click.Context, run_dir: Path) -> str:
    """The command line that continues this run: the same spec and options, with --out and --resume."""
    words = ["nanoflux", "compile", str(ctx.params["spec"]), "--out", str(run_dir), "--resume"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in {"spec", "out", "resume"} or value in (None, False, ()):
            continue
        flag = max(param.opts, key=len)
        values = value if isinstance(value, tuple) else (value,)
        words += [flag] if value is True else [word for item in values for word in (flag, str(item))]
    return shlex.join(words)


@main.command(name="estimate")
@click.argument("source", metavar="SPEC|RUN_DIR", type=click.Path(path_type=Path))
@click.option("--rounds", type=click.IntRange(min=1), help="Price a run of this many rounds (default: the spec's).")
@click.option("--out", type=click.Path(path_type=Path),
              help="Play the sample rounds into this run directory and keep it (default: a temporary one); "
                   "`compile --out DIR --resume` continues it into the real run.")
@click.option("--model", "models", multiple=True, metavar="ROLE=MODEL",
              help="Override a role's model, e.g. --model judge=openai/gpt-4o-mini (repeatable).")
@user_errors
def estimate_(source: Path, rounds: int | None, out: Path | None, models: tuple[str, ...]) -> None:
    """Estimate what a run costs before paying for it: tokens and USD per role, per round and for the
    whole run, at litellm's prices (embedded models cost 0; a model litellm cannot price is shown
    as unknown, never as free).

    A SPEC is measured by playing its first 3 rounds (with a cache of their own, so every call is
    paid for and counted); a RUN_DIR by its journal, read as it is.

    \b
    Examples:
      nanoflux estimate specs/math.yaml --model judge=openai/gpt-4o-mini --rounds 1000
      nanoflux estimate runs/math-demo --rounds 5000
    """
    from nanoflux.jobs.estimate import estimate_cost

    click.echo(estimate_cost(source, rounds=rounds, out=out, models=parse_models(models), progress=True).render())


@main.command(name="judge-eval")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option("--from-review", "from_review", type=click.Path(path_type=Path), metavar="RUN_DIR",
              help="Label items with a person's review of RUN_DIR (`nanoflux review`) instead of a FILE: "
                   "a kept round confirms the judge's verdict, a rejected one contradicts it.")
@click.option("--spec", type=click.Path(path_type=Path),
              help="Evaluate this spec's judge (rubric, tools, model, agentic). Default: a general judge.")
@click.option("--model", help="The judge's model, e.g. --model openai/gpt-4o-mini (default: the spec's).")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
@user_errors
def judge_eval(file: Path | None, from_review: Path | None, spec: Path | None, model: str | None,
               out: Path | None) -> None:
    """Measure how often the judge agrees with labelled answers in FILE.

    FILE is JSONL, one item a line: question, reference, answer, label (correct or incorrect),
    optionally reasoning and answer_type. Prints accuracy, precision, recall and F1 of "correct"
    and a confusion table, so you can see how far to trust a judge model. A FILE of whole
    solutions (question, solution_steps, reference, label right or wrong) measures the reference
    check instead: how many wrong references it confirms, how many right ones (no LM).

    \b
    Examples:
      nanoflux judge-eval tests/data/judge_labelled.jsonl
      nanoflux judge-eval labelled.jsonl --spec specs/math.yaml --model openai/gpt-4o-mini --out report.json
      nanoflux judge-eval tests/data/reference_solutions.jsonl
      nanoflux judge-eval --from-review runs/math-demo
    """
    from nanoflux.jobs.judge_eval import judge_eval as evaluate

    report = evaluate(file, spec=spec, model=model, out=out, from_review=from_review)
    click.echo(report.render())
    if out is not None:
        click.echo(f"report: {out}")


@main.command(name="curate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--band", cls=SpecOption, field="curation.band")
@click.option("--hops", cls=SpecOption, field="curation.hops")
@click.option("--steps", cls=SpecOption, field="curation.steps")
@click.option("--length", cls=SpecOption, field="curation.length")
@click.option("--size", type=click.IntRange(min=1), cls=SpecOption, field="curation.size")
@click.option("--novelty", type=float, cls=SpecOption, field="curation.novelty")
@click.option("--seed", type=int, cls=SpecOption, field="seed")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where the new dataset goes. Default: RUN_DIR/curated/<band>_<complexity>_size-N_novelty-X_seed-S.")
@click.option("--executor", type=click.Choice(["threads", "ray"]), default="threads", show_default=True,
              help="Where missing embeddings are computed: here, or with Ray Data on a cluster. Selection runs here.")
@click.option("--address", help="The Ray cluster: auto or ray://HOST:10001; default: a local Ray instance.")
@user_errors
def curate_(run_dir: Path, band: str | None, hops: str | None, steps: str | None, length: str | None,
            size: int | None, novelty: float | None, seed: int | None, out: Path | None, executor: str,
            address: str | None) -> None:
    """Select a new dataset from RUN_DIR's journal, without calling any LM.

    Every round's scores and verdicts are journaled and its question's embedding cached, so trying
    another band is a matter of seconds. The run's own dataset is never touched; the new one gets
    its own manifest.json recording the selection. When more rounds qualify than --size, picks
    cover the spec's topics and the levels inside the band before taking seconds.

    \b
    Examples:
      nanoflux curate runs/math-demo --band L4
      nanoflux curate runs/math-demo --band L3-L5 --hops 3-4
      nanoflux curate runs/math-demo --band 3.5-4.49 --size 100 --novelty 0.75 --seed 1 --out data/math-l4
    """
    from nanoflux.jobs.curate import curate

    click.get_current_context().with_resource(_torch_on_one_thread())
    result = curate(run_dir, band=band, hops=hops, steps=steps, length=length, size=size, novelty=novelty,
                    seed=seed, out=out, executor=executor, address=address)
    echo_curation(result.out_dir, result.manifest)


def echo_curation(out_dir: Path, manifest: dict[str, Any]) -> None:
    """What a re-curation kept and why not, its benchmark matches, and where its files are."""
    counts = manifest["counts"]
    click.echo(f"Curated {counts['selected']} of {counts['rounds']} rounds ({counts['eligible']} in band) "
               f"into {out_dir}")
    click.echo(f"  not kept: {counts['reasons']}")
    click.echo(f"  by topic: {counts['by_topic']}  by level: {counts['by_level']}")
    for benchmark in manifest.get("decontamination", {}).get("benchmarks", []):
        click.echo(f"  {benchmark['path']} ({benchmark['items']} items, column {benchmark['field']}): "
                   f"{benchmark['checked']} questions checked, {benchmark['matched']} matched {benchmark['methods']}")
        for match in benchmark["worst"]:
            click.echo(f"    round {match['round_id']} ~ item {match['item']} ({match['method']}, similarity "
                       f"{match['similarity']:.3f}): {_clip(match['question'])} | {_clip(match['text'])}")
    if review := counts.get("review"):
        from nanoflux.jobs.stats import review_lines

        click.echo("\n".join(f"  {line}" for line in review_lines(review, manifest.get("review") or {})))
    for name, entry in manifest["dataset"].items():
        click.echo(f"  {name}: {out_dir / entry['path']} ({entry['rows']} rows)")
    click.echo(f"  manifest: {RunDir(out_dir).manifest}")


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


@main.command(name="decontaminate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--against", "against", multiple=True, required=True, type=click.Path(path_type=Path),
              metavar="FILE", help="A benchmark file (JSONL, JSON, CSV or Parquet) you will report on (repeatable).")
@click.option("--field", metavar="COLUMN",
              help="The question column of the --against files. Default: the first of question, problem, prompt "
                   "each file has.")
@click.option("--threshold", type=float, cls=SpecOption, field="curation.decontaminate_threshold")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where the clean dataset goes. Default: RUN_DIR/curated/<selection>_decontam-<files>-<threshold>.")
@user_errors
def decontaminate_(run_dir: Path, against: tuple[Path, ...], field: str | None, threshold: float | None,
                   out: Path | None) -> None:
    """Check RUN_DIR's questions against benchmark files and curate its dataset again without the
    contaminated ones, without calling any LM.

    A question is contaminated when it shares a word 8-gram with a benchmark item (lowercased,
    punctuation and whitespace collapsed) or its embedding is --threshold close to one. Prints, per
    benchmark, the questions checked and matched and the closest matches; the new dataset's
    manifest.json and report.html show them too. The run's own dataset is never touched.

    \b
    Examples:
      nanoflux decontaminate runs/math-demo --against bench/math500.jsonl
      nanoflux decontaminate runs/math-demo --against gpqa.csv --field Question --threshold 0.85
    """
    from nanoflux.jobs.curate import decontaminate

    result = decontaminate(run_dir, against, field=field, threshold=threshold, out=out)
    echo_curation(result.out_dir, result.manifest)


@main.command(name="stats")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path),
              help="Where to write the statistics as JSON. Default: RUN_DIR/stats.json.")
@user_errors
def stats_(run_dir: Path, json_path: Path | None) -> None:
    """Print what a run's journal holds: counts by verdict, level, topic and hops, why rounds were
    not kept, the acceptance rate, the similarity distribution, tokens and latency per role, and
    the cost.

    \b
    Examples:
      nanoflux stats runs/math-demo
      nanoflux stats runs/math-demo --json reports/math-demo.json
    """
    from nanoflux.jobs.stats import format_stats, save_stats

    stats, path = save_stats(run_dir, json_path)
    click.echo(format_stats(stats))
    click.echo(f"\nJSON: {path}")


@main.command(name="optimize")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--recipe", required=True, type=click.Path(path_type=Path),
              help="An optimizer recipe: optimizers/bootstrap.yaml, mipro.yaml, gepa.yaml, copro.yaml or your own.")
@click.option("--trainset", type=click.Path(path_type=Path),
              help="An earlier run directory, or a JSONL file of rounds or seed examples "
                   "(default: the spec's `examples`).")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output directory (default: runs/<spec name>-<recipe name>).")
@click.option("--model", "models", multiple=True, metavar="ROLE=MODEL",
              help="Override a role's model, e.g. --model judge=openai/gpt-4o-mini (repeatable).")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="DSPy's LM cache directory (default: ~/.cache/nanoflux/dspy); a rerun is served from it.")
@user_errors
def optimize_(spec: Path, recipe: Path, trainset: Path | None, out: Path | None, models: tuple[str, ...],
              cache_dir: Path | None) -> None:
    """Tune the roles' prompts with a DSPy optimizer, scored by the judge's metrics.

    Scores the program on the dev set, runs the recipe's optimizer for each role it names, scores
    again, and writes OUT/program.json (load it with `compile --program`) and OUT/optimize.json
    (recipe, metric before and after, LM calls and tokens, time).

    \b
    Examples:
      nanoflux optimize specs/math.yaml --recipe optimizers/bootstrap.yaml --trainset runs/math-demo
      nanoflux optimize specs/math.yaml --recipe optimizers/gepa.yaml --trainset runs/math-demo --out runs/math-gepa
      nanoflux compile specs/math.yaml --program runs/math-gepa/program.json
    """
    from nanoflux.jobs.optimize import optimize_spec

    result = optimize_spec(spec, recipe, trainset=trainset, out=out, models=parse_models(models),
                           cache_dir=cache_dir or dspy_cache_dir())
    report = result.report
    click.echo(f"Optimized with {report['recipe']['optimizer']} on {report['trainset']['train']} train / "
               f"{report['trainset']['dev']} dev examples in {report['seconds']:.0f}s")
    for role, metric in report["metric"].items():
        click.echo(f"  {role}: dev metric {metric['before']:.3f} -> {metric['after']:.3f}")
    calls = sum(entry["calls"] for entry in report["cost"].values())
    click.echo(f"  LM calls: {calls} (cached calls are free)")
    click.echo(f"  program: {result.program_path}  report: {RunDir(result.out_dir).optimize_report}")
    click.echo(f"Play rounds with it: nanoflux compile {spec} --program {result.program_path}")


@main.command(name="report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the report. Default: RUN_DIR/report.html.")
@user_errors
def report_(run_dir: Path, out: Path | None) -> None:
    """Write an HTML report of RUN_DIR: summary, cost, plots, why rounds were kept or dropped, and
    a browser of every round. One self-contained file (open it offline, send it, attach it to a
    dataset card), built from the journal and manifests without calling any LM; it works on a run
    still going or killed, and on a `nanoflux curate` output. `compile` and `curate` write one too.

    \b
    Examples:
      nanoflux report runs/math-demo
      nanoflux report runs/math-demo --out reports/math-demo.html
    """
    from nanoflux.jobs.report.page import build_report

    click.echo(f"Report: {build_report(run_dir, out)}")


@main.command(name="review")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 to serve on; 0 picks a free one.")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the sign-in page in the default browser (its command line holds no secret).")
@user_errors
def review_(run_dir: Path, port: int, open_browser: bool) -> None:
    """Review RUN_DIR's examples in the browser: keep, reject or note each played round.

    Serves the run's report on 127.0.0.1 with buttons per round; each decision is appended to
    RUN_DIR/review.jsonl. Open the printed sign-in page (a file only you can read): it signs the
    browser in with a one-time code, and a cookie then guards every request. A rejected
    example leaves the dataset, a kept one stays whatever the band or novelty, when it is next
    exported: `nanoflux curate RUN_DIR`, or the run's own export (`compile --resume`). Ctrl-C stops.

    \b
    Examples:
      nanoflux review runs/math-demo --open
      nanoflux judge-eval --from-review runs/math-demo
    """
    import time

    from nanoflux.jobs.review import serve_review

    try:
        server = serve_review(run_dir, port=port, open_browser=open_browser)
    except OSError as exc:
        raise NanofluxError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pass another --port, "
                            "or --port 0 for a free one") from None
    click.echo(f"Review {run_dir}: open {server.sign_in.as_uri()} in your browser, which signs it in to "
               f"{server.url}  (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
        server.server_close()
        click.echo(f"Decisions: {RunDir(run_dir).review}")


@main.command(name="finetune")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--base", default=EMBEDDED_MODEL, show_default=True,
              help=f"Base model: {EMBEDDED_MODEL} (the embedded model), a Hugging Face model directory or a hub id.")
@click.option("--method", type=click.Choice(["sft", "dpo", "grpo"]), default="sft", show_default=True,
              help="sft trains on dataset/sft.jsonl; dpo on the preference pairs in dataset/dpo.jsonl; grpo on "
                   "the prompts in dataset/rlvr.jsonl, rewarded by the judge's answer check (nanoflux.rewards).")
@click.option("--lora", default="r=16,alpha=32", show_default=True,
              help="LoRA settings: r, alpha, dropout, targets (e.g. r=8,alpha=16,targets=q_proj+v_proj).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=1, show_default=True)
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many steps (overrides --epochs).")
@click.option("--lr", "learning_rate", type=float, default=2e-4, show_default=True, help="Learning rate.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--max-length", type=click.IntRange(min=8), default=512, show_default=True,
              help="Tokens per example; longer ones are truncated (grpo: tokens per generated completion).")
@click.option("--generations", type=click.IntRange(min=2), default=4, show_default=True,
              help="grpo: completions sampled per prompt; --batch-size counts completions, a multiple of this.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Output directory (default: runs/finetune-<method>).")
@user_errors
def finetune_(data: Path, base: str, method: str, lora: str, epochs: float, max_steps: int | None,
              learning_rate: float, batch_size: int, max_length: int, generations: int, seed: int,
              out: Path | None) -> None:
    """Fine-tune a LoRA adapter on DATA with TRL, on the GPU when there is one.

    DATA is a run directory (from `compile`), a `curate` output or a dataset file. Writes
    OUT/adapter, OUT/train_log.jsonl (loss per step; grpo: and mean reward), OUT/loss.png and
    OUT/manifest.json (data, base model, hyperparameters, seed, versions). The embedded model is
    dequantised once into ~/.cache/nanoflux/models (set NANOFLUX_MODEL_CACHE to move it).

    \b
    Examples:
      nanoflux finetune runs/math-demo --max-steps 50 --out runs/math-sft
      nanoflux finetune runs/math-demo --method dpo --lora r=8,alpha=16 --out runs/math-dpo
      nanoflux finetune runs/math-demo --method grpo --max-steps 20 --max-length 256 --out runs/math-grpo
      nanoflux finetune data/train.jsonl --base HuggingFaceTB/SmolLM2-360M-Instruct --epochs 3
    """
    from nanoflux.jobs.train import finetune

    result = finetune(data, base=base, method=method, lora=lora, epochs=epochs, max_steps=max_steps,
                      out=out or Path(f"runs/finetune-{method}"), seed=seed, learning_rate=learning_rate,
                      batch_size=batch_size, max_length=max_length, generations=generations)
    rewards = result.manifest["result"].get("final_reward")
    click.echo(f"Trained {result.steps} steps on {result.manifest['data']['rows']} examples "
               f"({result.train_tokens} tokens, {result.wall_s:.0f}s): loss {result.losses[0]:.3f} -> "
               f"{result.final_loss:.3f}" + (f", last mean reward {rewards:.2f}" if rewards is not None else ""))
    files = FinetuneDir(result.out)
    click.echo(f"  adapter: {files.adapter}  log: {files.log}  plot: {files.plot}")
    click.echo(f"Evaluate it: nanoflux eval --model {base} --model {base}+{result.out} --data HELDOUT.jsonl")


@main.command(name="eval")
@click.option("--model", "models", multiple=True, required=True, metavar="MODEL[+ADAPTER]",
              help="A model to score, with a LoRA adapter after '+' (repeatable: all are compared).")
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Held-out JSONL: question, answer and optionally topic and solution per line.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where answers.jsonl and eval.json go (default: runs/eval).")
@click.option("--answer-type", type=click.Choice(["auto", "numeric", "expression", "choice", "text", "set", "units"]),
              default="auto", show_default=True, help="How answers are compared (a row's own answer_type wins).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@user_errors
def eval_(models: tuple[str, ...], data: Path, out: Path | None, answer_type: str, max_new_tokens: int) -> None:
    """Score models on a held-out set: accuracy (the judge's answer check) overall and per topic,
    and the held-out loss (mean token NLL of each reference solution). Greedy decoding.

    \b
    Examples:
      nanoflux eval --model local/smollm2-135m --data heldout.jsonl
      nanoflux eval --model local/smollm2-135m --model local/smollm2-135m+runs/math-sft --data heldout.jsonl
    """
    from nanoflux.jobs.eval import evaluate

    result = evaluate(list(models), data, out=out or Path("runs/eval"), answer_type=answer_type,
                      max_new_tokens=max_new_tokens)
    for score in result.models:
        loss = "n/a" if score.heldout_loss is None else f"{score.heldout_loss:.3f}"
        topics = ", ".join(f"{topic} {accuracy:.2f}" for topic, accuracy in score.per_topic.items())
        click.echo(f"{score.name}: accuracy {score.accuracy:.3f} ({score.correct}/{score.total}), "
                   f"held-out loss {loss}; by topic: {topics}")
    click.echo(f"Answers: {EvalDir(result.out).answers}  scores: {EvalDir(result.out).scores}")


@main.command(name="ablate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--heldout", required=True, type=click.Path(path_type=Path), help="Held-out JSONL, as for `eval --data`.")
@click.option("--baseline", required=True, type=click.Path(path_type=Path),
              help="The full training set to compare against: a dataset file or a run directory.")
@click.option("--band", "bands", multiple=True, help="A quality band to try: L4, L3-L5, 3.5-4.49 (repeatable).")
@click.option("--hops", "hops", multiple=True, help="A complexity band to try: 2-3, 4+ (repeatable).")
@click.option("--size", "sizes", multiple=True, type=click.IntRange(min=1), help="A dataset size to try (repeatable).")
@click.option("--novelty", "novelty", multiple=True, type=float, help="A novelty threshold to try (repeatable).")
@click.option("--base", default=EMBEDDED_MODEL, show_default=True, help="Base model, as for `finetune`.")
@click.option("--method", type=click.Choice(["sft", "dpo"]), default="sft", show_default=True)
@click.option("--lora", default="r=16,alpha=32", show_default=True)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=1, show_default=True)
@click.option("--max-steps", type=click.IntRange(min=1), help="Steps per model (overrides --epochs).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Output directory (default: RUN_DIR/ablate).")
@user_errors
def ablate_(run_dir: Path, heldout: Path, baseline: Path, bands: tuple[str, ...], hops: tuple[str, ...],
            sizes: tuple[int, ...], novelty: tuple[float, ...], base: str, method: str, lora: str, epochs: float,
            max_steps: int | None, max_new_tokens: int, seed: int, out: Path | None) -> None:
    """Which curation settings make the best data? Re-curate RUN_DIR for every combination of the
    given settings, fine-tune and evaluate each the same way, beside a baseline trained on
    --baseline and the untuned base model. Writes OUT/ablation.csv, ablation.json, accuracy.png
    and loss_curves.png (accuracy, held-out loss, training tokens, wall time, compute vs baseline).

    \b
    Examples:
      nanoflux ablate runs/math --heldout heldout.jsonl --baseline data/train.jsonl --band L3 --band L4 --band L5
      nanoflux ablate runs/math --heldout heldout.jsonl --baseline data/train.jsonl --size 50 --size 200 --max-steps 100
    """
    from nanoflux.jobs.ablate import ablate

    result = ablate(run_dir, heldout=heldout, baseline=baseline, bands=bands, hops=hops, sizes=sizes,
                    novelty=novelty, base=base, method=method, lora=lora, epochs=epochs, max_steps=max_steps,
                    seed=seed, out=out or RunDir(run_dir).ablate, max_new_tokens=max_new_tokens)
    for row in result.table:
        accuracy = "n/a" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        click.echo(f"{row['name']}: {row['examples']} examples, {row['train_tokens']} tokens, accuracy {accuracy}, "
                   f"compute vs baseline {row['compute_vs_baseline']}")
    files = AblateDir(result.out)
    click.echo(f"Table: {files.table_csv}  plots: {files.accuracy_plot}, {files.loss_plot}")
