"""The one base class for errors an operator can act on: the CLI prints them without a traceback."""


class DebtflowError(Exception):
    """Bad input, a failed gate or a missing prerequisite, with a message that says what to do."""
