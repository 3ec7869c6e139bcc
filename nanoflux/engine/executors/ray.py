"""Ray actors on a cluster: each compiles the program once and plays rounds; the driver stays the one journal writer.

Needs the `ray` extra (`pip install "nanoflux[ray]"`). The driver sends each actor the round
player's recipe (spec, prompts, LM factory), never LM objects, so every actor builds its own
role LMs and an embedded model loads once per actor.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dspy
import numpy as np
from dspy.utils.callback import BaseCallback

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import LOCAL_PREFIX
from nanoflux.clients.ratelimit import Limit, Pacer, share_pacer
from nanoflux.engine.executors.base import Feed, Record, Task
from nanoflux.verify.units import registry as unit_registry
from nanoflux.verify.worker import POOL as SYMPY_WORKERS

try:
    import ray
    from ray import cloudpickle
    from ray.exceptions import RayActorError
except ImportError:  # pragma: no cover - depends on the install
    raise NanofluxError('the ray executor needs Ray: pip install "nanoflux[ray]"') from None

logger = logging.getLogger(__name__)
CLIENT_PORT, GCS_PORT = 10001, 6379
# Ray starts its worker processes at nice 15, below its own daemons. The run's actors are the run's work: at
# that niceness, any busy process on the node starved them (8 actors on 2 cores shared with other jobs fell
# to half the thread executor's rate). They run at the node's priority, as rounds on threads run at the driver's;
# Ray's job supervisor unnices itself the same way (job_manager.py). Merged with a job's own env_vars.
UNNICED = {"env_vars": {"RAY_worker_niceness": "0"}}


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Join the cluster at `address` (None: start a local instance) unless Ray is already up; leave it after."""
    if ray.is_initialized():
        yield
        return
    if address not in (None, "auto"):
        _check_reachable(address)
    try:
        ray.init(address=address, include_dashboard=False)
    except ConnectionError as exc:
        raise NanofluxError(_unreachable(address, exc)) from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in a second on a closed port: ray.init retries an unreachable address for minutes."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep:
        host, port = target, str(CLIENT_PORT if address.startswith("ray://") else GCS_PORT)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise NanofluxError(_unreachable(address, exc)) from None


def _unreachable(address: str | None, exc: Exception) -> str:
    return (f"cannot reach a Ray cluster at {address} ({exc}). Start one with `ray start --head` and pass "
            "--address auto on that machine or --address ray://HEAD_HOST:10001 from another; "
            "leave --address out to start a local Ray instance.")


@ray.remote(num_cpus=0, runtime_env=UNNICED)
class ModelSlots:
    """The run's one owner of each model's limits across every worker: at most `limit` calls in
    flight, and the pace of requests and tokens a role's `rpm` and `tpm` set (`nanoflux.clients.ratelimit`).

    API rate limits are per model, not per worker: without one shared count and one schedule, N
    workers send N times the calls. A dead worker's slots are freed by the driver (`forget`), so a
    lost node never shrinks the limit.
    """

    def __init__(self, limit: int | None):
        self.limit = limit
        self.free: dict[str, asyncio.Semaphore] = {}
        self.held: Counter[tuple[str, str]] = Counter()
        self.gone: set[str] = set()
        self.pacer = Pacer()

    async def reserve(self, key: str, limit: Limit, tokens: int) -> float:
        return self.pacer.reserve(key, limit, tokens)

    async def settle(self, key: str, limit: Limit, booked: int, used: int) -> None:
        self.pacer.settle(key, limit, booked, used)

    async def acquire(self, model: str, holder: str) -> None:
        await self.free.setdefault(model, asyncio.Semaphore(self.limit)).acquire()
        self.held[holder, model] += 1
        if holder in self.gone:  # the holder died while it waited
            await self.release(model, holder)

    async def release(self, model: str, holder: str) -> None:
        if self.held[holder, model]:
            self.held[holder, model] -= 1
            self.free[model].release()

    async def forget(self, holder: str) -> None:
        self.gone.add(holder)
        for (who, model), count in list(self.held.items()):
            for _ in range(count if who == holder else 0):
                await self.release(model, holder)


