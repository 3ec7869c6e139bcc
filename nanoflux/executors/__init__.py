"""Where rounds run. The runner only needs `Executor.run`: tasks in, finished records out as they complete."""

from nanoflux.executors.base import Executor
from nanoflux.executors.threads import ThreadExecutor

__all__ = ["Executor", "ThreadExecutor"]
