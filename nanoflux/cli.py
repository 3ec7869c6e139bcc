"""The `nanoflux` command: thin click wrappers over the library; user errors exit 2 without a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nanoflux.errors import NanofluxError


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a NanofluxError as one clear message and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NanofluxError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nanoflux")
def main() -> None:
    """NanoFlux compiles a YAML domain spec into an adversarial DSPy program (attacker, defender,
    tool-augmented judge) and runs it into a small, verified, TRL-ready dataset.

    \b
    Start here:
      nanoflux validate specs/math.yaml
      nanoflux compile specs/math.yaml --rounds 10
      nanoflux compile specs/genomics.yaml --model judge=openai/gpt-4o-mini --threads 8
    """


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@user_errors
def validate(spec: Path) -> None:
    """Check a spec file and print what it declares.

    \b
    Example:
      nanoflux validate specs/genomics.yaml
    """
    from nanoflux.spec import load_spec

    loaded = load_spec(spec)
    roles = ", ".join(f"{role}={getattr(loaded.roles, role).model}" for role in ("attacker", "defender", "judge"))
    click.echo(f"{spec}: valid spec {loaded.name!r}: {loaded.rounds} rounds, {len(loaded.topics)} topics, "
               f"tools {loaded.tools}, band {loaded.curation.band}, roles {roles}")


@main.command(name="compile")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--rounds", type=click.IntRange(min=1), help="Rounds to play (default: the spec's `rounds`).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/<spec name>).")
@click.option("--model", "models", multiple=True, metavar="ROLE=MODEL",
              help="Override a role's model, e.g. --model judge=openai/gpt-4o-mini (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), help="Rounds played at once (default: the spec's `threads`).")
@click.option("--resume", is_flag=True, help="Continue the run in --out: finished rounds are kept, the rest played.")
@click.option("--program", "program_path", type=click.Path(path_type=Path),
              help="A tuned program.json (from `nanoflux optimize`) whose prompts replace the defaults.")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="DSPy's LM cache directory (default: ~/.cache/nanoflux/dspy).")
@user_errors
def compile_(spec: Path, rounds: int | None, out: Path | None, models: tuple[str, ...], threads: int | None,
             resume: bool, program_path: Path | None, cache_dir: Path | None) -> None:
    """Compile SPEC into its adversarial program and run it into a dataset.

    Every finished round is appended to RUN_DIR/rounds.jsonl at once; accepted rounds become
    RUN_DIR/dataset/sft.jsonl (TRL SFT messages) and dpo.jsonl (preference pairs), described
    by RUN_DIR/manifest.json. Ctrl-C stops cleanly; --resume continues.

    \b
    Examples:
      nanoflux compile specs/math.yaml --rounds 6 --out runs/demo
      nanoflux compile specs/math.yaml --rounds 20 --out runs/demo --resume
      nanoflux compile specs/medical.yaml --model attacker=openai/gpt-4o --model defender=openai/gpt-4o-mini
    """
    from nanoflux.pipeline import compile_spec

    result = compile_spec(spec, out=out, rounds=rounds, models=parse_models(models), threads=threads,
                          resume=resume, program_path=program_path, cache_dir=cache_dir)
    counts, dataset = result.manifest["counts"], result.manifest["dataset"]
    if result.progress.interrupted:
        click.echo(f"Interrupted. Finished rounds are kept; continue with: nanoflux compile {spec} "
                   f"--out {result.run_dir} --resume")
    click.echo(f"Run directory: {result.run_dir}")
    click.echo(f"  rounds: {counts['rounds_played']} played, {counts['failed']} failed, {counts['accepted']} accepted"
               f"  (reasons: {counts['reasons']})")
    for name, entry in dataset.items():
        click.echo(f"  {name}: {result.run_dir / entry['path']} ({entry['rows']} rows)")
    click.echo(f"  manifest: {result.run_dir / 'manifest.json'}")
