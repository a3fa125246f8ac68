"""Real workers on one machine under ``MultiWorkerMirroredStrategy``.

The chapter ``notebooks/26_multi_worker`` runs a cluster of worker processes
on one computer; in ``TF_CONFIG`` they reach each other at 127.0.0.1, but
each worker's gRPC server listens on every network interface (TensorFlow
binds ``0.0.0.0`` / ``[::]``, whatever host ``TF_CONFIG`` names), without
authentication, for the few seconds a worker lives. This module holds:

* **the launcher**, called from the notebook: :func:`free_ports`,
  :func:`tf_config` (one ``TF_CONFIG`` per worker) and :func:`run_cluster`,
  which starts every worker, waits for them with a timeout, kills a worker
  that asks for it (a fault, on purpose) and, whatever happens, stops every
  process it started before it returns;
* **the worker program**, the same on every worker, run as
  ``python -m helpers.multi_worker FOLDER [options]``. It reads its place
  in the cluster from ``TF_CONFIG``, creates the strategy before anything
  else, runs the phases it is given -- reports what its input pipelines
  deliver (:func:`input_report`), trains (:func:`train_custom_loop`,
  :func:`train_fit`), saves (:func:`save_model`, :func:`onread_checkpoint`)
  -- and writes what it did to ``FOLDER`` as JSON, where the launcher reads
  it;
* **a standalone worker script**, :data:`WORKER_SCRIPT`, with no helpers:
  the custom loop as a reader would run it on two machines
  (:func:`write_worker_files`).

The training problem is that of ``notebooks/25_distribute``: the noisy sine
wave, a 1 -> 16 (tanh) -> 1 network from fixed starting weights, global
batches of 16 taken in order; the optimizer is SGD with momentum, so that it
has state of its own to save and restore.
"""

import argparse
import inspect
import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers import data
from helpers.checks import is_int_at_least

#: The host the workers reach each other at in ``TF_CONFIG``. It does not
#: limit where they listen: TensorFlow's gRPC server binds every interface.
LOOPBACK = "127.0.0.1"
#: The addresses of a socket that listens on every interface (IPv4, IPv6).
EVERY_INTERFACE = ("0.0.0.0", "::")
GLOBAL_BATCH = 16
LEARNING_RATE = 0.05
MOMENTUM = 0.5
LOOPS = ("custom", "fit")
#: What the worker program can do, in the order its ``--phases`` names.
PHASES = ("inputs",) + LOOPS + ("onread-all", "onread-chief")
#: A phase begun and not ended, in a report (see :func:`phase_outcomes`).
STARTED = "started"
#: What :func:`run_cluster` says happened to each worker.
FINISHED, FAILED = "finished", "failed"
KILLED_ON_REQUEST = "killed (it asked to be)"
KILLED_AFTER_PEER = "killed (a peer had stopped)"
KILLED_AT_TIMEOUT = "killed (timeout)"


# ----------------------------------------------------------------- launcher


