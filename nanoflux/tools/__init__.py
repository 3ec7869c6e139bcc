"""Tools the judge and agents use to verify answers: answer equivalence, reference consistency,
sandboxed Python, sympy algebra, genomics and units, all reachable through one registry."""

from nanoflux.tools.answers import ANSWER_TYPES, AnswerCheck, answers_match, check_answer
from nanoflux.tools.reference import check_reference
from nanoflux.tools.registry import TOOLS, Tool, get_tool, tool_names
from nanoflux.tools.sandbox import ExecutionResult, run_python

__all__ = ["ANSWER_TYPES", "TOOLS", "AnswerCheck", "ExecutionResult", "Tool", "answers_match", "check_answer",
           "check_reference", "get_tool", "run_python", "tool_names"]
