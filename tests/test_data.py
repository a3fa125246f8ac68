import numpy as np
import pytest

from helpers import data


def test_diabetes_is_standardised_with_training_statistics_only():
    split = data.diabetes()
    assert split.x_train.shape == (331, 10) and split.x_test.shape == (111, 10)
    assert split.y_train.shape == (331, 1) and split.y_test.shape == (111, 1)
    assert (
        split.x_train.dtype == np.float32 and split.y_train.dtype == np.float32
    )
    np.testing.assert_allclose(split.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(split.x_train.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(split.y_train.std(), 1, atol=1e-5)
    # The test part is scaled with the training statistics, so it is not
    # exactly standard.
    assert abs(float(split.x_test.mean())) > 1e-3


def test_diabetes_split_is_reproducible_and_seeded():
    a, b, c = (
        data.diabetes(seed=0),
        data.diabetes(seed=0),
        data.diabetes(seed=1),
    )
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_digits_are_images_in_unit_range_with_stratified_split():
    split = data.digits()
    assert split.x_train.shape == (1347, 8, 8, 1) and split.x_test.shape == (
        450,
        8,
        8,
        1,
    )
    assert (
        split.x_train.dtype == np.float32 and split.y_train.dtype == np.int32
    )
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    train_share = np.bincount(split.y_train) / len(split.y_train)
    test_share = np.bincount(split.y_test) / len(split.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_wave_shape_and_noise():
    x, y = data.wave(n=50, noise=0.0)
    assert x.shape == y.shape == (50, 1) and x.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(3 * x), atol=1e-6)
    x1, y1 = data.wave(seed=3)
    x2, y2 = data.wave(seed=3)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, np.sin(3 * x1))


def test_dense_initial_weights_match_keras_layout():
    import keras

    weights = data.dense_initial_weights([3, 5, 2], seed=4)
    assert [w.shape for w in weights] == [(3, 5), (5,), (5, 2), (2,)]
    assert all(w.dtype == np.float32 for w in weights)
    assert np.all(np.abs(weights[0]) <= np.sqrt(6 / 8)) and not np.any(
        weights[1]
    )
    inputs = keras.Input(shape=(3,))
    model = keras.Model(
        inputs, keras.layers.Dense(2)(keras.layers.Dense(5)(inputs))
    )
    model.set_weights(weights)  # raises if the layout differs
    again = data.dense_initial_weights([3, 5, 2], seed=4)
    for a, b in zip(weights, again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call, fix",
    [
        (lambda: data.diabetes(test_size=1.5), "between 0 and 1"),
        (lambda: data.digits(test_size=0), "between 0 and 1"),
        (lambda: data.digits(seed=-1), "non-negative int"),
        (lambda: data.diabetes(seed=1.5), "non-negative int"),
        (lambda: data.wave(n=1), "at least 2"),
        (lambda: data.wave(noise=-0.1), "non-negative"),
        (lambda: data.dense_initial_weights([4]), "e.g. [1, 16, 1]"),
        (lambda: data.dense_initial_weights([4, 0]), "e.g. [1, 16, 1]"),
    ],
)
def test_bad_input_names_the_fix(call, fix):
    with pytest.raises(
        ValueError,
        match=fix.replace("[", r"\[").replace("]", r"\]").replace(".", r"\."),
    ):
        call()


@pytest.mark.parametrize("standardize", [False, True])
def test_japanese_vowels(standardize):
    data_ = data.japanese_vowels(standardize=standardize)
    assert data_.x_train.shape == (270, 29, 12) and data_.x_test.shape == (
        370,
        29,
        12,
    )
    assert (
        data_.x_train.dtype == np.float32
        and data_.lengths_train.dtype == np.int32
    )
    assert (
        data_.lengths_train.min() == 7
        and max(data_.lengths_train.max(), data_.lengths_test.max()) == 29
    )
    assert (
        sorted(set(data_.y_train)) == list(range(9))
        and data_.y_test.dtype == np.int32
    )
    for x, lengths in (
        (data_.x_train, data_.lengths_train),
        (data_.x_test, data_.lengths_test),
    ):
        for row, length in zip(x, lengths, strict=True):
            assert not np.any(row[length:]) and np.all(
                np.any(row[:length] != 0, axis=-1)
            )
    if standardize:
        valid = np.concatenate(
            [
                row[:n]
                for row, n in zip(
                    data_.x_train, data_.lengths_train, strict=True
                )
            ]
        )
        np.testing.assert_allclose(valid.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(valid.std(axis=0), 1, atol=1e-5)


@pytest.mark.parametrize(
    "value, minimum, expected",
    [
        (0, 0, True),
        (np.int64(3), 1, True),
        (-1, 0, False),
        (True, 0, False),  # a bool is not a count
        (2.0, 1, False),
        ("3", 1, False),
    ],
)
def test_is_int_at_least(value, minimum, expected):
    from helpers.checks import is_int_at_least

    assert is_int_at_least(value, minimum) is expected


def test_diabetes_loads_the_raw_values(monkeypatch):
    # scikit-learn's scaled=True would use all patients' statistics, the
    # test part's included.
    import sklearn.datasets

    calls = []
    real = sklearn.datasets.load_diabetes

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(sklearn.datasets, "load_diabetes", recording)
    data.diabetes()
    assert calls and calls[0].get("scaled") is False


def _index_entries():
    """(functions, notebooks) of each entry of helpers.data's module index."""
    import re

    entries = re.split(r"^- ", data.__doc__, flags=re.MULTILINE)[1:]
    return [
        (
            re.findall(r":func:`(\w+)`", entry),
            re.findall(r"``(\d\d_\w+)``", entry),
        )
        for entry in entries
    ]


def test_module_index_names_each_function_and_the_chapters_using_it():
    import inspect
    import json
    from pathlib import Path

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    public = {
        name
        for name, f in vars(data).items()
        if inspect.isfunction(f)
        and f.__module__ == data.__name__
        and not name.startswith("_")
    }
    entries = _index_entries()
    assert {f for functions, _ in entries for f in functions} == public
    for functions, stems in entries:
        assert stems, f"{functions}: no chapter named"
        for stem in stems:
            path = notebooks / f"{stem}.ipynb"
            assert path.exists(), f"{stem} names no notebook"
            code = "\n".join(
                "".join(cell["source"])
                for cell in json.loads(path.read_text("utf-8"))["cells"]
                if cell["cell_type"] == "code"
            )
            for function in functions:
                assert f"{function}(" in code, (
                    f"{stem} does not call {function}"
                )


def test_module_index_types_no_chapter_numbers():
    import nbhygiene

    assert not nbhygiene.typed_chapter_numbers(data.__doc__)
