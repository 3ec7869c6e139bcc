"""The size caps of the checks that run on model-written text in the caller's process.

No worker timeout reaches the caller: a check that is slow or huge there stalls the run, so every
input is capped before it is read, at sizes no real answer reaches. Each cap is set here once; the
checks answer "undecidable", naming the cap, when an input passes one (docs/safety.md lists them).
"""

from __future__ import annotations

MAX_ANSWER_CHARS = 100_000  # an answer as given: a whole model response, before the final answer is found
MAX_FINAL_ANSWER_CHARS = 5_000  # the final answer found in it: longer is prose, never one value
MAX_NUMBER_CHARS = 200  # a number with a count noun or unit ("one hundred and five glass jars")
MAX_LITERAL_DIGITS = 18  # a number in a step's arithmetic, computed in-process (longer: not read as a number)
MAX_NUMBER_WORDS = 16  # a number in words ("nine hundred and ninety-nine thousand ..."), read as one token
MAX_NUMBER_DIGITS = 1_000  # digits of a number read exactly (Python refuses int() past 4,300)
MAX_EXPONENT = 400  # |e| of a number read exactly ("1e400"): 10**1000000000 would take hours
MAX_SOLUTION_CHARS = 20_000  # a solution's steps together (GSM8K's longest is ~1,200 characters)
MAX_CLAIMS = 200  # claims read from one solution
MAX_EXPRESSION_CHARS = 2_000  # an expression given to sympy (in the worker)
MAX_UNIT_CHARS = 60  # unit text given to pint
MAX_UNIT_POWER = 12  # |exponent| of a unit ("m^3", "s^-2"); pint computes number powers exactly
MAX_GENES = 6  # gene pairs of a Punnett cross: 3**n genotypes, 4**n gamete pairs
MAX_SEQUENCE_CHARS = 1_000_000  # bases of a DNA sequence a genomics tool reads
MAX_CODE_NODES = 20_000  # AST nodes of a solution's python the code check follows
TOOL_TIMEOUT_S = 10.0  # one call of a judge's tool, however it computes
