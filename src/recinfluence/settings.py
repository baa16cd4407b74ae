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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import InputError
from .registry import ESTIMATORS, LOADERS, MODELS, metric_column

SCHEMA = Path(__file__).with_name("config.schema.yaml")


@dataclass(frozen=True)
class Section:
    def to_params(self) -> dict:
        """The section as plain values (dicts, lists, numbers, strings), as a rule's params."""
        # the fields in their declared order, the config's own dicts (a model's params) sorted
        return {name: _sorted_keys(value) for name, value in asdict(self).items()}

    @classmethod
    def from_params(cls, params: dict):
        return cls(**params)


@dataclass(frozen=True)
class Evaluation(Section):
    """How every model is evaluated: the top-K cut-off, the relevance threshold, the memory
    one evaluation holds at once (its blocks of users), and which users: every one (``users``
    None), or a stratified sample (an integer: that many; a number in (0, 1): that share) drawn
    with the study's ``seed`` (:meth:`recinfluence.retrain.Experiment.build`)."""

    k: int
    relevance_threshold: float
    memory_mb: float
    users: float | None
    seed: int


@dataclass(frozen=True)
class SplitSettings(Section):
    """The seeded split: the test share, and the validation share of the training part (the
    heldout protocol)."""

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
    inject: dict | None = None  # planted fake users / corrupted ratings (recinfluence.data.inject)

    def source_spec(self) -> "Dataset":
        """A ``synthetic`` entry's ``source``, as an entry of its own named ``<name>.source``
        (so that its messages name the key ``datasets.<name>.source.<key>``)."""
        return Dataset(name=f"{self.name}.source", **self.source)

    def scale(self) -> tuple | None:
        """The rating scale in force: ``rating_scale``, else the loader's (the source's for a
        ``synthetic`` entry; None for a table without one)."""
        if self.loader == "synthetic":
            return self.source_spec().scale()
        return tuple(self.rating_scale) if self.rating_scale else LOADERS[self.loader].rating_scale


@dataclass(frozen=True)
class Model(Section):
    """One entry of ``models``: a built-in (:data:`recinfluence.registry.MODELS`) or
    ``package.module:Class``; ``limit`` overrides ``influence.limit`` for this model, kind by kind.
    :func:`recinfluence.compose.make_model` builds it."""

    name: str
    class_name: str
    params: dict = field(default_factory=dict)
    limit: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"models.{self.name}"


@dataclass(frozen=True)
class Influence(Section):
    """Which entities are deleted and how the work is cut into jobs."""

    kinds: list
    limit: dict
    sample: str
    shards: int
    threads: int
    variants_per_batch: int


@dataclass(frozen=True)
class EstimatorSettings(Section):
    """One entry of ``estimators``: its name and its own settings
    (:func:`recinfluence.compose.make_estimator` builds it)."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Noise(Section):
    """The noise floor: the baseline's seeds, and the quantile of their pairwise differences."""

    seeds: int
    quantile: float


@dataclass(frozen=True)
class Prune(Section):
    """Prune and retrain: which kinds, how many entities each time, how many random draws as
    the control, and whose rankings (None: every estimator's)."""

    kinds: list
    sizes: list
    random_draws: int
    estimators: list | None


@dataclass(frozen=True)
class Report(Section):
    """What the tables show: rows of the most/least influential, users whose metric moved most,
    and the false discovery rate of the detectable rule."""

    top_n: int
    moved_users: int
    fdr: float


@dataclass(frozen=True)
class Resources(Section):
    """What one training job may use: ``memory_mb``, the limit each model's estimated peak
    memory on each dataset is checked against before any training job
    (:func:`recinfluence.compose.check_memory`)."""

    memory_mb: float


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
    resources: Resources

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
            evaluation=Evaluation(
                k=config["k"],
                relevance_threshold=config["relevance_threshold"],
                seed=config["seed"],
                **config["evaluation"],
            ),
            primary_metric=config["primary_metric"],
            split=SplitSettings(seed=config["seed"], **config["split"]),
            protocols=config["protocols"],
            comparison=config["comparison"],
            influence=Influence(**config["influence"]),
            estimators={name: EstimatorSettings(name, params) for name, params in config["estimators"].items()},
            noise=Noise(**config["noise"]),
            prune=Prune(**config["prune"]),
            report=Report(**config["report"]),
            resources=Resources(**config["resources"]),
        )
        settings.check_cross_keys(source)
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
        implicit data wants), racing's ``start_seeds`` within its ``max_seeds``, and what each estimator
        needs of the built-in models (:func:`estimator_model_problems`)."""
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
                    f"relevance_threshold: {threshold} is above the rating scale [{low}, {high}] of "
                    f"datasets.{dataset.name}: no held-out rating would be relevant"
                )
        racing = self.estimators.get("racing")
        if racing is not None and racing.params["start_seeds"] > racing.params["max_seeds"]:
            problems.append(
                f"estimators.racing.start_seeds: {racing.params['start_seeds']} is more than max_seeds "
                f"({racing.params['max_seeds']})"
            )
        for name, estimator in self.estimators.items():
            problems += estimator_model_problems(name, estimator.params, self.models.values())
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


_SECTIONS = {
    "evaluation": Evaluation,
    "split": SplitSettings,
    "influence": Influence,
    "noise": Noise,
    "prune": Prune,
    "report": Report,
    "resources": Resources,
}
_ENTRIES = {"datasets": Dataset, "models": Model, "estimators": EstimatorSettings}


def _sorted_keys(value):
    """``value`` with every dict's keys in sorted order: a rule's params are compared by their
    ``repr``, so a config whose keys were only reordered must give the same params."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def _plain(value):
    if isinstance(value, Section):
        return value.to_params()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def estimator_model_problems(name: str, params: dict, models) -> list[str]:
    """What stops estimator ``name`` (with its ``params``) from running on the built-in
    ``models``: a capability it needs that a model lacks, or a setting it passes on that the
    model's method does not take (plug-in models are checked when built:
    :func:`recinfluence.compose.check_models`)."""
    entry, problems = ESTIMATORS[name], []
    builtins = [model for model in models if model.class_name in MODELS]
    for model in builtins:
        capabilities = MODELS[model.class_name].capabilities
        if entry.needs is not None and entry.needs not in capabilities:
            having = ", ".join(sorted(key for key, other in MODELS.items() if entry.needs in other.capabilities))
            problems.append(
                f"estimators.{name}: model {model.name} (class {model.class_name}) has no {entry.needs}(); the "
                f"built-in models with it: {having}"
            )
            continue
        for option in entry.hook_options:
            if params.get(option) is not None and option not in capabilities.get(entry.needs, ()):
                taking = ", ".join(
                    sorted(key for key, other in MODELS.items() if option in other.capabilities.get(entry.needs, ()))
                )
                problems.append(
                    f"estimators.{name}.{option}: model {model.name} (class {model.class_name}) takes no {option}; it "
                    f"applies to: {taking}"
                )
    return problems


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
    raise_problems(
        source,
        sorted({f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors}),
    )


def raise_problems(source: str, problems: list[str]) -> None:
    """One :class:`InputError` for every problem at once (nothing when there is none): one
    line for one problem, else a count and one indented line each. Characters that would break
    a line or hide (a key named "\\x1e") are shown escaped."""
    problems = ["".join(c if c.isprintable() else repr(c)[1:-1] for c in problem) for problem in problems]
    if len(problems) == 1:
        raise InputError(f"{source}: {problems[0]}")
    if problems:
        raise InputError(f"{source}: {len(problems)} problems\n  " + "\n  ".join(problems))