def free_ports(count):
    """``count`` distinct TCP ports free at the time of asking.

    Each port comes from binding a socket to port 0 of every IPv4 interface
    (the system picks a port free on all of them, as a worker's server needs:
    it listens on every interface); a bound socket that does not listen
    accepts no connection. All sockets are held until every port is read, so
    the ports are distinct, then closed so that the workers can bind them.
    Another process may take a port between this call and a worker's start;
    the worker then fails to start its server, and running the cluster again
    picks new ports.
    """
    if not is_int_at_least(count, 1):
        raise ValueError(
            f"count must be a positive int (one port per worker), got "
            f"{count!r}; e.g. free_ports(2)."
        )
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _check_address(address):
    host, _, port = str(address).rpartition(":")
    if (
        not isinstance(address, str)
        or not host
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise ValueError(
            f"each address must be 'host:port' with a port in 1..65535, got "
            f"{address!r}; e.g. f'{LOOPBACK}:{{port}}' with a port from "
            "free_ports()."
        )


def tf_config(addresses, index):
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``addresses``.

    Parameters
    ----------
    addresses : list of str
        ``"host:port"`` of every worker, in the same order for all of them.
    index : int
        This worker's position in ``addresses``; worker 0 is the chief (the
        cluster has no ``"chief"`` task).

    Returns
    -------
    dict
        ``{"cluster": {"worker": addresses}, "task": {"type": "worker",
        "index": index}}``, to be put into the worker's environment as
        ``json.dumps(...)``.
    """
    if isinstance(addresses, str) or not isinstance(addresses, list | tuple):
        raise TypeError(
            "addresses must be a list of 'host:port' strings, one per "
            f"worker, got {type(addresses).__name__}; e.g. "
            f"['{LOOPBACK}:12345', '{LOOPBACK}:23456']."
        )
    if not addresses:
        raise ValueError("addresses is empty; give one address per worker.")
    for address in addresses:
        _check_address(address)
    if len(set(addresses)) != len(addresses):
        raise ValueError(
            f"addresses repeat one another: {list(addresses)}; every worker "
            "needs a port of its own (free_ports(n) gives n distinct ones)."
        )
    if not is_int_at_least(index, 0) or index >= len(addresses):
        raise ValueError(
            f"index must be an int from 0 to {len(addresses) - 1} (a position "
            f"in addresses), got {index!r}."
        )
    return {
        "cluster": {"worker": list(addresses)},
        "task": {"type": "worker", "index": int(index)},
    }


def report_path(folder, index):
    """Where worker ``index`` writes its JSON report."""
    return Path(folder) / f"report_worker{index}.json"


def _marker_path(folder, index):
    # A worker that wants to be killed (a fault, on purpose) creates this.
    return Path(folder) / f"kill_me_worker{index}"


def _wait(processes, folder, timeout, grace):
    """Wait for every process; kill on request, after a peer stops, or at
    the deadline. Returns what happened to each."""
    outcome = [None] * len(processes)
    deadline = time.monotonic() + timeout
    peer_stopped_at = None
    while None in outcome:
        now = time.monotonic()
        for index, process in enumerate(processes):
            if outcome[index] is not None:
                continue
            code = process.poll()
            marker = _marker_path(folder, index)
            if code is None and marker.exists():
                process.kill()
                process.wait(timeout=30)
                marker.unlink()
                outcome[index] = KILLED_ON_REQUEST
            elif code is not None:
                outcome[index] = FINISHED if code == 0 else FAILED
            elif now > deadline:
                process.kill()
                process.wait(timeout=30)
                outcome[index] = KILLED_AT_TIMEOUT
            elif peer_stopped_at is not None and now > peer_stopped_at + grace:
                process.kill()
                process.wait(timeout=30)
                outcome[index] = KILLED_AFTER_PEER
        if peer_stopped_at is None and any(
            o not in (None, FINISHED) for o in outcome
        ):
            peer_stopped_at = time.monotonic()
        time.sleep(0.05)
    return outcome


def run_cluster(
    folder, options=(), workers=2, timeout=120, grace=30, script=None
):
    """Run a worker program on ``workers`` processes; return what each did.

    Every worker gets the same command and its own ``TF_CONFIG``
    (:func:`tf_config`, on ports from :func:`free_ports`). The command is
    ``python -m helpers.multi_worker folder *options`` (the book's worker
    program, see :func:`main`), or ``python script *options`` for a
    standalone program such as :data:`WORKER_SCRIPT`. Each worker's output
    goes to ``folder/logs/<run>_worker<i>.out`` (what it prints) and
    ``.log`` (TensorFlow's log), numbered so that no run overwrites another.

    Parameters
    ----------
    folder : str or Path
        An existing folder that the workers share (reports, checkpoints).
    options : sequence
        More arguments of the program (for the book's: ``--phases``,
        ``--epochs``, ``--die-after``, ``--victim``, ``--run``).
    workers : int
    timeout : float
        Seconds for the whole run; a worker still running then is killed.
    grace : float
        Seconds the others may go on once one worker has failed or been
        killed; then they are killed too. A worker whose peer has stopped
        waits in its next collective until the heartbeat timeout of
        TensorFlow's coordination service (then ``UnavailableError``); one
        whose peer lives on without joining it waits without limit.
    script : str or Path, optional
        A standalone worker program to run instead of the book's.

    Returns
    -------
    list of dict
        One per worker: ``{"index", "outcome", "report", "output"}``;
        ``outcome`` is one of :data:`FINISHED`, :data:`FAILED`,
        :data:`KILLED_ON_REQUEST`, :data:`KILLED_AFTER_PEER`,
        :data:`KILLED_AT_TIMEOUT`; ``report`` is the worker's JSON report
        (``None`` if it wrote none: always so for a ``script``); ``output``
        is what it printed.

    Every process is stopped before this returns, also after an error. The
    book's workers also stop themselves at a deadline (``--deadline``, the
    timeout and grace plus a minute), should this process die first.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"folder {folder.name!r} does not exist; create it first, e.g. "
            "with tempfile.mkdtemp()."
        )
    if not is_int_at_least(workers, 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}.")
    for name, value in (("timeout", timeout), ("grace", grace)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds.")
        if value <= 0:
            raise ValueError(
                f"{name} must be a positive number of seconds, got {value!r}: "
                "every wait is bounded."
            )
    if script is not None and not Path(script).is_file():
        raise ValueError(
            f"script {Path(script).name!r} is not a file; write it first, "
            "e.g. with write_worker_files(folder)."
        )
    options = [str(option) for option in options]
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    run = len(list(logs.glob("*_worker0.out")))
    for index in range(workers):
        report_path(folder, index).unlink(missing_ok=True)
        _marker_path(folder, index).unlink(missing_ok=True)
    addresses = [f"{LOOPBACK}:{port}" for port in free_ports(workers)]
    if script is None:
        deadline = ["--deadline", str(timeout + grace + 60)]
        command = [sys.executable, "-m", "helpers.multi_worker", str(folder)]
        command += deadline
    else:
        command = [sys.executable, str(script)]
    processes, files = [], []
    try:
        for index in range(workers):
            config = json.dumps(tf_config(addresses, index))
            stem = logs / f"{run:02d}_worker{index}"
            files.append(open(f"{stem}.out", "w"))
            files.append(open(f"{stem}.log", "w"))
            processes.append(
                subprocess.Popen(
                    command + options,
                    env={**os.environ, "TF_CONFIG": config},
                    stdout=files[-2],
                    stderr=files[-1],
                )
            )
        outcome = _wait(processes, folder, timeout, grace)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        for file in files:
            file.close()
    results = []
    for index in range(workers):
        path = report_path(folder, index)
        report = json.loads(path.read_text()) if path.exists() else None
        output = (logs / f"{run:02d}_worker{index}.out").read_text()
        results.append(
            {
                "index": index,
                "outcome": outcome[index],
                "report": report,
                "output": output,
            }
        )
    return results


def recorded_epochs(folder, index):
    """``{run: {loop: [epochs]}}``: the epochs worker ``index`` completed.

    Read from the file the worker appends one line to at the end of every
    epoch (``run loop epoch``), once the epoch's checkpoint is saved.
    """
    path = Path(folder) / f"epochs_worker{index}.txt"
    found = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        run, loop, epoch = line.split()
        found.setdefault(run, {}).setdefault(loop, []).append(int(epoch))
    return found


def phase_outcomes(report, phases):
    """``{phase: outcome}`` from a worker's report, for the ``phases`` asked.

    The outcome is ``"completed"``, the type of the error the phase stopped
    with (``"ValueError"``), ``"gave up waiting"`` (an ``onread-*`` phase
    whose chief's file never came), ``"did not finish"`` (begun, and the
    process stopped inside it) or ``"not reached"``.
    """
    if not isinstance(report, dict):
        raise TypeError(
            "report must be a worker's report, a dict, got "
            f"{type(report).__name__}; pass run_cluster(...)[i]['report'] "
            "(None means the worker wrote no report at all)."
        )
    outcomes = {}
    for phase in phases:
        found = report.get(phase)
        if found is None:
            outcomes[phase] = "not reached"
        elif found == STARTED:
            outcomes[phase] = "did not finish"
        elif found is False:
            outcomes[phase] = "gave up waiting"
        elif isinstance(found, dict) and "error" in found:
            outcomes[phase] = found["error"]
        else:
            outcomes[phase] = "completed"
    return outcomes


def stored_variables(path):
    """The names of the arrays a Keras weights file holds, sorted.

    ``path`` is a ``.keras`` file (its ``model.weights.h5`` is read) or a
    ``.weights.h5`` file. The names are paths in the file, such as
    ``layers/dense/vars/0`` or ``optimizer/vars/0``.
    """
    import h5py

    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            content = io.BytesIO(archive.read("model.weights.h5"))
    elif path.name.endswith(".weights.h5"):
        content = path
    else:
        raise ValueError(
            f"{path.name!r} is neither a .keras nor a .weights.h5 file; pass "
            "a file written by model.save() or model.save_weights()."
        )
    names = []
    with h5py.File(content, "r") as file:
        file.visititems(
            lambda name, item: (
                names.append(name) if isinstance(item, h5py.Dataset) else None
            )
        )
    return sorted(names)


def largest_gap(first, second):
    """The largest absolute difference between two lists of weight arrays.

    Both are lists (``model.get_weights()``, or nested lists from a report)
    of the same length, pairwise of the same shape.
    """
    if len(first) != len(second):
        raise ValueError(
            f"the two lists hold {len(first)} and {len(second)} arrays; "
            "compare the weights of two models of the same architecture."
        )
    return max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(first, second, strict=True)
    )


