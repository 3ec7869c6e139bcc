"""The spec: its pydantic model (the one home of every default and its description) and the reference
page rendered from it (docs/spec.md)."""
