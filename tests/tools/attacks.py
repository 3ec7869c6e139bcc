"""The two lines (and a loop) that defeat the sandbox child's audit hook, as the issue reported them.

Escape tests start their code with this, so what they test is the operating-system boundary.
"""

HOOK_BYPASS = (
    "import builtins, sys\n"
    "builtins.any = lambda it: True\n"
    "for _name in ('PROCESS_EVENTS', 'NATIVE_EVENTS', 'PATH_EVENTS'):\n"
    "    getattr(sys.modules['__main__'], _name).clear()\n"
)
