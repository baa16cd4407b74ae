"""Model families beyond SVD and NCF: EASE's closed-form deletion equals a refit, deterministic
models give exact zeros for entities without training rows, and they learn something."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recinfluence.metrics import aggregate
from recinfluence.models import ALS, EASE, ItemKNN, LowRankEASE, MultVAE, TrainSet
from recinfluence.retrain import Experiment, Retrainer


def _rowless(train: TrainSet, kind: str) -> int:
    counts = np.bincount(
        train.users if kind == "user" else train.items, minlength=train.n_users if kind == "user" else train.n_items
    )
    return int(np.flatnonzero(counts == 0)[0])


@pytest.fixture(scope="module")
def ease(movielens_train) -> EASE:
    return EASE().fit(movielens_train, 0)


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize(
    "kind, pick",
    [("user", "busy"), ("user", "set"), ("item", "busy"), ("item", "set"), ("item", "rowless")],
)
def test_ease_downdate_equals_a_refit(movielens_train, ease, kind, pick):
    train = movielens_train
    counts = np.bincount(train.users if kind == "user" else train.items)
    busy = np.argsort(-counts, kind="stable")
    ids = {"busy": busy[:1], "set": busy[[3, 40, 200]], "rowless": [_rowless(train, kind)] if kind == "item" else []}[
        pick
    ]
    users = np.arange(train.n_users)
    (derived,) = ease.deletion_variants(train, kind, [ids])
    refit = EASE().fit(train.without(kind, ids), 0)
    assert _relative_difference(derived.score(users), refit.score(users)) <= 1e-8
    if pick == "rowless":  # nothing to downdate: the baseline's scores, bit for bit
        np.testing.assert_array_equal(derived.score(users), ease.score(users))
    else:
        assert _relative_difference(derived.score(users), ease.score(users)) > 1e-6  # the deletion moved the scores


def test_ease_deleting_a_user_without_training_rows_is_exactly_the_baseline():
    # the ML-100K paper split leaves every user a training row: build one without
    train = TrainSet.from_frame(
        pd.DataFrame({"user": [0, 0, 1, 2, 2, 2], "item": [0, 1, 1, 0, 2, 3], "rating": 5.0}),
        n_users=4,
        n_items=5,
    )
    model = EASE(l2=1.0).fit(train, 0)
    (variant,) = model.deletion_variants(train, "user", [[3]])
    users = np.arange(3)
    np.testing.assert_array_equal(variant.score(users), model.score(users))
    # and a deletion of a real user equals a refit on this tiny case too
    (variant,) = model.deletion_variants(train, "user", [[2]])
    refit = EASE(l2=1.0).fit(train.without("user", [2]), 0)
    np.testing.assert_allclose(variant.score(np.arange(4)), refit.score(np.arange(4)), rtol=0, atol=1e-12)


def test_ease_matches_the_closed_form_on_a_hand_computed_case():
    # X = [[1, 1, 0], [0, 1, 1]], l2 = 1: G = X'X + I, B = I - P diag(1/diag P), scores = X B
    train = TrainSet.from_frame(pd.DataFrame({"user": [0, 0, 1, 1], "item": [0, 1, 1, 2], "rating": 1.0}), 2, 3)
    X = np.array([[1.0, 1, 0], [0, 1, 1]])
    P = np.linalg.inv(X.T @ X + np.eye(3))
    B = np.eye(3) - P / np.diag(P)
    np.testing.assert_allclose(np.diag(B), 0, atol=1e-15)
    np.testing.assert_allclose(EASE(l2=1.0).fit(train, 0).score(np.arange(2)), X @ B, rtol=0, atol=1e-14)


def test_ease_is_deterministic_and_ignores_the_seed(movielens_train, ease):
    users = np.arange(50)
    np.testing.assert_array_equal(EASE().fit(movielens_train, 7).score(users), ease.score(users))


def test_ease_exact_deletion_through_the_retrainer(movielens, movielens_split):
    """The retrainer derives every variant from the one baseline fit, and an entity without
    training rows has influence exactly 0.0 on every metric."""
    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    fits = []

    class Counted(EASE):
        def fit(self, train, seed=None):
            fits.append(len(train))
            return super().fit(train, seed)

    retrainer = Retrainer(Counted, experiment, log=None)
    rowless_item = _rowless(experiment.train, "item")
    results = retrainer.deletions("item", [[rowless_item], [49]], 0)
    assert len(fits) == 1
    rowless, busy = (result.per_user.drop(columns="user").to_numpy() for result in results)
    measured = ~np.isnan(rowless)  # users without a relevant rating have no ranking metrics
    assert measured.sum() > 1000 and (rowless[measured] == 0.0).all()
    assert (busy[measured] != 0.0).any()


def test_ease_learns_a_better_top_k_than_svd(movielens, movielens_split):
    from recinfluence.models import SVD

    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    ease = aggregate(experiment.evaluate(EASE().fit(experiment.train, 0)))
    svd = aggregate(experiment.evaluate(SVD().fit(experiment.train, 0)))
    assert ease["map@10"] > 2 * svd["map@10"] and ease["ndcg@10"] > svd["ndcg@10"]


def _low_rank_train(rank: int, n_users: int = 40, n_items: int = 30, seed: int = 0) -> TrainSet:
    """Every user a copy of one of ``rank`` random taste patterns: X has rank ``rank``."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((rank, n_items)) < 0.3
    X = patterns[np.arange(n_users) % rank]
    users, items = np.nonzero(X)
    frame = pd.DataFrame({"user": users, "item": items, "rating": 4.0})
    return TrainSet.from_frame(frame, n_users, n_items)


