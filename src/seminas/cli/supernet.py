"""``seminas mobilenet ...``: the MobileNet-v2 space, its supernet and the ImageNet workflow.

- ``pipeline``: supernet -> SemiNAS under a FLOPs limit -> from scratch, in one command (CPU
  scale: the CIFAR-10 subset or a small image folder held in memory);
- ``train-supernet`` / ``search`` / ``train``: the same three steps one by one, for ImageNet on
  GPUs: ``train-supernet`` and ``train`` run under ``torchrun`` (DDP), ``search`` on one device;
- ``flops``: exact multiply-adds of an architecture.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from seminas.cli.input import positive_int
from seminas.errors import SeminasError
from seminas.options import parse_overrides


def _flops_arg(text: str) -> int | None:
    from seminas.spaces.mobilenet import parse_flops

    if str(text).strip().lower() in ("none", "off", "0"):
        return None
    return parse_flops(text)  # SeminasError: reported in one line by the CLI


_overrides = parse_overrides


# -- commands ------------------------------------------------------------------------------------
def cmd_pipeline(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.supernet.pipeline import config_from_preset, run_pipeline

    cfg = config_from_preset(
        args.preset,
        data=args.data,
        data_dir=args.data_dir,
        image_size=args.image_size,
        seed=args.seed,
        max_flops=_flops_arg(args.max_flops),
        width_mult=args.width_mult,
        budget=args.budget,
        processes=args.processes,
        supernet_epochs=args.supernet_epochs,
        scratch_epochs=args.scratch_epochs,
        tau_archs=args.tau_archs,
        overrides=_overrides(args.set),
    )
    out = args.out or f"runs/mobilenet-{Path(cfg.data).name}-{args.preset}"
    command = "seminas " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
    import time

    start = time.perf_counter()
    with progress_for(args.quiet) as progress:
        res = run_pipeline(cfg, out, progress=progress, command=command,
                           log=None if args.quiet else _stage_line)
    from seminas.supernet.pipeline import RESULTS_MD

    print((Path(out) / RESULTS_MD).read_text())
    print(f"results: {Path(out) / 'results.json'}")
    print(f"wall time of this command: {(time.perf_counter() - start) / 60:.1f} min")
    return 0 if res["chosen_respects_limit"] else 1


def _stage_line(text: str) -> None:
    """The line each pipeline stage begins with, on stderr (above the bars in a terminal)."""
    print(text, file=sys.stderr, flush=True)


def _data_spec(args: argparse.Namespace):
    from seminas.supernet.data import DataSpec, check_data_source

    check_data_source(args.data, args.data_dir)
    return DataSpec(
        args.data, args.data_dir, args.image_size, args.heldout, args.seed, args.stream,
        args.workers,
    )


def _recipe(args: argparse.Namespace):
    from seminas.supernet.train import SupernetRecipe

    return SupernetRecipe(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        warmup_epochs=args.warmup_epochs,
    )


def cmd_train_supernet(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.spaces.mobilenet import SEARCH_WIDTHS, MobileNetSpace
    from seminas.supernet.pipeline import shape_fields
    from seminas.supernet.train import TrainJob, run_train_job

    max_flops = _flops_arg(args.max_flops)
    MobileNetSpace(max_flops)  # limit below the smallest architecture: one line, now
    job = TrainJob(
        data=_data_spec(args),
        shape=shape_fields(SEARCH_WIDTHS, args.width_mult),
        recipe=_recipe(args),
        out=args.out,
        max_flops=max_flops,
        seed=args.seed,
        threads=args.threads,
        extra_steps=args.extra_steps,
        sharing=args.sharing,
    )
    with progress_for(args.quiet) as progress:
        summary = run_train_job(job, progress=progress)
    if summary["rank"] == 0:
        print(f"supernet checkpoint: {args.out} ({summary['steps']} steps, "
              f"{summary['world_size']} process(es), {summary['seconds']:.0f} s)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.spaces.mobilenet import FINAL_WIDTHS, SEARCH_WIDTHS, MobileNetSpace, flops
    from seminas.supernet.pipeline import shape_fields
    from seminas.supernet.train import TrainJob, run_train_job

    arch = MobileNetSpace().validate(args.arch)
    job = TrainJob(
        data=_data_spec(args),
        shape=shape_fields(SEARCH_WIDTHS if args.search_widths else FINAL_WIDTHS,
                           args.width_mult),
        recipe=_recipe(args),
        out=args.out,
        arch=str(arch),
        seed=args.seed,
        threads=args.threads,
    )
    with progress_for(args.quiet) as progress:
        summary = run_train_job(job, progress=progress)
    if summary["rank"] == 0:
        from seminas.spaces.mobilenet import FINAL_SHAPE, format_flops

        if not args.quiet:
            held, test = summary["heldout_accuracy"], summary["test_accuracy"]
            print(f"held-out accuracy {'-' if held is None else f'{held:.2f}%'}, "
                  f"test accuracy {'-' if test is None else f'{test:.2f}%'}")

        print(json.dumps({
            "arch": str(arch),
            "flops_224_final": flops(arch, FINAL_SHAPE),
            "flops_224_final_text": format_flops(flops(arch, FINAL_SHAPE)),
            "heldout_accuracy": summary["heldout_accuracy"],
            "test_accuracy": summary["test_accuracy"],
            "steps": summary["steps"],
            "processes": summary["world_size"],
            "checkpoint": args.out,
        }, indent=2))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import torch

    from seminas.spaces.mobilenet import MobileNetSpace, flops
    from seminas.strategies import make_strategy, run_search
    from seminas.supernet.evaluator import SupernetBackend, SupernetEvaluator
    from seminas.supernet.train import (
        Scorer,
        SupernetRecipe,
        SupernetTrainer,
        init_distributed,
        load_checkpoint,
        model_from_checkpoint,
    )

    space = MobileNetSpace(_flops_arg(args.max_flops))
    strategy = make_strategy("seminas", args.preset, **_overrides(args.set))
    state = load_checkpoint(args.supernet)
    if state.get("arch") is not None:
        raise SeminasError(f"{args.supernet} holds a single network, not a supernet")
    info = init_distributed()
    if info.device == "cpu":
        torch.set_num_threads(args.threads)
    from seminas.cli.progress import SearchBar, progress_for

    with progress_for(args.quiet) as progress:
        source = _data_spec(args).open(progress)  # an image folder read into memory
    model = model_from_checkpoint(state)
    trainer = SupernetTrainer(
        model, source, SupernetRecipe(**state["recipe"]), args.seed, info,
        total_steps=int(state["total_steps"]),
    )
    trainer.load_state_dict(state)
    scorer = Scorer(source, args.calib_batches, args.calib_batch_size, seed=args.seed,
                    device=info.device)
    evaluator = SupernetEvaluator(space, trainer, scorer, args.continue_steps, args.sampling)
    with progress_for(args.quiet) as progress:
        bar = SearchBar(progress, args.budget, width=24)
        result = run_search(strategy, evaluator, args.budget, args.seed, bar.on_event,
                            backend=SupernetBackend())
    best = result.best
    assert best is not None
    out = result.to_dict()
    out["chosen"] = {"arch": best.arch, "flops_224_final": flops(space.validate(best.arch)),
                     "supernet_score": best.search_metric}
    out["supernet_training_during_search"] = evaluator.training_log
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["chosen"], indent=2))
    return 0


def cmd_flops(args: argparse.Namespace) -> int:
    from seminas.spaces.mobilenet import (
        FINAL_SHAPE,
        SEARCH_SHAPE,
        MobileNetSpace,
        flops,
        format_flops,
    )

    arch = MobileNetSpace().validate(args.arch)
    shape = FINAL_SHAPE if args.widths == "final" else SEARCH_SHAPE
    if args.resolution:
        from dataclasses import replace

        shape = replace(shape, resolution=args.resolution)
    macs = flops(arch, shape)
    print(f"{macs} multiply-adds ({format_flops(macs)}) at {shape.resolution}x{shape.resolution},"
          f" {args.widths} widths {list(shape.widths)}")
    return 0


# -- parser --------------------------------------------------------------------------------------
def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="cifar10-10k",
                   help="cifar10-10k (the shared subset), a CIFAR-10 python-batch directory, or "
                   "an ImageNet-layout image folder (train/<class>/, optional val/<class>/)")
    p.add_argument("--image-size", type=int, help="image folders: side in pixels (224 ImageNet)")
    p.add_argument("--stream", action="store_true",
                   help="stream the image folder from disk (ImageNet) instead of loading it")
    p.add_argument("--workers", type=int, default=8, help="data-loading processes (--stream)")
    p.add_argument("--heldout", type=float, default=0.1,
                   help="training images held out for scoring: a fraction or a count "
                   "(ImageNet: 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process on CPU")
    p.add_argument("--quiet", action="store_true")


def _train_options(p: argparse.ArgumentParser, epochs: float, lr: float) -> None:
    p.add_argument("--epochs", type=float, default=epochs)
    p.add_argument("--batch-size", type=int, default=128, help="global batch, over all ranks")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--weight-decay", type=float, default=4e-5)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--width-mult", type=float, default=1.0, help="every width times this")


def add_parser(sub: Any) -> None:
    """Register ``seminas mobilenet`` and its commands on the CLI's subparsers."""
    mob = sub.add_parser("mobilenet", help="MobileNet-v2 space: supernet, FLOPs-limited "
                         "SemiNAS, from-scratch training (the paper's ImageNet search)")
    msub = mob.add_subparsers(
        dest="mobilenet_command",
        required=True,
        parser_class=getattr(sub, "_parser_class", argparse.ArgumentParser),
    )

    pipe = msub.add_parser("pipeline", help="supernet -> search -> from scratch, end to end")
    pipe.add_argument("--preset", default="cpu", help="cpu (the README run) or tiny")
    pipe.add_argument("--data", default="cifar10-10k")
    pipe.add_argument("--image-size", type=int)
    pipe.add_argument("--max-flops", default="600M",
                      help="limit on multiply-adds of the final network at 224x224 "
                      "(e.g. 600M; none for no limit)")
    pipe.add_argument("--width-mult", type=float)
    pipe.add_argument("--budget", type=positive_int, help="architectures scored in the search")
    pipe.add_argument("--processes", type=positive_int, help="processes (default 2)")
    pipe.add_argument("--supernet-epochs", type=float)
    pipe.add_argument("--scratch-epochs", type=positive_int)
    pipe.add_argument("--tau-archs", type=positive_int)
    pipe.add_argument("--seed", type=int, default=0)
    pipe.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="override a SemiNAS option (repeatable)")
    pipe.add_argument("--out", help="output directory (default runs/mobilenet-DATA-PRESET)")
    pipe.add_argument("--quiet", action="store_true")
    pipe.set_defaults(func=cmd_pipeline)

    ts = msub.add_parser("train-supernet", help="train the supernet (run under torchrun for DDP)")
    _data_options(ts)
    _train_options(ts, epochs=1.0, lr=0.1)
    ts.add_argument("--max-flops", default="600M", help="sample only paths within this limit")
    ts.add_argument("--sharing", choices=["nested", "independent"], default="nested",
                    help="candidates as slices of shared weights (default) or each with its "
                    "own weights (ProxylessNAS / SemiNAS code)")
    ts.add_argument("--extra-steps", type=int, default=0,
                    help="steps the search will add (cosine schedule spans them)")
    ts.add_argument("--out", required=True, help="checkpoint file (written by rank 0)")
    ts.set_defaults(func=cmd_train_supernet)

    se = msub.add_parser("search", help="SemiNAS on a trained supernet, under a FLOPs limit")
    _data_options(se)
    se.add_argument("--supernet", required=True, help="checkpoint from train-supernet")
    se.add_argument("--preset", default="paper-imagenet")
    se.add_argument("--budget", type=positive_int, default=400)
    se.add_argument("--max-flops", default="600M")
    se.add_argument("--continue-steps", type=int, default=0,
                    help="supernet steps before each search iteration")
    se.add_argument("--sampling", choices=["pool", "uniform"], default="pool")
    se.add_argument("--calib-batches", type=positive_int, default=4)
    se.add_argument("--calib-batch-size", type=positive_int, default=128)
    se.add_argument("--set", action="append", metavar="KEY=VALUE")
    se.add_argument("--out", help="write the search result JSON here")
    se.set_defaults(func=cmd_search)

    tr = msub.add_parser("train", help="train one architecture from scratch (torchrun for DDP)")
    _data_options(tr)
    _train_options(tr, epochs=300, lr=0.1)
    tr.add_argument("--arch", required=True)
    tr.add_argument("--search-widths", action="store_true",
                    help="train at the search widths instead of the paper's final widths")
    tr.add_argument("--out", required=True, help="checkpoint file (written by rank 0)")
    tr.set_defaults(func=cmd_train)

    fl = msub.add_parser("flops", help="exact multiply-adds of an architecture")
    fl.add_argument("arch")
    fl.add_argument("--widths", choices=["final", "search"], default="final")
    fl.add_argument("--resolution", type=int)
    fl.set_defaults(func=cmd_flops)
