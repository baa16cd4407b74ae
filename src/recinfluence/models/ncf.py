"""Neural Collaborative Filtering: NeuMF (GMF + MLP towers), implicit feedback, in PyTorch.

Every training row is a positive; each is paired with ``n_negatives`` sampled items the user
has not rated, and the model learns them with binary cross-entropy and Adam.

One training routine trains V deletion variants at once; a single model is the case V = 1.
Every variant's floats are exactly those of a solo fit on the same data, wherever it sits in a
batch of any size and whichever variants share it (but see the negatives below for a variant
that drops single rows rather than whole users or items): the dense network (matmuls, their
reductions, the sigmoid) runs variant by variant, since CPU kernels round a slice of a stack
differently by the stack's size, the slice's position (SIMD body or scalar tail) and the split
between threads, and on tensors whose shape is fixed by the full training rows alone: every
variant runs every row of each full mini-batch, a row it lacks as a stand-in sample (user 0,
item 0) of weight 0. The shape of a reduction decides its rounding, so it must not depend on
the batch-mates (running only the rows some variant has would make a variant's floats depend
on which rows its batch-mates keep). A stand-in is a function of nothing but the variant's own
parameters, so every tensor of a variant is a function of its own training set; its terms are
exact zeros in the dense gradients (a finite value times a weight of 0), and it touches no
embedding. What runs over the whole stack is gathers, scatters, sums in sample order
(``index_add_``) and single correctly rounded elementwise operations, whose result for an
element does not depend on where it sits. Common random numbers, so that a deletion changes
nothing but the deleted rows:

- initial parameters are drawn once from the seed over the global id space and copied to every
  variant;
- each epoch cuts a seeded permutation of the *full* training rows into fixed mini-batches; a
  row deleted from a variant is masked out of its batch (the batch boundaries do not move, and
  every mini-batch is an optimizer step, even one a variant has no row of), and the batch loss
  is divided by the full batch size, so no other row gains weight;
- each row's negatives come from candidates drawn for all full rows from a generator keyed by
  (seed, epoch), indexed by the row's fixed position; a candidate is rejected if the user rated
  it or if the variant's training catalog lacks it (``TrainSet.catalog``: items with a row in
  the *full* training set, less deleted items), so a deleted item is never a negative,
  deleting an item with no training row changes nothing, and deleting a user (even the only
  one who rated some item) leaves every other row's negatives as they were. "Rated" is read
  from the rows of all variants of the pass; for variants that delete whole users or items
  (``TrainSet.without``) that is what each variant's own rows say wherever it decides a
  negative (a pair a variant lacks has a deleted user, whose rows are stand-ins, or a deleted
  item, which its catalog rejects). A variant that drops other rows (``TrainSet.keep``, the
  random-rows control) rejects the pairs its batch-mates have: exact deletion always trains
  the full baseline beside it, so it rejects every pair of the full training set;
- embeddings are updated lazily (Adam on the rows a variant's batch touched, as SparseAdam
  does), so an entity a variant never sees keeps its initial vectors; the dense layers use Adam,
  each variant's tensors their own.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from .base import TrainSet

EMBEDDINGS = ("gmf_user", "gmf_item", "mlp_user", "mlp_item")
BETAS, EPS = (0.9, 0.999), 1e-8
CHUNK = 1 << 15  # samples per block of the influence function's Hessians


def resolve_device(device: str) -> torch.device:
    """``auto`` takes CUDA when present, otherwise the CPU; ``cuda`` where PyTorch sees no CUDA
    device is an error (checked where the model is built, in the job: on a cluster the machine
    that plans the workflow may have no GPU while the compute nodes do)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device: 'cuda', but PyTorch sees no CUDA device here; use auto (CUDA when present) or cpu")
    return torch.device(device)


