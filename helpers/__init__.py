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
Everything else lives in submodules, each with the chapters (notebook files)
that use it.

Index of the submodules (made by tests/helpers_index.py):

* :mod:`helpers.checks` -- Argument checks shared by the helpers.
  :func:`is_int_at_least` (no chapter).
* :mod:`helpers.data` -- Data for the worked examples: bundled with
  packages, split and scaled once. :class:`Split` (no chapter);
  :func:`diabetes` (10_linear_regression); :func:`digits` (06_keras_pieces,
  07_frozen_graphs_checkpoints, 08_modules_and_hub, 12_cnn_feature_heads,
  17_export_serve); :class:`Sequences` (no chapter); :func:`japanese_vowels`
  (14_sequences, 15_dtw, 16_soft_dtw, 20_fast_dtw); :func:`wave`
  (11_legacy_tf1, 18_distribute); :func:`dense_initial_weights`
  (11_legacy_tf1, 18_distribute).
* :mod:`helpers.dtw_fast` -- Dynamic time warping inside TensorFlow graphs,
  fast. :func:`grid_shape` (20_fast_dtw); :func:`time_steps` (20_fast_dtw);
  :func:`materialized` (20_fast_dtw); :func:`arranged_frames` (20_fast_dtw);
  :func:`grid_costs` (20_fast_dtw); :func:`cell_masks` (20_fast_dtw);
  :func:`diagonal_costs` (20_fast_dtw); :func:`diagonal_offset`
  (20_fast_dtw); :func:`next_diagonal_offset` (no chapter);
  :func:`wavefront` (20_fast_dtw); :func:`written_in_place` (20_fast_dtw);
  :func:`three_at_a_time` (20_fast_dtw); :func:`dtw_wavefront`
  (20_fast_dtw); :func:`hard_min` (20_fast_dtw); :func:`dtw_program`
  (20_fast_dtw); :func:`dtw` (16_soft_dtw, 19_performance, 20_fast_dtw);
  :func:`dtw_all_pairs` (15_dtw); :func:`soft_dtw` (16_soft_dtw);
  :func:`dtw_path` (15_dtw, 16_soft_dtw).
* :mod:`helpers.dtw_readable` -- Dynamic time warping and soft-DTW written
  to be read, one anti-diagonal per pass. :func:`hard_min` (15_dtw);
  :func:`soft_min` (16_soft_dtw); :func:`soft_min_guarded` (16_soft_dtw);
  :func:`frame_costs` (15_dtw); :func:`dtw_by_diagonals` (15_dtw,
  16_soft_dtw, 20_fast_dtw); :func:`soft_dtw_backward` (16_soft_dtw);
  :func:`soft_dtw_divergence` (16_soft_dtw).
* :mod:`helpers.extract` -- Getting tensors out of a Keras model (the
  *Extract* chapter). :func:`feature_extractor` (02_extract,
  12_cnn_feature_heads).
* :mod:`helpers.graphs` -- Looking inside traced TensorFlow graphs (the
  *Extract* chapter). :func:`input_placeholders` (02_extract,
  04_integrate_losses, 10_linear_regression, 11_legacy_tf1);
  :func:`captured_placeholders` (02_extract, 11_legacy_tf1);
  :func:`op_histogram` (02_extract, 03_tracing, 05_integrate_gradients,
  11_legacy_tf1).
