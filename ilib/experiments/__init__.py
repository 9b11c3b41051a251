"""One module per notebook: its :class:`~ilib.profile.Profile`, its section functions and its declared claims.

The module of notebook ``NN_topic.ipynb`` is ``ilib.experiments.topic``
(:func:`ilib.notebook.experiment_module`). Experiments import the topical
modules and the core; nothing in :mod:`ilib` imports an experiment.
"""
