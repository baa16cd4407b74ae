"""Interaction data: loaders, validation and dense integer ids.

:mod:`.interactions` holds :class:`Interactions`, the table every loader returns, with its
validation; :mod:`.downloads` the checked downloads. The loaders are :mod:`.movielens`,
:mod:`.amazon`, :mod:`.table` and :mod:`.synthetic`, each with a ``from_spec(spec, cache_dir)``
that :func:`.loading.load_dataset` finds by the entry's loader in
:data:`recinfluence.registry.LOADERS`. :mod:`.inject` plants fake users and corrupted ratings in
loaded data, with the labels in a table of their own.
"""

from __future__ import annotations

from .amazon import AMAZON_ELECTRONICS_URL, k_core, load_amazon_ratings, read_ratings_csv
from .downloads import download, sha256
from .inject import inject, no_planted, planted_rows
from .interactions import COLUMNS, Interactions, from_raw
from .loading import load_dataset
from .movielens import (
    MOVIELENS_1M_URL,
    MOVIELENS_25M_URL,
    MOVIELENS_100K_SHA256,
    MOVIELENS_100K_URL,
    MOVIELENS_ARCHIVE_SHA256,
    MOVIELENS_RELEASES,
    MovieLensRelease,
    download_movielens,
    load_movielens_1m,
    load_movielens_25m,
    load_movielens_100k,
)
from .synthetic import expand_interactions, expansion_matrix, expansion_shape
from .table import load_table

__all__ = [
    "AMAZON_ELECTRONICS_URL",
    "COLUMNS",
    "MOVIELENS_1M_URL",
    "MOVIELENS_25M_URL",
    "MOVIELENS_100K_SHA256",
    "MOVIELENS_100K_URL",
    "MOVIELENS_ARCHIVE_SHA256",
    "MOVIELENS_RELEASES",
    "Interactions",
    "MovieLensRelease",
    "download",
    "download_movielens",
    "expand_interactions",
    "expansion_matrix",
    "expansion_shape",
    "from_raw",
    "inject",
    "k_core",
    "load_amazon_ratings",
    "load_dataset",
    "load_movielens_1m",
    "load_movielens_25m",
    "load_movielens_100k",
    "load_table",
    "no_planted",
    "planted_rows",
    "read_ratings_csv",
    "sha256",
]