class SharedPacer:
    """A worker's pacer: books every call with the run's `ModelSlots`, so all workers keep one schedule
    (the wait is counted from when the actor booked it, which is the safe side)."""

    def __init__(self, slots: Any):
        self.slots = slots

    def reserve(self, key: str, limit: Limit, tokens: int) -> float:
        return ray.get(self.slots.reserve.remote(key, limit, tokens))

    def settle(self, key: str, limit: Limit, booked: int, used: int) -> None:
        self.slots.settle.remote(key, limit, booked, used)


class CallSlots(BaseCallback):
    """Holds one of the run's slots for a model while a call to that model is in flight."""

    def __init__(self, slots: Any, holder: str):
        self.slots = slots
        self.holder = holder
        self.models: dict[str, str] = {}

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        model = getattr(instance, "model", "")
        if model and not model.startswith(LOCAL_PREFIX):  # embedded models run in each actor: nothing shared
            ray.get(self.slots.acquire.remote(model, self.holder))
            self.models[call_id] = model

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        if (model := self.models.pop(call_id, None)) is not None:
            self.slots.release.remote(model, self.holder)


def embed_on_one_thread() -> None:
    """An actor embeds its rounds' questions one at a time (`RoundPlayer`): on torch's default, a thread per
    core, every actor's threads spin against the others' on the node (see `nanoflux.cli`'s driver, which
    embeds on one thread for the same reason). OMP_NUM_THREADS, when set, decides instead."""
    if not os.environ.get("OMP_NUM_THREADS"):
        import torch

        torch.set_num_threads(1)


def warm_checks(threads: int) -> None:
    """Load what a round's judge loads on first use, before the actor says it is ready: the sympy workers of
    its `threads` rounds (each imports sympy) and pint's unit registry (~0.2-0.5 s). Left to the first
    round, every actor pays them at once as the run starts, the cores shared with the rounds in flight."""
    SYMPY_WORKERS.warm(threads)
    unit_registry()


@ray.remote(runtime_env=UNNICED)
class RoundWorker:
    """Plays rounds on its own copy of the program, built once when the pickled `play` is loaded here."""

    def __init__(self, recipe: bytes, slots: Any, holder: str, threads: int, max_concurrent_calls: int | None):
        share_pacer(SharedPacer(slots))  # this process plays only the run's rounds
        self.problem: str | None = None
        try:
            self.play: Callable[[Task], Record] = cloudpickle.loads(recipe)
        except Exception as exc:  # noqa: BLE001 - a missing key or model file: the driver reports it in one line
            self.problem = str(exc) if isinstance(exc, NanofluxError) else f"{type(exc).__name__}: {exc}"
        else:
            embed_on_one_thread()
            warm_checks(threads)
        if max_concurrent_calls:
            dspy.configure(callbacks=[CallSlots(slots, holder)])

    def ready(self) -> str | None:
        """Why this worker cannot play, or None."""
        return self.problem

    def play_task(self, task: Task) -> Record:
        if self.problem:
            raise NanofluxError(f"a Ray worker could not build the program: {self.problem}")
        return self.play(task)


@dataclass(eq=False)
class _Worker:
    actor: Any
    holder: str
    busy: int = 0


