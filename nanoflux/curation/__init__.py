"""Curation: which rounds become examples (tool-verified, in the quality band, novel)."""
