"""The roles as DSPy modules, and the Round that plays attacker -> defender -> judge."""

from nanoflux.modules.attacker import Attacker
from nanoflux.modules.defender import Defender
from nanoflux.modules.judge import Judge
from nanoflux.modules.round import RoleLMs, Round

__all__ = ["Attacker", "Defender", "Judge", "Round", "RoleLMs"]
