"""EASE, the embarrassingly shallow autoencoder (Steck, WWW 2019), with exact closed-form deletion.

Implicit feedback: X is the binary user x item matrix of the training rows (a rating of any
value is a 1). With G = X'X + l2 I and P = G^-1, the item-item weights are
B = I - P diag(1/diag P) (zero diagonal), and user u's scores are X_u B, that is
X_u - (X P)_u / diag(P), the form used here.

The model has no randomness: ``seed`` is ignored, two fits are identical, and every nonzero
influence is real (no seed noise; docs/method.md "Model families").

Deletion without refitting (``deletion_variants``), exact up to rounding:

- users S (rows A = X_S): G' = G - A'A, so by Woodbury P' = P + U C^-1 U' with U = P A' and
  C = I - A U (|S| x |S|); the other users' X P' rows follow from X P in O(n_items |S|) each;
- items S: their columns leave X and G (G' keeps l2 on their diagonal); the retained block of
  P' is the Schur complement P_RR - P_RS P_SS^-1 P_SR, so X'P' = X P - (X P)_S P_SS^-1 P_S
  on the retained columns, and the deleted items score 0 (as a refit gives them).

Per deletion this costs O(n_items^2 |S| + n_users n_items) instead of a new O(n_items^3)
inverse and an O(n_users n_items^2) product.
"""

from __future__ import annotations

import numpy as np

from .base import DataSize, MemoryNeed, TrainSet


