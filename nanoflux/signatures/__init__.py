"""The roles' DSPy signatures; their docstrings are the base prompts the compiler extends per domain.
Fields and prompts only: no logic, no imports from the rest of the package."""

from nanoflux.signatures.attacker import AttackerSignature
from nanoflux.signatures.defender import DefenderSignature, ReviserSignature
from nanoflux.signatures.judge import JudgeSignature
from nanoflux.signatures.solver import SolverProgramSignature, SolverSignature

__all__ = ["AttackerSignature", "DefenderSignature", "JudgeSignature", "ReviserSignature", "SolverProgramSignature",
           "SolverSignature"]