def lines_with(function, text):
    """The lines of ``function``'s source that contain ``text``, stripped.

    To quote the installed sources of TensorFlow and Keras in a chapter.
    """
    source = inspect.getsource(function).splitlines()
    return [line.strip() for line in source if text in line]


# ------------------------------------------------------------ the problem


def problem():
    """``(x, y, initial_weights)``: the data and starting weights of
    ``notebooks/25_distribute``, 64 examples."""
    x, y = data.wave(n=64, noise=0.1, seed=0)
    return x, y, data.dense_initial_weights([1, 16, 1], seed=1)


def build_model(initial_weights):
    """The 1 -> 16 (tanh) -> 1 network, set to ``initial_weights``.

    Built as :data:`WORKER_SCRIPT` builds it, so that the two read each
    other's checkpoints.
    """
    model = keras.Sequential([keras.Input((1,))])
    model.add(keras.layers.Dense(16, activation="tanh"))
    model.add(keras.layers.Dense(1))
    model.set_weights(initial_weights)
    return model


def squared_error_per_example(target, prediction):
    """One squared error per example; the caller reduces over the batch."""
    return tf.reduce_mean(tf.square(prediction - target), axis=-1)


def write_records(folder):
    """Write the TFRecord files :func:`input_report` reads.

    Four files, ``folder/records/0.tfrecord`` to ``3.tfrecord``, holding the
    numbers 0 to 15 in order, four to a file, each a serialized ``int64``
    tensor. Returns the folder of the files.
    """
    records = Path(folder) / "records"
    records.mkdir(parents=True, exist_ok=True)
    for part in range(4):
        with tf.io.TFRecordWriter(str(records / f"{part}.tfrecord")) as file:
            for number in range(4 * part, 4 * part + 4):
                tensor = tf.constant(number, tf.int64)
                file.write(tf.io.serialize_tensor(tensor).numpy())
    return records


