"""The counting engine: one `Settings` per count, the inputs to count (`plan`), per-input counts
and their classification, their sum (`accumulate`), the run loop over worker threads (`run`),
progress, checkpoints and the per-file cache.

May import: `fastweights.base`, `.kernels`, `.model` and `.io`. What it needs from above (the device
that counts arrays) it is handed as an argument.
"""
