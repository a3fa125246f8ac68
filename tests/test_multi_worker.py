import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import multi_worker as mw


def test_free_ports_are_distinct_and_bindable_on_loopback():
    ports = mw.free_ports(3)
    assert len(set(ports)) == 3
    assert all(isinstance(port, int) and 0 < port < 65536 for port in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((mw.LOOPBACK, port))  # free again: the sockets closed


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_free_ports_refuses_a_count_that_is_not_positive(count):
    with pytest.raises(ValueError, match=r"free_ports\(2\)"):
        mw.free_ports(count)


def test_tf_config_is_the_same_cluster_with_each_index():
    addresses = ["127.0.0.1:12345", "127.0.0.1:23456"]
    configs = [mw.tf_config(addresses, index) for index in range(2)]
    assert configs[1] == {
        "cluster": {"worker": addresses},
        "task": {"type": "worker", "index": 1},
    }
    assert configs[0]["cluster"] == configs[1]["cluster"]
    assert json.loads(json.dumps(configs[0])) == configs[0]
    # a copy: changing the caller's list later changes no config
    addresses.append("127.0.0.1:34567")
    assert len(configs[0]["cluster"]["worker"]) == 2


@pytest.mark.parametrize(
    ("addresses", "index", "error", "fix"),
    [
        ("127.0.0.1:1", 0, TypeError, "list of 'host:port'"),
        ([], 0, ValueError, "one address per worker"),
        (["127.0.0.1"], 0, ValueError, "free_ports"),
        (["127.0.0.1:0"], 0, ValueError, "1..65535"),
        (["127.0.0.1:70000"], 0, ValueError, "1..65535"),
        (["127.0.0.1:5", "127.0.0.1:5"], 0, ValueError, "a port of its own"),
        (["127.0.0.1:5", "127.0.0.1:6"], 2, ValueError, "from 0 to 1"),
        (["127.0.0.1:5"], -1, ValueError, "from 0 to 0"),
        (["127.0.0.1:5"], True, ValueError, "from 0 to 0"),
    ],
)
def test_tf_config_checks_name_the_fix(addresses, index, error, fix):
    with pytest.raises(error, match=fix):
        mw.tf_config(addresses, index)


def test_path_for_worker_gives_the_chief_the_path_and_others_their_own():
    path = Path("run") / "model.keras"
    assert mw.path_for_worker(path, 0, True) == path
    assert mw.path_for_worker(path, 1, False) == Path(
        "run/workertemp_1/model.keras"
    )
    others = {mw.path_for_worker(path, i, False) for i in range(3)}
    assert len(others) == 3 and path not in others


def test_path_for_worker_names_folders_as_preemption_handling_does(tmp_path):
    from tensorflow.python.distribute.failure_handling import (
        failure_handling,
    )

    path = tmp_path / "checkpoints"
    named = failure_handling._non_chief_checkpoint_dir(str(path), 2)
    assert Path(named) == mw.path_for_worker(path, 2, False)


def test_phase_outcomes_reads_every_kind_of_entry():
    report = {
        "inputs": {"tensors": []},
        "custom": {"error": "UnavailableError"},
        "onread-all": True,
        "onread-chief": False,
        "fit": mw.STARTED,
    }
    assert mw.phase_outcomes(report, [*mw.PHASES, "other"]) == {
        "inputs": "completed",
        "custom": "UnavailableError",
        "fit": "did not finish",
        "onread-all": "completed",
        "onread-chief": "gave up waiting",
        "other": "not reached",
    }
    with pytest.raises(TypeError, match="wrote no report"):
        mw.phase_outcomes(None, ["custom"])


def test_recorded_epochs_groups_by_run_and_loop(tmp_path):
    (tmp_path / "epochs_worker1.txt").write_text(
        "run1 custom 0\nrun1 custom 1\nrun2 custom 2\nrun2 fit 0\n"
    )
    assert mw.recorded_epochs(tmp_path, 1) == {
        "run1": {"custom": [0, 1]},
        "run2": {"custom": [2], "fit": [0]},
    }
    assert mw.recorded_epochs(tmp_path, 0) == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "fix"),
    [
        ({"workers": 0}, ValueError, "positive int"),
        ({"timeout": 0}, ValueError, "every wait is bounded"),
        ({"grace": -1}, ValueError, "every wait is bounded"),
        ({"timeout": "60"}, TypeError, "number of seconds"),
    ],
)
def test_run_cluster_checks_name_the_fix(tmp_path, kwargs, error, fix):
    with pytest.raises(error, match=fix):
        mw.run_cluster(tmp_path, **kwargs)


