"""The one tool registry: specs name tools from here, and agents receive their functions.

A `Tool` bundles plain typed functions with docstrings, so its `functions` can be handed straight
to `dspy.ReAct(signature, tools=tool.functions)`; `functions_for(sandbox)` gives those of a tool that
runs code bound to the spec's sandbox.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable

from nanoflux.errors import NanofluxError

from . import algebra, genomics, sandbox, units


@dataclass(frozen=True)
class Tool:
    """A named group of functions an agent may call; `description` tells the agent when to use them."""

    name: str
    description: str
    functions: list[Callable] = field(default_factory=list)
    bind: Callable[[sandbox.Sandbox], list[Callable]] | None = None  # for tools that run code

    def functions_for(self, box: sandbox.Sandbox) -> list[Callable]:
        """The functions, those that run code running it in `box`."""
        return self.bind(box) if self.bind else self.functions


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("sympy", "Exact algebra: solve equations, simplify expressions, check two expressions are equal.",
             [algebra.solve_equation, algebra.simplify_expression, algebra.expressions_equal]),
        Tool("python", "Run Python in a sandbox (no network, no files, 5 s) with sympy, math, statistics and Bio.",
             [sandbox.execute_python], bind=lambda box: [sandbox.python_tool(box)]),
        Tool("genomics", "DNA/protein and Mendelian genetics: reverse complement, translation, GC content, ORFs, "
                         "Hardy-Weinberg and Punnett-square ratios.",
             [genomics.reverse_complement, genomics.translate, genomics.gc_content, genomics.find_orfs,
              genomics.hardy_weinberg, genomics.punnett_ratios]),
        Tool("units", "Unit conversion and dose arithmetic: mg/kg doses, infusion rates, volumes to draw up.",
             [units.convert_units, units.weight_based_dose, units.infusion_rate, units.volume_for_dose]),
    )
}


def tool_names() -> list[str]:
    """Names a spec may list under `tools:`, sorted."""
    return sorted(TOOLS)


def get_tool(name: str) -> Tool:
    """The tool called `name`; a NanofluxError naming the known tools (and the closest one) otherwise."""
    if name in TOOLS:
        return TOOLS[name]
    close = difflib.get_close_matches(name, TOOLS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise NanofluxError(f"unknown tool {name!r}; known tools: {', '.join(tool_names())}.{hint}")
