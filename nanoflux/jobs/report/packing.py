"""The rounds as the report's page loads them: a small index the filters run over, the rest in compressed blocks.

Embedding every round as plain JSON made a report of 10,000 rounds 25-30 MB, nearly all of it the long
texts (defender reasoning, solution steps, critique, evidence). Here each round's few filtered fields
(`INDEXED`) go into a columnar index, repeated values once in a table; everything else goes into blocks
of `BLOCK` rounds, column by column (like texts side by side compress better), with the words that recur
across the run replaced by one character each, then deflated (gzip) and written in base85. The page
inflates the index at once and a block only when a round in it is listed (`DecompressionStream`).

Format, read by the template's script (and the tests): the index is `{"columns": {key: list | {"values",
"codes"}}, "keys": [block keys], "words": [...], "block": BLOCK}` packed as a block is; a block is
`[column per key in keys]`; packing is `base85(gzip(utf8(words(json))))`, where `words` writes word
number i as the character U+0080 + i (the JSON is ASCII, so no such character is there otherwise), and
base85 is Python's alphabet with "<" written "." (no "</script" or "<!--" can form in the page).
"""

from __future__ import annotations

import base64
import collections
import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

INDEXED = ("id", "status", "accepted", "reason", "topic", "level", "decision", "keep_refused")
BLOCK = 100  # rounds per block: one page of 50 inflates one or two; a sparse filter at most 50 (~5 ms each)
WORD = re.compile(r"([A-Za-z]{3,})")  # a group: `split` keeps the words, at the odd places
MAX_WORDS = 0xD800 - 0x80  # the characters from U+0080 up to the surrogates
SAMPLE = 2000  # rounds the word table is counted on, spread over the run
FIRST_CODE = 0x80
LESS_THAN = str.maketrans("<", ".")


def pack(count: int, row: Callable[[int], dict[str, Any]]) -> tuple[str, list[str]]:
    """The packed index and blocks of `count` rounds, `row(i)` the i-th as the page shows it (`browser_row`).

    Rows are made one block at a time, so a run of 100,000 rounds never holds all its rows at once.
    """
    if not count:
        return _packed(json.dumps({"columns": {key: [] for key in INDEXED}, "keys": [], "words": [],
                                   "block": BLOCK}), {}), []
    step = max(1, count // SAMPLE)
    table = word_table(row(i) for i in range(0, count, step))
    keys = [key for key in row(0) if key not in INDEXED]
    index: dict[str, list[Any]] = {key: [] for key in INDEXED}
    blocks = []
    for start in range(0, count, BLOCK):
        rows = [row(i) for i in range(start, min(count, start + BLOCK))]
        for key in INDEXED:
            index[key].extend(r[key] for r in rows)
        blocks.append(_packed(json.dumps([[r[key] for r in rows] for key in keys], separators=(",", ":")), table))
    columns = {key: values if key == "id" else _tabled(values) for key, values in index.items()}
    head = json.dumps({"columns": columns, "keys": keys, "words": list(table), "block": BLOCK}, separators=(",", ":"))
    return _packed(head, {}), blocks


def word_table(rows: Iterator[dict[str, Any]]) -> dict[str, str]:
    """The words worth a character of their own (3+ letters, seen 3+ times in the sample), the most frequent
    first: word -> its character."""
    counts = collections.Counter(word for r in rows for word in WORD.findall(json.dumps(r)))
    common = [word for word, n in counts.most_common(MAX_WORDS) if n >= 3]
    return {word: chr(FIRST_CODE + i) for i, word in enumerate(common)}


def unpack(text: str, words: list[str] | None = None) -> Any:
    """The JSON a packed text holds (what the page's script does; for tests and tools)."""
    raw = zlib.decompress(base64.b85decode(text.replace(".", "<")), 31).decode("utf-8")
    if words:
        raw = re.sub(r"[\u0080-\uffff]", lambda m: words[ord(m.group(0)) - FIRST_CODE], raw)
    return json.loads(raw)


def _packed(text: str, table: dict[str, str]) -> str:
    if table:
        parts, get = WORD.split(text), table.get
        parts[1::2] = [get(word, word) for word in parts[1::2]]
        text = "".join(parts)
    # Level 6, not 9: 3% larger, 4 times faster. wbits 31: a gzip stream, as DecompressionStream reads it.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31, 9)
    data = compressor.compress(text.encode("utf-8")) + compressor.flush()
    return base64.b85encode(data).decode("ascii").translate(LESS_THAN)


def _tabled(values: list[Any]) -> dict[str, list[Any]]:
    """A column of few distinct values: each once, and a number per round."""
    table: dict[str, int] = {}
    codes = [table.setdefault(json.dumps(value), len(table)) for value in values]
    return {"values": [json.loads(value) for value in table], "codes": codes}
