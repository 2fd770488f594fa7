"""The counting engine, in the order a count uses it: one checked `Settings` (`settings`), the
inputs to count (`plan`, with `shards`), each input's images tallied and classified (`classify`),
the worker loop (`run`), the running sum (`accumulate`), and what goes along: `progress`,
`checkpoint`, the per-file `cache`.

May import: `fastweights.base`, `.kernels`, `.model` and `.io`. What it needs from above (the
device that counts arrays) is set by the backend: `fastweights.io.device`.
"""
