"""Helpers shared by the notebooks of *Keras inputs, TensorFlow graphs*.

Import this package **before** TensorFlow, as the first line of a notebook::

    import helpers

Importing it sets TensorFlow's environment defaults (see :mod:`helpers.tfenv`)
so that TensorFlow's C++ start-up log lines never reach a cell's stderr and its
arithmetic depends less on the machine (thread pools of two; on x86-64, oneDNN
and XLA capped at AVX2: the core count and AVX-512 no longer change a result;
other CPUs may still differ in the last digits, ``book/testing.md``), and sets
TensorFlow's Python logger to WARNING (in
Jupyter it would otherwise print INFO records such as "Assets written to:
<path>" into cell outputs).
Everything else lives in submodules:

* :mod:`helpers.reproducibility` -- :func:`seed_everything` (chapter 1).
* :mod:`helpers.plotting` -- :func:`draw_model` and :func:`draw_graph`:
  diagrams of a Keras model and of a traced ``tf.Graph``, with Matplotlib
  only.
* :mod:`helpers.source` -- :func:`show_source`: a helper's code as a chapter
  prints it, without its docstring (chapters 1 and 2).
* :mod:`helpers.extract` -- :func:`feature_extractor` (chapter 2).
* :mod:`helpers.graphs` -- :func:`input_placeholders`,
  :func:`captured_placeholders`, :func:`op_histogram` (chapter 2).
* :mod:`helpers.training` -- :func:`train_step`, :func:`compiled_train_step`,
  :func:`run_epochs` (chapter 3).
* :mod:`helpers.data` -- bundled datasets split and scaled one way:
  :func:`diabetes`, :func:`digits`, :func:`japanese_vowels`, :func:`wave`,
  :func:`dense_initial_weights` (worked examples 1-4).
* :mod:`helpers.heads` -- :func:`batch_hard_triplet_loss`,
  :func:`nearest_centroid_accuracy`, :func:`nearest_centroid_right`,
  :func:`confusion_matrix` (worked example 3).
* :mod:`helpers.sequences` -- :func:`dtw`, :func:`soft_dtw`,
  :func:`dtw_all_pairs`, :func:`dtw_path`: dynamic time warping in a
  TensorFlow graph, fast (worked example 5 and its appendix).
* :mod:`helpers.warping` -- :func:`dtw_by_diagonals`, :func:`frame_costs`,
  :func:`accumulate_by_diagonals`, :func:`soft_dtw_backward`,
  :func:`soft_dtw_divergence`: the same recursions written to be read
  (worked example 5).
* :mod:`helpers.wrapping` -- :func:`frozen_graph_function`,
  :class:`GraphLayer`, :func:`load_checkpoint_weights`, :class:`ModuleLayer`,
  :func:`save_hub_module`: existing TensorFlow inside Keras models (chapter
  6).
* :mod:`helpers.checks` -- :func:`is_int_at_least`, the argument check the
  helpers share.
* :mod:`helpers.timing` -- :func:`step_timings`, :func:`tracing_counts`,
  :func:`dtw_timings`, :func:`dtw_speedups`, :func:`dtw_all_pairs_seconds`,
  :func:`interleaved_median_seconds`: the measurements of the performance
  chapter and ``make benchmark``.
"""

from helpers.tfenv import apply_tf_env_defaults

apply_tf_env_defaults()

# After the environment defaults, hence not at the top (E402).
from helpers.reproducibility import seed_everything  # noqa: E402
from helpers.tfenv import quiet_tf_python_logger  # noqa: E402

quiet_tf_python_logger()

__all__ = ["apply_tf_env_defaults", "seed_everything"]