# ------------------------------------------------- the standalone script

#: A complete worker program with no helpers: the custom loop of
#: :func:`train_custom_loop`, as a reader would run it on every machine.
WORKER_SCRIPT = '''\
"""worker.py: the same program on every machine; only TF_CONFIG differs.

Run on each machine: python worker.py DATA.npz CHECKPOINTS EPOCHS
"""

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # waits for all
task_id = strategy.cluster_resolver.task_id
is_chief = strategy.extended.should_checkpoint
data = np.load(sys.argv[1])  # x, y and the starting weights
folder, epochs = Path(sys.argv[2]), int(sys.argv[3])
temporary = folder.with_name(f"workertemp_{task_id}") / folder.name
own = folder if is_chief else temporary  # where this worker saves
with strategy.scope():  # mirrored variables, the same on every worker
    model = keras.Sequential([keras.Input((1,))])
    model.add(keras.layers.Dense(16, activation="tanh"))
    model.add(keras.layers.Dense(1))
    model.set_weights([data[f"start_{i}"] for i in range(4)])
    optimizer = keras.optimizers.SGD(0.05, momentum=0.5)
    optimizer.build(model.trainable_variables)
    done = tf.Variable(0, dtype=tf.int64)  # epochs done
checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, done=done)
latest = tf.train.latest_checkpoint(folder)  # the chief's, read by all
if latest:
    checkpoint.restore(latest).assert_existing_objects_matched()
manager = tf.train.CheckpointManager(checkpoint, own, max_to_keep=1)
dataset = tf.data.Dataset.from_tensor_slices((data["x"], data["y"]))
batches = strategy.experimental_distribute_dataset(dataset.batch(16))


def replica_step(x, y):
    with tf.GradientTape() as tape:
        error = tf.reduce_mean(tf.square(model(x, training=True) - y), -1)
        loss = tf.nn.compute_average_loss(error, global_batch_size=16)
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return loss


@tf.function
def step(batch):
    losses = strategy.run(replica_step, args=batch)
    return strategy.reduce("SUM", losses, axis=None)


for epoch in range(int(done.numpy()), epochs):
    loss = np.mean([float(step(batch)) for batch in batches])
    done.assign(epoch + 1)
    manager.save()  # every worker saves: the chief's copy is the one read
    print(f"worker {task_id}: epoch {epoch}, loss {loss:.6f}", flush=True)
'''


