"""Rate limits: the requests and tokens per minute one model may take, held across threads and Ray workers.

A provider's limit is per model (and account), not per thread, so every call to a limited model
books its start with one pacer: this process's (`pacer()`), which a Ray worker points at the run's
one actor. The pacer keeps a schedule per model, not a counter (the generic cell rate algorithm):
the earliest start of the next request and the earliest start once the tokens booked so far have
flowed at the limit's rate. Calls therefore go evenly spaced at the limit's pace, never in a burst
above it, even after an idle spell: in any window of w seconds a model receives at most
rpm * w / 60 requests, plus one.

Tokens are known only once a call returns. A call books its prompt's estimated size (characters /
4) plus its `max_tokens` before it goes, an upper bound, so calls in flight cannot overrun the
limit; when it returns, its booking is corrected to the usage the server reported (a server that
reports none keeps the booking). A call DSPy answers from its cache makes no request and books
nothing. Retries inside one call (DSPy's, after a 5xx or a 429) are not booked again: pacing is
what keeps 429s away.

    lm = dspy.LM("openai/gpt-4o-mini", callbacks=[RateLimiter("openai/gpt-4o-mini", Limit(rpm=500))])
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import dspy
from dspy.clients.execution import IGNORED_CACHE_KEYS, prepare
from dspy.utils.callback import BaseCallback

from nanoflux.base.names import LOCAL_PREFIX
from nanoflux.clients.usage import token_usage

if TYPE_CHECKING:
    from nanoflux.spec.model import RoleSpec

CHARS_PER_TOKEN = 4  # English averages about 4; the booking is corrected to the reported usage anyway
MINUTE = 60.0


@dataclass(frozen=True)
class Limit:
    """The most requests (`rpm`) and tokens (`tpm`) per minute one model may take; None: no limit."""

    rpm: int | None = None
    tpm: int | None = None

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm)

    def __str__(self) -> str:
        parts = [f"{self.rpm} requests/min" if self.rpm else "", f"{self.tpm} tokens/min" if self.tpm else ""]
        return ", ".join(part for part in parts if part) or "no limit"

    def strictest(self, other: Limit) -> Limit:
        """The tighter of the two on each count."""
        return Limit(_least(self.rpm, other.rpm), _least(self.tpm, other.tpm))


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def model_key(model: str, api_base: str | None = None) -> str:
    """What one limit holds: a model at one server (the same name at two servers is two models)."""
    return f"{model} at {api_base}" if api_base else model


def model_limits(roles: Iterable[RoleSpec]) -> dict[str, Limit]:
    """The limit each limited API model gets: the strictest its roles set. `local/` models run
    in-process and are never limited."""
    limits: dict[str, Limit] = {}
    for role in roles:
        limit = Limit(role.rpm, role.tpm)
        if limit and not role.model.startswith(LOCAL_PREFIX):
            key = model_key(role.model, role.api_base)
            limits[key] = limits[key].strictest(limit) if key in limits else limit
    return limits


@dataclass
class _Schedule:
    requests: float  # the earliest start of the next request
    tokens: float  # the earliest start once the tokens booked so far have flowed at tpm
    last: float  # the latest start booked: a correction never moves the schedule before it


class Pacing(Protocol):
    """What books calls: a `Pacer` here, or a proxy of one in another process (`executors.ray`)."""

    def reserve(self, key: str, limit: Limit, tokens: int) -> float: ...

    def settle(self, key: str, limit: Limit, booked: int, used: int) -> None: ...


class Pacer:
    """The schedule of calls to each model, shared by threads (thread-safe).

    Args:
        clock: monotonic seconds (tests pass their own).

    Example:
        >>> pacer = Pacer()
        >>> time.sleep(pacer.reserve("openai/gpt-4o-mini", Limit(rpm=60), tokens=0))  # 0 s, then 1 s, 2 s...
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._schedules: dict[str, _Schedule] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, limit: Limit, tokens: int) -> float:
        """Book the next start for a call of about `tokens` to `key`: the seconds to wait before sending it."""
        with self._lock:
            now = self.clock()
            slot = self._schedules.setdefault(key, _Schedule(now, now, now))
            start = max(now, slot.requests, slot.tokens)
            slot.requests = start + (MINUTE / limit.rpm if limit.rpm else 0.0)
            slot.tokens = start + (tokens * MINUTE / limit.tpm if limit.tpm else 0.0)
            slot.last = start
            return start - now

    def settle(self, key: str, limit: Limit, booked: int, used: int) -> None:
        """Correct a call's `booked` tokens to the `used` ones: later calls go sooner (or later)."""
        if not limit.tpm or used == booked:
            return
        with self._lock:
            slot = self._schedules[key]
            slot.tokens = max(slot.last, slot.tokens + (used - booked) * MINUTE / limit.tpm)


