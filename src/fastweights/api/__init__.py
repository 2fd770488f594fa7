"""The floor users touch: `count()`, the exports of counts and weights to other tools, tables,
charts, `show_config()` and the demo.

May import: every floor below (`fastweights.base`, `.kernels`, `.model`, `.io`, `.engine`,
`.backends`); never `fastweights.cli`.
"""
