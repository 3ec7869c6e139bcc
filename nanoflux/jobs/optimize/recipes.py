"""Optimizer recipes: a YAML file naming a DSPy optimizer, the roles it tunes, its budget and data split.

A recipe's `params` and `compile` go to the installed optimizer's constructor and `compile`
unchanged, so a new DSPy option works without new code; names either does not take fail
validation, listing the ones it does (read from the installed signatures).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import dspy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nanoflux.base.errors import MAX_PROBLEMS, QUOTE_CHARS, NanofluxError, quoted
from nanoflux.base.io import read_yaml

TUNABLE_ROLES = ("attacker", "defender")
# Arguments NanoFlux supplies itself: the metric, the program and the data.
SUPPLIED = {"self", "metric", "student", "trainset", "valset", "teacher"}
# Proposals and reflections are whole instructions: a model named only for them gets room to write one.
PROPOSER_MAX_TOKENS = 4096


class Split(BaseModel):
    """How the examples divide into a train set (the optimizer learns from it) and a dev set (scored before and after).

    Attributes:
        dev (float, default 0.3): fraction of the examples held out for the dev set (at least one each way).
        seed (int, default 0): seed of the shuffle before the split.
        max_examples (int | None, default None): use at most this many examples (a cheaper run).
    """

    model_config = ConfigDict(extra="forbid")
    dev: float = Field(0.3, gt=0, lt=1)
    seed: int = 0
    max_examples: int | None = Field(None, ge=2)


class Recipe(BaseModel):
    """An optimizer recipe (`optimizers/*.yaml`).

    Attributes:
        optimizer (str): a DSPy optimizer class: BootstrapFewShot, BootstrapFewShotWithRandomSearch,
            MIPROv2, GEPA, COPRO, ...
        roles (list[str], default [attacker, defender]): the roles tuned, one optimizer run each, in
            this order; the judge is never tuned (its scores are the metric).
        metric (str, default "score"): `score` passes the metric's number; `feedback` passes
            `dspy.Prediction(score, feedback)` with the judge's critique and tool evidence, for
            optimizers that read text feedback (GEPA).
        params (dict, default {}): keyword arguments of the optimizer's constructor, unchanged (the budget:
            `auto`, `num_candidate_programs`, `max_metric_calls`, `breadth`/`depth`, ...).
        compile (dict, default {}): keyword arguments of its `compile`, unchanged (e.g. MIPROv2's `num_trials`).
        models (dict[str, str], default {}): constructor arguments that take an LM (`prompt_model`,
            `reflection_lm`): a role name (its model from the spec) or a model string, e.g. openai/gpt-4o.
            Unset, an optimizer proposes with the LM of the role it tunes.
        threads (int, default 1): examples scored at once, for the before/after evaluation and as
            the optimizer's `num_threads` when it has one and `params` does not set it.
        split (Split): train/dev split.
        name (str, default: the file's name without .yaml): how messages and `optimize.json` name the recipe.
    """

    model_config = ConfigDict(extra="forbid")
    optimizer: str
    roles: list[Literal["attacker", "defender"]] = Field(default_factory=lambda: list(TUNABLE_ROLES), min_length=1)
    metric: Literal["score", "feedback"] = "score"
    params: dict[str, Any] = Field(default_factory=dict)
    compile: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    threads: int = Field(1, ge=1, le=256)
    split: Split = Field(default_factory=Split)
    name: str = ""

    def optimizer_class(self) -> type[dspy.teleprompt.Teleprompter]:
        return optimizer_class(self.optimizer)

    def build(self, metric: Callable[..., Any], lms: Mapping[str, dspy.BaseLM]) -> dspy.teleprompt.Teleprompter:
        """The optimizer, constructed with the recipe's params; `lms` resolves `models` entries naming a role."""
        from nanoflux.clients.lm import make_lm

        cls = self.optimizer_class()
        kwargs = dict(self.params)
        for param, model in self.models.items():
            kwargs[param] = lms[model] if model in lms \
                else make_lm(model, temperature=1.0, max_tokens=PROPOSER_MAX_TOKENS)
        if self.threads > 1 and "num_threads" in init_params(cls) and "num_threads" not in kwargs:
            kwargs["num_threads"] = self.threads
        try:
            return cls(metric=metric, **kwargs)
        except (TypeError, ValueError, AssertionError) as exc:
            raise NanofluxError(f"recipe {self.name or self.optimizer}: {cls.__name__} refused its parameters: "
                                f"{exc}; fix `params` or `models`") from None

    def compile_kwargs(self, valset: list[dspy.Example]) -> dict[str, Any]:
        """`compile`'s extra arguments: the recipe's, plus the dev set where the optimizer takes a valset."""
        kwargs = dict(self.compile)
        if "valset" in compile_params(self.optimizer_class()):
            kwargs["valset"] = valset
        return kwargs


def optimizer_names() -> list[str]:
    """The optimizers the installed DSPy exports."""
    import dspy.teleprompt as teleprompt

    return sorted(name for name in teleprompt.__all__
                  if isinstance(getattr(teleprompt, name), type)
                  and issubclass(getattr(teleprompt, name), teleprompt.Teleprompter))


def optimizer_class(name: str) -> type[dspy.teleprompt.Teleprompter]:
    names = optimizer_names()
    if name not in names:
        guess = difflib.get_close_matches(name[:QUOTE_CHARS], names, n=1)
        hint = f"did you mean {guess[0]}? " if guess else ""
        raise NanofluxError(f"unknown optimizer {quoted(name)}; {hint}the installed DSPy has: {', '.join(names)}")
    return getattr(dspy.teleprompt, name)


def init_params(cls: type) -> list[str]:
    return _named_params(cls.__init__)


def compile_params(cls: type) -> list[str]:
    return _named_params(cls.compile)


def _named_params(function: Callable[..., Any]) -> list[str]:
    """Named parameters only: a `**kwargs` that swallows any name (COPRO's) must not let typos through."""
    return [name for name, p in inspect.signature(function).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def load_recipe(path: str | Path) -> Recipe:
    """Load and validate a recipe; raises NanofluxError naming the field and the valid choices."""
    path = Path(path)
    data, _ = read_yaml(path, what="recipe", fix="pass one of optimizers/*.yaml or your own")
    if not isinstance(data, dict):
        raise NanofluxError(f"recipe {path}: a recipe is a YAML mapping with at least `optimizer`, "
                            "e.g. optimizer: MIPROv2")
    return parse_recipe(data, name=path.stem)


def parse_recipe(data: Mapping[str, Any], *, name: str = "recipe") -> Recipe:
    """Validate a recipe given as a mapping: its fields, then its parameters against the installed optimizer."""
    try:
        recipe = Recipe.model_validate({**data, "name": data.get("name") or name})
    except ValidationError as exc:
        problems = [f"  - {'.'.join(str(part)[:QUOTE_CHARS] for part in e['loc']) or '(top level)'}: {_explain(e)}"
                    for e in exc.errors()[:MAX_PROBLEMS]]
        more = [f"  ... and {exc.error_count() - MAX_PROBLEMS} more"] if exc.error_count() > MAX_PROBLEMS else []
        raise NanofluxError(f"recipe {name}: {exc.error_count()} problem(s):\n" + "\n".join(problems + more)) from None
    cls = recipe.optimizer_class()
    _check_names(name, f"{cls.__name__}() parameter", list(recipe.params) + list(recipe.models), init_params(cls))
    _check_names(name, f"{cls.__name__}.compile() parameter", list(recipe.compile), compile_params(cls))
    return recipe


def _check_names(recipe: str, what: str, given: list[str], valid: list[str]) -> None:
    valid = [name for name in valid if name not in SUPPLIED]
    for name in given:
        if name not in valid:
            supplied = " (NanoFlux supplies it)" if name in SUPPLIED else ""
            raise NanofluxError(f"recipe {recipe}: unknown {what} {quoted(name)}{supplied}; valid: {', '.join(valid)}")


def _explain(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        model = Split if error["loc"][0] == "split" and len(error["loc"]) > 1 else Recipe
        return f"unknown field; known fields: {', '.join(model.model_fields)}"
    return str(error["msg"])
