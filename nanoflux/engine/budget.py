"""A run's spending as it goes: the cost so far and projected (the progress bar), and the budget's caps.

Spending is counted from the journal's records, every attempt, earlier sessions of a resumed run
included, by their per-role tokens (paid calls only: a cache hit costs none), priced by
`nanoflux.clients.pricing`. The driver feeds it each round it journals; nothing here calls an LM.

The projection of the whole run is the mean cost of a round so far times the rounds the run is
expected to play: the spec's `rounds`, or fewer when, at the acceptance rate so far, the dataset
fills (`curation.size`) first, which is when the run stops. Both change as the run goes, so the
figure does too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from nanoflux.base.errors import NanofluxError
from nanoflux.clients.pricing import Spend, dollars, unpriced
from nanoflux.spec.model import BudgetSpec

Limit = Literal["max_cost", "max_tokens"]


@dataclass
class Spending:
    """What the journaled attempts at rounds spent: tokens and USD, and how many attempts."""

    spend: Spend = field(default_factory=Spend)
    rounds: int = 0

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Spending:
        spending = cls()
        for record in records:
            spending.add(record)
        return spending

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one journaled attempt (a failed one with the calls it made before it failed)."""
        self.spend.add(record.get("roles"))
        self.rounds += 1

    def spent(self, limit: Limit) -> float:
        """USD (priced models only) or tokens spent, by what `limit` caps."""
        return self.spend.priced_usd() if limit == "max_cost" else self.spend.token_count()

    def per_round(self, limit: Limit) -> float | None:
        """The mean of `spent` per attempt so far; None before the first one."""
        return self.spent(limit) / self.rounds if self.rounds else None

    def postfix(self, *, played: int, expected: int) -> dict[str, str]:
        """The progress bar's cost so far and projected for `expected` rounds (`played` of them done), in USD
        when every model has a price, else in tokens beside the cost as `Spend.label` names it."""
        spend = self.spend
        if not spend.models():
            return {}
        remaining = max(0, expected - played)
        if not spend.unpriced() and not spend.embedded():
            mean = self.per_round("max_cost") or 0.0
            return {"cost": spend.label(), "projected": dollars(spend.priced_usd() + mean * remaining)}
        tokens = spend.token_count()
        projected = tokens + (self.per_round("max_tokens") or 0.0) * remaining
        return {"cost": spend.label(), "tokens": compact(tokens), "projected": f"{compact(projected)} tokens"}


def expected_rounds(*, played: int, accepted: int, planned: int, size: int) -> int:
    """The rounds a run will likely play in all: `planned`, or fewer when at the acceptance rate so far
    (`accepted` of `played`) the dataset reaches `size` first."""
    if accepted >= size:
        return played
    if not accepted:
        return max(planned, played)
    return max(played, min(planned, played + math.ceil((size - accepted) * played / accepted)))


@dataclass
class Budget:
    """The spec's caps (`budget`) on a run's spending, consulted before each round is handed out.

    A round is refused when the spending so far plus the mean per round for it and for each round in
    flight would pass a cap; before any round is journaled the mean is unknown, so the first rounds
    (up to the threads or workers in flight) are always played.
    """

    caps: dict[Limit, float]
    spending: Spending
    granted: int = 0  # rounds allowed this session
    stopped: Limit | None = None

    @classmethod
    def of(cls, spec: BudgetSpec, spending: Spending) -> Budget:
        caps: dict[Limit, float] = {}
        if spec.max_cost is not None:
            caps["max_cost"] = spec.max_cost
        if spec.max_tokens is not None:
            caps["max_tokens"] = spec.max_tokens
        return cls(caps, spending)

    def allows(self, in_flight: int) -> bool:
        """Whether another round fits under every cap, with `in_flight` rounds handed out and not yet journaled."""
        for limit, cap in self.caps.items():
            spent, mean = self.spending.spent(limit), self.spending.per_round(limit) or 0.0
            if spent >= cap or spent + mean * (in_flight + 1) > cap:
                self.stopped = limit
                return False
        self.granted += 1
        return True

    def stop(self) -> dict[str, Any] | None:
        """Why the budget stopped the run (the manifest's `budget_stop`), with what the whole run spent;
        None when it did not. `at_start`: the cap was reached before this session played a round."""
        if self.stopped is None:
            return None
        limit, spend, usd = self.stopped, self.spending.spend, self.spending.spend.usd()
        return {"limit": limit, "cap": self.caps[limit], "spent": _round(self.spending.spent(limit)),
                "per_round": _round(self.spending.per_round(limit) or 0.0), "rounds": self.spending.rounds,
                "usd": None if usd is None else _round(usd), "tokens": spend.token_count(),
                "at_start": self.granted == 0}


def require_prices(spec: BudgetSpec, models: Iterable[str]) -> None:
    """A cost cap needs a price for every model the run calls: refuse one it could not keep."""
    if spec.max_cost is not None and (missing := unpriced(models)):
        raise NanofluxError(f"--max-cost (budget.max_cost) needs litellm's price of every model, and it has none for "
                            f"{', '.join(missing)}; cap the run's tokens with --max-tokens (budget.max_tokens) instead")


def describe_stop(stop: Mapping[str, Any]) -> str:
    """The budget stop in words, for the CLI and the report."""
    def amount(value: float) -> str:
        return dollars(value) if stop["limit"] == "max_cost" else f"{round(value):,} tokens"

    cap = f"{stop['limit']} {amount(stop['cap'])}"
    if stop["at_start"]:
        return (f"the budget ({cap}) has no room for another round: the run's {stop['rounds']} journaled rounds "
                f"spent {amount(stop['spent'])}, about {amount(stop['per_round'])} a round, so none was played")
    return (f"the next round would likely pass the budget ({cap}): the run's {stop['rounds']} rounds spent "
            f"{amount(stop['spent'])}, about {amount(stop['per_round'])} a round")


def compact(count: float) -> str:
    """A token count short: 950, 12.3k, 4.1M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return f"{round(count)}"


def _round(value: float) -> float:
    return round(value, 8)
