"""A study's settings: the config dict, validated against ``config.schema.yaml`` and read into
frozen, typed sections. This is the only module that reads the raw config.

Every section turns into plain Python values with :meth:`Section.to_params` and back with
:meth:`Section.from_params`. The workflow hands each rule only the sections it reads, as plain
values, because Snakemake reruns a job when its ``params`` change (it compares their ``repr``
and ignores objects it cannot represent): a config edit then reruns exactly the jobs that read
the edited key.

Importing this module is cheap (no torch, numba, scipy or pandas): the Snakefile imports it to
plan the DAG, and every Slurm job parses the Snakefile again.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import InputError

SCHEMA = Path(__file__).with_name("config.schema.yaml")
RATING_METRICS = ("rmse", "mae")
SCORE_METRICS = ("auc",)  # ranking metrics without a cut-off
# Built-in model classes by config name (imported on first use: torch and numba stay unloaded
# until a job needs them); their parameters are declared in the config schema.
BUILTIN_MODELS = {
    "svd": "recinfluence.models.svd:SVD",
    "ncf": "recinfluence.models.ncf:NCF",
    "ease": "recinfluence.models.ease:EASE",
    "item_knn": "recinfluence.models.item_knn:ItemKNN",
    "als": "recinfluence.models.als:ALS",
    "mult_vae": "recinfluence.models.mult_vae:MultVAE",
}
# The model method each approximate estimator needs (README "Approximate influence") and the
# built-in models that have it: the config is checked without importing the models (a test
# keeps this table true to the classes).
ESTIMATOR_HOOKS = {
    "warm_start": ("warm_start", ("ncf", "svd")),
    "influence_function": ("influence_variants", ("ncf", "svd")),
}
# estimator options that only some built-in models' hook takes: estimator -> option -> classes
ESTIMATOR_OPTIONS = {"influence_function": {"epochs": ("svd",), "damping": ("ncf",)}}
DEFAULT_RATING_SCALE = (1, 5)  # of the MovieLens and Amazon loaders (1 to 5 stars)
# the scale each loader assumes when `rating_scale` is left out (a table has none; a synthetic
# dataset has its source's)
LOADER_RATING_SCALES = {
    "movielens_100k": DEFAULT_RATING_SCALE,
    "movielens_1m": DEFAULT_RATING_SCALE,
    "movielens_25m": (0.5, 5),  # half stars
    "amazon_ratings": DEFAULT_RATING_SCALE,
}


@dataclass(frozen=True)
class Section:
    def to_params(self) -> dict:
        """The section as plain values (dicts, lists, numbers, strings), as a rule's params."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict):
        return cls(**params)


@dataclass(frozen=True)
class Evaluation(Section):
    """How every model is evaluated: the top-K cut-off and the relevance threshold."""

    k: int
    relevance_threshold: float


@dataclass(frozen=True)
class SplitSettings(Section):
    seed: int
    test_fraction: float
    valid_fraction: float


@dataclass(frozen=True)
class Dataset(Section):
    """One entry of ``datasets``; keys left out are ``None`` (the loader's default)."""

    name: str
    loader: str
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    columns: list | dict | None = None
    k_core: int | None = None
    sample_users: int | None = None
    sample_seed: int | None = None
    rating_scale: list | None = None
    sep: str | None = None
    source: dict | None = None
    factor: int | None = None
    expansion_seed: int | None = None

    def source_spec(self) -> "Dataset":
        """A ``synthetic`` entry's ``source``, as an entry of its own named ``<name>.source``
        (so that its messages name the key ``datasets.<name>.source.<key>``)."""
        return Dataset(name=f"{self.name}.source", **self.source)

    def scale(self) -> tuple | None:
        """The rating scale in force: ``rating_scale``, else the loader's (the source's for a
        ``synthetic`` entry; None for a table without one)."""
        if self.loader == "synthetic":
            return self.source_spec().scale()
        return tuple(self.rating_scale) if self.rating_scale else LOADER_RATING_SCALES.get(self.loader)


@dataclass(frozen=True)
class Model(Section):
    """One entry of ``models``: a built-in (:data:`BUILTIN_MODELS`) or ``package.module:Class``;
    ``limit`` overrides ``influence.limit`` for this model, kind by kind."""

    name: str
    class_name: str
    params: dict = field(default_factory=dict)
    limit: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"models.{self.name}"

    def factory(self):
        """A zero-argument callable that builds a fresh, unfitted model (imports the model's
        module, hence torch or numba for the built-ins)."""
        from .models import model_factory

        return model_factory(self.class_name, self.params, key=f"{self.key}.class")


@dataclass(frozen=True)
class Influence(Section):
    """Which entities are deleted and how the work is cut into jobs."""

    kinds: list
    limit: dict
    shards: int
    threads: int
    variants_per_batch: int


