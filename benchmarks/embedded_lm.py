"""Embedded LM speed inside NanoFlux (dspy.Predict + JSONAdapter + LlamaCppEngine) against bare llama-cpp-python.

Both sides use the same loaded `Llama`, the same rendered messages, grammar, seed and max_tokens, so the
difference is NanoFlux's and DSPy's overhead (prompt formatting, request conversion, parsing). Calls
alternate which side goes first, since llama.cpp reuses the KV cache of an identical prompt prefix.

    python benchmarks/embedded_lm.py [--calls 8] [--max-tokens 128]
"""

import argparse
import time

import dspy

from nanoflux.lm import bound_schema, load_llama, make_lm
from nanoflux.names import EMBEDDED_MODEL

TOPICS = ["prime numbers", "photosynthesis", "volcanoes", "the Roman empire", "DNA", "gravity", "jazz", "tides",
          "enzymes", "glaciers", "probability", "magnetism"]


class QuestionAnswer(dspy.Signature):
    """Write one short quiz question about the topic and its short answer."""

    topic: str = dspy.InputField()
    question: str = dspy.OutputField()
    answer: str = dspy.OutputField()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    compare(calls=args.calls, max_tokens=args.max_tokens)


def compare(*, calls: int = 8, max_tokens: int = 128) -> None:
    """Print both sides' tokens/s and NanoFlux's overhead over `calls` alternating calls."""
    lm = make_lm(EMBEDDED_MODEL, temperature=0.7, max_tokens=max_tokens, cache=False)
    predict = dspy.Predict(QuestionAnswer)
    llama, _ = load_llama(lm.engine.path)

    adapter = dspy.JSONAdapter()

    def nanoflux_call(topic: str, seed: int) -> tuple[float, int]:
        start = time.perf_counter()
        with dspy.context(lm=lm, adapter=adapter):
            predict(topic=topic, config={"seed": seed})
        return time.perf_counter() - start, lm.history[-1]["usage"]["completion_tokens"]

    nanoflux_call("warm-up", 0)
    sent = lm.history[-1]
    schema = bound_schema(sent["kwargs"]["response_format"].model_json_schema(), max_tokens)
    assert sent["messages"] == adapter.format(QuestionAnswer, demos=[], inputs={"topic": "warm-up"})

    def bare_call(topic: str, seed: int) -> tuple[float, int]:
        messages = adapter.format(QuestionAnswer, demos=[], inputs={"topic": topic})  # what DSPy sends
        start = time.perf_counter()
        out = llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.7, seed=seed,
                                           response_format={"type": "json_object", "schema": schema})
        return time.perf_counter() - start, out["usage"]["completion_tokens"]

    bare_call("warm-up", 0)
    totals = {"nanoflux": [0.0, 0], "bare": [0.0, 0]}
    for i in range(calls):
        topic, seed = TOPICS[i % len(TOPICS)], 1000 + i
        sides = [("nanoflux", nanoflux_call), ("bare", bare_call)]
        for name, call in sides if i % 2 == 0 else sides[::-1]:
            seconds, tokens = call(topic, seed)
            totals[name][0] += seconds
            totals[name][1] += tokens

    rates = {name: tokens / seconds for name, (seconds, tokens) in totals.items()}
    for name, (seconds, tokens) in totals.items():
        print(f"{name:9s} {tokens:5d} tokens in {seconds:6.2f} s = {rates[name]:6.1f} tokens/s")
    overhead = 100 * (rates["bare"] - rates["nanoflux"]) / rates["bare"]
    print(f"overhead  {overhead:+.1f}% (target < 10%)")


if __name__ == "__main__":
    main()
