"""SMOKE TEST of the ImageNet path -- not a result.

The three ImageNet commands at full model size (width 1.0, 224x224 inputs) for a couple of steps
on a handful of generated images in an ImageNet-layout folder, streamed from disk:

1. ``torchrun --nproc_per_node=2 -m seminas.cli mobilenet train-supernet ...`` -- two processes,
   gloo, DDP; rank 0 writes the checkpoint;
2. ``seminas mobilenet search ...`` on that checkpoint in one process (the DDP hand-off), with
   the paper-imagenet preset shrunk to 3 queries and a 600M FLOPs limit;
3. ``seminas mobilenet train --arch CHOSEN ...`` at the paper's final widths.

It checks shapes, FLOPs against torch's counter and the hand-off; the accuracies it prints mean
nothing.
"""

import json
import subprocess
import sys

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from seminas.cli import main
from seminas.spaces.mobilenet import FINAL_SHAPE, SEARCH_WIDTHS, MobileNetSpace, flops
from seminas.supernet.train import load_checkpoint, model_from_checkpoint


def make_folder(root):
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("val", 1)):
        for c in ("n01440764", "n01443537"):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
                arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / c / f"{c}_{i}.JPEG", quality=90)
    return root


def test_imagenet_path_smoke(tmp_path, capsys):
    """SMOKE TEST (not a result): full-size supernet via torchrun + DDP, search, final train."""
    torch.set_num_threads(1)
    folder = make_folder(tmp_path / "imagenet")
    data = ["--data", str(folder), "--stream", "--workers", "0", "--image-size", "224",
            "--heldout", "2", "--quiet"]
    ckpt = tmp_path / "supernet.pt"

    # 1. torchrun, 2 processes, gloo + DDP, full model size
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "seminas.cli", "mobilenet", "train-supernet", *data,
           "--epochs", "2", "--batch-size", "4", "--max-flops", "600M", "--out", str(ckpt)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "supernet checkpoint" in proc.stdout and "2 process(es)" in proc.stdout
    state = load_checkpoint(ckpt)
    assert state["step"] == 2 and state["arch"] is None
    assert state["shape"]["resolution"] == 224 and not state["shape"]["cifar"]
    assert tuple(state["shape"]["widths"]) == SEARCH_WIDTHS and state["shape"]["num_classes"] == 2
    supernet = model_from_checkpoint(state).eval()
    arch = MobileNetSpace("600M").sample_one(np.random.default_rng(0))
    with torch.no_grad():
        assert supernet(torch.zeros(1, 3, 224, 224), arch).shape == (1, 2)

    # 2. search on the handed-off supernet (one process), FLOPs-limited
    found = tmp_path / "search.json"
    code = main(["mobilenet", "search", "--supernet", str(ckpt), *data, "--budget", "3",
                 "--max-flops", "600M", "--continue-steps", "1", "--calib-batches", "1",
                 "--calib-batch-size", "2", "--out", str(found),
                 "--set", "initial=2", "--set", "per_iteration=1", "--set", "unlabeled=8",
                 "--set", "pretrain_epochs=2", "--set", "epochs=2", "--set", "top_k=2",
                 "--set", "max_step=3"])
    assert code == 0
    result = json.loads(found.read_text())
    assert result["num_queries"] == 3
    assert len(result["supernet_training_during_search"]) == 1
    chosen = result["chosen"]["arch"]
    assert result["chosen"]["flops_224_final"] == flops(MobileNetSpace().validate(chosen))
    assert result["chosen"]["flops_224_final"] <= 600_000_000
    capsys.readouterr()

    # 3. the chosen architecture from scratch at the paper's final widths
    final = tmp_path / "final.pt"
    code = main(["mobilenet", "train", "--arch", chosen, *data, "--epochs", "1",
                 "--batch-size", "2", "--out", str(final)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 2 and report["test_accuracy"] is not None
    net = model_from_checkpoint(load_checkpoint(final)).eval()
    assert tuple(net.shape.widths) == FINAL_SHAPE.widths and net.shape.resolution == 224
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 2)
    shape = net.shape
    assert counter.get_total_flops() == 2 * flops(MobileNetSpace().validate(chosen), shape)
    assert report["flops_224_final"] == flops(MobileNetSpace().validate(chosen), FINAL_SHAPE)