def test_low_rank_ease_is_ease_once_its_rank_reaches_the_data(movielens_train):
    train = _low_rank_train(rank=5)
    users = np.arange(train.n_users)
    ease = EASE(l2=3.0).fit(train, 0).score(users)
    np.testing.assert_allclose(LowRankEASE(l2=3.0, rank=5).fit(train, 0).score(users), ease, rtol=0, atol=1e-10)
    # fewer eigenvalues than the data's rank: another model, the scores move
    assert np.abs(LowRankEASE(l2=3.0, rank=3).fit(train, 0).score(users) - ease).max() > 1e-2


def test_low_rank_ease_is_deterministic_and_learns_on_movielens(movielens, movielens_split):
    from recinfluence.models import SVD

    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    model = LowRankEASE(rank=200).fit(experiment.train, 0)
    users = np.arange(50)
    np.testing.assert_array_equal(LowRankEASE(rank=200).fit(experiment.train, 9).score(users), model.score(users))
    low_rank = aggregate(experiment.evaluate(model))
    ease = aggregate(experiment.evaluate(EASE().fit(experiment.train, 0)))
    svd = aggregate(experiment.evaluate(SVD().fit(experiment.train, 0)))
    print({name: round(table["map@10"], 4) for name, table in (("low rank", low_rank), ("ease", ease), ("svd", svd))})
    assert low_rank["map@10"] > 2 * svd["map@10"] and low_rank["map@10"] > 0.8 * ease["map@10"]


# ---------------------------------------------------------------------------------------------
# Item-kNN


