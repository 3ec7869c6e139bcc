"""Prompt optimization: DSPy optimizers tune the roles' prompts against the judge's metrics (`nanoflux optimize`).
Its metrics call the judge's checks; they never reimplement them."""

from nanoflux.jobs.optimize.job import OptimizeResult, optimize_spec
from nanoflux.jobs.optimize.metrics import AttackerMetric, DefenderMetric
from nanoflux.jobs.optimize.recipes import Recipe, load_recipe, parse_recipe

__all__ = ["AttackerMetric", "DefenderMetric", "OptimizeResult", "Recipe", "load_recipe", "optimize_spec",
           "parse_recipe"]