def write_worker_files(folder):
    """Write :data:`WORKER_SCRIPT` and its data file into ``folder``.

    ``folder/worker.py`` is the script; ``folder/data.npz`` holds ``x``,
    ``y`` and the starting weights ``start_0`` to ``start_3`` of
    :func:`problem`. Returns ``(script_path, data_path)``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"folder {folder.name!r} does not exist; create it first."
        )
    x, y, weights = problem()
    starts = {f"start_{i}": w for i, w in enumerate(weights)}
    np.savez(folder / "data.npz", x=x, y=y, **starts)
    (folder / "worker.py").write_text(WORKER_SCRIPT)
    return folder / "worker.py", folder / "data.npz"


# ------------------------------------------------------- the worker program


class KerasMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes Keras 3's calls.

    Keras 3.15's TensorFlow trainer (``keras/src/backend/tensorflow/
    trainer.py``) calls ``Strategy.reduce`` in two ways outside what
    ``StrategyBase.reduce`` documents (one ``DistributedValues``; a nest is
    a TODO there), which the multi-worker strategy does not take: with a
    whole ``(x, y)`` batch, a structure, in ``_maybe_symbolic_build``
    (``MirroredStrategy`` maps over a structure,
    ``CollectiveAllReduceExtended._reduce_to`` does not), and with
    ``axis=0`` on the scalar results of every step in ``reduce_per_replica``
    (a scalar has no axis 0). This ``reduce`` maps over the structure and
    reduces a scalar across the replicas only: what ``MirroredStrategy``
    gives in both places. It changes the first batch's build and the
    per-step logs only (the gradients go through ``all_reduce``); it also
    turns a mistaken ``reduce("MEAN", scalar, axis=0)`` into a success.
    """

    def reduce(self, reduce_op, value, axis):
        def one(part):
            per_replica = self.experimental_local_results(part)
            scalar = all(v.shape.rank == 0 for v in per_replica)
            return super(KerasMultiWorkerStrategy, self).reduce(
                reduce_op, part, None if scalar else axis
            )

        return tf.nest.map_structure(one, value)


def path_for_worker(path, task_id, is_chief):
    """Where a worker writes a file or folder meant to be at ``path``.

    The chief writes to ``path`` itself. Every other worker writes the same
    thing to ``<parent>/workertemp_<task_id>/<name>``, a folder of its own
    (the name ``tf.distribute.experimental.PreemptionCheckpointHandler``
    gives it), so that no two processes write one file.
    """
    path = Path(path)
    if is_chief:
        return path
    return path.parent / f"workertemp_{task_id}" / path.name


_STARTED = time.monotonic()


def _log(message):
    # To the worker's output: seconds since it started.
    print(f"{time.monotonic() - _STARTED:7.2f}s {message}", flush=True)


def _record(folder, task_id, run, loop, epoch):
    # One line per completed epoch, appended and closed at once: a worker
    # killed right after keeps it.
    with open(Path(folder) / f"epochs_worker{task_id}.txt", "a") as file:
        file.write(f"{run} {loop} {epoch}\n")


def _die_if_asked(settings, task_id, loop, epoch):
    # A fault, on purpose: ask the launcher to kill this process, and wait;
    # never go on training (exit if the launcher has not killed it).
    if settings.victim == task_id and settings.die_after == (loop, epoch):
        _log(f"asks to be killed after {loop} epoch {epoch}")
        _marker_path(settings.folder, task_id).touch()
        time.sleep(600)
        os._exit(3)


def _weights(model):
    return [w.tolist() for w in model.get_weights()]


def _batches():
    x, y, _ = problem()
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)


def _custom_objects(strategy):
    # What the custom loop trains and checkpoints, as WORKER_SCRIPT has it.
    with strategy.scope():
        model = build_model(problem()[2])
        optimizer = keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM)
        optimizer.build(model.trainable_variables)
        done = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, done=done
    )
    return model, optimizer, done, checkpoint


def checkpointed_state(folder):
    """What the latest checkpoint of the custom loop in ``folder`` holds.

    The checkpoint (of :func:`train_custom_loop` or :data:`WORKER_SCRIPT`)
    is restored into new objects in this process. Returns ``{"weights":
    list of arrays, "iterations": the optimizer's step count,
    "epochs_done": int}``.
    """
    latest = tf.train.latest_checkpoint(str(folder))
    if latest is None:
        raise ValueError(
            f"no checkpoint in {Path(folder).name!r}: pass the folder a "
            "CheckpointManager saved into (it holds a 'checkpoint' file)."
        )
    model, optimizer, done, checkpoint = _custom_objects(
        tf.distribute.get_strategy()
    )
    checkpoint.restore(latest).assert_existing_objects_matched()
    return {
        "weights": model.get_weights(),
        "iterations": int(optimizer.iterations.numpy()),
        "epochs_done": int(done.numpy()),
    }


