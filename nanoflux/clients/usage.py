"""The one reader of token usage: what a block of LM calls paid for, per model (budgets, rate limits, stats)."""

from typing import Any

from dspy.utils.usage_tracker import UsageTracker


def token_usage(usage: UsageTracker) -> dict[str, dict[str, int]]:
    """Input, output and reasoning tokens per model that a `dspy.track_usage()` block paid for (a cache hit
    costs none).

    Providers name the counts prompt/completion or input/output tokens; either is read. Reasoning tokens
    are a thinking model's trace, which providers count inside the completion tokens and bill with them
    (`completion_tokens_details.reasoning_tokens`, or `output_tokens_details` in the Responses API's
    shape): 0 when a provider reports none.
    """
    return {model: {"input_tokens": int(used.get("prompt_tokens") or used.get("input_tokens") or 0),
                    "output_tokens": int(used.get("completion_tokens") or used.get("output_tokens") or 0),
                    "reasoning_tokens": _reasoning_tokens(used)}
            for model, used in usage.get_total_tokens().items()}


def _reasoning_tokens(used: dict[str, Any]) -> int:
    details = used.get("completion_tokens_details") or used.get("output_tokens_details") or {}
    return int(details.get("reasoning_tokens") or 0) if isinstance(details, dict) else 0
