"""helpers.dtw_metric: mask lengths, batch divergences, the loss, 1-NN DTW."""

import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers import dtw_readable
from helpers.dtw_fast import dtw_all_pairs, soft_dtw
from helpers.dtw_metric import (
    class_balanced_batches,
    dtw_matrix,
    lengths_from_mask,
    nearest_neighbour_right,
    neighbour_loss,
    pairwise_divergence,
)


def sequences(seed, batch=5, steps=7, features=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features))
    lengths = rng.integers(1, steps + 1, batch).astype("int32")
    return x, lengths


def right_padded(lengths, steps):
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


# --- lengths_from_mask ---


def test_lengths_from_mask_counts_valid_steps():
    lengths = np.array([3, 7, 1, 5], "int32")
    out = lengths_from_mask(right_padded(lengths, 7))
    assert out.dtype == tf.int32
    np.testing.assert_array_equal(out, lengths)
    np.testing.assert_array_equal(
        lengths_from_mask(right_padded(lengths, 7), lengths), lengths
    )


def test_lengths_from_mask_refuses_front_padding():
    front = np.arange(6)[None, :] >= 2
    with pytest.raises(ValueError, match="^row 0: .*padding='post'"):
        lengths_from_mask(front)


def test_lengths_from_mask_names_real_zero_frames_in_the_middle():
    # a sequence padded at the end with a real all-zero frame at step 2
    frames = np.ones((3, 6, 2), "float32")
    frames[:, 4:] = 0.0
    frames[1, 2] = 0.0
    mask = np.any(frames != 0, axis=-1)  # what Masking computes
    with pytest.raises(ValueError, match=r"^row 1: .*tf\.sequence_mask"):
        lengths_from_mask(mask, [4, 4, 4])


def test_lengths_from_mask_refuses_other_lengths():
    with pytest.raises(ValueError, match="differ from the expected") as info:
        lengths_from_mask(right_padded([3, 4], 6), np.array([3, 5]))
    assert "tf.sequence_mask(lengths, time)" in str(info.value)


def test_lengths_from_mask_checks_dtype_and_rank():
    with pytest.raises(TypeError, match="compute_mask"):
        lengths_from_mask(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        lengths_from_mask(np.ones((2, 3, 1), bool))


def test_lengths_from_mask_in_a_graph_asserts_when_run():
    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.bool),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def lengths_of(mask, expected):
        return lengths_from_mask(mask, expected)

    good = right_padded([2, 4], 5)
    np.testing.assert_array_equal(lengths_of(good, [2, 4]), [2, 4])
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="lengths differ from the data"
    ):
        lengths_of(good, tf.constant([2, 3]))
    front = np.arange(5)[None, :] >= 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="pad at the"):
        lengths_of(front, tf.constant([3]))


# --- pairwise_divergence ---


def test_pairwise_divergence_matches_pair_by_pair():
    x, lengths = sequences(0)
    matrix = pairwise_divergence(x, lengths, gamma=0.5).numpy()
    first, second = np.divmod(np.arange(25), 5)
    expected = dtw_readable.soft_dtw_divergence(
        x[first], x[second], 0.5, lengths[first], lengths[second]
    ).numpy()
    np.testing.assert_allclose(matrix.ravel(), expected, rtol=1e-10)
    assert np.all(np.diag(matrix) == 0)
    np.testing.assert_array_equal(matrix, matrix.T)


def test_pairwise_divergence_ignores_padding():
    x, lengths = sequences(1)
    poisoned = x.copy()
    poisoned[~right_padded(lengths, 7)] = np.nan
    np.testing.assert_array_equal(
        pairwise_divergence(x, lengths), pairwise_divergence(poisoned, lengths)
    )


def test_pairwise_divergence_gradient_is_the_pairs_gradient():
    x, lengths = sequences(2, batch=3)
    first, second = np.divmod(np.arange(9), 3)
    variable = tf.Variable(x)
    with tf.GradientTape(persistent=True) as tape:
        ours = tf.reduce_sum(pairwise_divergence(variable, lengths, 1.0))
        pairs = dtw_readable.soft_dtw_divergence(
            tf.gather(variable, first),
            tf.gather(variable, second),
            1.0,
            lengths[first],
            lengths[second],
        )
        theirs = tf.reduce_sum(pairs)
    np.testing.assert_allclose(
        tf.convert_to_tensor(tape.gradient(ours, variable)),
        tf.convert_to_tensor(tape.gradient(theirs, variable)),
        rtol=1e-8,
        atol=1e-10,
    )


def test_pairwise_divergence_refuses_lengths_of_another_batch():
    x, lengths = sequences(3)
    with pytest.raises(ValueError, match="5 sequences but lengths has 4"):
        pairwise_divergence(x, lengths[:4])


def test_pairwise_divergence_in_a_graph_asserts_the_batch():
    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None, 3), tf.float64),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def divergences(x, lengths):
        return pairwise_divergence(x, lengths)

    x, lengths = sequences(4)
    np.testing.assert_allclose(
        divergences(x, lengths), pairwise_divergence(x, lengths)
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="same number"):
        divergences(x, lengths[:4])


def test_pairwise_divergence_reuses_dtw_fast_length_checks():
    x, lengths = sequences(5)
    too_long = lengths.copy()
    too_long[0] = 8
    with pytest.raises(ValueError, match=r"must lie in \[1, T\] = \[1, 7\]"):
        pairwise_divergence(x, too_long)
    zero = lengths.copy()
    zero[2] = 0
    with pytest.raises(ValueError, match="got values from 0"):
        pairwise_divergence(x, zero)
    with pytest.raises(ValueError, match="strictly positive"):
        pairwise_divergence(x, lengths, gamma=0.0)


