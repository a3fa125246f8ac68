"""helpers.dtw_fast: DTW, soft-DTW against NumPy, tslearn and dtaidistance."""

import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers import dtw_fast
from helpers.dtw_fast import dtw, dtw_path, soft_dtw

# --- The project's own references: the recursions, written plainly ---


def reference_dtw(x, y):
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    r = np.full((len(x) + 1, len(y) + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(len(x)):
        for j in range(len(y)):
            r[i + 1, j + 1] = cost[i, j] + min(
                r[i, j + 1], r[i + 1, j], r[i, j]
            )
    return r[-1, -1]


def reference_soft_dtw(x, y, gamma):
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    r = np.full((len(x) + 1, len(y) + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(len(x)):
        for j in range(len(y)):
            values = np.array([r[i, j + 1], r[i + 1, j], r[i, j]])
            finite = values[np.isfinite(values)]
            low = finite.min()
            r[i + 1, j + 1] = (
                cost[i, j]
                + low
                - gamma * np.log(np.exp(-(finite - low) / gamma).sum())
            )
    return r[-1, -1]


def batch(seed, size=5, steps_x=7, steps_y=6, features=3, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, steps_x, features)).astype(dtype)
    y = rng.normal(size=(size, steps_y, features)).astype(dtype)
    x_lengths = rng.integers(1, steps_x + 1, size)
    y_lengths = rng.integers(1, steps_y + 1, size)
    return x, y, x_lengths, y_lengths


# --- Values ---


@pytest.mark.parametrize("seed", range(3))
def test_dtw_matches_reference_with_lengths(seed):
    x, y, lx, ly = batch(seed)
    ours = dtw(x, y, lx, ly).numpy()
    expected = [
        reference_dtw(x[b, : lx[b]], y[b, : ly[b]]) for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


# dtw's loop does three diagonals per pass; these sizes give all three
# remainders of the diagonal count (computed below), and both orders of the
# longer sequence.
GRID_SIZES = [(1, 1), (1, 4), (4, 1), (2, 2), (3, 5), (5, 3), (6, 6), (4, 9)]


def test_grid_sizes_cover_every_remainder():
    remainders = set()
    for steps_x, steps_y in GRID_SIZES:
        # dtw puts the shorter first
        rows, columns = dtw_fast.grid_shape(
            min(steps_x, steps_y), max(steps_x, steps_y)
        )
        remainders.add((rows + columns - 1) % 3)
    assert remainders == {0, 1, 2}


@pytest.mark.parametrize("steps_x, steps_y", GRID_SIZES)
def test_dtw_matches_reference_at_every_grid_size(steps_x, steps_y):
    x, y, lx, ly = batch(21, steps_x=steps_x, steps_y=steps_y)
    expected = [
        reference_dtw(x[b, : lx[b]], y[b, : ly[b]]) for b in range(len(x))
    ]
    np.testing.assert_allclose(dtw(x, y, lx, ly).numpy(), expected, rtol=1e-10)
    # the generic program, sizes unknown when traced
    spec = tf.TensorSpec([None, None, 3], tf.float64)
    open_shapes = tf.function(
        lambda a, b, la, lb: dtw(a, b, la, lb),
        input_signature=[spec, spec] + [tf.TensorSpec([None], tf.int32)] * 2,
    )
    np.testing.assert_allclose(
        open_shapes(x, y, lx.astype("int32"), ly.astype("int32")).numpy(),
        expected,
        rtol=1e-10,
    )


@pytest.mark.parametrize("gamma", [0.1, 1.0, 10.0])
def test_soft_dtw_matches_reference_with_lengths(gamma):
    x, y, lx, ly = batch(7)
    ours = soft_dtw(x, y, gamma=gamma, x_lengths=lx, y_lengths=ly).numpy()
    expected = [
        reference_soft_dtw(x[b, : lx[b]], y[b, : ly[b]], gamma)
        for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_dtw_agrees_with_tslearn_and_dtaidistance():
    from dtaidistance import dtw_ndim
    from tslearn.metrics import dtw as tslearn_dtw

    x, y, lx, ly = batch(3, size=6, steps_x=12, steps_y=9)
    ours = dtw(x, y, lx, ly).numpy()
    for b in range(len(x)):
        a, c = x[b, : lx[b]], y[b, : ly[b]]
        # Both libraries report the square root of the accumulated squared-
        # distance cost.
        assert np.sqrt(ours[b]) == pytest.approx(tslearn_dtw(a, c), rel=1e-9)
        assert np.sqrt(ours[b]) == pytest.approx(
            dtw_ndim.distance(a, c), rel=1e-9
        )


def test_soft_dtw_agrees_with_tslearn():
    from tslearn.metrics import soft_dtw as tslearn_soft_dtw

    x, y, lx, ly = batch(4, size=4, steps_x=10, steps_y=8)
    ours = soft_dtw(x, y, gamma=0.5, x_lengths=lx, y_lengths=ly).numpy()
    expected = [
        tslearn_soft_dtw(x[b, : lx[b]], y[b, : ly[b]], gamma=0.5)
        for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_float32_is_close_to_float64():
    x, y, lx, ly = batch(5)
    exact = dtw(x, y, lx, ly).numpy()
    single = dtw(x.astype("float32"), y.astype("float32"), lx, ly)
    assert single.dtype == tf.float32
    np.testing.assert_allclose(single.numpy(), exact, rtol=1e-5)
    soft = soft_dtw(x.astype("float32"), y.astype("float32"), 1.0, lx, ly)
    np.testing.assert_allclose(
        soft.numpy(), soft_dtw(x, y, 1.0, lx, ly).numpy(), rtol=1e-4, atol=1e-4
    )


# --- Properties ---


def test_identity_gives_zero_and_symmetry_holds():
    x, y, lx, ly = batch(6)
    np.testing.assert_allclose(dtw(x, x, lx, lx).numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(
        dtw(x, y, lx, ly).numpy(), dtw(y, x, ly, lx).numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        soft_dtw(x, y, 0.7, lx, ly).numpy(),
        soft_dtw(y, x, 0.7, ly, lx).numpy(),
        rtol=1e-12,
    )


def test_padding_content_is_ignored_even_nan_and_inf():
    x, y, lx, ly = batch(8)
    clean = dtw(x, y, lx, ly).numpy()
    soft_clean = soft_dtw(x, y, 1.0, lx, ly).numpy()
    dirty_x, dirty_y = x.copy(), y.copy()
    for b in range(len(x)):
        dirty_x[b, lx[b] :] = np.nan
        dirty_y[b, ly[b] :] = np.inf
    np.testing.assert_array_equal(dtw(dirty_x, dirty_y, lx, ly).numpy(), clean)
    np.testing.assert_array_equal(
        soft_dtw(dirty_x, dirty_y, 1.0, lx, ly).numpy(), soft_clean
    )


def test_lengths_of_one():
    x, y, _, _ = batch(9)
    ones = np.ones(len(x), "int32")
    # One frame against one frame: the cost of that single pair of frames.
    np.testing.assert_allclose(
        dtw(x, y, ones, ones).numpy(),
        ((x[:, 0] - y[:, 0]) ** 2).sum(-1),
        rtol=1e-12,
    )
    # One frame against a whole sequence: every frame of it is matched to that
    # one frame.
    full = np.full(len(x), y.shape[1])
    np.testing.assert_allclose(
        dtw(x, y, ones, full).numpy(),
        ((x[:, :1] - y) ** 2).sum(axis=(1, 2)),
        rtol=1e-12,
    )


def test_soft_dtw_tends_to_dtw_as_gamma_shrinks():
    x, y, lx, ly = batch(10)
    np.testing.assert_allclose(
        soft_dtw(x, y, 1e-4, lx, ly).numpy(),
        dtw(x, y, lx, ly).numpy(),
        atol=1e-2,
    )


# --- Gradients and graph modes ---


# The longer one first or second; and lengths far apart, where the padded grid
# is wider than it is tall.
@pytest.mark.parametrize("steps_x, steps_y", [(5, 4), (4, 5), (6, 3), (3, 6)])
def test_soft_dtw_gradient_matches_finite_differences(steps_x, steps_y):
    x, y, lx, ly = batch(11, size=2, steps_x=steps_x, steps_y=steps_y)
    lx, ly = tf.constant(lx), tf.constant(ly)
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: soft_dtw(a, b, 0.5, lx, ly),
        [tf.constant(x), tf.constant(y)],
        delta=1e-4,
    )
    for t, n in zip(theoretical, numerical, strict=True):
        assert np.abs(t).max() > 0.1
        np.testing.assert_allclose(t, n, atol=1e-6)


def test_soft_dtw_gradient_is_zero_on_padding():
    x, y, lx, ly = batch(12)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(soft_dtw(x, y, 1.0, lx, ly))
    gradient = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(gradient))
    for b in range(len(lx)):
        assert not np.any(gradient[b, lx[b] :])
        assert np.any(gradient[b, : lx[b]])


@pytest.mark.parametrize("jit", [False, True])
def test_inside_tf_function_with_open_shapes(jit):
    spec = tf.TensorSpec([None, None, 3], tf.float64)
    lengths = tf.TensorSpec([None], tf.int32)

    @tf.function(
        input_signature=[spec, spec, lengths, lengths], jit_compile=jit
    )
    def both(x, y, lx, ly):
        return dtw(x, y, lx, ly), soft_dtw(x, y, 1.0, lx, ly)

    x, y, lx, ly = batch(13)
    hard, soft = both(x, y, lx.astype("int32"), ly.astype("int32"))
    np.testing.assert_allclose(
        hard.numpy(), dtw(x, y, lx, ly).numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        soft.numpy(), soft_dtw(x, y, 1.0, lx, ly).numpy(), rtol=1e-12
    )


def test_gradient_inside_tf_function_with_open_shapes():
    # Traced with unknown sizes, the generic compiled programs run; they must
    # agree with the per-shape ones.
    spec = tf.TensorSpec([None, None, 3], tf.float64)

    @tf.function(input_signature=[spec, spec])
    def gradients(x, y):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            total = tf.reduce_sum(soft_dtw(x, y, 0.5))
        return tape.gradient(total, [x, y])

    x, y, _, _ = batch(17, steps_x=8, steps_y=5)
    x, y = tf.constant(x), tf.constant(y)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        total = tf.reduce_sum(soft_dtw(x, y, 0.5))
    for open_shapes, static in zip(
        gradients(x, y), tape.gradient(total, [x, y]), strict=True
    ):
        np.testing.assert_allclose(
            open_shapes.numpy(), static.numpy(), rtol=1e-10
        )


def test_custom_gradient_wiring_gives_none_for_lengths_and_no_loop_tape():
    # soft_dtw_custom_gradient, as soft_dtw calls it: a gradient for x and y,
    # None for the integer lengths, and the tape keeps nothing per pass of a
    # loop (while_v2 would add a TensorListPushBack per kept value).
    x, y, lx, ly = batch(18, steps_x=6, steps_y=4)
    args = [tf.constant(v) for v in (x, y, lx.astype("int32"))]
    args.append(tf.constant(ly.astype("int32")))
    gamma = tf.constant(0.5, tf.float64)

    def value_and_gradients(x, y, lx, ly):
        with tf.GradientTape() as tape:
            tape.watch([x, y, lx, ly])
            total = tf.reduce_sum(
                dtw_fast.soft_dtw_custom_gradient(x, y, lx, ly, gamma)
            )
        return total, tape.gradient(total, [x, y, lx, ly])

    total, (gx, gy, glx, gly) = value_and_gradients(*args)
    assert glx is None and gly is None
    with tf.GradientTape() as tape:
        tape.watch(args[:2])
        expected = tf.reduce_sum(soft_dtw(*args[:2], 0.5, *args[2:]))
    for got, want in zip(
        (gx, gy), tape.gradient(expected, args[:2]), strict=True
    ):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-12)
    graph = (
        tf.function(lambda *a: value_and_gradients(*a)[1][:2])
        .get_concrete_function(*args)
        .graph
    )
    functions = graph.as_graph_def().library.function
    kept = [n for f in functions for n in f.node_def]
    kept = [n for n in kept if n.op == "TensorListPushBack"]
    assert functions and not kept


def test_stop_gradient_lets_an_eager_tape_run_the_compiled_forward():
    # Why soft_dtw_custom_gradient stops the gradient on the inputs of its
    # forward pass: eagerly, a tf.function called under a tape on a watched
    # input runs a forward version that also returns the loop's per-pass
    # accumulators, and an XLA program cannot return tensor lists. The
    # eager gradient of soft_dtw below fails without the guard.
    x, y, lx, ly = dtw_fast._checked(*batch(19, steps_x=6, steps_y=4))
    gamma = tf.constant(0.5, x.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(tf.errors.UnimplementedError, match="TensorList"):
            dtw_fast._run("soft_dtw", x, y, lx, ly, gamma)
        guarded = dtw_fast._run(
            "soft_dtw", tf.stop_gradient(x), y, lx, ly, gamma
        )[0]
        value = dtw_fast.soft_dtw_custom_gradient(x, y, lx, ly, gamma)
    assert tape.gradient(guarded, x) is None
    np.testing.assert_allclose(value.numpy(), guarded.numpy(), rtol=1e-12)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(
            dtw_fast.soft_dtw_custom_gradient(x, y, lx, ly, gamma)
        )
    assert np.isfinite(tape.gradient(total, x).numpy()).all()


def test_each_diagonal_is_read_from_the_folded_costs():
    # The layout trick of diagonal_costs: cell (i, j) of a [columns - 1,
    # columns] array read as [columns, columns - 1] lies on row
    # i + k // (columns - 1), column k % (columns - 1), where k = i + j.
    rows, columns = dtw_fast.grid_shape(5, 7)
    cells = np.arange((columns - 1) * columns, dtype="float64").reshape(
        columns - 1, columns, 1
    )
    for k in range(rows + columns - 1):
        offset = tf.constant([k // (columns - 1), k % (columns - 1)])
        diagonal = dtw_fast.diagonal_costs(
            tf.constant(cells), k, offset, rows, columns
        ).numpy()[:, 0]
        expected = [
            cells[i, k - i, 0] if 0 <= k - i < columns else np.inf
            for i in range(rows)
        ]
        np.testing.assert_array_equal(diagonal, expected)


def test_trained_inside_a_compiled_step():
    x, y, lx, ly = batch(14, dtype="float32")
    weights = tf.Variable(tf.ones([3], tf.float32))

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(soft_dtw(x * weights, y, 1.0, lx, ly))
        gradient = tape.gradient(loss, weights)
        weights.assign_sub(0.01 * gradient)
        return loss

    losses = [float(step()) for _ in range(5)]
    assert losses[-1] < losses[0]


# --- Bad input ---


@pytest.mark.parametrize(
    "call, error, fix",
    [
        (
            lambda: dtw(np.zeros((2, 3)), np.zeros((2, 3))),
            ValueError,
            r"x\[None\]",
        ),
        (
            lambda: dtw(np.zeros((2, 3, 4)), np.zeros((2, 3, 5))),
            ValueError,
            "same number of features",
        ),
        (
            lambda: dtw(np.zeros((2, 3, 4)), np.zeros((3, 3, 4))),
            ValueError,
            "tile them",
        ),
        (
            lambda: dtw(
                np.zeros((2, 3, 4), "int32"), np.zeros((2, 3, 4), "int32")
            ),
            TypeError,
            "tf.cast",
        ),
        (
            lambda: dtw(np.zeros((2, 3, 4)), np.zeros((2, 3, 4), "float32")),
            TypeError,
            "cast one",
        ),
        (
            lambda: dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), x_lengths=[0, 3]
            ),
            ValueError,
            r"\[1, T\]",
        ),
        (
            lambda: dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), y_lengths=[1, 4]
            ),
            ValueError,
            r"\[1, U\]",
        ),
        (
            lambda: dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), x_lengths=[1.0, 2.0]
            ),
            TypeError,
            "integers",
        ),
        (
            lambda: dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), x_lengths=[1, 2, 3]
            ),
            ValueError,
            "batch has 2",
        ),
        (
            lambda: soft_dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), gamma=0.0
            ),
            ValueError,
            "strictly positive",
        ),
        (
            lambda: soft_dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), gamma=-1
            ),
            ValueError,
            "strictly positive",
        ),
        (
            lambda: soft_dtw(
                np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), gamma="1"
            ),
            TypeError,
            "positive Python number",
        ),
    ],
)
def test_bad_input_names_the_fix(call, error, fix):
    with pytest.raises(error, match=fix):
        call()


