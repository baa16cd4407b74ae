"""Deletion diagnostics for recommender systems: retrain without each user and item and measure
how the ranking metrics move.

Modules: ``settings`` (a study's config), ``data`` and ``split`` (interactions, dense ids, the
seeded split), ``models`` (SVD, NCF, plug-ins), ``metrics``, ``retrain`` (fit, score, evaluate,
compare), ``estimators`` (exact deletion, the random control), ``pruning``, ``analysis``,
``plots`` and ``summary``. Importing this package imports none of them (nor torch or numba)."""

__version__ = "0.2.0"