class RayExecutor:
    """Plays rounds on `workers` Ray actors, `threads` at once in each, yielding records as they finish.

    Args:
        address: None starts a local Ray instance; "auto" joins the cluster `ray start --head`
            runs on this machine; "ray://HOST:10001" a remote one. An initialised Ray is used as is.
        workers: actors; each unpickles `play` (a RoundPlayer), building its program and role LMs once.
        threads: rounds one actor plays at once (API models spend rounds waiting on the network).
        max_concurrent_calls: the most calls to one API model in flight across all actors (None: no limit).

    The role LMs' rate limits (`rpm`, `tpm`) hold across all actors too: every actor books its calls
    with one `ModelSlots` actor of the run.

    Refills first, as `ThreadExecutor` does: the rounds that finished together go to `Feed.finished`,
    their actors get their next rounds, and only then are the records yielded for the driver to
    curate and journal (refilling after curation cost 8 actors 0.07-0.14 of the ideal rate against 8
    threads; `benchmarks/scale.py`).

    A worker that dies mid-round (node lost, `ray.kill`) costs only its in-flight rounds: they are
    played again first, and a fresh actor takes its place.

    Example::

        compile_spec("specs/math.yaml", executor=RayExecutor("auto", workers=8, threads=4))
    """

    def __init__(self, address: str | None = None, *, workers: int = 2, threads: int = 1,
                 max_concurrent_calls: int | None = None):
        self.address = address
        self.workers = workers
        self.threads = threads
        self.max_concurrent_calls = max_concurrent_calls
        self._holders = itertools.count()

    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        with ray_session(self.address):
            yield from self._run(play, tasks)

    def _run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        recipe = ray.put(cloudpickle.dumps(play))  # pickled once: the recipe, not the program
        slots = ModelSlots.remote(self.max_concurrent_calls)  # also the rate limits' owner: always there
        pool = [self._start(recipe, slots) for _ in range(self.workers)]
        inflight: dict[Any, tuple[_Worker, Task]] = {}
        try:
            for problem in ray.get([worker.actor.ready.remote() for worker in pool]):
                if problem:
                    raise NanofluxError(f"a Ray worker could not build the program: {problem}")
            replay: deque[Task] = deque()
            source = iter(tasks)
            feed = source if isinstance(source, Feed) else None
            deaths = 0  # since the last finished round: a worker that dies on start would loop forever

            def refill() -> None:
                for worker in pool:
                    while worker.busy < self.threads and (task := replay.popleft() if replay else next(source, None)):
                        inflight[worker.actor.play_task.remote(task)] = (worker, task)
                        worker.busy += 1

            refill()
            while inflight:
                records: list[Record] = []
                for ref in self._finished(inflight):
                    worker, task = inflight.pop(ref)
                    worker.busy -= 1
                    try:
                        records.append(ray.get(ref))
                    except RayActorError as exc:
                        replay.append(task)
                        logger.info("Ray worker %s died mid-round; round %d is played again", worker.holder,
                                    task["round_id"])
                        if worker in pool:
                            deaths += 1
                            if deaths > self.workers:
                                raise NanofluxError(f"Ray workers keep dying before finishing a round: {exc}") from None
                            slots.forget.remote(worker.holder)
                            pool[pool.index(worker)] = fresh = self._start(recipe, slots)
                            logger.info("Ray worker %s takes the place of %s", fresh.holder, worker.holder)
                        continue
                    deaths = 0
                if feed is not None:
                    feed.finished(records)
                refill()  # before the caller curates these records: the freed actors play on meanwhile
                yield from records
        finally:
            for actor in [worker.actor for worker in pool] + [slots]:
                ray.kill(actor)

    @staticmethod
    def _finished(inflight: dict[Any, Any]) -> list[Any]:
        """The rounds in flight that have finished, waiting for the first: all of them, so the actors they
        free are refilled together, before the driver curates any."""
        refs = list(inflight)
        [first], rest = ray.wait(refs, num_returns=1)
        return [first, *(ray.wait(rest, num_returns=len(rest), timeout=0)[0] if rest else [])]

    def _start(self, recipe: Any, slots: Any) -> _Worker:
        holder = f"worker-{next(self._holders)}"
        actor = RoundWorker.options(max_concurrency=self.threads, scheduling_strategy="SPREAD").remote(
            recipe, slots, holder, self.threads, self.max_concurrent_calls)
        return _Worker(actor, holder)


class _EmbedBatch:
    """A Ray Data map_batches class: the embedding model loads once per worker, then embeds batches."""

    def __init__(self, model: str):
        from nanoflux.engine.curation.embeddings import load_embedder

        self.model = model
        load_embedder(model)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from nanoflux.engine.curation.embeddings import encode

        return {"index": batch["index"], "vector": encode(self.model, list(batch["text"]))}


class RayEncoder:
    """Computes embeddings with Ray Data (`map_batches` over `workers` actors); an `Embedder`'s encoder.

    Example::

        Embedder("all-MiniLM-L6-v2", cache=path, encoder=RayEncoder("all-MiniLM-L6-v2", address="auto"))
    """

    def __init__(self, model: str, *, address: str | None = None, workers: int = 2, batch_size: int = 64):
        self.model = model
        self.address = address
        self.workers = workers
        self.batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with ray_session(self.address):
            rows = (ray.data.from_items([{"index": i, "text": text} for i, text in enumerate(texts)])
                    .map_batches(_EmbedBatch, fn_constructor_args=(self.model,), concurrency=self.workers,
                                 batch_size=self.batch_size, num_cpus=1)
                    .take_all())
        return np.stack([row["vector"] for row in sorted(rows, key=lambda row: row["index"])]).astype(np.float32)
