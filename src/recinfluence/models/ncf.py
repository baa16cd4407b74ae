"""Neural Collaborative Filtering: NeuMF (GMF + MLP towers), implicit feedback, in PyTorch.

Every training row is a positive; each is paired with ``n_negatives`` sampled items the user
has not rated, and the model learns them with binary cross-entropy and Adam.

Common random numbers, so that a deletion changes nothing but the deleted rows:

- initial parameters are drawn from the seed over the global id space, table by table;
- the epoch order is a seeded permutation of the *full* training rows, deleted rows skipped;
- each row's negatives are drawn for all full rows from a generator keyed by (seed, epoch),
  indexed by the row's fixed position; a candidate is rejected if the user rated it or if no
  training row has it. The negative pool is the training catalog, so a deleted item is never
  a negative, and deleting an item that has no training row changes nothing at all.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import TrainSet


class NeuMF(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int, layers: tuple[int, ...], generator: torch.Generator):
        super().__init__()
        half = layers[0] // 2
        self.gmf_user = nn.Embedding(n_users, factors)
        self.gmf_item = nn.Embedding(n_items, factors)
        self.mlp_user = nn.Embedding(n_users, half)
        self.mlp_item = nn.Embedding(n_items, half)
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip((2 * half,) + tuple(layers[1:-1]), layers[1:]))
        self.output = nn.Linear(factors + layers[-1], 1)
        for embedding in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(embedding.weight, std=0.01, generator=generator)
        for linear in (*self.mlp, self.output):
            nn.init.xavier_uniform_(linear.weight, generator=generator)
            nn.init.zeros_(linear.bias)

    def _head(self, gmf: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        for linear in self.mlp[1:]:
            hidden = torch.relu(linear(hidden))
        return self.output(torch.cat([gmf, hidden], dim=-1)).squeeze(-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        gmf = self.gmf_user(users) * self.gmf_item(items)
        hidden = torch.relu(self.mlp[0](torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1)))
        return self._head(gmf, hidden)

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """Logits of ``users`` against every item. The first MLP layer is linear in the
        concatenated embeddings, so its user and item halves are computed once each."""
        first = self.mlp[0]
        half = self.mlp_user.embedding_dim
        user_part = self.mlp_user(users) @ first.weight[:, :half].T + first.bias
        item_part = self.mlp_item.weight @ first.weight[:, half:].T
        hidden = torch.relu(user_part[:, None, :] + item_part[None, :, :])
        gmf = self.gmf_user(users)[:, None, :] * self.gmf_item.weight[None, :, :]
        return self._head(gmf, hidden)


def epoch_order(seed: int, epoch: int, train: TrainSet) -> np.ndarray:
    """Indices into ``train``'s arrays in this epoch's order: a permutation of all full
    training rows keyed by (seed, epoch), restricted to the rows still present."""
    local = np.full(train.n_full_rows, -1)
    local[train.rows] = np.arange(len(train))
    order = local[np.random.default_rng([seed, epoch, 0]).permutation(train.n_full_rows)]
    return order[order >= 0]


def negatives(seed: int, epoch: int, train: TrainSet, n_negatives: int, rated: np.ndarray) -> np.ndarray:
    """(len(train), n_negatives) negative items per row, keyed by (seed, epoch, full row):
    items of the training catalog that the row's user did not rate."""
    draws = 4 * n_negatives + 4
    candidates = np.random.default_rng([seed, epoch, 1]).integers(0, train.n_items, size=(train.n_full_rows, draws))
    candidates = candidates[train.rows]
    in_catalog = np.bincount(train.items, minlength=train.n_items) > 0
    valid = in_catalog[candidates] & ~rated[train.users[:, None], candidates]
    # The first n_negatives valid candidates of each row (a row with too few keeps its last
    # draws; with 4n+4 draws this needs a user who rated most of the catalog).
    first_valid = np.argsort(~valid, axis=1, kind="stable")[:, :n_negatives]
    return np.take_along_axis(candidates, first_valid, axis=1)


class NCF:
    """NeuMF with negative sampling; hyperparameters as in He et al. (2017) at small scale."""

    rating_scale = None

    def __init__(self, factors=8, layers=(64, 32, 16, 8), epochs=10, batch_size=1024, n_negatives=4, lr=0.001, device="cpu"):
        self.factors, self.layers = factors, tuple(layers)
        self.epochs, self.batch_size, self.n_negatives, self.lr = epochs, batch_size, n_negatives, lr
        self.device = resolve_device(device)

    def fit(self, train: TrainSet, seed: int) -> "NCF":
        generator = torch.Generator().manual_seed(seed)
        self.model = NeuMF(train.n_users, train.n_items, self.factors, self.layers, generator).to(self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        rated = np.zeros((train.n_users, train.n_items), dtype=bool)
        rated[train.users, train.items] = True
        group = 1 + self.n_negatives
        rows_per_batch = max(1, self.batch_size // group)
        labels = torch.zeros(group, device=self.device)
        labels[0] = 1.0
        for epoch in range(self.epochs):
            order = epoch_order(seed, epoch, train)
            items = np.concatenate([train.items[:, None], negatives(seed, epoch, train, self.n_negatives, rated)], axis=1)[order]
            users = torch.as_tensor(np.repeat(train.users[order], group), device=self.device)
            items = torch.as_tensor(items.reshape(-1), device=self.device)
            for start in range(0, len(order) * group, rows_per_batch * group):
                batch = slice(start, start + rows_per_batch * group)
                logits = self.model(users[batch], items[batch])
                target = labels.repeat(logits.shape[0] // group)
                loss = nn.functional.binary_cross_entropy_with_logits(logits, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return self

    def score(self, users: np.ndarray, chunk: int = 256) -> np.ndarray:
        self.model.eval()
        users = torch.as_tensor(users, device=self.device)
        return torch.cat([self.model.score_all(users[s : s + chunk]) for s in range(0, len(users), chunk)]).double().cpu().numpy()


def resolve_device(device: str) -> torch.device:
    """``auto`` takes CUDA when present, otherwise the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