def test_lengths_checked_inside_a_graph():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def run(lengths):
        return dtw(tf.zeros([2, 3, 1]), tf.zeros([2, 3, 1]), x_lengths=lengths)

    with pytest.raises(tf.errors.InvalidArgumentError, match="at most T"):
        run(tf.constant([1, 4]))


def test_dtw_path():
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[0.0], [0.0], [1.0], [2.0]])
    cost, accumulated, path = dtw_path(x, y)
    assert cost.shape == (3, 4) and accumulated[-1, -1] == 0.0
    assert path == [(0, 0), (0, 1), (1, 2), (2, 3)]
    assert accumulated[-1, -1] == pytest.approx(
        float(dtw(x[None], y[None])[0])
    )
    with pytest.raises(ValueError, match="same number|features per frame"):
        dtw_path(x, np.zeros((3, 2)))


def test_dtw_all_pairs_matches_pair_by_pair():
    from helpers.dtw_fast import dtw_all_pairs

    x, _, lx, _ = batch(15, size=3, steps_x=6)
    _, y, _, ly = batch(16, size=4, steps_y=5)
    matrix = dtw_all_pairs(x, y, lx, ly)
    assert matrix.shape == (3, 4)
    for m in range(3):
        for n in range(4):
            assert matrix[m, n] == pytest.approx(
                reference_dtw(x[m, : lx[m]], y[n, : ly[n]]), rel=1e-10
            )
    np.testing.assert_allclose(
        dtw_all_pairs(x, y),
        [[reference_dtw(a, b) for b in y] for a in x],
        rtol=1e-10,
    )
    with pytest.raises(ValueError, match=r"\[sequences, time, features\]"):
        dtw_all_pairs(x[0], y)
    with pytest.raises(ValueError, match="one length per sequence"):
        dtw_all_pairs(x, y, lx[:2], ly)


