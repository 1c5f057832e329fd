"""torchrun with 2 CPU processes (gloo) trains like one process with the same global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.cli import main
from studio.engine import distributed
from studio.engine.training import GlobalBatchShards

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["selfcheck", "--iters", "6", "--batch", "64", "--lr", "0.01", "--device", "cpu", "--json", "-q"]


def test_global_batch_shards_replay_the_single_process_batches():
    from torch.utils.data import DataLoader

    real = DataLoader(range(51), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(5),
                      collate_fn=list)
    shards = [GlobalBatchShards(51, 8, 3, r, shuffle=True, drop_last=False, seed=5) for r in range(3)]
    for _ in range(2):  # two epochs: the generator advances the same way
        expected = list(real)
        parts = [list(s) for s in shards]
        assert [a + b + c for a, b, c in zip(*parts)] == expected
        assert [len(p[0]) for p in parts] == [3, 2, 3]  # 8 split by rounded bounds; last batch 3 as 1/1/1
    # a last batch smaller than the process count: the process left without a sample repeats one
    tiny = [list(GlobalBatchShards(10, 8, 3, r, shuffle=False, drop_last=False, seed=0)) for r in range(3)]
    assert [t[-1] for t in tiny] == [[8], [9], [9]]


def test_single_process_is_rank_0_of_1():
    assert not distributed.launched_distributed() and not distributed.is_distributed()
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main_process()
    assert distributed.init_from_env("cpu") is False
    assert distributed.all_reduce_sum([1.5, 2.0], "cpu") == [1.5, 2.0]


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch without gloo")
def test_torchrun_two_cpu_processes_match_one_process(tmp_path, studio_home, capsys):
    dist_home = tmp_path / "dist-home"
    env = {**os.environ, "STUDIO_HOME": str(dist_home), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "studio.cli", *ARGS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outs) == 2 and all(o["status"] == "done" for o in outs)  # both ranks finished
    main_out = [o for o in outs if o["run_id"] is not None]
    assert len(main_out) == 1 and main_out[0]["run_id"] == 1  # one registry row, from rank 0
    run_dirs = list((dist_home / "runs").iterdir())
    assert [d.name for d in run_dirs] == ["00001"]
    assert sorted(p.name for p in run_dirs[0].iterdir()) == ["model.json", "model.safetensors"]  # written once

    # The same run in one process, with the same global batch.
    assert main(ARGS) == 0
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for name, value in single["metrics"].items():
        assert main_out[0]["metrics"][name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    a = load_file(str(run_dirs[0] / "model.safetensors"))
    b = load_file(single["checkpoint"])
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    # and training moved the weights (the comparison is not of two untouched initialisations)
    from studio.engine.selfcheck import build_mlp

    torch.manual_seed(0)
    init = build_mlp(64, 3).state_dict()
    assert any(not torch.allclose(init[k], b[k]) for k in b)
