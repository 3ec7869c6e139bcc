"""The one reader of token usage: what a block of LM calls paid for, per model (budgets, rate limits, stats)."""

from dspy.utils.usage_tracker import UsageTracker


def token_usage(usage: UsageTracker) -> dict[str, dict[str, int]]:
    """Input and output tokens per model that a `dspy.track_usage()` block paid for (a cache hit costs none).

    Providers name the counts prompt/completion or input/output tokens; either is read.
    """
    return {model: {"input_tokens": int(used.get("prompt_tokens") or used.get("input_tokens") or 0),
                    "output_tokens": int(used.get("completion_tokens") or used.get("output_tokens") or 0)}
            for model, used in usage.get_total_tokens().items()}
