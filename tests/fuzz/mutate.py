"""Mutations of valid files: generic (bit flips, truncations, inserted / removed / repeated bytes)
and structure-aware per format (PNG chunks, .npy header text, zip records, TIFF IFD entries,
NIfTI header fields, gzip members), so that a mutation reaches past the first checksum or magic.

A mutator takes (bytes, rng) and returns (mutated bytes, what it did), or None when it does not
apply to that file. `mutations(fmt, data, rng)` picks one at random."""

from __future__ import annotations

# Importing each format's module registers its mutators.
from . import mutate_nifti, mutate_npy, mutate_png, mutate_tiff  # noqa: F401
from .mutate_common import MUTATORS, boundaries, mutate

__all__ = ["MUTATORS", "boundaries", "mutate"]
