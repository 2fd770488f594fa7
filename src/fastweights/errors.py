"""Exceptions raised for bad input data."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """An input cannot be counted as it is: the message names the input and the problem."""
