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
            8 * cells + 36 * size.ratings, f"{n_items:,} items: {what} at once", "use item_knn with save_nbrs"
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
