"""Embedded LM speed: rounds of specs/math.yaml against the token bound, and the wrapper's overhead.

`rounds_against_bound` (the default): `--rounds` rounds of specs/math.yaml on the embedded model, as
`make run` plays them (the spec's rounds at once, its LM contexts, prompt cache and grammar), each
printed with its measured seconds (the journal's: attacker, defender, solves, judge, tools, DSPy) next
to its token bound: the prompt tokens no earlier call's prompt or answer began with (what a perfect
prefix cache still has to evaluate) / the prompt rate + the generated tokens / the generation rate,
both rates measured here, in the same run, on the same contexts, threads and rounds at once (llama.cpp
alone: a prompt evaluated after a 512-token prefix, greedy tokens with no grammar). The measured /
bound ratio is what NanoFlux, DSPy, the grammar and the judge's tools add; `evaluated` shows the
prompt tokens llama.cpp did evaluate (above the bound's: tokens a cache missed).

`compare` (`--calls N`): tokens/s through dspy.Predict + JSONAdapter + LlamaCppEngine against the same
`Llama` called directly, with the same rendered messages, grammar, seed and max_tokens, so the
difference is NanoFlux's and DSPy's overhead (prompt formatting, request conversion, parsing).

    python benchmarks/embedded_lm.py [--rounds 8] [--threads N] [--calls 0] [--max-tokens 128]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dspy  # noqa: E402
import llama_cpp  # noqa: E402

from nanoflux import load_spec  # noqa: E402
from nanoflux.base.names import EMBEDDED_MODEL, ROLES  # noqa: E402
from nanoflux.base.paths import RunDir  # noqa: E402
from nanoflux.clients.lm import bound_schema, llama_pool, llama_threads, make_lm, resolve_gguf  # noqa: E402
from nanoflux.engine.executors import rounds_at_once  # noqa: E402
from nanoflux.engine.journal import read_journal  # noqa: E402
from nanoflux.jobs.compile import compile_spec  # noqa: E402
from nanoflux.spec.model import apply_overrides  # noqa: E402

TOPICS = ["prime numbers", "photosynthesis", "volcanoes", "the Roman empire", "DNA", "gravity", "jazz", "tides",
          "enzymes", "glaciers", "probability", "magnetism"]
RATE_PREFIX, RATE_PROMPT, RATE_TOKENS = 512, 256, 128  # the rate probe: prefix, then timed prompt and generation


class QuestionAnswer(dspy.Signature):
    """Write one short quiz question about the topic and its short answer."""

    topic: str = dspy.InputField()
    question: str = dspy.OutputField()
    answer: str = dspy.OutputField()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="rounds of specs/math.yaml against the bound (0: skip)")
    parser.add_argument("--threads", type=int, default=None, help="rounds at once (default: the spec's)")
    parser.add_argument("--calls", type=int, default=0, help="calls of the overhead comparison (0: skip)")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if args.rounds:
        rounds_against_bound(args.rounds, threads=args.threads)
    if args.calls:
        compare(calls=args.calls, max_tokens=args.max_tokens)


def rounds_against_bound(rounds: int = 8, threads: int | None = None) -> dict[str, float]:
    """Print each round's measured seconds next to its token bound, then the medians; return the medians.

    A fresh run and DSPy cache directory, so every call reaches the model. Calls are told apart by the
    round thread that made them (`nanoflux-round-<id>`).
    """
    spec = apply_overrides(load_spec(ROOT / "specs" / "math.yaml"), rounds=rounds, threads=threads)
    at_once = rounds_at_once(spec, [spec.roles.settings(role).model for role in ROLES])
    pool = llama_pool(resolve_gguf(EMBEDDED_MODEL))
    calls: list[dict[str, Any]] = []
    play = llama_cpp.Llama.create_chat_completion

    def recorded(llama: Any, **kwargs: Any) -> Any:
        llama_cpp.llama_perf_context_reset(llama.ctx)
        out = play(llama, **kwargs)
        evaluated = llama_cpp.llama_perf_context(llama.ctx).n_p_eval
        calls.append({"round": threading.current_thread().name, "tokens": llama.input_ids[:llama.n_tokens].tolist(),
                      "prompt": out["usage"]["prompt_tokens"], "generated": out["usage"]["completion_tokens"],
                      "evaluated": evaluated})
        return out

    before = token_rates(pool, at_once)
    llama_cpp.Llama.create_chat_completion = recorded
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            compile_spec(spec, out=Path(tmp) / "run", cache_dir=Path(tmp) / "cache", progress=False)
            wall = time.perf_counter() - start
            records = read_journal(RunDir(Path(tmp) / "run").journal)
    finally:
        llama_cpp.Llama.create_chat_completion = play
    after = token_rates(pool, at_once)
    prompt_rate, gen_rate = ((b + a) / 2 for b, a in zip(before, after, strict=True))
    print(f"embedded model, specs/math.yaml: {rounds} rounds, {at_once} at once, up to {pool.size} llama.cpp contexts "
          f"on threads {llama_threads()} (generation, prompt); load average {_load()}")
    print(f"  rates on this machine, {at_once} context(s) busy at once (before / after the rounds): prompt "
          f"{before[0]:.0f} / {after[0]:.0f} tokens/s, generation {before[1]:.0f} / {after[1]:.0f} tokens/s")
    seen: list[list[int]] = []
    for call in calls:  # the prompt tokens that no earlier call's prompt or answer began with
        prompt = call["tokens"][:call["prompt"]]
        call["uncached"] = len(prompt) - max((_shared(prompt, earlier) for earlier in seen), default=0)
        seen.append(call["tokens"])
    rows = []
    for record in sorted(records, key=lambda r: r["round_id"]):
        mine = [c for c in calls if c["round"] == f"nanoflux-round-{record['round_id']}"]
        uncached, evaluated = sum(c["uncached"] for c in mine), sum(c["evaluated"] for c in mine)
        generated = sum(c["generated"] for c in mine)
        bound = uncached / prompt_rate + generated / gen_rate
        rows.append((record["seconds"], bound))
        print(f"  round {record['round_id']}: {record['seconds']:5.1f} s measured, bound {bound:4.1f} s "
              f"({uncached} prompt tokens uncached, {evaluated} evaluated; {generated} generated; {len(mine)} calls; "
              f"{record['status']}): {record['seconds'] / bound:.2f}x the bound")
    measured, bound = (statistics.median(side) for side in zip(*rows, strict=True))
    print(f"  median: {measured:.2f} s a round measured, {bound:.2f} s bound ({measured / bound:.2f}x); "
          f"the run: {wall:.1f} s, {wall / rounds:.2f} s a round with {at_once} at once")
    return {"measured": measured, "bound": bound, "per_round": wall / rounds}


def token_rates(pool: Any, at_once: int) -> tuple[float, float]:
    """llama.cpp's prompt and generation tokens/s on `at_once` contexts of `pool` working side by side (mean)."""
    text = (ROOT / "docs" / "scale.md").read_text().encode()
    rates: list[tuple[float, float]] = []
    barrier = threading.Barrier(at_once)

    def probe() -> None:
        with pool.borrow() as llama:
            tokens = llama.tokenize(text)[:RATE_PREFIX + RATE_PROMPT]
            llama.reset()
            llama.eval(tokens[:RATE_PREFIX])
            barrier.wait()
            start = time.perf_counter()
            llama.eval(tokens[RATE_PREFIX:])
            prompt = time.perf_counter() - start
            start, generated = time.perf_counter(), 0
            for _ in llama.generate([], temp=0.0, reset=False):
                generated += 1
                if generated == RATE_TOKENS:
                    break
            rates.append((RATE_PROMPT / prompt, generated / (time.perf_counter() - start)))
            llama.reset()

    workers = [threading.Thread(target=probe) for _ in range(at_once)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statistics.mean(r[0] for r in rates), statistics.mean(r[1] for r in rates)


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def compare(*, calls: int = 8, max_tokens: int = 128) -> None:
    """Print both sides' tokens/s and NanoFlux's overhead over `calls` calls, alternating which side goes
    first (llama.cpp reuses the KV cache of an identical prompt prefix)."""
    lm = make_lm(EMBEDDED_MODEL, temperature=0.7, max_tokens=max_tokens, cache=False)
    predict = dspy.Predict(QuestionAnswer)
    pool = llama_pool(lm.engine.path)

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
        with pool.borrow() as llama:
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