class _Scorer:
    """Scores X_u - (X P)_u / diag(P) of one (baseline or downdated) model. ``deleted_users``
    and ``deleted_items`` score 0, as they do in a model refitted without them."""

    def __init__(self, base: "EASE", diag: np.ndarray, deleted_users=(), deleted_items=()):
        self.base, self.diag = base, diag
        self.deleted_users = np.asarray(deleted_users, dtype=np.int64)
        self.deleted_items = np.asarray(deleted_items, dtype=np.int64)

    def xp_change(self, XP: np.ndarray) -> np.ndarray | None:
        """How the downdate changes the rows ``XP`` of X P (a new array; None: no change)."""
        return None

    def score(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        X, XP = self.base.rows(users)
        scores = self.xp_change(XP)
        if scores is None:
            scores = XP / self.diag
        else:  # in place: a deletion's scores cost a few passes over one users x items array
            scores += XP
            scores /= self.diag
        np.subtract(X, scores, out=scores)
        scores[np.isin(users, self.deleted_users)] = 0.0
        scores[:, self.deleted_items] = 0.0
        return scores


class _WithoutUsers(_Scorer):
    """The model refitted without users S, by the Woodbury downdate of the baseline's P."""

    def __init__(self, base: "EASE", users: np.ndarray):
        self.A = base.X[users].toarray()  # |S| x n_items
        U = base.P @ self.A.T  # P A'
        C = np.eye(len(users)) - self.A @ U
        self.UCinv = np.linalg.solve(C, U.T).T  # U C^-1 (C is symmetric)
        super().__init__(base, base.diag + np.einsum("js,js->j", self.UCinv, U), deleted_users=users)

    def xp_change(self, XP: np.ndarray) -> np.ndarray:
        return (XP @ self.A.T) @ self.UCinv.T


class _WithoutItems(_Scorer):
    """The model refitted without items S, by the Schur complement of the baseline's P."""

    def __init__(self, base: "EASE", items: np.ndarray):
        self.items = items
        self.W = np.linalg.solve(base.P[np.ix_(items, items)], base.P[items])  # P_SS^-1 P_S  (|S| x n_items)
        diag = base.diag - np.einsum("sj,sj->j", base.P[items], self.W)
        diag[items] = 1.0 / base.l2  # their true value; their scores are set to 0 anyway
        super().__init__(base, diag, deleted_items=items)

    def xp_change(self, XP: np.ndarray) -> np.ndarray:
        change = XP[:, self.items] @ self.W
        return np.negative(change, out=change)


class EASE:
    """EASE^R with L2 weight ``l2`` (Steck's lambda; 500 by default, the order of magnitude he
    reports for MovieLens). Deterministic: ``fit`` ignores its seed."""

    deterministic = True  # fit ignores its seed: one fit stands for every seed

    def __init__(self, l2: float = 500.0):
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0, not {l2!r}")
        self.l2 = float(l2)

    def memory_needed(self, size: DataSize) -> MemoryNeed:
        """The fit's peak: the Gram matrix, P and P symmetrised with their sum (four dense item x
        item matrices), or three and X P (users x items); X and its products with itself."""
        n_items, users = size.items, size.users
        what = "4 dense item x item matrices" if n_items >= users else "3 dense item x item matrices and X P"
        cells = max(4 * n_items**2, 3 * n_items**2 + users * n_items)
        return MemoryNeed(
            8 * cells + 36 * size.ratings,
            f"{n_items:,} items: {what} at once",
            "use ease_lowrank, or item_knn with save_nbrs",
        )

    def fit(self, train: TrainSet, seed: int | None = None) -> "EASE":
        self.X = train.matrix()
        gram = (self.X.T @ self.X).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        P = np.linalg.inv(gram)
        self.P = (P + P.T) / 2  # symmetric, as the downdates assume
        self.XP = np.asarray(self.X @ self.P)
        self.diag = np.diag(self.P).copy()
        self._scorer = _Scorer(self, self.diag)
        self._rows = None
        return self

    def rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense rows of X and of X P for ``users`` (read-only; the last call's are kept: every
        deletion variant scores the same evaluation users)."""
        if self._rows is None or not np.array_equal(self._rows[0], users):
            X, XP = self.X[users].toarray(), self.XP[users]
            X.flags.writeable = XP.flags.writeable = False
            self._rows = (users, X, XP)
        return self._rows[1:]

    def score(self, users: np.ndarray) -> np.ndarray:
        return self._scorer.score(users)

    def deletion_variants(self, train: TrainSet, kind: str, deletions):
        """For each deletion (an array of ids of ``kind``), a scorer equal to a refit on
        ``train`` without them (``train`` is the set this model was fitted on)."""
        for ids in deletions:
            ids = np.unique(np.atleast_1d(np.asarray(ids, dtype=np.int64)))
            yield _WithoutUsers(self, ids) if kind == "user" else _WithoutItems(self, ids)


class LowRankEASE:
    """EASE on the top ``rank`` eigenvalues of the Gram matrix, for catalogs where EASE's dense
    item x item inverse does not fit (about 30,000 items and up). Deterministic.

    With the truncated SVD X ~ U diag(s) V' (V: items x rank), G = X'X ~ V diag(s^2) V', and by
    the Woodbury identity P = (G_r + l2 I)^-1 = (I - V diag(w) V') / l2 with w = s^2 / (s^2 + l2):
    EASE's closed form (class docstring above) on that Gram matrix, never an item x item matrix.
    User u scores x_u - (x_u - (x_u V) diag(w) V') / d with d = l2 diag(P) = 1 - (V o V) w. It
    equals :class:`EASE` when ``rank`` reaches the rank of X (tested); below, the dropped
    eigenvalues count as 0, so the items' weights shrink more than EASE's. Memory grows with
    items x rank. A deletion is a refit (a new truncated SVD): no derived variants.

    The SVD is ARPACK's (scipy's ``svds``) from a fixed start vector, so two fits are the same.
    A sparse alternative not followed here is SANSA (Spisak et al., RecSys 2023)."""

    deterministic = True  # fit ignores its seed: one fit stands for every seed

    def __init__(self, l2: float = 500.0, rank: int = 256):
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0, not {l2!r}")
        if not (isinstance(rank, int | np.integer) and rank >= 1):
            raise ValueError(f"rank must be a positive integer, not {rank!r}")
        self.l2, self.rank = float(l2), int(rank)

    def _rank_for(self, users: int, items: int) -> int:
        return min(self.rank, min(users, items) - 1)  # svds needs rank < min(shape)

    def memory_needed(self, size: DataSize) -> MemoryNeed:
        """A refit's SVD beside the baseline: ARPACK's 2 rank + 1 Lanczos vectors of the smaller
        side, both sides' singular vectors and the baseline's V; X of the baseline and of the refit
        (12 bytes a rating each) and the coordinate arrays the refit's X is built from (24)."""
        rank = self._rank_for(size.users, size.items)
        cells = (2 * rank + 1) * min(size.users, size.items) + rank * (size.users + 2 * size.items)
        return MemoryNeed(8 * cells + 48 * size.ratings, f"{size.items:,} items with rank-{rank} factors")

    def fit(self, train: TrainSet, seed: int | None = None) -> "LowRankEASE":
        from scipy.sparse.linalg import svds  # here: importing the models module stays cheap

        self.X = train.matrix()
        rank = self._rank_for(*self.X.shape)
        start = np.random.default_rng(0).uniform(-1, 1, min(self.X.shape))
        _, s, vt = svds(self.X, k=rank, v0=start, solver="arpack")
        self.V = np.ascontiguousarray(vt.T)
        self.w = s**2 / (s**2 + self.l2)
        self.d = 1.0 - (self.V**2) @ self.w
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        rows = self.X[np.asarray(users, dtype=np.int64)]
        X = rows.toarray()
        scores = ((rows @ self.V) * self.w) @ self.V.T  # (x_u V) diag(w) V'
        np.subtract(X, scores, out=scores)
        scores /= self.d
        return np.subtract(X, scores, out=scores)
