"""The harness: the notebook runner (papermill, workers, cache, scoreboard) and course assignments.

The harness imports :mod:`ilib`; :mod:`ilib` never imports the harness.

Importing the harness turns off one optional check of :mod:`jsonschema`, in this process only: where the package
``rfc3987-syntax`` is installed (``jupyter-events`` pulls it in with ``jsonschema[format-nongpl]``), jsonschema
compiles 38 Lark grammars for its IRI format checker when :mod:`nbformat` is first imported, 7 CPU seconds in every
runner, Dask worker, grader and sandbox process. The harness validates notebooks only, and the notebook schema has
no IRI field, so nothing it checks changes. A process that already imported it keeps it.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)  # `import rfc3987_syntax` raises ImportError, which jsonschema skips
