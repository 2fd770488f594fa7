"""Exceptions raised for bad input data, interruptions, and a GPU that cannot be used."""

from __future__ import annotations

__all__ = ["DeviceUnavailable", "InputError", "Interrupted"]


class InputError(ValueError):
    """An input cannot be counted as it is: the message names the input and the problem."""


class Interrupted(KeyboardInterrupt):
    """A count stopped by SIGINT or SIGTERM after writing its checkpoint; rerunning it resumes."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number


class DeviceUnavailable(RuntimeError):
    """device="cuda" was asked for and no GPU can count here: the message says what is missing."""
