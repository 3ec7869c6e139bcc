"""The roles as DSPy modules, and the Round that plays attacker -> defender -> solver -> judge. A module calls
the LMs it is given; it never builds one (the compiler does) nor writes anything."""

from nanoflux.modules.attacker import Attacker
from nanoflux.modules.defender import Defender, Reviser
from nanoflux.modules.judge import Judge
from nanoflux.modules.round import RoleLMs, Round
from nanoflux.modules.solver import Solver

__all__ = ["Attacker", "Defender", "Judge", "Reviser", "Round", "RoleLMs", "Solver"]
