"""Token usage is read one way whatever the provider names its counts."""

from dspy.utils.usage_tracker import UsageTracker

from nanoflux.clients.usage import token_usage


def test_token_usage_sums_each_models_calls_whichever_names_its_provider_uses() -> None:
    usage = UsageTracker()
    usage.add_usage("openai/a", {"prompt_tokens": 10, "completion_tokens": 3})
    usage.add_usage("openai/a", {"prompt_tokens": 5, "completion_tokens": 2})
    usage.add_usage("anthropic/b", {"input_tokens": 7, "output_tokens": 4})
    assert token_usage(usage) == {"openai/a": {"input_tokens": 15, "output_tokens": 5},
                                  "anthropic/b": {"input_tokens": 7, "output_tokens": 4}}