def test_dtw_all_pairs_over_several_batches_and_length_groups(monkeypatch):
    # 35 pairs: many batches, a short last one
    monkeypatch.setattr(dtw_fast, "_PAIRS_PER_CALL", 4)
    x, _, lx, _ = batch(18, size=5, steps_x=9)
    _, y, _, ly = batch(19, size=7, steps_y=6)
    expected = [
        [reference_dtw(x[m, : lx[m]], y[n, : ly[n]]) for n in range(7)]
        for m in range(5)
    ]
    np.testing.assert_allclose(
        dtw_fast.dtw_all_pairs(x, y, lx, ly), expected, rtol=1e-10
    )


BUILDING_BLOCKS = (
    "time_steps",
    "grid_shape",
    "arranged_frames",
    "materialized",
    "grid_costs",
    "cell_masks",
    "diagonal_costs",
    "diagonal_offset",
    "next_diagonal_offset",
    "wavefront",
    "hard_min",
    "dtw_wavefront",
    "three_at_a_time",
    "written_in_place",
    "dtw_program",
    "soft_dtw_custom_gradient",
)


def test_main_api_and_the_building_blocks_the_appendix_shows():
    # __all__ is the main API; the appendix shows and calls the building
    # blocks, so they are public too, and the module docstring lists them.
    assert dtw_fast.__all__ == ["dtw", "dtw_all_pairs", "soft_dtw", "dtw_path"]
    for name in BUILDING_BLOCKS:
        assert callable(getattr(dtw_fast, name)), name
        assert f":func:`{name}`" in dtw_fast.__doc__, name