def test_run_cluster_needs_an_existing_folder(tmp_path):
    with pytest.raises(ValueError, match="create it first"):
        mw.run_cluster(tmp_path / "missing")


class _Sleeper:
    """Processes of a plain Python that sleeps, to test the waiting alone."""

    def __init__(self, seconds):
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import time; time.sleep({seconds})"]
        )

    def __getattr__(self, name):
        return getattr(self.process, name)


def _wait_for_two_sleepers(folder, timeout, grace):
    """mw._wait over two sleeping processes, which are always stopped."""
    sleepers = [_Sleeper(60), _Sleeper(60)]
    try:
        return mw._wait(sleepers, folder, timeout=timeout, grace=grace)
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def test_wait_kills_at_the_deadline_and_after_a_peer(tmp_path):
    start = time.monotonic()
    outcome = _wait_for_two_sleepers(tmp_path, timeout=1, grace=30)
    assert outcome == [mw.KILLED_AT_TIMEOUT, mw.KILLED_AT_TIMEOUT]
    assert time.monotonic() - start < 20

    (tmp_path / "kill_me_worker1").touch()
    outcome = _wait_for_two_sleepers(tmp_path, timeout=60, grace=0.5)
    assert outcome == [mw.KILLED_AFTER_PEER, mw.KILLED_ON_REQUEST]
    assert not (tmp_path / "kill_me_worker1").exists()


def test_the_worker_program_refuses_to_start_without_tf_config(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "helpers.multi_worker", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TF_CONFIG"},
    )
    assert done.returncode != 0
    assert "run_cluster()" in done.stderr


def test_two_real_workers_report_what_their_replicas_receive(tmp_path):
    # One small real cluster: the input phase only, about ten seconds.
    mw.write_records(tmp_path)
    workers = mw.run_cluster(tmp_path, ["--phases", "inputs"], timeout=90)
    assert [w["outcome"] for w in workers] == [mw.FINISHED] * 2
    reports = [w["report"] for w in workers]
    assert [r["should_checkpoint"] for r in reports] == [True, False]
    tensors = [n for r in reports for b in r["inputs"]["tensors"] for n in b]
    assert sorted(tensors) == list(range(16))
    assert reports[1]["inputs"]["files"] == [
        [4, 5],
        [6, 7],
        [12, 13],
        [14, 15],
    ]
    # Each server listens on every interface, whatever TF_CONFIG names,
    # and no strategy is ready before every worker has begun creating its.
    for report in reports:
        assert report["listening"]
        assert set(report["listening"]) <= set(mw.EVERY_INTERFACE)
        assert report["ready_at"] >= max(r["creating_at"] for r in reports)
    assert "strategy ready" in workers[0]["output"]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "00_worker0.log",
        "00_worker0.out",
        "00_worker1.log",
        "00_worker1.out",
    ]


def test_the_standalone_script_trains_on_two_workers(tmp_path):
    script, data_file = mw.write_worker_files(tmp_path)
    folder = tmp_path / "checkpoints"
    workers = mw.run_cluster(
        tmp_path, [data_file, folder, 2], timeout=120, script=script
    )
    assert [w["outcome"] for w in workers] == [mw.FINISHED] * 2
    for worker in workers:
        assert worker["report"] is None
        epochs = [line.split(",")[0] for line in worker["output"].split("\n")]
        assert epochs[:2] == [
            f"worker {worker['index']}: epoch {e}" for e in range(2)
        ]
    chief = mw.checkpointed_state(folder)
    other = mw.checkpointed_state(mw.path_for_worker(folder, 1, False))
    assert chief["epochs_done"] == other["epochs_done"] == 2
    assert chief["iterations"] == other["iterations"] == 2 * 4
    assert mw.largest_gap(chief["weights"], other["weights"]) == 0.0
    assert mw.largest_gap(chief["weights"], mw.problem()[2]) > 1e-3


def test_the_worker_program_stops_itself_at_its_deadline(tmp_path):
    # Alone in a cluster of two, it would wait for its peer for ever.
    addresses = [f"{mw.LOOPBACK}:{port}" for port in mw.free_ports(2)]
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "helpers.multi_worker", str(tmp_path)]
        + ["--deadline", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "TF_CONFIG": json.dumps(mw.tf_config(addresses, 0)),
        },
    )
    ended = -signal.SIGALRM if hasattr(signal, "SIGALRM") else 4
    assert done.returncode == ended
    assert "strategy ready" not in done.stdout
    assert time.monotonic() - start < 100


