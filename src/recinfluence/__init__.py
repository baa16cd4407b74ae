"""Deletion diagnostics for recommender systems: retrain without each user and item and measure
how the ranking metrics move.

Modules, lowest layer first (``tests/test_layers.py`` keeps each importing only its own layer
and those below):

- ``registry`` (the names of metrics, models, estimators and loaders), ``errors``, ``io``,
  ``progress``, ``stats``;
- ``data`` (loaders, validation, dense ids), ``split`` (the seeded split), ``metrics`` (one
  vectorised evaluation), ``models.base`` (the training set, the model contract and its
  optional capabilities);
- ``models`` (SVD, NCF, EASE, item-kNN, ALS, Mult-VAE, plug-ins) and ``retrain`` (fit, score,
  evaluate, compare);
- ``estimators`` (exact deletion, racing, random rows, the random control, Data Banzhaf, warm
  start, influence functions), ``pruning``, ``analysis`` and ``plots``;
- ``summary`` (``results/summary.md``);
- ``settings`` (a study's config, validated), ``compose`` (the models and estimators it
  describes) and ``jobs`` (what every workflow script does first).

Importing this package imports none of them (nor torch or numba)."""

__version__ = "0.2.0"
