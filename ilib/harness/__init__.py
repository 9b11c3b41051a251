"""The harness: the notebook runner (papermill, workers, cache, scoreboard) and course assignments.

The harness imports :mod:`ilib`; :mod:`ilib` never imports the harness.
"""
