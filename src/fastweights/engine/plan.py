"""What a count counts: the inputs in listing order, or the share (`shard`) or the random sample
(`sample`) of them that the settings choose."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io.sources import Input, expand, iter_inputs
from .settings import Settings
from .shards import split_by_bytes

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    items: Iterable[Input]  # a list when the number of inputs is known before counting starts
    drawn: dict[str, Any] = field(default_factory=dict)  # the share or sample: a checkpoint or cache must agree
    estimate: dict[str, Any] | None = None  # how a sample was drawn, for Counts.params["estimate"]


def plan(inputs: object, settings: Settings) -> Plan:
    if settings.sample is None and settings.shard is None:
        # Listing streams into counting, unless a progress bar needs the total first.
        options = settings.storage_options
        return Plan(expand(inputs, options) if settings.progress else iter_inputs(inputs, options))
    listed = expand(inputs, settings.storage_options)
    chosen: Sequence[int] = range(len(listed))
    drawn: dict[str, Any] = {}
    estimate = None
    if settings.shard is not None:
        index, parts = settings.shard
        chosen = split_by_bytes([item.nbytes for item in listed], parts)[index]
        drawn["shard"] = [index, parts]
    if settings.sample is not None:
        picked, estimate = _sample(len(chosen), settings.sample, settings.seed)
        chosen = [chosen[position] for position in picked]
        drawn["sample"] = [settings.sample, settings.seed]
    if not chosen:
        raise ValueError(f"shard={settings.shard!r}: this share of the {len(listed)} inputs is empty")
    return Plan([listed[position] for position in chosen], drawn, estimate)


def _sample(population: int, sample: float, seed: int) -> tuple[list[int], dict[str, Any]]:
    """The positions of a random sample of the inputs, in listing order, and how it was drawn."""
    size = min(sample, population) if isinstance(sample, int) else max(1, round(sample * population))
    chosen = sorted(np.random.default_rng(seed).choice(population, size, replace=False).tolist())
    return chosen, {"sample": size, "population": population, "share": size / population, "seed": seed}
