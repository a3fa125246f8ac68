"""Helpers shared by the notebooks of *Keras inputs, TensorFlow graphs*.

Import this package **before** TensorFlow, as the first line of a notebook::

    import helpers

Importing it sets TensorFlow's environment defaults (see :mod:`helpers.tfenv`)
so that TensorFlow's C++ start-up log lines stay off a cell's stderr and its
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
* :mod:`helpers.convert` -- Converting Keras models to TFLite and ONNX,
  quietly (the *Convert* chapter). :class:`Captured` (no chapter);
  :func:`quiet` (24_convert); :func:`tflite_interpreter` (24_convert);
  :func:`run_tflite` (24_convert).
* :mod:`helpers.data` -- Data for the worked examples: bundled with
  packages, split and scaled once. :class:`Split` (no chapter);
  :func:`diabetes` (14_linear_regression); :func:`digits` (06_keras_pieces,
  07_frozen_graphs_checkpoints, 08_modules_and_hub, 11_keras2_removed_apis,
  16_cnn_feature_heads, 23_export_serve); :class:`Sequences` (no chapter);
  :func:`japanese_vowels` (18_sequences, 19_dtw, 20_soft_dtw, 21_while_loop,
  22_lstm_soft_dtw, 28_fast_dtw); :func:`wave` (15_legacy_tf1,
  25_distribute); :func:`dense_initial_weights` (15_legacy_tf1,
  25_distribute).
* :mod:`helpers.dtw_fast` -- Dynamic time warping inside TensorFlow graphs,
  fast. :func:`grid_shape` (28_fast_dtw); :func:`time_steps` (28_fast_dtw);
  :func:`materialized` (28_fast_dtw); :func:`arranged_frames` (28_fast_dtw);
  :func:`grid_costs` (28_fast_dtw); :func:`cell_masks` (28_fast_dtw);
  :func:`diagonal_costs` (28_fast_dtw); :func:`diagonal_offset`
  (28_fast_dtw); :func:`next_diagonal_offset` (no chapter);
  :func:`wavefront` (28_fast_dtw); :func:`written_in_place` (28_fast_dtw);
  :func:`three_at_a_time` (28_fast_dtw); :func:`dtw_wavefront`
  (28_fast_dtw); :func:`hard_min` (28_fast_dtw); :func:`dtw_program`
  (28_fast_dtw); :func:`soft_dtw_custom_gradient` (21_while_loop);
  :func:`dtw` (20_soft_dtw, 21_while_loop, 22_lstm_soft_dtw, 27_performance,
  28_fast_dtw); :func:`dtw_all_pairs` (19_dtw, 22_lstm_soft_dtw);
  :func:`soft_dtw` (20_soft_dtw, 21_while_loop, 22_lstm_soft_dtw);
  :func:`dtw_path` (19_dtw, 20_soft_dtw, 21_while_loop).
* :mod:`helpers.dtw_metric` -- Frame features learned for DTW: the pieces of
  ``22_lstm_soft_dtw``. :func:`lengths_from_mask` (22_lstm_soft_dtw);
  :func:`pairwise_divergence` (22_lstm_soft_dtw); :func:`neighbour_loss`
  (22_lstm_soft_dtw); :func:`class_balanced_batches` (22_lstm_soft_dtw);
  :func:`dtw_matrix` (22_lstm_soft_dtw); :func:`nearest_neighbour_right`
  (22_lstm_soft_dtw).
* :mod:`helpers.dtw_readable` -- Dynamic time warping and soft-DTW written
  to be read, one anti-diagonal per pass. :func:`hard_min` (19_dtw,
  21_while_loop); :func:`soft_min` (20_soft_dtw, 21_while_loop);
  :func:`soft_min_guarded` (20_soft_dtw, 21_while_loop); :func:`frame_costs`
  (19_dtw, 21_while_loop); :func:`dtw_by_diagonals` (19_dtw, 20_soft_dtw,
  21_while_loop, 28_fast_dtw); :func:`next_diagonal` (21_while_loop);
  :func:`picked_answers` (21_while_loop); :func:`while_loop_parts`
  (21_while_loop); :func:`tables_from_history` (21_while_loop);
  :func:`tape_accumulators` (21_while_loop); :func:`gradient_gaps`
  (21_while_loop); :func:`soft_dtw_backward` (20_soft_dtw);
  :func:`soft_dtw_divergence` (20_soft_dtw, 22_lstm_soft_dtw).
* :mod:`helpers.extract` -- Getting tensors out of a Keras model (the
  *Extract* chapter). :func:`feature_extractor` (02_extract,
  16_cnn_feature_heads).
* :mod:`helpers.graphs` -- Looking inside traced TensorFlow graphs (the
  *Extract* chapter). :func:`input_placeholders` (02_extract,
  04_integrate_losses, 14_linear_regression, 15_legacy_tf1);
  :func:`captured_placeholders` (02_extract, 15_legacy_tf1);
  :func:`op_histogram` (02_extract, 03_tracing, 05_integrate_gradients,
  15_legacy_tf1).
* :mod:`helpers.heads` -- Models, losses and measures for new heads on a
  CNN's features. :func:`batch_hard_triplet_loss` (16_cnn_feature_heads,
  17_cnn_fine_tuning); :func:`nearest_centroid_accuracy` (no chapter);
  :func:`nearest_centroid_right` (no chapter); :func:`confusion_matrix`
  (17_cnn_fine_tuning); :func:`paired_counts` (16_cnn_feature_heads,
  17_cnn_fine_tuning, 22_lstm_soft_dtw); :class:`DigitsSplit` (no chapter);
  :func:`digits_split` (16_cnn_feature_heads, 17_cnn_fine_tuning,
  24_convert); :func:`flat` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`build_cnn` (16_cnn_feature_heads, 17_cnn_fine_tuning, 24_convert);
  :func:`train_cnn` (16_cnn_feature_heads, 17_cnn_fine_tuning, 24_convert);
  :func:`frozen_backbone` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`cross_entropy` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`classifier_head` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`embedding_head` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`train_keeping_best` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`train_classifier_head` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`train_embedding_head` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`classified_right` (16_cnn_feature_heads, 17_cnn_fine_tuning);
  :func:`centroid_right` (16_cnn_feature_heads, 17_cnn_fine_tuning).
* :mod:`helpers.keras2_files` -- Reading the legacy ``.h5`` files of Keras 2
  from Keras 3. :func:`legacy_h5_layers` (11_keras2_removed_apis);
  :func:`legacy_h5_weights` (no chapter); :func:`load_weights_by_name`
  (11_keras2_removed_apis).
* :mod:`helpers.keras2_libraries` -- Pieces for the chapter on Keras 2
  libraries and ``fit``'s inputs. :func:`noise_scale`
  (12_keras2_libraries_inputs); :func:`heteroscedastic`
  (12_keras2_libraries_inputs); :class:`BatchCounter`
  (12_keras2_libraries_inputs); :func:`op_determinism`
  (12_keras2_libraries_inputs).
* :mod:`helpers.multi_worker` -- Real workers on one machine under
  ``MultiWorkerMirroredStrategy``. :func:`free_ports` (26_multi_worker);
  :func:`tf_config` (26_multi_worker); :func:`report_path` (no chapter);
  :func:`run_cluster` (26_multi_worker); :func:`recorded_epochs`
  (26_multi_worker); :func:`phase_outcomes` (26_multi_worker);
  :func:`stored_variables` (26_multi_worker); :func:`largest_gap`
  (26_multi_worker); :func:`lines_with` (26_multi_worker); :func:`problem`
  (26_multi_worker); :func:`build_model` (26_multi_worker);
  :func:`squared_error_per_example` (26_multi_worker); :func:`write_records`
  (26_multi_worker); :func:`write_worker_files` (26_multi_worker);
  :class:`KerasMultiWorkerStrategy` (26_multi_worker);
  :func:`path_for_worker` (26_multi_worker); :func:`checkpointed_state`
  (26_multi_worker); :func:`train_custom_loop` (no chapter);
  :func:`train_fit` (26_multi_worker); :func:`save_model` (26_multi_worker);
  :func:`onread_checkpoint` (no chapter); :func:`input_report` (no chapter);
  :func:`main` (no chapter).
* :mod:`helpers.plotting` -- Figures of a model's structure and of traced
  graphs, drawn with Matplotlib only. :func:`draw_model` (01_define,
  02_extract, 16_cnn_feature_heads); :func:`draw_graph` (02_extract).
* :mod:`helpers.portable` -- A layer written with ``keras.ops`` only, and a
  saved model run on another Keras backend in a fresh Python (the *Keras
  pieces* chapter). :class:`PortablePool` (06_keras_pieces);
  :func:`stored_layers` (06_keras_pieces); :func:`setup_source`
  (06_keras_pieces); :func:`run_on_backend` (06_keras_pieces).
* :mod:`helpers.reproducibility` -- Seeding and determinism for notebooks
  whose outputs nbval compares. :func:`seed_everything` (01_define,
  02_extract, 03_tracing, 04_integrate_losses, 05_integrate_gradients,
  06_keras_pieces, 07_frozen_graphs_checkpoints, 08_modules_and_hub,
  09_save_reload_convert, 10_keras2_optimizers, 11_keras2_removed_apis,
  12_keras2_libraries_inputs, 13_reading_errors, 14_linear_regression,
  16_cnn_feature_heads, 17_cnn_fine_tuning, 18_sequences, 19_dtw,
  20_soft_dtw, 21_while_loop, 22_lstm_soft_dtw, 23_export_serve, 24_convert,
  25_distribute, 26_multi_worker, 27_performance, 28_fast_dtw).
* :mod:`helpers.source` -- Show the part of a helper's source that a chapter
  discusses. :func:`source_lines` (no chapter); :func:`show_source`
  (02_extract, 03_tracing, 06_keras_pieces, 07_frozen_graphs_checkpoints,
  08_modules_and_hub, 11_keras2_removed_apis, 12_keras2_libraries_inputs,
  16_cnn_feature_heads, 19_dtw, 20_soft_dtw, 21_while_loop,
  22_lstm_soft_dtw, 24_convert, 26_multi_worker, 27_performance,
  28_fast_dtw); :class:`Source` (26_multi_worker).
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
  ``import tensorflow``. :func:`numerics_defaults` (27_performance);
  :func:`apply_tf_env_defaults` (no chapter); :func:`without_defaults` (no
  chapter); :func:`quiet_tf_python_logger` (no chapter);
  :func:`tf_log_to_stdout` (03_tracing, 09_save_reload_convert,
  10_keras2_optimizers); :func:`run_python` (08_modules_and_hub,
  09_save_reload_convert, 10_keras2_optimizers, 11_keras2_removed_apis,
  12_keras2_libraries_inputs, 13_reading_errors, 27_performance).
* :mod:`helpers.timing` -- Measuring training steps (the chapter
  "Performance", ``notebooks/27_performance``): eager, tf.function, XLA and
  fit. :func:`median_seconds` (27_performance);
  :func:`interleaved_median_seconds` (28_fast_dtw); :func:`step_timings`
  (27_performance); :func:`tracing_counts` (27_performance);
  :func:`dtw_speedups` (27_performance); :func:`dtw_ratios` (no chapter);
  :func:`dtw_batch` (27_performance); :func:`dtw_timings` (27_performance);
  :func:`dtw_all_pairs_seconds` (27_performance); :func:`benchmark_problems`
  (27_performance).
* :mod:`helpers.training` -- A custom training step, eager or compiled, and
  a loop around it. :func:`train_step` (27_performance);
  :func:`compiled_train_step` (04_integrate_losses, 05_integrate_gradients,
  14_linear_regression, 20_soft_dtw, 26_multi_worker, 27_performance);
  :func:`run_epochs` (04_integrate_losses, 05_integrate_gradients,
  14_linear_regression, 20_soft_dtw, 26_multi_worker).

(End of the index.)
"""

from helpers.tfenv import apply_tf_env_defaults

apply_tf_env_defaults()

# After the environment defaults, hence not at the top (E402).
from helpers.reproducibility import seed_everything  # noqa: E402
from helpers.tfenv import quiet_tf_python_logger  # noqa: E402

quiet_tf_python_logger()

__all__ = ["apply_tf_env_defaults", "seed_everything"]