def train_custom_loop(strategy, settings, record, die):
    """The loop of :data:`WORKER_SCRIPT`, with two hooks for the book.

    The same objects, checkpoints and steps as the script: every worker
    restores the chief's latest checkpoint in ``custom_checkpoints`` if
    there is one, trains the epochs still to do, and at the end of each
    epoch saves with a ``CheckpointManager`` (the chief into
    ``custom_checkpoints``, the others into their temporary folders, one
    checkpoint kept in each); then, unlike the script, it records the epoch
    (``record(epoch)``) and calls ``die(epoch)``.
    """
    task_id = strategy.cluster_resolver.task_id
    is_chief = strategy.extended.should_checkpoint
    model, optimizer, done, checkpoint = _custom_objects(strategy)
    folder = Path(settings.folder) / "custom_checkpoints"
    latest = tf.train.latest_checkpoint(folder)  # the chief's
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
    own = path_for_worker(folder, task_id, is_chief)
    manager = tf.train.CheckpointManager(checkpoint, own, max_to_keep=1)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = squared_error_per_example(y, model(x, training=True))
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=GLOBAL_BATCH
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(
            zip(gradients, model.trainable_variables, strict=True)
        )
        return loss

    @tf.function
    def step(batch):
        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce("SUM", losses, axis=None)

    batches = strategy.experimental_distribute_dataset(_batches())
    losses = []
    for epoch in range(int(done.numpy()), settings.epochs):
        losses.append(float(np.mean([step(batch) for batch in batches])))
        done.assign(epoch + 1)
        manager.save()
        record(epoch)
        die(epoch)
    return model, {
        "losses": losses,
        "iterations": int(optimizer.iterations.numpy()),
    }


class _Callback(keras.callbacks.Callback):
    def __init__(self, at_epoch_end):
        super().__init__()
        self.at_epoch_end = at_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end(epoch)


def train_fit(strategy, settings, record, die):
    """The same training with ``compile`` and ``fit``, and
    ``BackupAndRestore``, every worker resuming from the chief's backup.

    Keras 3's ``BackupAndRestore`` restores from its own folder only, and
    nothing in it looks at the worker (``keras/src/callbacks/
    backup_and_restore.py``): each worker needs a folder of its own (the
    chief ``fit_backup``, the others their temporary folders), and nothing
    makes the folders agree. So, before ``fit``, every other worker replaces
    its folder by a copy of the chief's (or removes it, when the chief has
    none): all resume at the chief's epoch. The chief cannot have begun a
    new save by then: its first save follows steps this worker takes part
    in. The backup saves at the end of each epoch, before ``record(epoch)``
    and ``die(epoch)`` run.
    """
    task_id = strategy.cluster_resolver.task_id
    is_chief = strategy.extended.should_checkpoint
    with strategy.scope():
        model = build_model(problem()[2])
        optimizer = keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM)
        model.compile(optimizer=optimizer, loss="mse")
    chiefs = Path(settings.folder) / "fit_backup"
    backup = path_for_worker(chiefs, task_id, is_chief)
    if not is_chief:  # start where the chief starts
        shutil.rmtree(backup, ignore_errors=True)
        if chiefs.exists():
            shutil.copytree(chiefs, backup)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        _Callback(record),
        _Callback(die),
    ]
    history = model.fit(
        _batches(),
        epochs=settings.epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    losses = [float(v) for v in history.history["loss"]]
    return model, {
        "losses": losses,
        "iterations": int(optimizer.iterations.numpy()),
    }


def save_model(model, strategy, path):
    """Every worker saves: the chief to ``path``, the others to their
    temporary folders, deleted at once (the folder stays).

    Returns ``{"path": the path written, relative to path's parent,
    "written": whether a non-empty file was there before any deletion}``.
    """
    task_id = strategy.cluster_resolver.task_id
    is_chief = strategy.extended.should_checkpoint
    own = path_for_worker(path, task_id, is_chief)
    own.parent.mkdir(parents=True, exist_ok=True)
    model.save(own)
    written = own.is_file() and own.stat().st_size > 0
    if not is_chief:
        own.unlink()
    relative = own.relative_to(Path(path).parent).as_posix()
    return {"path": relative, "written": written}


def onread_checkpoint(strategy, settings, everyone):
    """Write a checkpoint holding a metric's total, an ``ON_READ`` variable.

    Each replica adds 1 to its own copy of the total; reading it for the
    checkpoint sums the copies, an all-reduce in which every worker must
    take part. ``everyone``: every worker writes (the chief into
    ``onread-all/checkpoint``, the others into their temporary folders);
    otherwise the chief alone (into ``onread-chief/checkpoint``). Then every
    worker waits, at most ``settings.wait`` seconds, for the chief's file to
    be complete; returns whether it was.
    """
    with strategy.scope():
        metric = keras.metrics.Mean()
    total = metric.variables[0].value
    strategy.run(tf.function(lambda: total.assign_add(1.0)))
    task_id = strategy.cluster_resolver.task_id
    is_chief = strategy.extended.should_checkpoint
    phase = "onread-all" if everyone else "onread-chief"
    path = Path(settings.folder) / phase / "checkpoint"
    if everyone or is_chief:
        own = path_for_worker(path, task_id, is_chief)
        _log(f"writing {own.relative_to(settings.folder)}")
        tf.train.Checkpoint(total=total).write(str(own))
        _log("written")
        if not is_chief:
            for written in own.parent.glob(own.name + ".*"):
                written.unlink()
    if is_chief:
        (path.parent / "complete").touch()
    deadline = time.monotonic() + settings.wait
    while time.monotonic() < deadline:
        if (path.parent / "complete").exists():
            return True
        time.sleep(0.05)
    return False


def _run_phases(strategy, settings, report):
    task_id = strategy.cluster_resolver.task_id
    trainers = {"custom": train_custom_loop, "fit": train_fit}
    for phase in settings.phases:
        report[phase] = STARTED
        _write(settings, report)
        _log(f"phase {phase}")
        if phase == "inputs":
            report[phase] = input_report(strategy, settings.folder)
            continue
        if phase in ("onread-all", "onread-chief"):
            everyone = phase == "onread-all"
            try:
                report[phase] = onread_checkpoint(strategy, settings, everyone)
            except Exception as error:  # noqa: BLE001 - reported, then exits
                report[phase] = _error(error)
            if report[phase] is not True:
                return False
            continue
        try:
            model, found = trainers[phase](
                strategy,
                settings,
                record=lambda e, loop=phase: _record(
                    settings.folder, task_id, settings.run, loop, e
                ),
                die=lambda e, loop=phase: _die_if_asked(
                    settings, task_id, loop, e
                ),
            )
        except Exception as error:  # noqa: BLE001 - reported, then exits
            report[phase] = _error(error)
            return False
        found["weights"] = _weights(model)
        found["saved"] = save_model(
            model, strategy, Path(settings.folder) / f"{phase}.keras"
        )
        report[phase] = found
    return True


def _error(error):
    # The error's type, first and last lines, and the deepest function of
    # Keras's source in its traceback (main keeps Keras's frames in it).
    lines = str(error).strip().splitlines() or [""]
    frames = traceback.extract_tb(error.__traceback__)
    in_keras = [f.name for f in frames if f"keras{os.sep}src" in f.filename]
    return {
        "error": type(error).__name__,
        "first_line": lines[0][:300],
        "last_line": lines[-1][:300],
        "raised_in_keras": in_keras[-1] if in_keras else None,
    }


def _elements(strategy, distributed):
    # What this worker's replica receives, step by step.
    return [
        strategy.experimental_local_results(batch)[0].numpy().tolist()
        for batch in distributed
    ]


def _with_policy(dataset, policy):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)


