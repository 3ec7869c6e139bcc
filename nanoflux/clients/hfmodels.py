"""Hugging Face models for training and evaluation: the embedded GGUF made trainable, adapters, devices.

A model string is `local/smollm2-135m` (or `local/<file>.gguf`), a local Hugging Face model
directory, or a hub id; `BASE+ADAPTER` adds a LoRA adapter (the adapter directory, or the
`nanoflux finetune` output directory holding it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import EMBEDDED_MODEL, LOCAL_PREFIX
from nanoflux.base.paths import FinetuneDir, model_cache_dir
from nanoflux.clients.lm import resolve_gguf


def resolve_base(base: str, cache_dir: Path | None = None) -> str:
    """A path or hub id that `from_pretrained` loads; a GGUF model is dequantised into `cache_dir` once.

    transformers loads a GGUF dequantised to fp32 but keeps a quantization marker that stops training
    and saving; dropping the marker and saving once gives a plain checkpoint that loads in a second.
    """
    if base.startswith(LOCAL_PREFIX):
        gguf = resolve_gguf(base)
        target = (cache_dir or model_cache_dir()) / Path(base.removeprefix(LOCAL_PREFIX)).stem
        if not (target / "config.json").is_file():
            _dequantise(gguf, target)
        return str(target)
    path = Path(base).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise NanofluxError(f"{path} is not a Hugging Face model directory (no config.json); "
                                f"give a model directory, a hub id or {EMBEDDED_MODEL}")
        return str(path.resolve())
    if path.exists() or base.count("/") > 1 or base.startswith((".", "/", "~")):
        raise NanofluxError(f"unknown base model {base!r}: give {EMBEDDED_MODEL}, {LOCAL_PREFIX}<file>.gguf, "
                            f"a Hugging Face model directory or a hub id like HuggingFaceTB/SmolLM2-135M-Instruct")
    return base


def _dequantise(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp)


def split_model(model: str) -> tuple[str, Path | None]:
    """`BASE+ADAPTER` -> (BASE, adapter directory); a plain model string has no adapter."""
    base, plus, adapter = model.rpartition("+")
    if not plus or Path(model).expanduser().exists():
        return model, None
    path = Path(adapter).expanduser()
    for candidate in (path, FinetuneDir(path).adapter):
        if (candidate / "adapter_config.json").is_file():
            return base, candidate
    raise NanofluxError(f"no LoRA adapter at {adapter!r} (model {model!r}): give the adapter directory or "
                        f"the output directory of `nanoflux finetune`")


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype() -> Any:
    """bf16 on a GPU that has it (half the memory, same range), fp32 on the CPU."""
    import torch

    return torch.bfloat16 if device() == "cuda" and torch.cuda.is_bf16_supported() else torch.float32


def load_model(model: str, cache_dir: Path | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) for a model string, the adapter applied, in eval mode on the best device."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter = split_model(model)
    path = resolve_base(base, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        loaded = AutoModelForCausalLM.from_pretrained(path, dtype=dtype())
    except OSError as exc:
        raise NanofluxError(f"cannot load base model {base!r}: {exc}".splitlines()[0]) from exc
    if adapter is not None:
        from peft import PeftModel

        loaded = PeftModel.from_pretrained(loaded, str(adapter))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return loaded.to(device()).eval(), tokenizer
