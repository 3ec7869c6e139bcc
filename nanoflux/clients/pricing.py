"""What a run's tokens cost: the one place a model is priced.

API models are priced from litellm's price map (keyed on the model name, so `openai/gpt-4o-mini`
routed to any `api_base` is priced as gpt-4o-mini); embedded (`local/`) models cost 0; a model
litellm has no price for has an unknown cost, never a cost of 0. The report, `nanoflux stats`, the
run's progress bar, its budget and `nanoflux estimate` all price through `Spend`.

litellm is imported only when an API model is priced: the CLI loads it lazily.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from nanoflux.base.names import LOCAL_PREFIX

Price = tuple[float, float]  # USD per input token, per output token
EMBEDDED = "embedded"  # how a cost that is 0 because every model ran in-process is named
UNKNOWN = "unknown price"  # how a cost that litellm cannot price is named (never "free")


def is_embedded(model: str) -> bool:
    """A model run in-process by llama.cpp: no server, no key, no cost."""
    return model.startswith(LOCAL_PREFIX)


def token_price(model: str) -> Price | None:
    """USD per input and per output token: 0 for embedded models, litellm's price map for the
    others, None when litellm has no price for the model.

    litellm loads its map when first imported: the bundled copy, since `nanoflux.clients` asks for it
    (LITELLM_LOCAL_MODEL_COST_MAP) unless the caller's environment says otherwise.
    """
    if is_embedded(model):
        return 0.0, 0.0
    import litellm

    if model not in litellm.model_cost and model.partition("/")[0] not in litellm.provider_list:
        return None  # no provider litellm knows: asking would print its "Provider List" banner
    try:
        return litellm.cost_per_token(model=model, prompt_tokens=1, completion_tokens=0)[0], \
            litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1)[1]
    except Exception:  # noqa: BLE001 - litellm raises several kinds for a model it cannot price
        return None


def unpriced(models: Iterable[str]) -> list[str]:
    """The models among `models` that have no known price, sorted."""
    return sorted(model for model in set(models) if token_price(model) is None)


class Spend:
    """Tokens paid for, per role and model, and what they cost.

    Fed with the per-role usage of journal records (`record["roles"]`: model, input_tokens,
    output_tokens), which counts paid calls only (a cache hit has 0 tokens). Prices are looked up
    once per model per Spend.
    """

    def __init__(self) -> None:
        self.tokens: Counter[tuple[str, str, str]] = Counter()  # (role, model, "input" or "output") -> tokens
        self.calls: Counter[str] = Counter()  # role -> calls
        # role -> thinking tokens (`reasoning_tokens`): already among its output tokens, and priced with them
        self.reasoning: Counter[str] = Counter()
        self._prices: dict[str, Price | None] = {}

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Spend:
        """What the journal records' calls spent."""
        spend = cls()
        for record in records:
            spend.add(record.get("roles"))
        return spend

    def add(self, roles: Mapping[str, Mapping[str, Any]] | None) -> None:
        """Count one round's per-role usage (a failed round's: the calls it made before it failed, if any)."""
        for role, call in (roles or {}).items():
            self.calls[role] += 1
            self.tokens[role, call["model"], "input"] += call["input_tokens"]
            self.tokens[role, call["model"], "output"] += call["output_tokens"]
            self.reasoning[role] += call.get("reasoning_tokens", 0)

    def price(self, model: str) -> Price | None:
        if model not in self._prices:
            self._prices[model] = token_price(model)
        return self._prices[model]

    def roles(self) -> list[str]:
        return list(self.calls)

    def models(self, role: str | None = None) -> list[str]:
        """The models that played `role` (every role: None), sorted."""
        return sorted({model for r, model, _ in self.tokens if role in (None, r)})

    def token_count(self, role: str | None = None, kind: str | None = None) -> int:
        """Tokens of `role` (all roles: None) of `kind` ("input", "output"; both: None)."""
        return sum(n for (r, _, k), n in self.tokens.items() if role in (None, r) and kind in (None, k))

    def reasoning_count(self, role: str | None = None) -> int:
        """Thinking tokens of `role` (all roles: None), counted among its output tokens too."""
        return sum(n for r, n in self.reasoning.items() if role in (None, r))

    def priced_usd(self, role: str | None = None) -> float:
        """USD of the tokens whose model has a price (of `role`; all roles: None)."""
        total = 0.0
        for (r, model, kind), count in self.tokens.items():
            if role in (None, r) and (price := self.price(model)) is not None:
                total += count * price[kind == "output"]
        return total

    def usd(self, role: str | None = None) -> float | None:
        """USD of `role` (all roles: None), or None when one of its models has no known price."""
        return None if self.unpriced(role) else self.priced_usd(role)

    def unpriced(self, role: str | None = None) -> list[str]:
        """The models of `role` (all roles: None) that have no known price."""
        return [model for model in self.models(role) if self.price(model) is None]

    def embedded(self, role: str | None = None) -> bool:
        """Every model of `role` (all roles: None) was embedded: it cost 0 because nothing was paid for."""
        models = self.models(role)
        return bool(models) and all(map(is_embedded, models))

    def label(self, role: str | None = None, *, scale: float = 1.0) -> str:
        """The cost of `role` (all roles: None) times `scale` as a person should read it: `$0.0123`,
        `$0 (embedded)`, `unknown price`, or `$0.0123 + unknown price` when only some models have a price."""
        amount = self.priced_usd(role) * scale
        if self.embedded(role):
            return f"$0 ({EMBEDDED})"
        if not self.unpriced(role):
            return dollars(amount)
        paid = [model for model in self.models(role) if not is_embedded(model) and self.price(model) is not None]
        return f"{dollars(amount)} + {UNKNOWN}" if paid else UNKNOWN


def dollars(usd: float) -> str:
    """USD as a person reads it: $1,234.50, $0.0123, $0.000041."""
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd == 0 or usd >= 0.01:
        return f"${usd:.4f}"
    return f"${usd:.{max(4, 1 - math.floor(math.log10(usd)))}f}"  # two significant digits: $0.0015, $0.000041
