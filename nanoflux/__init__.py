"""NanoFlux: a declarative compiler for adversarial training data.

A Python user gets what the CLI does:

    >>> import nanoflux
    >>> spec = nanoflux.load_spec("specs/math.yaml")
    >>> result = nanoflux.compile_spec(spec, rounds=5, out="runs/demo")
    >>> result.manifest["counts"]
"""

from typing import Any

from nanoflux.errors import NanofluxError
from nanoflux.spec import Spec, load_spec, parse_spec

__all__ = ["NanofluxError", "Spec", "compile_spec", "load_spec", "optimize_spec", "parse_spec"]


def __getattr__(name: str) -> Any:
    # compile_spec and optimize_spec pull in DSPy, chromadb and the models: import them only when asked for.
    if name == "compile_spec":
        from nanoflux.pipeline import compile_spec

        return compile_spec
    if name == "optimize_spec":
        from nanoflux.optimize import optimize_spec

        return optimize_spec
    raise AttributeError(f"module 'nanoflux' has no attribute {name!r}")
