"""One entry of ``datasets`` -> :class:`Interactions`, through the loader table of the registry
(the loaders are named there as strings, so a loader may call back in: a ``synthetic`` entry
loads its source with :func:`load_dataset`)."""

from __future__ import annotations

from pathlib import Path

from .. import registry
from ..errors import InputError
from .interactions import Interactions


def load_dataset(spec, cache_dir: str | Path = "resources") -> Interactions:
    """Load the dataset one entry of ``datasets`` describes (a
    :class:`recinfluence.settings.Dataset`; a key left out is ``None``: the loader's default),
    with the ``from_spec`` of its loader. A ``synthetic`` entry loads its ``source`` entry
    (downloads go to the same ``cache_dir``) and expands it."""
    entry = registry.LOADERS.get(spec.loader)
    if entry is None:
        known = ", ".join(registry.LOADERS)
        raise InputError(f"datasets.{spec.name}.loader: unknown loader {spec.loader!r} ({known})")
    from_spec = registry.import_object(entry.path, f"datasets.{spec.name}.loader", "loader")
    return from_spec(spec, cache_dir)
