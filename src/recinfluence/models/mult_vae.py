"""Mult-VAE (Liang, Krishnan, Hoffman & Jebara, WWW 2018) in PyTorch, with common random numbers.

A user's training rows form a binary vector over the items; the encoder (L2-normalised input,
input dropout, tanh hidden layers) gives a Gaussian over the latent code, the decoder gives
logits over every item, and the loss is the multinomial log-likelihood of the user's items plus
beta x KL, beta growing linearly to ``anneal_cap`` over ``anneal_steps`` updates (KL
annealing). Adam. Scores are the decoder's logits from the mean code.

So that a deletion changes nothing but the deleted rows, every random number is keyed by the
seed and the global ids, never by position among the rows a variant has:

- initial weights: drawn from the seed, layer by layer (Xavier-uniform weights, N(0, 0.001)
  biases as in the paper's code);
- each epoch cuts a seeded permutation of *every* user id into fixed mini-batches; users
  without training rows (deleted, or without rows at all) are masked out of their batch, whose
  loss is divided by the full batch size, so no other user gains weight and the batches do not
  move;
- the input-dropout mask and the reparameterisation noise of a batch come from a generator
  keyed by (seed, epoch, batch), drawn for every slot of the batch: a user gets the same
  numbers whatever was deleted.

Deleting an item removes its column from every user's input (the model still scores it).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import TrainSet


def _layer(generator: torch.Generator, fan_in: int, fan_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.nn.init.xavier_uniform_(torch.empty(fan_out, fan_in), generator=generator)
    bias = torch.nn.init.normal_(torch.empty(fan_out), std=0.001, generator=generator)
    return weight.requires_grad_(), bias.requires_grad_()


def _keyed_generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1))


class MultVAE:
    """Mult-VAE^PR with one hidden layer each way ([n_items -> hidden -> latent] and back), the
    paper's sizes; 20 epochs suffice on MovieLens 100K (validation MAP@10 0.134, 0.137 at 40)."""

    def __init__(
        self, hidden=600, latent=200, epochs=20, batch_size=100, lr=1e-3, dropout=0.5, anneal_cap=0.2, anneal_steps=500
    ):
        if (
            min(hidden, latent, epochs, batch_size, anneal_steps) < 1
            or not lr > 0
            or not 0 <= dropout < 1
            or anneal_cap < 0
        ):
            raise ValueError(
                "hidden, latent, epochs, batch_size and anneal_steps must be >= 1, lr > 0, 0 <= dropout < 1, "
                "anneal_cap >= 0"
            )
        self.hidden, self.latent, self.epochs, self.batch_size = int(hidden), int(latent), int(epochs), int(batch_size)
        self.lr, self.dropout, self.anneal_cap, self.anneal_steps = (
            float(lr),
            float(dropout),
            float(anneal_cap),
            int(anneal_steps),
        )

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (w0, b0), (w1, b1) = self.params[0:2], self.params[2:4]
        h = torch.tanh(torch.nn.functional.linear(x, w0, b0))
        out = torch.nn.functional.linear(h, w1, b1)
        return out[:, : self.latent], out[:, self.latent :]

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        (w2, b2), (w3, b3) = self.params[4:6], self.params[6:8]
        return torch.nn.functional.linear(torch.tanh(torch.nn.functional.linear(z, w2, b2)), w3, b3)

    def fit(self, train: TrainSet, seed: int) -> "MultVAE":
        n_users, n_items = train.n_users, train.n_items
        self.rows = rows = torch.from_numpy(train.matrix(dtype=np.float32).toarray())
        active = rows.sum(dim=1) > 0
        generator = torch.Generator().manual_seed(seed)
        self.params = [
            t
            for sizes in (
                (n_items, self.hidden),
                (self.hidden, 2 * self.latent),
                (self.latent, self.hidden),
                (self.hidden, n_items),
            )
            for t in _layer(generator, *sizes)
        ]
        # fused: one kernel a step, no temporaries the size of the item layers (at 1M ratings the
        # for-loop Adam's were mapped and faulted in afresh every step: a fifth to a third of a fit)
        optimizer = torch.optim.Adam(self.params, lr=self.lr, fused=True)
        step = 0
        for epoch in range(self.epochs):
            order = torch.randperm(n_users, generator=_keyed_generator(seed, epoch))
            for batch, start in enumerate(range(0, n_users, self.batch_size)):
                users = order[start : start + self.batch_size]
                noise = _keyed_generator(seed, epoch, batch + 1)
                keep = (torch.rand(len(users), n_items, generator=noise) >= self.dropout).float() / (1.0 - self.dropout)
                eps = torch.randn(len(users), self.latent, generator=noise)
                mask = active[users]
                step += 1
                if not mask.any():
                    continue
                x = rows[users[mask]]
                mu, logvar = self._encode(torch.nn.functional.normalize(x) * keep[mask])
                z = mu + eps[mask] * torch.exp(0.5 * logvar)
                nll = -(torch.log_softmax(self._decode(z), dim=1) * x).sum()
                kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
                beta = min(self.anneal_cap, step / self.anneal_steps)
                optimizer.zero_grad()
                ((nll + beta * kl) / self.batch_size).backward()
                optimizer.step()
        self.params = [p.detach() for p in self.params]
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mu, _ = self._encode(torch.nn.functional.normalize(self.rows[torch.as_tensor(users)]))
            return self._decode(mu).double().numpy()