_pacer: Pacing = Pacer()


def pacer() -> Pacing:
    """This process's pacer: every limited LM in the process books with it."""
    return _pacer


def share_pacer(shared: Pacing) -> None:
    """Book this process's calls with `shared` from now on (a Ray worker books with the run's one actor).

    Process-wide, so only a process NanoFlux owns calls it (as `configure_cache`).
    """
    global _pacer
    _pacer = shared


class RateLimiter(BaseCallback):
    """Holds the calls of the LM it is a callback of to one model's `Limit` (`make_lm` adds it).

    `on_lm_start` blocks the calling thread until the call's booked start; with a `tpm`, the call's
    usage is read in a `dspy.track_usage()` block of its own (rolled up into any block around it,
    such as the round's) and settled in `on_lm_end`.

    Args:
        key: the model the limit holds (`model_key`): LMs with one key share one schedule.
        limit: its requests and tokens per minute.
    """

    def __init__(self, key: str, limit: Limit):
        self.key = key
        self.limit = limit
        self._calls: dict[str, tuple[int, Any, Any]] = {}  # call id -> (booked tokens, usage block, tracker)

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        if answered_from_cache(instance, inputs):
            return
        booked = estimate_tokens(instance, inputs) if self.limit.tpm else 0
        time.sleep(pacer().reserve(self.key, self.limit, booked))
        if self.limit.tpm:  # DSPy ends the call in this thread and context, even when it raises: the block closes
            block = dspy.track_usage()
            self._calls[call_id] = (booked, block, block.__enter__())

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        if (call := self._calls.pop(call_id, None)) is None:
            return
        booked, block, tracker = call
        block.__exit__(None, None, None)
        used = sum(count["input_tokens"] + count["output_tokens"] for count in token_usage(tracker).values())
        if used:
            pacer().settle(self.key, self.limit, booked, used)


def answered_from_cache(lm: Any, inputs: dict[str, Any]) -> bool:
    """Whether DSPy will answer this call from its cache, so it makes no request.

    DSPy's own lookup, made once more ahead of the call: `prepare` builds the call and its cache
    key as `BaseLM.__call__` does. Synchronous calls only (the key of an `acall` differs), which
    are the ones NanoFlux makes.
    """
    try:
        call = prepare(lm, inputs.get("prompt"), inputs.get("messages"), inputs.get("kwargs") or {})
    except Exception:  # noqa: BLE001 - the call itself raises it: it is booked, the safe side
        return False
    return bool(call.cache) and dspy.cache.get(call.key(lm, False), IGNORED_CACHE_KEYS) is not None


def estimate_tokens(lm: Any, inputs: dict[str, Any]) -> int:
    """An upper bound on a call's tokens before it goes: its prompt's characters / 4 plus its max_tokens."""
    kwargs = inputs.get("kwargs") or {}
    prompt = inputs.get("messages") or inputs.get("prompt") or ""
    if isinstance(prompt, list):
        chars = sum(len(str(m.get("content", "")) if isinstance(m, dict) else str(m)) for m in prompt)
    else:
        chars = len(str(prompt))
    settings = {**lm.kwargs, **kwargs}
    output = settings.get("max_tokens") or settings.get("max_completion_tokens") or 0
    return math.ceil(chars / CHARS_PER_TOKEN) + int(output)
