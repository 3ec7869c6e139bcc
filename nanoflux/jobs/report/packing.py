"""The rounds as the report's page loads them: a small index the filters run over, the rest in compressed blocks.

Embedding every round as plain JSON made a report of 10,000 rounds 25-30 MB, nearly all of it the long
texts (defender reasoning, solution steps, solves' programs, critique, evidence). Here each round's few
filtered fields (`INDEXED`) go into a columnar index, repeated values once in a table; everything else
goes into blocks of `BLOCK` rounds, round by round (a round's texts quote each other: the claims in the
evidence are its steps, the critique quotes them, and deflate's 32 KiB window sees them together only
side by side: 13% smaller than column by column on real text), with the words that recur across the
run replaced by one character each, then deflated (gzip) and written a byte a character. The page
inflates the index at once and a block only when a round in it is listed (`DecompressionStream`).

Format, read by the template's script (and the tests): the index is `{"columns": {key: list | {"values",
"codes"}}, "keys": [block keys], "words": [...], "block": BLOCK}` packed as a block is; a block is
`[[value per key in keys] per round]`; packing is `eights(gzip(utf8(words(json))))`, where `words`
writes word number i as the character U+0080 + i (the JSON is ASCII, so no such character is there
otherwise), and `eights` writes each byte as the character `CHARSET` decodes it to, the page being in
that encoding (`encode_page`): windows-1252, whose WHATWG decoder gives each of the 256 bytes a character
of its own, so the page's script gets the bytes back by inverting what the browser's `TextDecoder` makes
of them. The bytes HTML would drop, change or parse in a script (NUL, CR, "<") and the escape byte itself
are written `ESCAPE` (=), then the byte + `SHIFT`: 4 in 256 bytes take two, 1.6% over the compressed bytes
where 7 bits a character in a UTF-8 page took 16.9% and base85 25%. The rest of the page is ASCII or
windows-1252 text; any other character is an HTML character reference, so the template's scripts and
styles (where a reference is not read as one) hold only ASCII, writing anything else as a \\u escape.
"""

from __future__ import annotations

import codecs
import collections
import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

INDEXED = ("id", "status", "accepted", "reason", "topic", "level", "decision", "keep_refused")
# Rounds per block: one page of 50 inflates one or two; a sparse filter at most 50 (~5 ms each). 200 would be
# 0.7% smaller on real text, each block inflating 1.5 times longer.
BLOCK = 100
WORD = re.compile(r"([A-Za-z]{3,})")  # a group: `split` keeps the words, at the odd places
MAX_WORDS = 0xD800 - 0x80  # the characters from U+0080 up to the surrogates
SAMPLE = 2000  # rounds the word table is counted on, spread over the run
FIRST_CODE = 0x80
# The page's encoding: one byte a character, every byte value a character of its own (the WHATWG index
# maps 0x80-0x9F to the characters Windows puts there, and the 5 it leaves undefined to U+0081, U+008D,
# U+008F, U+0090 and U+009D, where Python's cp1252 codec refuses them), so a block's bytes are its characters.
CHARSET = "windows-1252"
WINDOWS_1252 = "".join(bytes([value]).decode("cp1252", errors="ignore") or chr(value) for value in range(256))
_ENCODING = codecs.charmap_build(WINDOWS_1252)
ESCAPE = ord("=")  # writes a byte HTML would drop, change or parse as ESCAPE, then the byte + SHIFT
SHIFT = 64
UNSAFE = (ESCAPE, 0, 13, 60)  # the escape itself (first: the others write it), NUL, CR, "<" ("</script")
_ESCAPED = re.compile(rb"=(.)", re.DOTALL)

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
        blocks.append(_packed(json.dumps([[r[key] for key in keys] for r in rows], separators=(",", ":")), table))
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
    raw = zlib.decompress(from_eights(text), 31).decode("utf-8")
    if words:
        raw = re.sub(r"[\u0080-\uffff]", lambda m: words[ord(m.group(0)) - FIRST_CODE], raw)
    return json.loads(raw)


def _packed(text: str, table: dict[str, str]) -> str:
    if table:
        parts, get = WORD.split(text), table.get
        parts[1::2] = [get(word, word) for word in parts[1::2]]
        text = "".join(parts)
    # Level 6, not 9: 0.6% larger on real text, deflating in 0.5-0.8 of the time. wbits 31: a gzip stream, as
    # DecompressionStream reads it.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31, 9)
    data = compressor.compress(text.encode("utf-8")) + compressor.flush()
    return eights(data)


def eights(data: bytes) -> str:
    """`data` a byte a character, as the page's `CHARSET` reads it, the `UNSAFE` bytes escaped."""
    for value in UNSAFE:  # bytes.replace: several times faster than a translation
        data = data.replace(bytes([value]), bytes([ESCAPE, value + SHIFT]))
    return codecs.charmap_decode(data, "strict", WINDOWS_1252)[0]


def from_eights(text: str) -> bytes:
    """The bytes `eights` wrote."""
    return _ESCAPED.sub(lambda m: bytes([m[1][0] - SHIFT]), codecs.charmap_encode(text, "strict", _ENCODING)[0])


def encode_page(html: str) -> bytes:
    """The page as its file holds it: `CHARSET`, every other character as an HTML character reference (so the
    page's scripts and styles, where a reference is not read as one, must hold only ASCII and blocks)."""
    return codecs.charmap_encode(html, "xmlcharrefreplace", _ENCODING)[0]


def decode_page(data: bytes) -> str:
    """The page's text as a browser reads its file (for tests and tools)."""
    return codecs.charmap_decode(data, "strict", WINDOWS_1252)[0]


def _tabled(values: list[Any]) -> dict[str, list[Any]]:
    """A column of few distinct values: each once, and a number per round."""
    table: dict[str, int] = {}
    codes = [table.setdefault(json.dumps(value), len(table)) for value in values]
    return {"values": [json.loads(value) for value in table], "codes": codes}
