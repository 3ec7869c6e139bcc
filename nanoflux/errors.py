"""The one error type a user can cause: the CLI prints it without a traceback and exits 2."""


class NanofluxError(Exception):
    """A problem the user can fix (bad spec, unknown model or tool, unwritable path...).

    The message says what is wrong and how to fix it.
    """
