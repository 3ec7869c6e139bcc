"""What many tests share: the repository's paths, stand-in servers and engines, record builders, a tiny trainer."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"  # labelled files the tests and `nanoflux judge-eval` read
