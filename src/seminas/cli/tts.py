"""``seminas tts ...``: SemiNAS's text-to-speech search.

- ``pipeline``: supernet -> SemiNAS on the diagonal focus rate -> from-scratch training of the
  chosen, baseline and random architectures -> measures and a report, in one command, on any
  corpus in the LJSpeech layout (default: the shared Harvard corpus);
- ``train-supernet``: the supernet alone, data-parallel under ``torchrun`` (GPUs, or CPU
  processes with gloo), for the paper-size search (docs/tts.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from seminas.cli.input import positive_int
from seminas.options import parse_overrides


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "data": args.data, "utterances": args.utterances, "resample": args.resample or None,
        "seed": args.seed, "budget": args.budget, "processes": args.processes,
        "threads": args.threads, "supernet_steps": args.supernet_steps,
        "scratch_steps": args.scratch_steps, "score_utterances": args.score_utterances,
        "score_mode": args.score_mode, "overrides": parse_overrides(args.set),
    }  # fmt: skip


def cmd_pipeline(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.tts.pipeline import RESULTS_MD, config_from_preset, run_pipeline

    cfg = config_from_preset(args.preset, **_changes(args))
    out = args.out or f"runs/tts-{args.preset}"
    command = "seminas " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
    start = time.perf_counter()
    with progress_for(args.quiet) as progress:
        run_pipeline(cfg, out, progress=progress, command=command,
                     log=None if args.quiet else _stage_line)  # fmt: skip
    print((Path(out) / RESULTS_MD).read_text())
    print(f"results: {Path(out) / 'results.json'}")
    print(f"wall time of this command: {(time.perf_counter() - start) / 60:.1f} min")
    return 0


def _stage_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_train_supernet(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.tts.pipeline import config_from_preset
    from seminas.tts.pipeline.distributed import train_supernet_distributed

    cfg = config_from_preset(args.preset, **_changes(args))
    with progress_for(args.quiet) as progress:
        summary = train_supernet_distributed(cfg, args.out, progress)
    if summary["rank"] == 0:
        print(f"supernet checkpoint: {args.out} ({summary['steps']} steps on "
              f"{summary['world_size']} process(es), {summary['seconds']:.0f} s)")
    return 0


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="cpu", help="cpu (the README run), tiny, or paper-tts")
    p.add_argument("--data", help="corpus in the LJSpeech layout (metadata.csv, wavs/); "
                   "default: the shared Harvard corpus")  # fmt: skip
    p.add_argument("--utterances", type=positive_int,
                   help="training utterances (LJSpeech low-resource setting: 1500)")
    p.add_argument("--resample", action="store_true",
                   help="convert wavs at another rate (or stereo) instead of refusing them")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=positive_int, help="architectures scored in the search")
    p.add_argument("--processes", type=positive_int, help="trainings at once (default 2)")
    p.add_argument("--threads", type=positive_int, help="torch threads (default 2)")
    p.add_argument("--supernet-steps", type=positive_int)
    p.add_argument("--scratch-steps", type=positive_int)
    p.add_argument("--score-utterances", type=positive_int,
                   help="validation utterances scored per architecture")
    p.add_argument("--score-mode", choices=["free", "teacher"],
                   help="free-running for the true length (paper) or teacher forced")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="SemiNAS option of the search (repeatable)")
    p.add_argument("--quiet", action="store_true")


def add_parser(sub: Any) -> None:
    tts = sub.add_parser("tts", help="text to speech: Transformer-TTS space, supernet, SemiNAS "
                         "on attention quality")  # fmt: skip
    tsub = tts.add_subparsers(dest="tts_command", required=True, parser_class=type(tts))
    pipe = tsub.add_parser("pipeline", help="supernet -> search -> from scratch -> measures")
    _options(pipe)
    pipe.add_argument("--out", help="output directory (default runs/tts-PRESET)")
    pipe.set_defaults(func=cmd_pipeline)
    ts = tsub.add_parser("train-supernet",
                         help="train the supernet (under torchrun for data parallelism)")
    _options(ts)
    ts.add_argument("--out", required=True, help="checkpoint file to write")
    ts.set_defaults(func=cmd_train_supernet)