def input_report(strategy, folder):
    """What this worker's replica receives from each kind of input pipeline.

    ``tensors``: 16 numbers from ``from_tensor_slices``, global batches of 4,
    the policy left at ``AUTO``; ``tensors_off``: the same, policy ``OFF``;
    ``files``: the same numbers read from the four TFRecord files in
    ``folder/records`` (4 numbers each), policy ``AUTO``;
    ``from_function``: ``distribute_datasets_from_function``, and what its
    ``InputContext`` said; ``partial``: 10 numbers in batches of 4, as they
    come and with ``drop_remainder=True``, and each step's global count.
    """
    policy = tf.data.experimental.AutoShardPolicy
    numbers = tf.data.Dataset.range(16)
    files = tf.data.Dataset.list_files(
        str(Path(folder) / "records" / "*.tfrecord"), shuffle=False
    )
    from_files = tf.data.TFRecordDataset(files).map(
        lambda record: tf.io.parse_tensor(record, tf.int64)
    )
    report = {}
    for name, dataset in [
        ("tensors", numbers),
        ("tensors_off", _with_policy(numbers, policy.OFF)),
        ("files", from_files),
    ]:
        distributed = strategy.experimental_distribute_dataset(
            dataset.batch(4)
        )
        report[name] = _elements(strategy, distributed)
    contexts = []

    def dataset_fn(context):
        contexts.append(
            {
                "num_input_pipelines": context.num_input_pipelines,
                "input_pipeline_id": context.input_pipeline_id,
                "per_replica_batch_size": (
                    context.get_per_replica_batch_size(4)
                ),
            }
        )
        shard = numbers.shard(
            context.num_input_pipelines, context.input_pipeline_id
        )
        return shard.batch(context.get_per_replica_batch_size(4))

    distributed = strategy.distribute_datasets_from_function(dataset_fn)
    report["from_function"] = _elements(strategy, distributed)
    report["input_context"] = contexts[0]
    report.update(_partial_report(strategy))
    return report


def _partial_report(strategy):
    ten = tf.data.Dataset.range(10)

    @tf.function
    def global_count(batch):
        def count(part):
            context = tf.distribute.get_replica_context()
            return context.all_reduce("sum", tf.shape(part)[0])

        return strategy.experimental_local_results(
            strategy.run(count, args=(batch,))
        )[0]

    found = {}
    for name, batched in [
        ("partial", ten.batch(4)),
        ("dropped", ten.batch(4, drop_remainder=True)),
    ]:
        distributed = strategy.experimental_distribute_dataset(batched)
        found[name] = [
            len(batch) for batch in _elements(strategy, distributed)
        ]
        found[f"{name}_global"] = [
            int(global_count(batch)) for batch in distributed
        ]
    return found


