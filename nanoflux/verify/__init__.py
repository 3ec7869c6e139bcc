"""Answer verification, free of side effects on import: answer equivalence, reference checking,
and the sandbox that runs model-written code.

The names below load their module on first use, so a process that needs one part (the sympy
worker imports only `symbolic`) does not pay for the rest. Nothing here imports the rest of NanoFlux
but `nanoflux.base`: every other layer may check answers, so the checks depend on none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "ANSWER_TYPES": "answers", "AnswerCheck": "answers", "answers_match": "answers", "check_answer": "answers",
    "check_reference": "reference", "ExecutionResult": "sandbox", "Sandbox": "sandbox", "run_python": "sandbox",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nanoflux.verify' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nanoflux.verify.{_HOMES[name]}"), name)
