"""Approximate deletion: each variant derived from the fitted baseline of a seed instead of
retrained (docs/method.md "Approximate influence").

Everything else is exact deletion's (seeds, comparison, tables); only the variants differ:

- ``warm_start``: the baseline trained ``epochs`` more epochs without the entity, compared with
  the baseline trained as many more epochs on everything (so what the extra epochs change by
  themselves cancels);
- ``influence_function``: every user and item that lost rows moved by the influence of those
  rows on its own parameters (Koh & Liang, 2017, restricted as in Cheng et al., 2019), compared
  with the baseline itself. Each model's hook says how: SVD propagates it over the epochs
  trained (option ``epochs``, :meth:`recinfluence.models.svd.SVD.influence_variants`), NCF
  through the damped inverse Hessian of each embedding (option ``damping``,
  :meth:`recinfluence.models.ncf.NCF.influence_variants`); an option the model's hook does not
  take is refused.

Both need the model's own capability (``warm_start(train, epochs)``, ``influence_variants(train,
trains)``: the protocols of :mod:`recinfluence.models.base`, declared for the built-ins in
:data:`recinfluence.registry.MODELS`; a config naming a model without it is refused before any
job runs); SVD and NCF have both. Neither equals a refit:
``benchmarks/fidelity.py`` measures how closely each follows exact deletion, and at what cost.
"""

from __future__ import annotations

import inspect

from ..errors import InputError
from ..models.base import WarmStartsMany, model_capabilities
from ..registry import ESTIMATORS
from .exact import ExactDeletion


class _Approximate(ExactDeletion):
    def run(self, retrainer, kind, unit, comparison="exclude"):
        self._check(retrainer.make_model())
        return super().run(retrainer, kind, unit, comparison)

    def _check(self, model) -> None:
        """Refuse, by name, a model without the capability this approximation needs."""
        needs = ESTIMATORS[self.name].needs
        if needs not in model_capabilities(model):
            raise InputError(
                f'estimator {self.name}: model {type(model).__name__} has no {needs}() (docs/method.md "Approximate '
                'influence" lists the models that do)'
            )

    @property
    def approximation(self):
        return self

    @property
    def reference_key(self) -> str:
        """Names the reference model (the retrainer keeps one per seed and key)."""
        return self.name

    def reference(self, model, train):
        return None


class WarmStart(_Approximate):
    name = "warm_start"

    def __init__(self, seed: int = 0, seeds: int = 1, epochs: int = 2):
        super().__init__(seed, seeds)
        self.epochs = epochs

    @property
    def reference_key(self) -> str:
        return f"{self.name}:{self.epochs}"

    def reference(self, model, train):
        return model.warm_start(train, self.epochs)

    def variants(self, model, train, trains):
        if isinstance(model, WarmStartsMany):  # a batched model warms a work unit in one pass
            return iter(model.warm_start_many(trains, self.epochs))
        return (model.warm_start(reduced, self.epochs) for reduced in trains)


class InfluenceFunction(_Approximate):
    name = "influence_function"

    def __init__(self, seed: int = 0, seeds: int = 1, epochs: int | None = None, damping: float | None = None):
        super().__init__(seed, seeds)
        self.options = {name: value for name, value in (("epochs", epochs), ("damping", damping)) if value is not None}

    def _check(self, model) -> None:
        super()._check(model)
        foreign = sorted(set(self.options) - set(inspect.signature(model.influence_variants).parameters))
        if foreign:
            raise InputError(
                f"estimator {self.name}: option {', '.join(foreign)} does not apply to model {type(model).__name__} "
                '(docs/method.md "Approximate influence")'
            )

    def variants(self, model, train, trains):
        return model.influence_variants(train, trains, **self.options)
