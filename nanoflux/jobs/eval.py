"""Score models on a held-out set: accuracy with the judge's answer check, and loss on reference solutions.

HELDOUT.jsonl holds one object a line: `question`, `answer` (the reference), optionally `topic`
and `solution` (a worked reference solution; the held-out loss is on it, else on the answer).

    >>> from nanoflux.jobs.eval import evaluate
    >>> result = evaluate(["local/smollm2-135m", "local/smollm2-135m+runs/ft"], "heldout.jsonl", out="runs/eval")
    >>> [(m.name, m.accuracy) for m in result.models]
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_jsonl, write_json, write_jsonl
from nanoflux.base.paths import EvalDir
from nanoflux.base.versions import TRAINING, library_versions
from nanoflux.verify import answers_match

# Asked of every model alike, so an untuned base model also states an answer the check can find.
ANSWER_PROMPT = "\n\nEnd with the final answer on its own line as: Answer: <answer>"


class Candidate(Protocol):
    """A model under evaluation: answers questions and scores a reference given a question."""

    name: str

    def answer(self, questions: list[str]) -> list[str]: ...

    def nll(self, question: str, reference: str) -> float | None: ...


@dataclass
class ModelScore:
    """One model's results: accuracy overall and per topic, mean token NLL of the references."""

    name: str
    accuracy: float
    correct: int
    total: int
    per_topic: dict[str, float]
    heldout_loss: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EvalResult:
    models: list[ModelScore]
    answers: list[dict[str, Any]] = field(repr=False)
    out: Path | None = None


def read_heldout(path: str | Path) -> list[dict[str, Any]]:
    """The held-out rows, each checked to hold a question and a reference answer."""
    fix = "give a held-out JSONL file: one object a line with a `question` and an `answer`"
    rows = []
    for number, row in read_jsonl(Path(path), fix=fix):
        if not str(row.get("question", "")).strip() or "answer" not in row:
            raise NanofluxError(f"{path}:{number}: no `question`, or no `answer`; {fix}")
        rows.append({**row, "answer": str(row["answer"])})
    if not rows:
        raise NanofluxError(f"{path}: holds no questions; {fix}")
    return rows


def evaluate(models: list[str | Candidate] | str | Candidate, data: str | Path, *, out: str | Path | None = None,
             answer_type: str = "auto", max_new_tokens: int = 256, batch_size: int = 8,
             cache_dir: Path | None = None) -> EvalResult:
    """Answer every held-out question with each model and score the answers against the references.

    Models are model strings (`BASE` or `BASE+ADAPTER`, see `nanoflux.clients.hfmodels`) or `Candidate`s;
    several compare base and tuned models on the same questions in one call. Decoding is greedy, so
    a model's scores are reproducible. With `out`, writes `answers.jsonl` (every answer, its verdict
    and NLL) and `eval.json` (the scores, data hash, settings, versions).
    """
    rows = read_heldout(data)
    candidates = [models] if isinstance(models, str) or not isinstance(models, list) else models
    scores, answers = [], []
    for candidate in candidates:
        if isinstance(candidate, str):
            candidate = HFCandidate(candidate, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                    cache_dir=cache_dir)
        graded = _grade(candidate, rows, answer_type)
        answers.extend(graded)
        scores.append(_score(candidate.name, graded))
    result = EvalResult(scores, answers, Path(out) if out else None)
    if result.out:
        write_jsonl(EvalDir(result.out).answers, answers)
        write_json(EvalDir(result.out).scores, {
            "data": {"path": str(Path(data).resolve()), "rows": len(rows),
                     "sha256": hashlib.sha256(Path(data).read_bytes()).hexdigest()},
            "settings": {"answer_type": answer_type, "max_new_tokens": max_new_tokens, "decoding": "greedy"},
            "models": [score.to_dict() for score in scores],
            "versions": library_versions(TRAINING),
        })
    return result


def _grade(candidate: Candidate, rows: list[dict[str, Any]], answer_type: str) -> list[dict[str, Any]]:
    predictions = candidate.answer([row["question"] for row in rows])
    graded = []
    for row, prediction in zip(rows, predictions, strict=True):
        kind = row.get("answer_type", answer_type)
        graded.append({"model": candidate.name, "topic": row.get("topic"), "question": row["question"],
                       "reference": row["answer"], "prediction": prediction,
                       "correct": answers_match(prediction, row["answer"], answer_type=kind),
                       "nll": candidate.nll(row["question"], row.get("solution") or row["answer"])})
    return graded


def _score(name: str, graded: list[dict[str, Any]]) -> ModelScore:
    by_topic: dict[str, list[bool]] = defaultdict(list)
    for row in graded:
        by_topic[row["topic"] or "(none)"].append(row["correct"])
    correct = sum(row["correct"] for row in graded)
    losses = [row["nll"] for row in graded if row["nll"] is not None]
    return ModelScore(name, correct / len(graded), correct, len(graded),
                      {topic: sum(v) / len(v) for topic, v in sorted(by_topic.items())},
                      sum(losses) / len(losses) if losses else None)


class HFCandidate:
    """A transformers model (with its LoRA adapter, if any) answering through its chat template."""

    def __init__(self, model: str, *, max_new_tokens: int = 256, batch_size: int = 8, cache_dir: Path | None = None):
        from nanoflux.clients.hfmodels import load_model

        self.name = model
        self.model, self.tokenizer = load_model(model, cache_dir)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size

    def _prompt(self, question: str) -> str:
        return self.tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                                  add_generation_prompt=True)

    def answer(self, questions: list[str]) -> list[str]:
        import torch

        self.tokenizer.padding_side = "left"  # generation continues every row from its own end
        answers = []
        for start in range(0, len(questions), self.batch_size):
            prompts = [self._prompt(q + ANSWER_PROMPT) for q in questions[start:start + self.batch_size]]
            batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(self.model.device)
            with torch.no_grad():
                output = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                             pad_token_id=self.tokenizer.pad_token_id)
            new = output[:, batch["input_ids"].shape[1]:]
            answers.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
        return [a.strip() for a in answers]

    def nll(self, question: str, reference: str) -> float:
        """Mean negative log-likelihood per token of `reference` as the reply to `question`, prompted as in training."""
        import torch

        prompt = self._prompt(question)
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full_ids = self.tokenizer(prompt + reference, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([full_ids], device=self.model.device)
        labels = ids.clone()
        labels[:, :len(prompt_ids)] = -100  # score only the reference's tokens
        with torch.no_grad():
            loss = self.model(input_ids=ids, labels=labels).loss
        return float(loss) if math.isfinite(float(loss)) else None
