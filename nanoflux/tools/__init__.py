"""The judge's tools: one registry of named tools (sympy, python, genomics, units) that specs list
and agents call. Names and descriptions import nothing heavy; a tool's functions load on use. A tool's
logic lives in `nanoflux.verify`; here it is only named, described and bound."""

from nanoflux.tools.registry import TOOLS, Tool, get_tool, tool_names

__all__ = ["TOOLS", "Tool", "get_tool", "tool_names"]
