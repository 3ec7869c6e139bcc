"""NanoFlux: a declarative compiler for adversarial training data.

A Python user gets what the CLI does:

    >>> import nanoflux
    >>> spec = nanoflux.load_spec("specs/math.yaml")
    >>> result = nanoflux.compile_spec(spec, rounds=5, out="runs/demo")
    >>> result.manifest["counts"]
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name loads its module on first use: `import nanoflux.verify.symbolic` (the sympy
# worker) must not pull in pydantic, DSPy, chromadb or the models.
_HOMES = {
    "NanofluxError": "nanoflux.base.errors", "Spec": "nanoflux.spec.model", "load_spec": "nanoflux.spec.model",
    "parse_spec": "nanoflux.spec.model", "compile_spec": "nanoflux.jobs.compile",
    "optimize_spec": "nanoflux.jobs.optimize", "estimate_cost": "nanoflux.jobs.estimate",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nanoflux' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
