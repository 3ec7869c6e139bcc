"""Token usage is read one way whatever the provider names its counts."""

from dspy.utils.usage_tracker import UsageTracker

from nanoflux.clients.usage import token_usage


def test_token_usage_sums_each_models_calls_whichever_names_its_provider_uses() -> None:
    usage = UsageTracker()
    usage.add_usage("openai/a", {"prompt_tokens": 10, "completion_tokens": 3})
    usage.add_usage("openai/a", {"prompt_tokens": 5, "completion_tokens": 2})
    usage.add_usage("anthropic/b", {"input_tokens": 7, "output_tokens": 4})
    assert token_usage(usage) == {"openai/a": {"input_tokens": 15, "output_tokens": 5, "reasoning_tokens": 0},
                                  "anthropic/b": {"input_tokens": 7, "output_tokens": 4, "reasoning_tokens": 0}}


def test_reasoning_tokens_are_read_from_the_completion_details_in_either_shape_and_summed() -> None:
    usage = UsageTracker()
    usage.add_usage("openai/o", {"prompt_tokens": 10, "completion_tokens": 30,
                                 "completion_tokens_details": {"reasoning_tokens": 25, "audio_tokens": None}})
    usage.add_usage("openai/o", {"prompt_tokens": 10, "completion_tokens": 8, "completion_tokens_details": None})
    usage.add_usage("openai/o", {"prompt_tokens": 10, "completion_tokens": 9,
                                 "completion_tokens_details": {"reasoning_tokens": 4}})
    usage.add_usage("openai/r", {"input_tokens": 3, "output_tokens": 50,
                                 "output_tokens_details": {"reasoning_tokens": 41}})
    assert token_usage(usage) == {"openai/o": {"input_tokens": 30, "output_tokens": 47, "reasoning_tokens": 29},
                                  "openai/r": {"input_tokens": 3, "output_tokens": 50, "reasoning_tokens": 41}}