def _write(settings, report):
    path = report_path(settings.folder, settings.task_id)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(report))
    os.replace(temporary, path)


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m helpers.multi_worker",
        description="The worker program; TF_CONFIG says which worker.",
    )
    parser.add_argument("folder")
    parser.add_argument("--phases", default="custom,fit")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--run", default="run1")
    parser.add_argument("--victim", type=int, default=-1)
    parser.add_argument(
        "--die-after", default="", help="LOOP:EPOCH, e.g. custom:2"
    )
    parser.add_argument(
        "--strategy", choices=("keras", "plain"), default="keras"
    )
    parser.add_argument("--wait", type=float, default=5.0)
    parser.add_argument(
        "--deadline", type=float, default=0.0, help="exit after SECONDS"
    )
    settings = parser.parse_args(argv)
    settings.phases = [p for p in settings.phases.split(",") if p]
    if not set(settings.phases) <= set(PHASES):
        parser.error(f"--phases takes names from {PHASES}, comma-separated")
    if settings.die_after:
        loop, _, epoch = settings.die_after.partition(":")
        if loop not in LOOPS or not epoch.isdigit():
            parser.error("--die-after takes LOOP:EPOCH, e.g. custom:2")
        settings.die_after = (loop, int(epoch))
    return settings


def _stop_at(seconds):
    # End this process after ``seconds``, whatever it is doing. SIGALRM's
    # default action ends it from the system's side, also while TensorFlow
    # holds Python's lock in a call that waits; elsewhere, a timer thread,
    # which may have to wait for such a call to return.
    if hasattr(signal, "alarm"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(max(1, math.ceil(seconds)))
    else:
        timer = threading.Timer(seconds, os._exit, args=(4,))
        timer.daemon = True
        timer.start()


def _listening(port):
    # The local addresses this process accepts connections on at ``port``.
    import psutil

    return sorted(
        {
            connection.laddr.ip
            for connection in psutil.Process().net_connections("tcp")
            if connection.status == psutil.CONN_LISTEN
            and connection.laddr.port == port
        }
    )


def main(argv=None):
    """The worker program: ``python -m helpers.multi_worker FOLDER``.

    Creates the strategy first (``TF_CONFIG`` must be set: the launcher sets
    it), with ``RING`` collectives, then runs the ``--phases`` in order
    (after each, it writes its report to :func:`report_path`). The report
    also says where the worker's server listens and when its strategy was
    ready. Exits with 0 when all completed, 1 when it stopped on an error
    (recorded in the report); at ``--deadline`` the system ends it (a
    timer thread exits with 4 where there is no ``SIGALRM``). It exits with
    ``os._exit`` right after its report: nothing after it (Python's
    clean-up of TensorFlow's state) can change the exit code the launcher
    reads, or how long the exit takes. :data:`WORKER_SCRIPT` ends normally.
    """
    settings = _parse(sys.argv[1:] if argv is None else argv)
    if "TF_CONFIG" not in os.environ:
        raise SystemExit(
            "TF_CONFIG is not set: start the workers with "
            "helpers.multi_worker.run_cluster(), which sets it for each."
        )
    if settings.deadline > 0:  # bounded even if the launcher dies
        _stop_at(settings.deadline)
    keras.config.disable_traceback_filtering()  # for _error's frames
    implementation = tf.distribute.experimental.CommunicationImplementation
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=implementation.RING
    )
    kind = (
        KerasMultiWorkerStrategy
        if settings.strategy == "keras"
        else tf.distribute.MultiWorkerMirroredStrategy
    )
    _log("creating the strategy")
    creating_at = time.time()
    strategy = kind(communication_options=options)
    ready_at = time.time()
    _log("strategy ready")
    settings.task_id = strategy.cluster_resolver.task_id
    config = json.loads(os.environ["TF_CONFIG"])
    address = config["cluster"]["worker"][settings.task_id]
    report = {
        "task": config["task"],
        "strategy": type(strategy).__name__,
        "num_replicas_in_sync": strategy.num_replicas_in_sync,
        "should_checkpoint": strategy.extended.should_checkpoint,
        "listening": _listening(int(address.rpartition(":")[2])),
        "creating_at": creating_at,
        "ready_at": ready_at,
    }
    completed = _run_phases(strategy, settings, report)
    _write(settings, report)
    _log("completed" if completed else "stopped on an error")
    os._exit(0 if completed else 1)


if __name__ == "__main__":
    main()