def test_a_victim_never_goes_on_training(tmp_path, monkeypatch):
    settings = argparse.Namespace(
        folder=tmp_path, victim=1, die_after=("custom", 2)
    )
    exits = []
    monkeypatch.setattr(mw.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(mw.os, "_exit", exits.append)
    mw._die_if_asked(settings, 0, "custom", 2)  # not the victim
    mw._die_if_asked(settings, 1, "custom", 1)  # not the epoch
    assert exits == [] and not (tmp_path / "kill_me_worker1").exists()
    mw._die_if_asked(settings, 1, "custom", 2)
    assert exits == [3] and (tmp_path / "kill_me_worker1").exists()


def test_the_worker_script_is_complete_and_fits_the_page():
    compile(mw.WORKER_SCRIPT, "worker.py", "exec")
    lines = mw.WORKER_SCRIPT.splitlines()
    assert max(len(line) for line in lines) <= 79
    assert "helpers" not in mw.WORKER_SCRIPT
    assert "MultiWorkerMirroredStrategy()" in lines[12]


def test_write_worker_files_writes_the_script_and_its_data(tmp_path):
    script, data_file = mw.write_worker_files(tmp_path)
    assert script.read_text() == mw.WORKER_SCRIPT
    x, y, weights = mw.problem()
    with np.load(data_file) as arrays:
        assert sorted(arrays) == [
            "start_0",
            "start_1",
            "start_2",
            "start_3",
        ] + [
            "x",
            "y",
        ]
        np.testing.assert_array_equal(arrays["x"], x)
        for index, weight in enumerate(weights):
            np.testing.assert_array_equal(arrays[f"start_{index}"], weight)
    with pytest.raises(ValueError, match="create it first"):
        mw.write_worker_files(tmp_path / "missing")


def test_run_cluster_needs_a_script_that_exists(tmp_path):
    with pytest.raises(ValueError, match="write_worker_files"):
        mw.run_cluster(tmp_path, script=tmp_path / "worker.py")


def test_checkpointed_state_reads_the_custom_loops_checkpoint(tmp_path):
    import tensorflow as tf

    model, optimizer, done, checkpoint = mw._custom_objects(
        tf.distribute.get_strategy()
    )
    done.assign(3)
    tf.train.CheckpointManager(checkpoint, tmp_path, max_to_keep=1).save()
    state = mw.checkpointed_state(tmp_path)
    assert state["epochs_done"] == 3 and state["iterations"] == 0
    assert mw.largest_gap(state["weights"], mw.problem()[2]) == 0.0
    with pytest.raises(ValueError, match="CheckpointManager"):
        mw.checkpointed_state(tmp_path / "empty")


class _FakeWorker:
    """The default strategy, dressed as worker ``task_id`` of a cluster."""

    def __init__(self, task_id):
        import tensorflow as tf

        self.strategy = tf.distribute.get_strategy()
        self.cluster_resolver = argparse.Namespace(task_id=task_id)
        self.extended = argparse.Namespace(should_checkpoint=task_id == 0)

    def scope(self):
        return self.strategy.scope()


class _Stop(Exception):
    pass


def test_train_fit_starts_every_worker_from_the_chiefs_backup(tmp_path):
    settings = argparse.Namespace(folder=tmp_path, epochs=3)
    done = {0: [], 1: []}

    def stop_after_first(epoch):
        raise _Stop

    with pytest.raises(_Stop):  # the chief stops after epoch 0
        mw.train_fit(
            _FakeWorker(0), settings, done[0].append, stop_after_first
        )
    stale = tmp_path / "workertemp_1" / "fit_backup"
    stale.mkdir(parents=True)
    (stale / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    # Worker 1 drops its own stale backup and resumes where the chief does.
    _, found = mw.train_fit(_FakeWorker(1), settings, done[1].append, print)
    assert done == {0: [0], 1: [1, 2]}
    assert found["iterations"] == 3 * 4


def test_stored_variables_lists_a_keras_files_arrays(tmp_path):
    model = mw.build_model(mw.problem()[2])
    model.save(tmp_path / "model.keras")
    model.save_weights(tmp_path / "model.weights.h5")
    names = mw.stored_variables(tmp_path / "model.keras")
    assert names == mw.stored_variables(tmp_path / "model.weights.h5")
    assert len(names) == 4 and all(n.startswith("layers/") for n in names)
    with pytest.raises(ValueError, match="save_weights"):
        mw.stored_variables(tmp_path / "model.h5")


def test_largest_gap_and_lines_with():
    assert mw.largest_gap([np.zeros(2), [1.0]], [[0.5, -2.0], [1.0]]) == 2.0
    with pytest.raises(ValueError, match="same architecture"):
        mw.largest_gap([np.zeros(2)], [])
    assert mw.lines_with(mw.largest_gap, "strict=True") == [
        "for a, b in zip(first, second, strict=True)"
    ]
