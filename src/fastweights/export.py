"""`fastweights.export`, the public path of `fastweights.api.export` (documented there)."""

from __future__ import annotations

from .api.export import (
    counts_csv,
    counts_json,
    keras_class_weight,
    keras_sample_weight,
    keras_text,
    mmseg_class_weight,
    mmseg_text,
    monai_weights,
    save_torch_weight,
    smp_class_weights,
    torch_pos_weight,
    torch_sampler,
    torch_text,
    torch_weight,
    weights_csv,
    weights_json,
)

__all__ = [
    "counts_csv",
    "counts_json",
    "keras_class_weight",
    "keras_sample_weight",
    "keras_text",
    "mmseg_class_weight",
    "mmseg_text",
    "monai_weights",
    "save_torch_weight",
    "smp_class_weights",
    "torch_pos_weight",
    "torch_sampler",
    "torch_text",
    "torch_weight",
    "weights_csv",
    "weights_json",
]