@dataclass(frozen=True)
class EstimatorSettings(Section):
    """One entry of ``estimators``: its name and its own settings."""

    name: str
    params: dict = field(default_factory=dict)

    def build(self, seed: int = 0):
        """The estimator object (:mod:`recinfluence.estimators`), starting from the study's ``seed``."""
        from .estimators import build_estimator

        return build_estimator(self.name, self.params, seed)


@dataclass(frozen=True)
class Noise(Section):
    seeds: int
    quantile: float


@dataclass(frozen=True)
class Prune(Section):
    kinds: list
    sizes: list
    random_draws: int
    estimators: list | None


@dataclass(frozen=True)
class Report(Section):
    top_n: int
    moved_users: int
    fdr: float


@dataclass(frozen=True)
class Settings:
    """The whole study. Build it with :meth:`from_config` (or :meth:`from_file`): the defaults
    of every key live in the schema, nowhere else."""

    datasets: dict[str, Dataset]
    models: dict[str, Model]
    seed: int
    evaluation: Evaluation
    primary_metric: str
    split: SplitSettings
    protocols: list
    comparison: str
    influence: Influence
    estimators: dict[str, EstimatorSettings]
    noise: Noise
    prune: Prune
    report: Report

    @classmethod
    def from_config(cls, config: dict, source: str = "config") -> "Settings":
        """Validate ``config`` and read it; every problem is reported at once in one
        :class:`InputError` whose lines name the key (``source`` names the file). Keys left out
        are filled into ``config`` with their defaults, as Snakemake's own ``validate`` does (the
        report's captions describe the study from it)."""
        validate_config(config, SCHEMA, source)
        settings = cls(
            datasets={name: Dataset(name=name, **spec) for name, spec in config["datasets"].items()},
            models={
                name: Model(name=name, class_name=spec["class"], params=spec["params"], limit=spec.get("limit", {}))
                for name, spec in config["models"].items()
            },
            seed=config["seed"],
            evaluation=Evaluation(k=config["k"], relevance_threshold=config["relevance_threshold"]),
            primary_metric=config["primary_metric"],
            split=SplitSettings(seed=config["seed"], **config["split"]),
            protocols=config["protocols"],
            comparison=config["comparison"],
            influence=Influence(**config["influence"]),
            estimators={name: EstimatorSettings(name, params) for name, params in config["estimators"].items()},
            noise=Noise(**config["noise"]),
            prune=Prune(**config["prune"]),
            report=Report(**config["report"]),
        )
        settings.check_cross_keys(source)
        settings.check_plugin_models(source)
        return settings

    @classmethod
    def from_file(cls, path) -> "Settings":
        import yaml

        path = Path(path)
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"{path}: cannot be read as YAML ({error})") from None
        if not isinstance(config, dict):
            raise InputError(f"{path}: not a mapping of config keys")
        return cls.from_config(config, str(path))

    def check_cross_keys(self, source: str = "config") -> None:
        """What the schema cannot say, every problem at once: each rating scale ordered, with
        ``relevance_threshold`` not above its top (else no held-out rating is relevant and every
        ranking metric is NaN; a threshold below the scale makes every rating relevant, as
        implicit data wants), and racing's ``start_seeds`` within its ``max_seeds``."""
        problems = []
        threshold = self.evaluation.relevance_threshold
        for dataset in self.datasets.values():
            scale = dataset.scale()
            if scale is None:
                continue
            low, high = scale
            while dataset.loader == "synthetic":  # the scale is the source's: so is the key
                dataset = dataset.source_spec()
            if low >= high:
                problems.append(f"datasets.{dataset.name}.rating_scale: {list(scale)} is not [lowest, highest]")
            elif threshold > high:
                problems.append(
                    f"relevance_threshold: {threshold} is above the rating scale [{low}, {high}] of datasets.{dataset.name}: "
                    "no held-out rating would be relevant"
                )
        racing = self.estimators.get("racing")
        if racing is not None and racing.params["start_seeds"] > racing.params["max_seeds"]:
            problems.append(f"estimators.racing.start_seeds: {racing.params['start_seeds']} is more than max_seeds ({racing.params['max_seeds']})")
        for name, (hook, classes) in ESTIMATOR_HOOKS.items():
            for model in self.models.values():
                if name in self.estimators and model.class_name in BUILTIN_MODELS and model.class_name not in classes:
                    problems.append(f"estimators.{name}: model {model.name} (class {model.class_name}) has no {hook}(); the built-in models with it: {', '.join(classes)}")
        for name, options in ESTIMATOR_OPTIONS.items():
            for option, classes in options.items():
                if name in self.estimators and self.estimators[name].params.get(option) is not None:
                    for model in self.models.values():
                        if model.class_name in BUILTIN_MODELS and model.class_name not in classes:
                            problems.append(f"estimators.{name}.{option}: model {model.name} (class {model.class_name}) takes no {option}; it applies to: {', '.join(classes)}")
        raise_problems(source, problems)

    def check_plugin_models(self, source: str = "config") -> None:
        """Import every ``package.module:Class`` model and check it can be built (built-ins are
        checked by the schema without importing torch). Every bad model is reported at once."""
        problems = []
        for model in self.models.values():
            if model.class_name in BUILTIN_MODELS:
                continue
            try:
                instance = model.factory()()
            except InputError as error:
                problems.append(str(error))
                continue
            for name, (hook, _) in ESTIMATOR_HOOKS.items():
                if name in self.estimators and not callable(getattr(instance, hook, None)):
                    problems.append(f"estimators.{name}: model {model.name} ({model.class_name}) has no {hook}()")
        raise_problems(source, problems)

    @property
    def metric(self) -> str:
        """Column name of the influence metric used for ranking and pruning, e.g. ``map@10``."""
        return metric_column(self.primary_metric, self.evaluation.k)

    def noise_seeds(self) -> list[int]:
        """The seeds of the noise floor (and of pruning): ``seed``, ``seed`` + 1, ..."""
        return [self.seed + offset for offset in range(self.noise.seeds)]

    def limit(self, kind: str, model: str | None = None) -> int | None:
        """How many ids of ``kind`` are deleted (None: all): ``model``'s own limit where it
        sets one for ``kind``, else ``influence.limit``."""
        own = self.models[model].limit if model is not None else {}
        return own[kind] if kind in own else self.influence.limit.get(kind)

    def pruned_estimators(self) -> list[str]:
        """The estimators whose rankings are pruned and retrained."""
        chosen = self.prune.estimators
        return [name for name in self.estimators if chosen is None or name in chosen]

    def pruned_kinds(self) -> list[str]:
        return [kind for kind in self.prune.kinds if kind in self.influence.kinds]

    def to_params(self) -> dict:
        """Every setting as plain values (for the summary, which describes the whole study)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_params(cls, params: dict) -> "Settings":
        """The inverse of :meth:`to_params` (no validation: the values came from a valid config)."""
        values = {}
        for name, value in params.items():
            if name in _SECTIONS:
                values[name] = _SECTIONS[name].from_params(value)
            elif name in _ENTRIES:
                values[name] = {key: _ENTRIES[name].from_params(entry) for key, entry in value.items()}
            else:
                values[name] = value
        return cls(**values)


_SECTIONS = {"evaluation": Evaluation, "split": SplitSettings, "influence": Influence, "noise": Noise, "prune": Prune, "report": Report}
_ENTRIES = {"datasets": Dataset, "models": Model, "estimators": EstimatorSettings}


def _plain(value):
    if isinstance(value, Section):
        return value.to_params()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def metric_column(name: str, k: int) -> str:
    """``map`` at K = 10 is ``map@10``; rating errors and AUC have no cut-off."""
    return name if name in RATING_METRICS or name in SCORE_METRICS else f"{name}@{k}"


def validate_config(config: dict, schema_file=SCHEMA, source: str = "config") -> None:
    """Check ``config`` against the JSON schema in ``schema_file``; on failure raise one
    :class:`InputError` listing every problem as ``key.path: what is wrong`` (``source`` names
    the config file in the first line). Keys left out are filled in, in place, with the schema's
    ``default`` (as Snakemake's own ``validate`` does)."""
    import jsonschema
    import yaml

    with open(schema_file) as handle:
        schema = yaml.safe_load(handle)
    base = jsonschema.validators.validator_for(schema)

    def fill_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, spec in properties.items():
                if "default" in spec:
                    instance.setdefault(name, copy.deepcopy(spec["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, subschema)

    validator = jsonschema.validators.extend(base, {"properties": fill_defaults})(schema)
    errors = sorted(validator.iter_errors(config), key=lambda error: [str(part) for part in error.absolute_path])
    raise_problems(source, sorted({f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors}))


def raise_problems(source: str, problems: list[str]) -> None:
    """One :class:`InputError` for every problem at once (nothing when there is none): one
    line for one problem, else a count and one indented line each. Characters that would break
    a line or hide (a key named "\\x1e") are shown escaped."""
    problems = ["".join(c if c.isprintable() else repr(c)[1:-1] for c in problem) for problem in problems]
    if len(problems) == 1:
        raise InputError(f"{source}: {problems[0]}")
    if problems:
        raise InputError(f"{source}: {len(problems)} problems\n  " + "\n  ".join(problems))


def import_object(spec: str, key: str, what: str):
    """``package.module:Name`` -> the object; an :class:`InputError` naming ``key`` otherwise."""
    module_name, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise InputError(f"{key}: cannot load {what} {spec!r} ({error})") from None
