"""The three roles' DSPy signatures; their docstrings are the base prompts the compiler extends per domain."""

from nanoflux.signatures.attacker import AttackerSignature
from nanoflux.signatures.defender import DefenderSignature
from nanoflux.signatures.judge import JudgeSignature

__all__ = ["AttackerSignature", "DefenderSignature", "JudgeSignature"]