def initial_parameters(n_users, n_items, factors, layers, seed) -> dict[str, torch.Tensor]:
    """One NeuMF's initial parameters, drawn table by table from the seed: embeddings
    N(0, 0.01) over the global id space, dense weights Xavier-uniform (stored input x output)."""
    generator = torch.Generator().manual_seed(seed)
    half = layers[0] // 2
    params = {
        "gmf_user": torch.empty(n_users, factors),
        "gmf_item": torch.empty(n_items, factors),
        "mlp_user": torch.empty(n_users, half),
        "mlp_item": torch.empty(n_items, half),
    }
    for name in EMBEDDINGS:
        torch.nn.init.normal_(params[name], std=0.01, generator=generator)
    widths = list(layers) + [None]
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-2], widths[1:-1])):
        params[f"w{index}"] = torch.nn.init.xavier_uniform_(
            torch.empty(fan_out, fan_in), generator=generator
        ).T.contiguous()
        params[f"b{index}"] = torch.zeros(fan_out)
    params["w_out"] = torch.nn.init.xavier_uniform_(
        torch.empty(1, factors + layers[-1]), generator=generator
    ).T.contiguous()
    params["b_out"] = torch.zeros(1)
    return params


def n_hidden(params) -> int:
    return sum(1 for name in params if name.startswith("b") and name != "b_out")


def forward(params, gmf: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Logits (B,) of one model from its GMF products (B, factors) and MLP inputs (B, layers[0]),
    the user's and the item's halves of the MLP embeddings side by side."""
    for index in range(n_hidden(params)):
        hidden = torch.relu(torch.addmm(params[f"b{index}"], hidden, params[f"w{index}"]))
    return torch.addmm(params["b_out"], torch.cat([gmf, hidden], dim=1), params["w_out"]).squeeze(1)


@torch.no_grad()
def score_all(params, variant: int, users: torch.Tensor) -> torch.Tensor:
    """Logits of one variant's ``users`` against every item. The first MLP layer is linear in
    the concatenated embeddings, so its user and item halves are computed once each."""
    p = {name: value[variant] for name, value in params.items()}
    half = p["mlp_user"].shape[1]
    hidden = torch.relu(
        (p["mlp_user"][users] @ p["w0"][:half] + p["b0"])[:, None, :] + (p["mlp_item"] @ p["w0"][half:])[None, :, :]
    )
    for index in range(1, n_hidden(params)):
        hidden = torch.relu(hidden @ p[f"w{index}"] + p[f"b{index}"])
    gmf = p["gmf_user"][users][:, None, :] * p["gmf_item"][None, :, :]
    return (torch.cat([gmf, hidden], dim=-1) @ p["w_out"] + p["b_out"]).squeeze(-1)


def epoch_batches(seed: int, epoch: int, n_full_rows: int, rows_per_batch: int):
    """The fixed mini-batches of one epoch: a permutation of all full training rows keyed by
    (seed, epoch), cut every ``rows_per_batch`` rows."""
    order = np.random.default_rng([seed, epoch, 0]).permutation(n_full_rows)
    return [order[start : start + rows_per_batch] for start in range(0, n_full_rows, rows_per_batch)]


def negative_candidates(seed: int, epoch: int, n_full_rows: int, n_items: int, n_negatives: int) -> np.ndarray:
    """Candidate negatives for every full training row, keyed by (seed, epoch, row)."""
    return np.random.default_rng([seed, epoch, 1]).integers(0, n_items, size=(n_full_rows, 4 * n_negatives + 4))


def distinct_catalogs(in_catalog: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``in_catalog`` (variants x items, True where a variant has the
    item) and each variant's index among them, computed once per fit: variants with the same
    catalog (all user deletions) then share one draw of negatives."""
    catalogs, catalog_of = np.unique(in_catalog, axis=0, return_inverse=True)
    return catalogs, catalog_of.reshape(-1)


def pick_negatives(candidates, users, rated, catalogs, n_negatives) -> np.ndarray:
    """(V, rows, n_negatives): per variant, the first ``n_negatives`` candidates that are in its
    catalog (``catalogs``: :func:`distinct_catalogs` of the variants' item catalogs) and not
    rated by the row's user. A row with too few valid candidates (4n+4 draws: a user who rated
    most of the catalog) maps its first draws onto its valid items instead, so it stays keyed by
    its own draws; a user with no valid item left keeps the raw draws."""
    distinct, catalog_of = catalogs
    valid = distinct[:, candidates] & ~rated[users[:, None], candidates][None]
    first_valid = np.argsort(~valid, axis=2, kind="stable")[:, :, :n_negatives]
    picked = np.take_along_axis(np.broadcast_to(candidates, valid.shape), first_valid, axis=2).copy()
    for catalog, row in zip(*np.nonzero(valid.sum(axis=2) < n_negatives)):
        pool = np.flatnonzero(distinct[catalog] & ~rated[users[row]])
        if len(pool):
            picked[catalog, row] = pool[candidates[row, :n_negatives] % len(pool)]
    return picked[catalog_of]


class _LazyAdam:
    """Adam on the embedding rows each variant touched in this step (SparseAdam's update);
    rows a variant did not touch keep their values and moment estimates. Tables are stored
    flat, (V * n, d), so that variant v's row r is row v * n + r; both moments of a row sit
    side by side in one (V * n, 2d) tensor so that one gather and one scatter move them.
    Only single correctly rounded operations touch the values (no fused multiply-add such as
    ``add_(alpha=)`` or ``addcmul_``, which SIMD and scalar code may round differently), so a
    row's update does not depend on where it sits among the V * n."""

    def __init__(self, tables: dict[str, torch.Tensor], lr: float):
        self.lr, self.step_count = lr, 0
        self.moments = {name: torch.zeros(t.shape[0], 2 * t.shape[1], device=t.device) for name, t in tables.items()}

    @torch.no_grad()
    def step(self, tables, rows: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]):
        self.step_count += 1
        (beta1, beta2), t = BETAS, self.step_count
        step_size = self.lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        for name, table in tables.items():
            index, grad = rows[name], grads[name]
            moments = self.moments[name].index_select(0, index)
            m, v = moments.chunk(2, dim=1)
            m.mul_(beta1).add_(grad * (1 - beta1))
            v.mul_(beta2).add_(grad.square().mul_(1 - beta2))
            self.moments[name].index_copy_(0, index, moments)
            table.index_copy_(0, index, table.index_select(0, index).sub_(m.div(v.sqrt().add_(EPS)).mul_(step_size)))


