"""The embedded model's `Llama`: grammar checked on the sampled token first, not on the whole vocabulary.

llama-cpp-python puts the JSON grammar into the sampler chain before top-k, so every generated token
checks all 49,152 of SmolLM2's tokens against the grammar: on one core that took longer than the
forward pass that produced them. llama.cpp's own tools (`common_sampler_sample`) sample first and
check only the token drawn; only when the grammar rejects it is the whole vocabulary filtered and the
token drawn again. This does the same. At temperature 0 the answer is the one the grammar-first chain
gives (the most likely token the grammar allows either way); when sampling, a token the grammar
allows is drawn with the chain's probability, as in llama.cpp's server.

Imported when the embedded model loads: llama_cpp is imported here, not by `nanoflux.clients.lm`.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama
from llama_cpp import _internals as internals


class GrammarLastLlama(Llama):
    """A `Llama` whose generations check their grammar on the drawn token (`GrammarLastSampler`).

    It also keeps one row of logits instead of llama-cpp-python's 512 (100 MB for SmolLM2): with
    `logits_all` off nothing reads them (sampling reads llama.cpp's own), yet every `save_state` of the
    prompt cache copied them all.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self._logits_all:
            self.scores = np.zeros((1, self._n_vocab), dtype=np.single)

    def _init_sampler(self, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        chain = super()._init_sampler(*args, grammar=None, **kwargs)
        if grammar is None:
            return chain
        check = internals.LlamaSampler()
        check.add_grammar(self._model, grammar)
        return GrammarLastSampler(chain, check, self._n_vocab)


class GrammarLastSampler:
    """A sampler chain and a grammar, used as llama-cpp-python uses its chain (`sample(ctx, idx)`).

    Draws with the chain alone, then shows the grammar that one token; if the grammar rejects it, the
    grammar filters every token and the chain draws again from what is left. Both accept the token
    kept, so the repeat penalty and the grammar's state follow the text actually generated.
    """

    def __init__(self, chain: Any, grammar: Any, n_vocab: int):
        self.chain = chain
        self.grammar = grammar
        self.n_vocab = n_vocab
        self._all = internals.LlamaTokenDataArray(n_vocab=n_vocab)
        self._one = internals.LlamaTokenDataArray(n_vocab=1)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        token = self._draw(logits, grammar_first=False)
        if not self._allows(token):
            token = self._draw(logits, grammar_first=True)
        self.grammar.accept(token)
        self.chain.accept(token)
        return token

    def _draw(self, logits: np.ndarray, *, grammar_first: bool) -> int:
        candidates = _reset(self._all)
        self._all.copy_logits(logits)
        if grammar_first:
            llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
        llama_cpp.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
        return int(candidates.data[candidates.selected].id)

    def _allows(self, token: int) -> bool:
        candidates = _reset(self._one)
        data = self._one.candidates_data
        data.id[0], data.logit[0], data.p[0] = token, 0, 0
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
        return not math.isinf(candidates.data[0].logit)


def _reset(array: Any) -> Any:
    """The array's llama_token_data_array pointing at its own data again, whole, nothing selected
    (samplers move its pointer, shrink it and select)."""
    candidates = array.candidates
    candidates.data = array.candidates_data.ctypes.data_as(llama_cpp.llama_token_data_p)
    candidates.size = array.n_vocab
    candidates.selected = -1
    candidates.sorted = False
    return candidates
