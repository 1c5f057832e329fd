import threading
import time

import pytest

from studio.engine import CANCELLED, DONE, FAILED, JobPool, RunRegistry, RunSpec
from studio.engine.checkpoints import load_checkpoint
from studio.engine.selfcheck import SelfCheckConfig, train_selfcheck
from studio.engine.training import FitConfig


def small_cfg(**fit):
    base = dict(optimizer="adam", lr=1e-2, epochs=3, batch_size=64)
    base.update(fit)
    return SelfCheckConfig(n_points=600, fit=FitConfig(**base))


def test_training_job_streams_metrics_to_listener_and_registry():
    reg = RunRegistry()
    pool = JobPool(reg)
    events = []
    pool.subscribe(events.append)
    cfg = small_cfg()
    job = pool.run(train_selfcheck, cfg, name="spirals", workbench="engine", run=RunSpec("engine", "mlp", cfg.to_dict()))
    assert job.status == DONE, job.traceback
    kinds = {e.kind for e in events}
    assert {"status", "progress", "metric"} <= kinds
    steps = [e.data["step"] for e in events if e.kind == "metric" and e.data["name"] == "train/loss"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 3 * 8  # every step streamed
    row = reg.get(job.run.id)
    assert row.status == "completed" and row.device == "cpu"
    assert len(reg.metric_series(row.id, "train/loss")["value"]) == len(steps)
    assert row.final_metrics["val/accuracy"] > 0.5
    tensors, meta = load_checkpoint(row.checkpoint)
    assert meta.model_kind == "selfcheck-mlp" and tensors


def test_cancel_stops_within_one_second_and_keeps_last_checkpoint():
    reg = RunRegistry()
    pool = JobPool(reg)
    cfg = small_cfg(epochs=1000)
    cfg.batch_delay_s = 0.01
    job = pool.submit(train_selfcheck, cfg, run=RunSpec("engine", "mlp"))
    deadline = time.time() + 30
    while reg.get(job.run.id).checkpoint is None and time.time() < deadline:  # wait for the first epoch's checkpoint
        time.sleep(0.02)
    assert reg.get(job.run.id).checkpoint
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(1.0), "the job did not stop within 1 s of Cancel"
    assert time.monotonic() - t0 < 1.0
    assert job.status == CANCELLED
    row = reg.get(job.run.id)
    assert row.status == "cancelled"
    load_checkpoint(row.checkpoint)  # the last complete checkpoint is still there and readable


def test_failing_job_is_marked_failed_and_pool_keeps_working():
    reg = RunRegistry()
    pool = JobPool(reg)

    def boom(ctx, cfg):
        ctx.progress(1, 3)
        raise RuntimeError("the detector exploded")

    bad = pool.run(boom, None, run=RunSpec("engine", "boom"))
    assert bad.status == FAILED and "the detector exploded" in bad.error
    assert "Traceback" in bad.traceback and "boom" in bad.traceback
    assert reg.get(bad.run.id).status == "failed"
    good = pool.run(lambda ctx, cfg: 42)
    assert good.status == DONE and good.result == 42


def test_a_shut_down_pool_refuses_jobs_without_registering_a_run():
    reg = RunRegistry()
    pool = JobPool(reg)
    assert not pool.closed
    pool.run(lambda ctx, cfg: 1, None, run=RunSpec("engine", "before"))
    pool.shutdown()
    assert pool.closed
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda ctx, cfg: 2, None, run=RunSpec("engine", "after"))
    assert [r.model for r in reg.list_runs()] == ["before"]
    assert len(pool.jobs) == 1


def test_user_errors_keep_their_plain_message():
    pool = JobPool()

    def bad_input(ctx, cfg):
        raise ValueError("/data/x.tif: image is 64×64, smaller than 128×128")

    job = pool.run(bad_input)
    assert job.error == "/data/x.tif: image is 64×64, smaller than 128×128"


def test_two_trainings_never_overlap_on_one_device_lane():
    pool = JobPool(configure_threads=False)
    active, overlap = [0], [False]
    lock = threading.Lock()

    def train(ctx, cfg):
        with lock:
            active[0] += 1
            overlap[0] |= active[0] > 1
        for _ in range(20):
            ctx.check()
            time.sleep(0.005)
        with lock:
            active[0] -= 1

    jobs = [pool.submit(train, device="cuda:7", kind="train") for _ in range(3)]
    assert jobs[1].status == "queued"
    for j in jobs:
        j.wait(10)
    assert all(j.status == DONE for j in jobs) and not overlap[0]


def test_inference_is_served_between_batches_of_a_running_training():
    pool = JobPool(configure_threads=False)
    in_batch = threading.Event()
    served_during = []
    started = threading.Event()

    def train(ctx, cfg):
        started.set()
        for _ in range(200):
            ctx.check()  # batch boundary
            in_batch.set()
            time.sleep(0.005)
            in_batch.clear()

    def infer(ctx, cfg):
        served_during.append(in_batch.is_set())
        return "ok"

    training = pool.submit(train, device="cuda:7", kind="train")
    started.wait(5)
    time.sleep(0.05)
    t0 = time.monotonic()
    request = pool.submit(infer, device="cuda:7", kind="task")
    assert request.wait(2), "inference waited for the whole training"
    assert time.monotonic() - t0 < 0.5
    assert request.result == "ok" and training.status == "running"
    assert served_during == [False]  # never in the middle of a training batch
    training.cancel()
    training.wait(5)


def test_job_cancelled_while_queued_never_runs():
    pool = JobPool(configure_threads=False)
    gate = threading.Event()
    ran = []
    first = pool.submit(lambda ctx, cfg: gate.wait(5), device="cpu", kind="train")
    second = pool.submit(lambda ctx, cfg: ran.append(1), device="cpu", kind="train")
    second.cancel()
    gate.set()
    first.wait(5)
    second.wait(5)
    assert second.status == CANCELLED and not ran


def test_eta_and_progress():
    pool = JobPool(configure_threads=False)

    def work(ctx, cfg):
        for i in range(1, 11):
            time.sleep(0.01)
            ctx.progress(i, 10)
        return ctx.job.eta()

    job = pool.run(work)
    assert job.fraction() == 1.0 and job.result == pytest.approx(0.0, abs=1e-6)
