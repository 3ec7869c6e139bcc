"""Training throughput of the embedded model with LoRA: tokens per second and peak memory.

Fine-tunes SmolLM2-135M (dequantised from the shipped GGUF, cached once) for a few SFT steps on
a synthetic exported dataset, on the GPU when there is one, and prints what the run measured.

    python benchmarks/train.py [--steps 8] [--batch-size 4] [--max-length 128]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from nanoflux.engine.export import export_dataset
from nanoflux.jobs.train import finetune


def record(i: int) -> dict:
    """A journal record shaped like the runner's, enough for the exporter."""
    a, b = i + 3, i % 7 + 2
    return {"round_id": i, "topic": "arithmetic", "hops": 2, "program_hash": "bench", "models": {},
            "question": f"A crate holds {a} boxes of {b} apples and 5 loose apples. How many apples in all?",
            "reference_answer": str(a * b + 5), "annotation": "Multiply before adding.",
            "solution_steps": [f"{a} * {b} = {a * b}", f"{a * b} + 5 = {a * b + 5}"],
            "defender_reasoning": "", "defender_answer": "",
            "judge": {"level": "L4", "overall": 4.0, "verdict": "correct"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export_dataset(Path(tmp), [record(i) for i in range(args.steps * args.batch_size)], ["sft"])
        result = finetune(tmp, out=Path(tmp) / "out", max_steps=args.steps, batch_size=args.batch_size,
                          max_length=args.max_length)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"embedded model + LoRA on {result.manifest['device']}: {args.steps} steps x {args.batch_size} rows "
          f"({args.max_length} tokens max)")
    print(f"  {result.train_tokens} tokens in {result.wall_s:.1f}s: {result.train_tokens / result.wall_s:.1f} tokens/s")
    print(f"  loss {result.losses[0]:.3f} -> {result.final_loss:.3f}; peak process memory {peak_mib:.0f} MiB")
    if result.manifest["device"] == "cuda":
        import torch

        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