def _knn_by_definition(
    frame: pd.DataFrame, n_users: int, n_items: int, k: int, min_nbrs: int, feedback: str
) -> np.ndarray:
    """LensKit's item-kNN written out loop by loop, from the definition (module docstring)."""
    value = {
        (u, i): (1.0 if feedback == "implicit" else r)
        for u, i, r in frame[["user", "item", "rating"]].itertuples(index=False)
    }
    means = frame.groupby("item")["rating"].mean().to_dict() if feedback == "explicit" else {}
    centred = {(u, i): v - means.get(i, 0.0) for (u, i), v in value.items()}
    column = {i: {u: v for (u, j), v in centred.items() if j == i} for i in range(n_items)}

    def cosine(a, b):
        dot = sum(v * column[b].get(u, 0.0) for u, v in column[a].items())
        norm = np.sqrt(sum(v * v for v in column[a].values()) * sum(v * v for v in column[b].values()))
        return dot / norm if norm > 0 else 0.0

    scores = np.zeros((n_users, n_items))
    for u in range(n_users):
        rated = sorted(j for (w, j) in centred if w == u)
        for i in range(n_items):
            neighbours = sorted(((cosine(i, j), j) for j in rated if j != i), key=lambda pair: (-pair[0], pair[1]))
            neighbours = [(s, j) for s, j in neighbours if s > 1e-6][:k]
            if feedback == "implicit":
                scores[u, i] = sum(s for s, _ in neighbours) if len(neighbours) >= min_nbrs else 0.0
            elif len(neighbours) >= min_nbrs:
                scores[u, i] = means.get(i, 0.0) + sum(s * centred[u, j] for s, j in neighbours) / sum(
                    s for s, _ in neighbours
                )
            else:
                scores[u, i] = means.get(i, 0.0)
    return scores


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
@pytest.mark.parametrize("k, min_nbrs", [(2, 1), (3, 2), (50, 1)])
def test_item_knn_matches_its_definition(feedback, k, min_nbrs):
    rng = np.random.default_rng(3)
    pairs = rng.choice(12 * 9, size=45, replace=False)
    frame = pd.DataFrame({"user": pairs // 9, "item": pairs % 9, "rating": rng.integers(1, 6, size=45).astype(float)})
    train = TrainSet.from_frame(frame, n_users=13, n_items=10)  # item 9 and user 12 have no row
    model = ItemKNN(k=k, min_nbrs=min_nbrs, feedback=feedback).fit(train)
    np.testing.assert_allclose(
        model.score(np.arange(13)), _knn_by_definition(frame, 13, 10, k, min_nbrs, feedback), rtol=0, atol=1e-12
    )
    # deleting items without a refit, with a user (12) who rated nothing
    for ids in ([0], [2, 9]):
        (derived,) = model.deletion_variants(train, "item", [ids])
        np.testing.assert_array_equal(
            derived.score(np.arange(13)),
            ItemKNN(k=k, min_nbrs=min_nbrs, feedback=feedback).fit(train.without("item", ids)).score(np.arange(13)),
        )


def test_item_knn_deleting_an_entity_without_rows_changes_nothing_and_learns(movielens, movielens_split):
    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    retrainer = Retrainer(ItemKNN, experiment, log=None)
    rowless_item = _rowless(experiment.train, "item")
    (result,) = retrainer.deletions("item", [[rowless_item]], 0)
    values = result.per_user.drop(columns="user").to_numpy()
    measured = ~np.isnan(values)
    assert measured.sum() > 1000 and (values[measured] == 0.0).all()
    baseline = retrainer.baseline(0)
    np.testing.assert_array_equal(
        ItemKNN().fit(experiment.train, 99).score(baseline.per_user["user"].to_numpy()), baseline.scores
    )
    from recinfluence.models import SVD

    svd = aggregate(experiment.evaluate(SVD().fit(experiment.train, 0)))
    assert aggregate(baseline.per_user)["map@10"] > 2 * svd["map@10"]


@pytest.mark.parametrize("save_nbrs", [None, 30])
@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_item_knn_item_deletion_without_refit_equals_a_refit(movielens_train, feedback, save_nbrs):
    """With ``save_nbrs`` too: an item that saved a deleted one takes its next most similar, as
    in a refit; and the users the variant says it leaves alone score every other item as before."""
    train = movielens_train
    model = ItemKNN(feedback=feedback, save_nbrs=save_nbrs).fit(train)
    users = np.arange(0, train.n_users, 3)  # a third of the users keeps the test quick; some rated each deleted item
    baseline = model.score(users)
    busy, rowless = (
        np.argsort(-np.bincount(train.items, minlength=train.n_items), kind="stable"),
        _rowless(train, "item"),
    )
    for ids in ([busy[0]], busy[[5, 60, 400]], [busy[1200]], [rowless]):
        (derived,) = model.deletion_variants(train, "item", [ids])
        scores = derived.score(users)
        refit = ItemKNN(feedback=feedback, save_nbrs=save_nbrs).fit(train.without("item", ids))
        np.testing.assert_array_equal(scores, refit.score(users))
        unchanged = ~derived.changed_users(users)
        assert unchanged.all() == (ids[0] == rowless)
        np.testing.assert_array_equal(
            np.delete(scores, ids, axis=1)[unchanged], np.delete(baseline, ids, axis=1)[unchanged]
        )
    if save_nbrs is not None:  # a busy item is among the saved neighbours of some: their lists were recomputed
        (derived,) = model.deletion_variants(train, "item", [busy[:1]])
        assert derived.similarity is not model.similarity


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_item_knn_saving_every_neighbour_scores_as_the_dense_matrix(movielens_train, feedback, monkeypatch):
    """``save_nbrs`` as large as the catalog keeps every similarity: the sparse form, computed
    in small blocks, holds the dense form's similarities to the bit and gives its scores to
    rounding (each sums a target's k neighbours in its own order)."""
    from recinfluence.models import item_knn

    monkeypatch.setattr(item_knn, "BLOCK_BYTES", item_knn.BYTES_PER_BLOCK_CELL * movielens_train.n_items * 7)
    train, users = movielens_train, np.arange(0, movielens_train.n_users, 6)
    dense = ItemKNN(feedback=feedback).fit(train)
    sparse = ItemKNN(feedback=feedback, save_nbrs=train.n_items).fit(train)
    assert isinstance(dense.similarity, np.ndarray) and sparse.similarity.format == "csc"
    np.testing.assert_array_equal(sparse.similarity.toarray(), dense.similarity)
    np.testing.assert_allclose(sparse.score(users), dense.score(users), rtol=1e-13, atol=0)


def test_item_knn_saves_each_items_largest_similarities_lowest_ids_first():
    # items 1, 2 and 3 are rated by the same users, so equally similar to each other and to 0
    frame = pd.DataFrame({"user": [0, 0, 0, 0, 1, 1, 1, 2], "item": [0, 1, 2, 3, 1, 2, 3, 4], "rating": 1.0})
    train = TrainSet.from_frame(frame, n_users=3, n_items=5)
    dense = ItemKNN().fit(train).similarity
    saved = ItemKNN(save_nbrs=2).fit(train).similarity.toarray()
    for column in range(5):
        order = sorted((-dense[row, column], row) for row in range(5) if dense[row, column] > 0)[:2]
        expected = np.zeros(5)
        expected[[row for _, row in order]] = [-value for value, _ in order]
        np.testing.assert_array_equal(saved[:, column], expected)
    np.testing.assert_array_equal(np.flatnonzero(saved[:, 0]), [1, 2])  # 1, 2 and 3 tie for two places


# ---------------------------------------------------------------------------------------------
# Implicit ALS (the implicit library)


def test_als_starts_every_retained_entity_from_the_same_factors(movielens_train, monkeypatch):
    from implicit.cpu.als import AlternatingLeastSquares

    started = []
    original = AlternatingLeastSquares.fit

    def recording_fit(self, user_items, *args, **kwargs):
        started.append((user_items.shape, self.user_factors.copy(), self.item_factors.copy()))
        return original(self, user_items, *args, **kwargs)

    monkeypatch.setattr(AlternatingLeastSquares, "fit", recording_fit)
    train = movielens_train
    busy_user, busy_item = (int(np.argmax(np.bincount(column))) for column in (train.users, train.items))
    ALS(factors=8, iterations=1).fit(train, 3)
    ALS(factors=8, iterations=1).fit(train.without("user", [busy_user]), 3)
    ALS(factors=8, iterations=1).fit(train.without("item", [busy_item]), 3)
    (shape, users, items), *variants = started
    assert shape == (train.n_users, train.n_items)
    for variant_shape, variant_users, variant_items in variants:
        assert variant_shape == shape  # the deleted entity keeps its (empty) row
        np.testing.assert_array_equal(variant_users, users)
        np.testing.assert_array_equal(variant_items, items)


def test_als_deleting_entities_without_rows_changes_nothing_and_it_learns(movielens, movielens_split):
    from recinfluence.models import SVD

    experiment = Experiment.build(movielens, movielens_split, part="evaluation")

    def make():
        return ALS(factors=16, regularization=10)

    retrainer = Retrainer(make, experiment, log=None)
    rowless, busy = retrainer.deletions("item", [[_rowless(experiment.train, "item")], [49]], 0)
    values = rowless.per_user.drop(columns="user").to_numpy()
    measured = ~np.isnan(values)
    assert measured.sum() > 1000 and (values[measured] == 0.0).all()
    assert (busy.per_user.drop(columns="user").to_numpy()[measured] != 0.0).any()
    svd = aggregate(experiment.evaluate(SVD().fit(experiment.train, 0)))
    assert aggregate(retrainer.baseline(0).per_user)["map@10"] > 2 * svd["map@10"]
    assert not np.array_equal(
        make().fit(experiment.train, 1).score(np.arange(5)), retrainer.baseline(0).model.score(np.arange(5))
    )


# ---------------------------------------------------------------------------------------------
# Mult-VAE

SMALL_VAE = dict(hidden=32, latent=8, epochs=3, batch_size=128)


@pytest.fixture(scope="module")
def vae_scores(movielens_train):
    torch.set_num_threads(1)
    return MultVAE(**SMALL_VAE).fit(movielens_train, 0).score(np.arange(movielens_train.n_users))


def test_mult_vae_is_deterministic_for_a_seed(movielens_train, vae_scores):
    users = np.arange(movielens_train.n_users)
    np.testing.assert_array_equal(MultVAE(**SMALL_VAE).fit(movielens_train, 0).score(users), vae_scores)
    assert not np.array_equal(MultVAE(**SMALL_VAE).fit(movielens_train, 1).score(users), vae_scores)


@pytest.mark.parametrize("kind", ["user", "item"])
def test_mult_vae_deleting_an_entity_without_rows_changes_nothing(movielens_train, vae_scores, kind):
    train = movielens_train
    if kind == "user":  # the paper split leaves every user a row: add an id without any
        train = TrainSet.from_frame(
            pd.DataFrame({"user": train.users, "item": train.items, "rating": train.ratings}),
            train.n_users + 1,
            train.n_items,
        )
        rowless, expected = train.n_users - 1, MultVAE(**SMALL_VAE).fit(train, 0).score(np.arange(train.n_users - 1))
    else:
        rowless, expected = _rowless(train, "item"), vae_scores
    got = MultVAE(**SMALL_VAE).fit(train.without(kind, [rowless]), 0).score(np.arange(movielens_train.n_users))
    np.testing.assert_array_equal(got, expected)
    busy = np.argmax(np.bincount(train.users if kind == "user" else train.items))
    assert not np.array_equal(
        MultVAE(**SMALL_VAE).fit(train.without(kind, [busy]), 0).score(np.arange(movielens_train.n_users)), expected
    )


def test_mult_vae_batches_and_noise_are_keyed_by_seed_epoch_and_slot(monkeypatch, movielens_train):
    """Deleting a user changes the rows its batch trains on, never which users share a batch nor
    the dropout mask and noise drawn for each slot."""
    from recinfluence.models import mult_vae

    drawn = []
    original = mult_vae._keyed_generator

    def recording(*key):
        generator = original(*key)
        drawn.append((key, generator.initial_seed()))
        return generator

    monkeypatch.setattr(mult_vae, "_keyed_generator", recording)
    MultVAE(**SMALL_VAE).fit(movielens_train, 0)
    full, drawn[:] = list(drawn), []
    MultVAE(**SMALL_VAE).fit(movielens_train.without("user", [5, 77]), 0)
    assert drawn == full and len(full) == 3 * (1 + int(np.ceil(movielens_train.n_users / 128)))


def test_mult_vae_learns(movielens, movielens_split):
    from recinfluence.models import SVD

    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    vae = aggregate(experiment.evaluate(MultVAE(hidden=200, latent=50, epochs=10).fit(experiment.train, 0)))
    svd = aggregate(experiment.evaluate(SVD().fit(experiment.train, 0)))
    assert vae["map@10"] > 2 * svd["map@10"]
