"""Exceptions raised for bad input data."""

from __future__ import annotations

__all__ = ["InputError", "Interrupted"]


class InputError(ValueError):
    """An input cannot be counted as it is: the message names the input and the problem."""


class Interrupted(KeyboardInterrupt):
    """A count stopped by SIGINT or SIGTERM after writing its checkpoint; rerunning it resumes."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number
