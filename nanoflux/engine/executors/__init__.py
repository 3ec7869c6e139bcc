"""Where rounds run. The runner only needs `Executor.run`: tasks in, finished records out as they complete.
An executor plays rounds; it never journals or curates them (the driver does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nanoflux.engine.executors.base import Executor
from nanoflux.engine.executors.threads import ThreadExecutor

if TYPE_CHECKING:
    from nanoflux.spec.model import Spec

__all__ = ["Executor", "ThreadExecutor", "executor_for"]


def executor_for(spec: Spec) -> Executor:
    """The executor the spec's `execution` section names; Ray is imported only when asked for."""
    settings = spec.execution
    if settings.executor == "ray":
        from nanoflux.engine.executors.ray import RayExecutor

        return RayExecutor(settings.address, workers=settings.workers, threads=spec.threads,
                           max_concurrent_calls=settings.max_concurrent_calls)
    return ThreadExecutor(spec.threads)
