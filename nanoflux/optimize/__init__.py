"""Prompt optimization: DSPy optimizers tune the roles' prompts against the judge's metrics (`nanoflux optimize`)."""

from nanoflux.optimize.job import OptimizeResult, optimize_spec
from nanoflux.optimize.metrics import AttackerMetric, DefenderMetric
from nanoflux.optimize.recipes import Recipe, load_recipe, parse_recipe

__all__ = ["AttackerMetric", "DefenderMetric", "OptimizeResult", "Recipe", "load_recipe", "optimize_spec",
           "parse_recipe"]
