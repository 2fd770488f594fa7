"""The data model: `Counts` (per-class statistics, mergeable by addition), the per-image table, and
the pure functions of them: weight schemes, sampling weights, estimates with confidence intervals.

May import: `fastweights.base`. Knows nothing of how the counts were counted.
"""
