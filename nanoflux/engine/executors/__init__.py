"""Where rounds run. The runner only needs `Executor.run`: tasks in, finished records out as they complete.
An executor plays rounds; it never journals or curates them (the driver does)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nanoflux.base.names import EMBEDDED_ROUNDS_AT_ONCE, LOCAL_PREFIX
from nanoflux.engine.executors.base import Executor
from nanoflux.engine.executors.threads import ThreadExecutor

if TYPE_CHECKING:
    from nanoflux.spec.model import Spec

__all__ = ["Executor", "ThreadExecutor", "executor_for", "rounds_at_once"]


def executor_for(spec: Spec, models: Iterable[str] = ()) -> Executor:
    """The executor the spec's `execution` section names, playing `rounds_at_once(spec, models)` rounds at once
    (per worker on Ray); Ray is imported only when asked for."""
    settings, threads = spec.execution, rounds_at_once(spec, models)
    if settings.executor == "ray":
        from nanoflux.engine.executors.ray import RayExecutor

        return RayExecutor(settings.address, workers=settings.workers, threads=threads,
                           max_concurrent_calls=settings.max_concurrent_calls)
    return ThreadExecutor(threads)


def rounds_at_once(spec: Spec, models: Iterable[str] = ()) -> int:
    """The spec's `threads`, or its default for the role LMs that play (`models`, their model strings): two when
    one is an embedded model (its two llama.cpp contexts each play a round on half the cores), else one."""
    if spec.threads is not None:
        return spec.threads
    return EMBEDDED_ROUNDS_AT_ONCE if any(model.startswith(LOCAL_PREFIX) for model in models) else 1
