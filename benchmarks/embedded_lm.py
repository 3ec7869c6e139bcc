"""Embedded LM speed inside NanoFlux against bare llama-cpp-python.

`compare`: tokens/s through dspy.Predict + JSONAdapter + LlamaCppEngine against the same loaded `Llama`
called directly, with the same rendered messages, grammar, seed and max_tokens, so the difference is
NanoFlux's and DSPy's overhead (prompt formatting, request conversion, parsing). Calls alternate which
side goes first, since llama.cpp reuses the KV cache of an identical prompt prefix.

`rounds_against_bare`: seconds per round of specs/math.yaml in NanoFlux (its thread counts and prompt
cache, `nanoflux.clients.lm.load_llama`) against the same llama calls replayed on a `Llama` with
llama-cpp-python's defaults (its thread counts, no prompt cache), round by round.

    python benchmarks/embedded_lm.py [--calls 8] [--max-tokens 128] [--rounds 3]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dspy  # noqa: E402

from nanoflux import load_spec  # noqa: E402
from nanoflux.base.names import EMBEDDED_MODEL  # noqa: E402
from nanoflux.base.paths import RunDir  # noqa: E402
from nanoflux.clients.lm import N_CTX, bound_schema, llama_threads, load_llama, make_lm, resolve_gguf  # noqa: E402
from nanoflux.engine.journal import read_journal  # noqa: E402
from nanoflux.jobs.compile import compile_spec  # noqa: E402

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
    parser.add_argument("--rounds", type=int, default=0, help="also time this many rounds against bare defaults")
    args = parser.parse_args()
    compare(calls=args.calls, max_tokens=args.max_tokens)
    if args.rounds:
        rounds_against_bare(args.rounds)


def rounds_against_bare(rounds: int = 3) -> None:
    """Print each round's seconds in NanoFlux and for its llama calls on llama-cpp-python's defaults.

    Round i is played by a `compile_spec` resumed to i + 1 rounds (a fresh DSPy cache directory each
    time, so no call is answered from a cache); NanoFlux's time is the journal's `seconds` (the whole
    round: three or more LM calls, the judge's tools, DSPy). The calls its `Llama` received are then
    replayed, same messages, grammar, seed and max_tokens, on a second `Llama` with only `n_ctx` set.
    """
    from llama_cpp import Llama

    path = resolve_gguf(EMBEDDED_MODEL)
    llama, _ = load_llama(path)
    bare = Llama(model_path=str(path), n_ctx=N_CTX, verbose=False)
    bare.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=1)  # warm-up
    calls: list[dict[str, Any]] = []
    play = llama.create_chat_completion

    def recorded(**kwargs: Any) -> Any:
        out = play(**kwargs)
        calls.append({"kwargs": kwargs, "tokens": out["usage"]["completion_tokens"]})
        return out

    print(f"embedded model, specs/math.yaml, seconds per round: NanoFlux (threads {llama_threads()}, "
          f"prompt cache) against bare llama-cpp-python defaults (threads {(bare.n_threads, bare.n_threads_batch)}, "
          "no prompt cache), same calls:")
    times: list[tuple[float, float]] = []
    llama.create_chat_completion = recorded
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for i in range(rounds):
                calls.clear()
                compile_spec(load_spec(ROOT / "specs" / "math.yaml"), rounds=i + 1, out=work / "run",
                             cache_dir=work / f"cache-{i}", resume=i > 0, progress=False)
                ours = read_journal(RunDir(work / "run").journal)[-1]["seconds"]
                start, bare_tokens = time.perf_counter(), 0
                for call in calls:
                    bare_tokens += bare.create_chat_completion(**call["kwargs"])["usage"]["completion_tokens"]
                theirs = time.perf_counter() - start
                times.append((ours, theirs))
                print(f"  round {i}: NanoFlux {ours:6.1f} s, bare {theirs:6.1f} s ({len(calls)} calls; "
                      f"{sum(call['tokens'] for call in calls)} and {bare_tokens} tokens written): "
                      f"{theirs / ours:.2f}x", flush=True)
    finally:
        del llama.create_chat_completion
    for label, part in (("every round", times), ("after the first (each role's prefix cached)", times[1:])):
        if part:
            ours, theirs = (sum(side) / len(part) for side in zip(*part, strict=True))
            print(f"  {label}: NanoFlux {ours:.1f} s a round, bare defaults {theirs:.1f} s: {theirs / ours:.2f}x "
                  "faster (goal 3x)")


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
