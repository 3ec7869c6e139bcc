"""The two lines (and a loop) that defeat the sandbox child's audit hook, as the issue reported them.

Escape tests start their code with this, so what they test is the operating-system boundary.
Tests that need a working isolated sandbox carry `requires_isolation` (skipped, with the probe's
reason, where bubblewrap cannot start).
"""

import pytest

from nanoflux.verify.isolation import probe

HOOK_BYPASS = (
    "import builtins, sys\n"
    "builtins.any = lambda it: True\n"
    "for _name in ('PROCESS_EVENTS', 'NATIVE_EVENTS', 'PATH_EVENTS'):\n"
    "    getattr(sys.modules['__main__'], _name).clear()\n"
)

ISOLATION = probe()
requires_isolation = pytest.mark.skipif(not ISOLATION.available, reason=f"no isolation here: {ISOLATION.detail}")
