"""The ground floor: the exceptions, optional-package imports, atomic file writes and the version.

May import: the standard library and numpy only, nothing else of fastweights.
"""