class NCF:
    """NeuMF with negative sampling; hyperparameters as in He et al. (2017) at small scale.

    ``fit_many`` trains several deletion variants of the same training data at once (the
    influence engine uses it when present); ``fit`` is the same routine with one variant."""

    rating_scale = None

    def __init__(
        self, factors=8, layers=(64, 32, 16, 8), epochs=10, batch_size=1024, n_negatives=4, lr=0.001, device="cpu"
    ):
        self.factors, self.layers = factors, tuple(layers)
        self.epochs, self.batch_size, self.n_negatives, self.lr = epochs, batch_size, n_negatives, lr
        self.device = resolve_device(device)

    def fit(self, train: TrainSet, seed: int) -> "NCF":
        self.params, self.seed = self.fit_many([train], seed)[0].params, seed
        return self

    def warm_start(self, train: TrainSet, epochs: int) -> "NCF":
        """This fitted model trained ``epochs`` more epochs on ``train`` (the random numbers of
        epochs n_epochs, n_epochs + 1, ... of the same seed; Adam's moments start afresh), with
        every user and item that has no row in ``train`` back at its initial embeddings."""
        return self.warm_start_many([train], epochs)[0]

    def warm_start_many(self, trains: list[TrainSet], epochs: int) -> list["NCF"]:
        """:meth:`warm_start` of several training sets in one batched pass (each variant's
        floats are those of its own warm start: see the module docstring)."""
        models = self.fit_many(trains, self.seed, start=self.params, epochs=range(self.epochs, self.epochs + epochs))
        initial = initial_parameters(trains[0].n_users, trains[0].n_items, self.factors, self.layers, self.seed)
        for model, train in zip(models, trains):
            self._reset_rowless(model, train, initial)
        return models

    def _reset_rowless(self, model: "NCF", train: TrainSet, initial: dict) -> None:
        """Every user and item without a row in ``train`` back at its ``initial`` embeddings
        (where a refit leaves it)."""
        for kind, column, n in (("user", train.users, train.n_users), ("item", train.items, train.n_items)):
            rowless = torch.as_tensor(np.bincount(column, minlength=n) == 0)
            for name in (f"gmf_{kind}", f"mlp_{kind}"):
                model.params[name][0, rowless] = initial[name][rowless].to(self.device)

    def influence_variants(self, train: TrainSet, trains, damping: float = 0.1):
        """For each training set of ``trains`` (rows of ``train``, the set this model was
        fitted on), this model with every user and item embedding that lost samples moved by
        their influence function, the dense layers and every other embedding held fixed (Koh &
        Liang 2017, restricted to the parameters a deletion touches as in Cheng et al. 2019);
        an entity left without rows goes back to its initial embeddings, as in a refit.

        The loss is the last epoch's: each row of ``train`` with the negatives that epoch drew
        for it. A sample is lost when its row is deleted or its item left the catalog (the
        negatives a refit would draw instead are not added). For one entity's embedding theta
        (GMF and MLP halves, the other side of every sample held fixed) the logit z is linear in
        the GMF half and piecewise linear in the MLP half (ReLU), so the Hessian of the binary
        cross-entropy is exactly H = sum_s sigma_s (1 - sigma_s) J_s J_s' with J_s = dz_s /
        dtheta (torch autograd, one backward pass per block of samples). Removing samples D moves
        theta by (H + lambda I)^-1 sum_D (sigma_s - y_s) J_s, lambda = ``damping`` x the mean
        eigenvalue of H (Adam stops far from a minimum, where H may be singular: an entity
        seen in few samples). Fidelity to exact deletion: ``benchmarks/fidelity.py``."""
        cache = getattr(self, "_influence", None)
        if cache is None or cache.train is not train or cache.damping != damping:  # kept across calls
            cache = self._influence = _Influence(self, train, damping)
        initial = initial_parameters(train.n_users, train.n_items, self.factors, self.layers, self.seed)
        for reduced in trains:
            model = NCF.__new__(NCF)
            model.__dict__.update({key: value for key, value in self.__dict__.items() if key != "_influence"})
            model.params = dict(self.params)
            for kind, table in cache.moved(reduced).items():
                table = table.to(self.device)
                model.params[f"gmf_{kind}"], model.params[f"mlp_{kind}"] = (
                    table[None, :, : self.factors],
                    table[None, :, self.factors :],
                )
            self._reset_rowless(model, reduced, initial)
            yield model

    def bytes_per_variant(self, n_users: int, n_items: int) -> int:
        """An upper estimate of the device memory one variant of :meth:`fit_many` holds: its
        embedding tables with both Adam moments, its dense layers with their gradients and
        moments, and one mini-batch's activations and gradients (single precision)."""
        width = self.factors + self.layers[0] // 2  # one embedding row, GMF then MLP columns
        dense = sum(a * b + b for a, b in zip(self.layers[:-1], self.layers[1:])) + self.factors + self.layers[-1] + 1
        # rows gathered, their gradients, activations and theirs, and ids (int64) and masks
        per_sample = 6 * width + 2 * (self.factors + self.layers[0] + sum(self.layers)) + 8
        return 4 * (3 * (n_users + n_items) * width + 4 * dense + 2 * self.batch_size * per_sample)

    def variants_per_pass(self, n_users: int, n_items: int) -> int | None:
        """On CUDA, how many variants fit in 80% of the free device memory (at least one); on
        the CPU, no limit (the work unit's ``variants_per_batch`` is the pass)."""
        if self.device.type != "cuda":
            return None
        free, _ = torch.cuda.mem_get_info(self.device)
        return max(1, int(0.8 * free) // self.bytes_per_variant(n_users, n_items))

    def fit_many(self, variants: list[TrainSet], seed: int, start=None, epochs=None) -> list["NCF"]:
        """Train one model per TrainSet; all must be deletion variants of the same full training
        rows (same ``n_full_rows``, rows identified by ``TrainSet.rows``). ``start`` (a fitted
        model's ``params``) and ``epochs`` (the epoch indices, which key the random numbers;
        default ``range(self.epochs)``) continue a training instead of starting one. On CUDA,
        more variants than fit in device memory train in several passes, which changes no
        number (a variant's floats do not depend on its batch)."""
        per_pass = self.variants_per_pass(variants[0].n_users, variants[0].n_items)
        if per_pass is not None and len(variants) > per_pass:
            passes = range(0, len(variants), per_pass)
            return [
                model
                for first in passes
                for model in self.fit_many(variants[first : first + per_pass], seed, start, epochs)
            ]
        first = variants[0]
        n_variants, n_full, device = len(variants), first.n_full_rows, self.device
        present = np.zeros((n_variants, n_full), dtype=bool)
        users_of = np.zeros(n_full, dtype=np.int64)
        items_of = np.zeros(n_full, dtype=np.int64)
        in_catalog = np.zeros((n_variants, first.n_items), dtype=bool)
        for index, variant in enumerate(variants):
            present[index, variant.rows] = True
            users_of[variant.rows], items_of[variant.rows] = variant.users, variant.items
            in_catalog[index] = variant.item_catalog
        catalogs = distinct_catalogs(in_catalog)
        used = present.any(axis=0)
        rated = np.zeros((first.n_users, first.n_items), dtype=bool)
        rated[users_of[used], items_of[used]] = True

        if start is None:
            initial = initial_parameters(first.n_users, first.n_items, self.factors, self.layers, seed)
        else:
            initial = {name: value[0].cpu() for name, value in start.items()}
        dense = [
            {
                name: value.to(device).clone().requires_grad_()
                for name, value in initial.items()
                if name not in EMBEDDINGS
            }
            for _ in range(n_variants)
        ]
        # One flat table per kind, GMF columns then MLP columns: one gather and one update each.
        tables = {
            kind: torch.cat([initial[f"gmf_{kind}"], initial[f"mlp_{kind}"]], dim=1).to(device).repeat(n_variants, 1)
            for kind in ("user", "item")
        }
        # fused: one call for all variants' tensors, each updated by itself
        optimizer = torch.optim.Adam(
            [p for layers in dense for p in layers.values()], lr=self.lr, betas=BETAS, eps=EPS, fused=True
        )
        lazy = _LazyAdam(tables, self.lr)

        factors, half, n_negatives = self.factors, self.layers[0] // 2, self.n_negatives
        group = 1 + n_negatives
        rows_per_batch = max(1, self.batch_size // group)
        labels = torch.zeros(group, device=device)
        labels[0] = 1.0
        offsets = {
            kind: torch.arange(n_variants, device=device)[:, None] * n
            for kind, n in (("user", first.n_users), ("item", first.n_items))
        }
        for epoch in range(self.epochs) if epochs is None else epochs:
            candidates = negative_candidates(seed, epoch, n_full, first.n_items, self.n_negatives)
            for batch in epoch_batches(seed, epoch, n_full, rows_per_batch):
                # Every row of the full mini-batch runs, for every variant, even rows no variant
                # has: the shapes of a variant's tensors (and so the rounding of their
                # reductions) are fixed by the full training rows, not by what its batch-mates
                # keep. The loss is a sum over the batch's present samples divided by the size
                # of the full batch, so a deleted row only takes its own term out: the weight of
                # every other row stays what it is in the baseline.
                full_batch_samples = len(batch) * group
                here, had = present[:, batch], used[batch]
                # Negatives are drawn for the rows some variant has (each row's by itself).
                negatives = np.zeros((n_variants, len(batch), n_negatives), dtype=np.int64)
                if had.any():
                    had_rows = batch[had]
                    picked = pick_negatives(candidates[had_rows], users_of[had_rows], rated, catalogs, n_negatives)
                    negatives[:, had] = picked
                items = np.concatenate(
                    [np.broadcast_to(items_of[batch], (n_variants, len(batch)))[:, :, None], negatives], axis=2
                )
                # A row a variant lacks is a stand-in sample, user 0 and item 0 of the variant's
                # own tables (valid ids; users_of/items_of know only rows some variant has), so
                # that nothing of a variant depends on its batch-mates' rows. Its weight is 0,
                # its terms in the dense gradients exact zeros, and it touches no embedding.
                users = np.where(here, users_of[batch], 0)
                items = np.where(here[:, :, None], items, 0)
                mask = torch.as_tensor(np.repeat(here, group, axis=1), device=device).reshape(-1)
                flat = {
                    "user": (torch.as_tensor(np.repeat(users, group, axis=1), device=device) + offsets["user"]).reshape(
                        -1
                    ),
                    "item": (torch.as_tensor(items.reshape(n_variants, -1), device=device) + offsets["item"]).reshape(
                        -1
                    ),
                }
                user_rows, item_rows = (
                    tables[kind].index_select(0, flat[kind]).view(n_variants, -1, tables[kind].shape[1])
                    for kind in ("user", "item")
                )
                # The GMF product and the MLP input are elementwise, so computed for the whole
                # stack; the networks run variant by variant.
                gmf = (user_rows[..., :factors] * item_rows[..., :factors]).requires_grad_()
                mlp = torch.cat([user_rows[..., factors:], item_rows[..., factors:]], dim=-1).requires_grad_()
                logits = torch.stack([forward(*inputs) for inputs in zip(dense, gmf.unbind(), mlp.unbind())])
                # The gradient of the weighted binary cross-entropy with respect to a logit is
                # (sigmoid - label) * weight, a weight 1 / full_batch_samples or 0 if masked out.
                # The sigmoid too goes row by row: its SIMD body and scalar tail round differently.
                probs = torch.stack([torch.sigmoid(row) for row in logits.detach().unbind()])
                logits.backward((probs - labels.repeat(len(batch))) * (mask.view(n_variants, -1) / full_batch_samples))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                embedded_grads = {
                    "user": torch.cat([gmf.grad * item_rows[..., :factors], mlp.grad[..., :half]], dim=-1),
                    "item": torch.cat([gmf.grad * user_rows[..., :factors], mlp.grad[..., half:]], dim=-1),
                }
                # Sum each touched row's gradient over its samples; rows seen only in masked-out
                # samples are not touched.
                rows, grads = {}, {}
                for kind in tables:
                    rows[kind], inverse = torch.unique(flat[kind][mask], return_inverse=True)
                    grad = embedded_grads[kind].view(-1, tables[kind].shape[1])[mask]
                    grads[kind] = torch.zeros(len(rows[kind]), grad.shape[1], device=device).index_add_(
                        0, inverse, grad
                    )
                lazy.step(tables, rows, grads)
        fitted = []
        for index, layers in enumerate(dense):
            model = NCF.__new__(NCF)
            model.__dict__.update(self.__dict__)
            model.seed = seed
            model.params = {name: value.detach()[None].clone() for name, value in layers.items()}
            for kind, n in (("user", first.n_users), ("item", first.n_items)):
                table = tables[kind][index * n : (index + 1) * n]
                model.params[f"gmf_{kind}"], model.params[f"mlp_{kind}"] = (
                    table[None, :, : self.factors].clone(),
                    table[None, :, self.factors :].clone(),
                )
            fitted.append(model)
        return fitted

    def score(self, users: np.ndarray, chunk: int = 256) -> np.ndarray:
        users = torch.as_tensor(users, device=self.device)
        return (
            torch.cat([score_all(self.params, 0, users[s : s + chunk]) for s in range(0, len(users), chunk)])
            .double()
            .cpu()
            .numpy()
        )


class _Influence:
    """What :meth:`NCF.influence_variants` needs of one fitted model and its training set,
    computed once: the last epoch's samples and every entity's damped inverse Hessian. The
    Jacobians are computed a block of samples at a time and not kept (a deletion recomputes
    those of the samples it lost), so memory stays at one d x d matrix per entity."""

    def __init__(self, model: NCF, train: TrainSet, damping: float):
        self.train, self.damping, self.factors = train, damping, model.factors
        n_negatives, group = model.n_negatives, 1 + model.n_negatives
        candidates = negative_candidates(model.seed, model.epochs - 1, train.n_full_rows, train.n_items, n_negatives)[
            train.rows
        ]
        rated = np.zeros((train.n_users, train.n_items), dtype=bool)
        rated[train.users, train.items] = True
        negatives = pick_negatives(
            candidates, train.users, rated, distinct_catalogs(train.item_catalog[None]), n_negatives
        )[0]
        self.row = np.repeat(np.arange(len(train)), group)  # each sample's row, by position in ``train``
        self.ids = {
            "user": np.repeat(train.users, group),
            "item": np.column_stack([train.items, negatives]).reshape(-1),
        }
        self.labels = torch.as_tensor(np.tile(np.r_[1.0, np.zeros(n_negatives)], len(train)))
        self.params = {name: value[0].cpu().double() for name, value in model.params.items()}
        self.tables = {
            kind: torch.cat([self.params[f"gmf_{kind}"], self.params[f"mlp_{kind}"]], dim=1)
            for kind in ("user", "item")
        }
        dimension = self.tables["user"].shape[1]
        hessians = {
            kind: torch.zeros(len(table), dimension * dimension, dtype=torch.float64)
            for kind, table in self.tables.items()
        }
        for start in range(0, len(self.row), CHUNK):
            samples = np.arange(start, min(start + CHUNK, len(self.row)))
            probs, jacobians = self._jacobians(samples)
            curvature = probs * (1 - probs)
            for kind, jacobian in jacobians.items():
                outer = curvature[:, None, None] * jacobian[:, :, None] * jacobian[:, None, :]
                hessians[kind].index_add_(0, torch.as_tensor(self.ids[kind][samples]), outer.flatten(1))
        self.inverse = {}
        for kind, hessian in hessians.items():
            hessian = hessian.view(-1, dimension, dimension)
            ridge = damping * hessian.diagonal(dim1=1, dim2=2).sum(1) / dimension
            ridge = torch.where(
                ridge > 0, ridge, torch.ones_like(ridge)
            )  # an entity in no sample: moved by nothing anyway
            self.inverse[kind] = torch.linalg.inv(
                hessian + ridge[:, None, None] * torch.eye(dimension, dtype=hessian.dtype)
            )

    def _jacobians(self, samples: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """sigma of each sample's logit, and its gradient with respect to the sample's user and
        item embedding rows (one backward pass: each logit depends on its own rows only)."""
        rows = {
            kind: table[torch.as_tensor(self.ids[kind][samples])].requires_grad_()
            for kind, table in self.tables.items()
        }
        f = self.factors
        logits = forward(
            self.params,
            rows["user"][:, :f] * rows["item"][:, :f],
            torch.cat([rows["user"][:, f:], rows["item"][:, f:]], dim=1),
        )
        logits.sum().backward()
        return torch.sigmoid(logits.detach()), {kind: row.grad for kind, row in rows.items()}

    def moved(self, reduced: TrainSet) -> dict[str, torch.Tensor]:
        """The user and item embedding tables (GMF then MLP columns, single precision) moved by
        the samples ``reduced`` lost."""
        kept = np.zeros(len(self.train), dtype=bool)
        kept[np.searchsorted(self.train.rows, reduced.rows)] = True
        lost = np.flatnonzero(~kept[self.row] | ~reduced.item_catalog[self.ids["item"]])
        probs, jacobians = self._jacobians(lost)
        residual = probs - self.labels[lost]
        tables = {}
        for kind, jacobian in jacobians.items():
            touched, inverse = torch.unique(torch.as_tensor(self.ids[kind][lost]), return_inverse=True)
            gradient = torch.zeros(len(touched), jacobian.shape[1], dtype=torch.float64).index_add_(
                0, inverse, residual[:, None] * jacobian
            )
            moved = self.tables[kind].clone()
            moved[touched] += torch.einsum("eij,ej->ei", self.inverse[kind][touched], gradient)
            tables[kind] = moved.float()
        return tables
