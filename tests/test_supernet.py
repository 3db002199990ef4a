"""The supernet: weight inheritance, path-sampling training, batch-norm recalibration, scoring,
the evaluator inside a SemiNAS search, checkpoints, and a 2-process DDP run (gloo)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from seminas.errors import SeminasError
from seminas.spaces.mobilenet import MobileNetArch, MobileNetSpace, NetworkShape, flops
from seminas.strategies import make_strategy, run_search
from seminas.supernet.data import DataSpec, TensorSource
from seminas.supernet.evaluator import SupernetBackend, SupernetEvaluator
from seminas.supernet.model import build_network, build_supernet, count_params, inherit
from seminas.supernet.train import (
    Scorer,
    SupernetRecipe,
    SupernetTrainer,
    TrainJob,
    accuracy_on,
    load_checkpoint,
    model_from_checkpoint,
    pool_sampler,
    recalibrate_bn,
    spawn_local,
    uniform_sampler,
)

SPACE = MobileNetSpace("600M")
TINY = NetworkShape(num_classes=3, resolution=32, cifar=True).scaled(0.2)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def archs(n, seed=0):
    return SPACE.sample(n, np.random.default_rng(seed))


def easy_source(n_train=96, n_held=48, seed=0) -> TensorSource:
    """A learnable 3-class task: the class is the brightest colour channel."""
    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = torch.arange(n) % 3
        x = torch.randint(0, 120, (n, 3, 32, 32), generator=g, dtype=torch.int64)
        x[torch.arange(n), y] += 120
        return x.to(torch.uint8), y

    xt, yt = make(n_train)
    xh, yh = make(n_held)
    return TensorSource(xt, yt, xh, yh, 3, augment=False)


def scramble_bn(model):
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 1, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
            m.weight.data.normal_(1, 0.3, generator=gen)
            m.bias.data.normal_(0, 0.3, generator=gen)


@pytest.mark.parametrize("sharing", ["nested", "independent"])
def test_inherited_network_computes_exactly_what_the_supernet_path_computes(sharing):
    torch.manual_seed(0)
    supernet = build_supernet(TINY, sharing)
    scramble_bn(supernet)
    x = torch.randn(6, 3, 32, 32)
    for arch in archs(4):
        net = inherit(supernet, arch)
        if sharing == "independent":
            assert set(net.state_dict()) < set(supernet.state_dict())
        assert sum(p.numel() for p in net.parameters()) == count_params(supernet, arch)
        supernet.eval(), net.eval()
        assert torch.equal(supernet(x, arch), net(x))
        supernet.train(), net.train()  # batch statistics: same too
        assert torch.equal(supernet(x, arch), net(x))
    with pytest.raises(ValueError, match="needs the path"):
        supernet(x)
    with pytest.raises(ValueError, match="only its own architecture"):
        net(x, archs(5, seed=9)[-1])


def test_nested_candidates_are_slices_of_shared_weights():
    torch.manual_seed(0)
    supernet = build_supernet(TINY, "nested")
    shared = supernet.layers[1].shared
    expand, dw, project = shared.weights("k3e3")
    c_in = shared.c_in
    assert expand.shape[0] == 3 * c_in and dw.shape[-2:] == (3, 3)
    assert torch.equal(dw, shared.dw[: 3 * c_in, :, 2:5, 2:5])  # centre of the 7x7 kernel
    assert project.data_ptr() == shared.project.data_ptr()  # a view, not a copy
    arch = archs(1, seed=3)[0]
    net = build_network(arch, TINY)
    assert set(net.state_dict()) <= set(build_supernet(TINY, "independent").state_dict())


@pytest.mark.parametrize("sharing", ["nested", "independent"])
def test_path_sampling_trains_only_the_sampled_path(sharing):
    torch.manual_seed(0)
    source = easy_source()
    trainer = SupernetTrainer(
        build_supernet(TINY, sharing), source, SupernetRecipe(batch_size=32)
    )
    arch = archs(1, seed=4)[0]
    assert "skip" in arch.ops
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_steps(1, pool_sampler([arch]))
    after = trainer.model.state_dict()
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    for i, op in enumerate(arch.ops):
        layer_keys = {k for k in after if k.startswith(f"layers.{i}.")}
        if op == "skip":
            assert not layer_keys & changed, f"layer {i} is skipped but changed"
        elif sharing == "nested":
            assert f"layers.{i}.shared.dw" in changed
        else:
            assert f"layers.{i}.ops.{op}.dw.conv.weight" in changed
            others = {k for k in layer_keys if f".ops.{op}." not in k}
            assert not others & changed, f"off-path candidates of layer {i} changed"
    assert "stem.conv.weight" in changed and trainer.step == 1


def test_bn_recalibration_resets_path_statistics_and_restores_accuracy():
    torch.manual_seed(0)
    source = easy_source()
    trainer = SupernetTrainer(
        build_supernet(TINY), source,
        SupernetRecipe(epochs=20, batch_size=32, lr=0.05, label_smoothing=0),
    )
    arch = archs(1, seed=6)[0]
    trainer.train_steps(20, pool_sampler([arch]))
    model = trainer.model
    held = list(source.heldout_batches(48))
    calib = source.calibration_batches(3, 32, seed=0)
    recalibrate_bn(model, arch, calib)
    good = accuracy_on(model, arch, held)
    # statistics are an exact function of the calibration data: stem BN = mean of its input
    with torch.no_grad():
        stem_out = torch.cat([model.stem.conv(x) for x in calib])
    assert torch.allclose(model.stem.bn.running_mean, stem_out.mean((0, 2, 3)), atol=1e-5)
    # corrupt every running statistic: accuracy collapses; recalibration brings it back
    off_path = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    off_path = [m for m in off_path if all(m is not b for b in model.path_batchnorms(arch))]
    assert off_path
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(50.0)
    bad = accuracy_on(model, arch, held)
    recalibrate_bn(model, arch, calib)
    assert accuracy_on(model, arch, held) == good
    assert good >= bad + 20, (good, bad)
    assert all(float(m.running_mean[0]) == 3.0 for m in off_path)  # other paths untouched
    # the scorer is deterministic and independent of what it scored before
    scorer = Scorer(source, 3, 32, eval_batch_size=48, seed=0)
    first = scorer.score(model, arch)
    scorer.score(model, archs(2, seed=7)[1])
    assert scorer.score(model, arch) == first == good


def test_checkpoint_resumes_training_exactly(tmp_path):
    source = easy_source()
    recipe = SupernetRecipe(epochs=2, batch_size=32)

    def fresh():
        torch.manual_seed(0)
        return SupernetTrainer(build_supernet(TINY), source, recipe, seed=5)

    straight = fresh()
    straight.train_steps(5, uniform_sampler(SPACE))
    half = fresh()
    half.train_steps(2, uniform_sampler(SPACE))
    half.save(tmp_path / "s.pt")
    state = load_checkpoint(tmp_path / "s.pt")
    resumed = SupernetTrainer(model_from_checkpoint(state), source, recipe, seed=5)
    resumed.load_state_dict(state)
    resumed.train_steps(3, uniform_sampler(SPACE))
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_supernet_evaluator_in_a_search_keeps_training_between_iterations():
    torch.manual_seed(0)
    source = easy_source()
    trainer = SupernetTrainer(build_supernet(TINY), source, SupernetRecipe(batch_size=32))
    trainer.train_steps(3, uniform_sampler(SPACE))
    scorer = Scorer(source, 1, 32, eval_batch_size=48)
    evaluator = SupernetEvaluator(SPACE, trainer, scorer, continue_steps=2, sampling="pool")
    strategy = make_strategy(
        "seminas", "mobilenet-cpu", initial=4, per_iteration=2, unlabeled=20,
        pretrain_epochs=3, epochs=2, top_k=4, max_step=5,
    )
    result = run_search(strategy, evaluator, 8, seed=0, backend=SupernetBackend())
    assert len(result.trials) == 8 == evaluator.num_queries
    assert [e["before_batch"] for e in evaluator.training_log] == [1, 2]  # 2 iterations
    assert trainer.step == 3 + 2 * 2
    assert len(evaluator.pool) == 8
    for t in result.trials:
        assert t.report_metric is None and 0 <= t.search_metric <= 100
        assert flops(SPACE.validate(t.arch)) <= 600_000_000
    steps = [r.extra["supernet_step"] for r in [evaluator.evaluate(t.arch) for t in
                                                 result.trials[:1]]]
    assert steps == [7]


def write_folder(root, n_per_class=8, size=(32, 32), classes=("a", "b"), seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_per_class), ("val", 2)):
        for k, c in enumerate(classes):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = rng.integers(0, 100, (size[1], size[0], 3), dtype=np.uint8)
                arr[..., k] += 120
                Image.fromarray(arr).save(root / split / c / f"{i}.png")
    return root


def test_spawned_training_reports_rank_zeros_progress_to_the_parent(tmp_path):
    """Rank 0 of a spawned job reports its steps (and the image folder it reads) through a
    queue; the parent hands them to its own Progress, which may draw them."""
    from seminas.progress import CallbackProgress

    calls = []
    progress = CallbackProgress(
        on_start=lambda what, total, unit: calls.append(("start", what, total, unit)),
        on_advance=lambda n, note: calls.append(("advance", n, note)),
        on_finish=lambda: calls.append(("finish",)),
    )
    folder = write_folder(tmp_path / "imgs", n_per_class=4)
    job = TrainJob(
        data=DataSpec(str(folder), image_size=32, heldout=0.25),
        shape={"widths": TINY.widths, "stem": TINY.stem, "first": TINY.first, "head": TINY.head},
        recipe=SupernetRecipe(epochs=1, batch_size=2),
        out=str(tmp_path / "supernet.pt"),
        max_flops=600_000_000,
        log_every=1,
    )
    (rank,) = spawn_local(job, 1, str(tmp_path / "ranks"), progress=progress)
    starts = [c for c in calls if c[0] == "start"]
    assert [c[1] for c in starts] == [
        "reading train images", "reading val images", "supernet training (1 process(es))"
    ]
    assert starts[-1][2:] == (rank["steps"], "steps")
    steps = [c for c in calls[calls.index(starts[-1]):] if c[0] == "advance"]
    assert sum(c[1] for c in steps) == rank["steps"]
    assert steps[-1][2].startswith("loss ") and calls[-1] == ("finish",)


def test_ddp_two_cpu_processes_keep_replicas_identical(tmp_path):
    """Two processes, gloo backend, DistributedDataParallel with path sampling: after a few
    steps every replica holds the same weights, and rank 0's checkpoint hands the supernet to a
    single process."""
    folder = write_folder(tmp_path / "imgs")
    job = TrainJob(
        data=DataSpec(str(folder), image_size=32, heldout=0.25),
        shape={"widths": TINY.widths, "stem": TINY.stem, "first": TINY.first, "head": TINY.head},
        recipe=SupernetRecipe(epochs=3, batch_size=4),
        out=str(tmp_path / "supernet.pt"),
        max_flops=600_000_000,
    )
    ranks = spawn_local(job, 2, str(tmp_path / "ranks"))
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["steps"] == 9 for r in ranks)
    assert ranks[0]["checksum"] == ranks[1]["checksum"]
    state = load_checkpoint(tmp_path / "supernet.pt")
    assert state["step"] == 9 and not any(k.startswith("module.") for k in state["model"])
    model = model_from_checkpoint(state)
    total = float(sum(p.detach().double().sum() for p in model.parameters()))
    assert total == ranks[0]["checksum"]
    torch.manual_seed(0)
    assert not torch.equal(
        build_supernet(model.shape).stem.conv.weight, model.stem.conv.weight
    )
    arch = MobileNetArch(tuple(SPACE.sample_one(np.random.default_rng(0)).ops))
    assert model(torch.zeros(2, 3, 32, 32), arch).shape == (2, 2)


def test_pipeline_end_to_end_on_a_tiny_folder_and_resume(tmp_path):
    """All three stages on 64 generated images (one process), then a second call that finds
    every stage done and returns the same results without training anything."""
    from seminas.progress import CallbackProgress
    from seminas.supernet.pipeline import config_from_preset, run_pipeline

    folder = write_folder(tmp_path / "imgs", n_per_class=32)
    cfg = config_from_preset(
        "tiny", data=str(folder), image_size=32, heldout=0.25, processes=1, budget=5,
        supernet_batch=16, scratch_batch=16, calib_batch_size=16, width_mult=0.25,
        overrides={"initial": 3, "per_iteration": 1, "unlabeled": 10, "pretrain_epochs": 2,
                   "epochs": 2, "top_k": 3, "max_step": 3},
    )
    phases: list[str] = []
    res = run_pipeline(cfg, tmp_path / "out", command="test",
                       progress=CallbackProgress(on_start=lambda what, *_: phases.append(what)))
    assert {"supernet: scoring random paths", "search: scoring on the supernet",
            "re-scoring on the final supernet"} <= set(phases)  # reported, not drawn
    assert any(p.startswith("from scratch") for p in phases)
    roles = [r["role"] for r in res["architectures"]]
    assert roles[:3] == ["chosen", "random", "mobilenet-v2-like"] and len(roles) >= 4
    assert res["chosen_respects_limit"] and res["search"]["max_trial_flops"] <= 600_000_000
    assert res["trials"] == 5 and len(res["search"]["supernet_training_during_search"]) == 2
    assert all(r["test_accuracy"] is not None for r in res["architectures"])
    tau = res["kendall_tau_heldout"]  # None when every accuracy ties (possible on 16 images)
    assert tau is None or -1 <= tau["tau"] <= 1
    md = (tmp_path / "out" / "results.md").read_text()
    assert "Kendall tau" in md and "mobilenet-v2-like" in md
    stages = [json.loads(x) for x in (tmp_path / "out" / "stages.jsonl").read_text().splitlines()]
    assert stages[0] == {"seminas_results": 1, "kind": "mobilenet-pipeline"}  # the common store
    assert [(r["stage"], r["item"]) for r in stages[1:3]] == [("supernet", 0), ("search", 0)]
    assert sorted(r["item"] for r in stages[3:] if r["stage"] == "scratch") == list(
        range(len(roles)))
    again = run_pipeline(cfg, tmp_path / "out", command="test")
    assert again["architectures"] == res["architectures"]
    assert again["wall_seconds_this_session"]["total_this_session"] < 20
    with pytest.raises(SeminasError, match="different configuration"):
        run_pipeline(config_from_preset("tiny", data=str(folder), image_size=32, seed=1),
                     tmp_path / "out")