# --- neighbour_loss ---


def reference_neighbour_loss(d, labels):
    total, rows = 0.0, 0
    for i in range(len(d)):
        others = [j for j in range(len(d)) if j != i]
        partners = [j for j in others if labels[j] == labels[i]]
        if not partners:
            continue
        weights = np.exp(-d[i, others])
        total += -np.log(np.exp(-d[i, partners]).sum() / weights.sum())
        rows += 1
    return total / rows if rows else 0.0


def test_neighbour_loss_matches_reference():
    rng = np.random.default_rng(6)
    d = rng.uniform(0, 3, (6, 6))
    labels = np.array([0, 0, 1, 1, 1, 2])  # row 5 has no partner
    np.testing.assert_allclose(
        neighbour_loss(d, labels), reference_neighbour_loss(d, labels)
    )


def test_neighbour_loss_is_zero_without_partners_and_stays_finite():
    d = tf.Variable(np.random.default_rng(7).uniform(0, 3, (3, 3)))
    with tf.GradientTape() as tape:
        loss = neighbour_loss(d, np.array([0, 1, 2]))
    assert float(loss) == 0.0
    assert np.all(np.isfinite(tape.gradient(loss, d)))
    d2 = tf.Variable(np.random.default_rng(8).uniform(0, 3, (4, 4)))
    with tf.GradientTape() as tape:
        loss = neighbour_loss(d2, np.array([0, 0, 1, 2]))
    gradient = tape.gradient(loss, d2).numpy()
    assert np.all(np.isfinite(gradient))
    assert np.all(gradient[2:] == 0)  # rows without a partner count for 0


def test_neighbour_loss_falls_as_partners_come_closer():
    labels = np.array([0, 0, 1, 1])
    far = np.ones((4, 4))
    near = far.copy()
    near[labels[:, None] == labels[None, :]] = 0.1
    assert float(neighbour_loss(near, labels)) < float(
        neighbour_loss(far, labels)
    )


def test_neighbour_loss_checks_shapes():
    with pytest.raises(ValueError, match="square"):
        neighbour_loss(np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \[batch\]"):
        neighbour_loss(np.zeros((3, 3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="one label per row"):
        neighbour_loss(np.zeros((3, 3)), np.zeros(4))


# --- class_balanced_batches ---


def test_class_balanced_batches_deal_every_class_evenly():
    labels = np.repeat(np.arange(3), [5, 6, 7])
    batches = class_balanced_batches(labels, 2, epochs=3, seed=0)
    assert batches.shape == (6, 6)  # 5 // 2 = 2 batches an epoch
    for batch in batches:
        np.testing.assert_array_equal(labels[batch], np.repeat(range(3), 2))
    for epoch in batches.reshape(3, -1):
        assert len(set(epoch.tolist())) == epoch.size  # no repeat
    np.testing.assert_array_equal(
        batches, class_balanced_batches(labels, 2, epochs=3, seed=0)
    )
    assert not np.array_equal(
        batches, class_balanced_batches(labels, 2, epochs=3, seed=1)
    )


def test_class_balanced_batches_redraw_every_epoch():
    # 5 per class, 2 batches of 2: one example of each class left out of an
    # epoch; left over at random, not kept for the next epoch
    labels = np.repeat(np.arange(2), 5)
    epochs = class_balanced_batches(labels, 2, epochs=20, seed=0)
    left_out = [
        set(range(10)) - set(e.ravel().tolist())
        for e in epochs.reshape(20, -1)
    ]
    assert all(len(out) == 2 for out in left_out)
    assert any(a & b for a, b in zip(left_out[:-1], left_out[1:], strict=True))


def test_class_balanced_batches_checks_arguments():
    labels = np.repeat(np.arange(3), 4)
    with pytest.raises(ValueError, match="from 2"):
        class_balanced_batches(labels, 1)
    with pytest.raises(ValueError, match="smallest class"):
        class_balanced_batches(labels, 5)
    with pytest.raises(ValueError, match="epochs"):
        class_balanced_batches(labels, 2, epochs=0)
    with pytest.raises(ValueError, match="integer class ids"):
        class_balanced_batches(labels.astype(float), 2)


# --- dtw_matrix and nearest_neighbour_right ---


def test_dtw_matrix_equals_dtw_all_pairs():
    x, x_lengths = sequences(9, batch=7)
    y, y_lengths = sequences(10, batch=4)
    ours = dtw_matrix(x, y, x_lengths, y_lengths, pairs_per_call=5)
    np.testing.assert_allclose(
        ours, dtw_all_pairs(x, y, x_lengths, y_lengths), rtol=1e-12
    )
    assert ours.shape == (7, 4)


def test_dtw_matrix_checks_lengths():
    x, lengths = sequences(11)
    with pytest.raises(ValueError, match="one length per sequence"):
        dtw_matrix(x, x, lengths[:3], lengths)
    with pytest.raises(ValueError, match="sequences, time, features"):
        dtw_matrix(x[0], x, lengths, lengths)


def test_nearest_neighbour_right():
    costs = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, 1.0]])
    right = nearest_neighbour_right(costs, [0, 1, 2], [1, 2])
    np.testing.assert_array_equal(right, [True, False])
    with pytest.raises(ValueError, match="queries, references"):
        nearest_neighbour_right(costs.T, [0, 1, 2], [1, 2])


def test_soft_dtw_of_itself_falls_with_length():
    # the reason the chapter trains with the divergence
    x = np.tile(np.random.default_rng(12).normal(size=(1, 20, 2)), (3, 1, 1))
    lengths = np.array([5, 10, 20])
    values = soft_dtw(x, x, 1.0, lengths, lengths).numpy()
    assert values[0] > values[1] > values[2]