* :mod:`helpers.heads` -- Models, losses and measures for new heads on a
  CNN's features. :func:`batch_hard_triplet_loss` (12_cnn_feature_heads,
  13_cnn_fine_tuning); :func:`nearest_centroid_accuracy` (no chapter);
  :func:`nearest_centroid_right` (no chapter); :func:`confusion_matrix`
  (13_cnn_fine_tuning); :func:`paired_counts` (12_cnn_feature_heads,
  13_cnn_fine_tuning); :class:`DigitsSplit` (no chapter);
  :func:`digits_split` (12_cnn_feature_heads, 13_cnn_fine_tuning);
  :func:`flat` (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`build_cnn`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`train_cnn`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`frozen_backbone`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`cross_entropy`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`classifier_head`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`embedding_head`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`train_keeping_best`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`train_classifier_head`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`train_embedding_head`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`classified_right`
  (12_cnn_feature_heads, 13_cnn_fine_tuning); :func:`centroid_right`
  (12_cnn_feature_heads, 13_cnn_fine_tuning).
* :mod:`helpers.plotting` -- Figures of a model's structure and of traced
  graphs, drawn with Matplotlib only. :func:`draw_model` (01_define,
  02_extract, 12_cnn_feature_heads); :func:`draw_graph` (02_extract).
* :mod:`helpers.reproducibility` -- Seeding and determinism for notebooks
  whose outputs nbval compares. :func:`seed_everything` (01_define,
  02_extract, 03_tracing, 04_integrate_losses, 05_integrate_gradients,
  06_keras_pieces, 07_frozen_graphs_checkpoints, 08_modules_and_hub,
  09_save_reload_convert, 10_linear_regression, 12_cnn_feature_heads,
  13_cnn_fine_tuning, 14_sequences, 15_dtw, 16_soft_dtw, 17_export_serve,
  18_distribute, 19_performance, 20_fast_dtw).
* :mod:`helpers.source` -- Show the part of a helper's source that a chapter
  discusses. :func:`source_lines` (no chapter); :func:`show_source`
  (02_extract, 03_tracing, 07_frozen_graphs_checkpoints, 08_modules_and_hub,
  12_cnn_feature_heads, 15_dtw, 16_soft_dtw, 19_performance, 20_fast_dtw);
  :class:`Source` (no chapter).
* :mod:`helpers.tf_into_keras` -- Existing TensorFlow inside Keras models:
  frozen graphs and checkpoints (07_frozen_graphs_checkpoints), modules and
  Hub modules (08_modules_and_hub). :func:`read_graph_def`
  (07_frozen_graphs_checkpoints, 09_save_reload_convert);
  :func:`frozen_graph_function` (07_frozen_graphs_checkpoints,
  09_save_reload_convert); :class:`GraphLayer`
  (07_frozen_graphs_checkpoints, 09_save_reload_convert);
  :func:`load_checkpoint_weights` (07_frozen_graphs_checkpoints);
  :func:`save_hub_module` (08_modules_and_hub); :class:`ModuleLayer`
  (08_modules_and_hub, 09_save_reload_convert); :func:`save_tf1_hub_module`
  (08_modules_and_hub); :class:`SignatureLayer` (08_modules_and_hub).
* :mod:`helpers.tfenv` -- Environment defaults that must be in place before
  ``import tensorflow``. :func:`numerics_defaults` (19_performance);
  :func:`apply_tf_env_defaults` (no chapter); :func:`without_defaults` (no
  chapter); :func:`quiet_tf_python_logger` (no chapter);
  :func:`tf_log_to_stdout` (03_tracing, 09_save_reload_convert);
  :func:`run_python` (08_modules_and_hub, 09_save_reload_convert,
  19_performance).
* :mod:`helpers.timing` -- Measuring training steps (the chapter
  "Performance", ``notebooks/19_performance``): eager, tf.function, XLA and
  fit. :func:`median_seconds` (19_performance);
  :func:`interleaved_median_seconds` (20_fast_dtw); :func:`step_timings`
  (19_performance); :func:`tracing_counts` (19_performance);
  :func:`dtw_speedups` (19_performance); :func:`dtw_ratios` (no chapter);
  :func:`dtw_batch` (19_performance); :func:`dtw_timings` (19_performance);
  :func:`dtw_all_pairs_seconds` (19_performance); :func:`benchmark_problems`
  (19_performance).
* :mod:`helpers.training` -- A custom training step, eager or compiled, and
  a loop around it. :func:`train_step` (19_performance);
  :func:`compiled_train_step` (04_integrate_losses, 05_integrate_gradients,
  10_linear_regression, 16_soft_dtw, 19_performance); :func:`run_epochs`
  (04_integrate_losses, 05_integrate_gradients, 10_linear_regression,
  16_soft_dtw).

(End of the index.)
"""

from helpers.tfenv import apply_tf_env_defaults

apply_tf_env_defaults()

# After the environment defaults, hence not at the top (E402).
from helpers.reproducibility import seed_everything  # noqa: E402
from helpers.tfenv import quiet_tf_python_logger  # noqa: E402

quiet_tf_python_logger()

__all__ = ["apply_tf_env_defaults", "seed_everything"]
