"""``texstudio batch``: many syntheses into one folder, resumable, locally or on a Ray cluster."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from texstudio.commands.synth import add_synth_options, config_from_args

NAME = "batch"
EXIT_OK, EXIT_FAULT, EXIT_INTERRUPTED = 0, 1, 130
REDRAW_S = 0.2  # the progress bar's step counter redraws at most this often


def add_parser(subparsers) -> None:
    batch = subparsers.add_parser(
        "batch",
        help="synthesize every exemplar of a folder or job file, resumably, locally or on Ray",
        description="Run one synthesis per exemplar x settings x seed x size into OUTDIR: an image and "
        "a JSON sidecar per job, and summary.csv / summary.json with timings and quality metrics. "
        "Rerunning the same command skips finished jobs; a failed job is recorded and the rest go on. "
        "The synth options below set every job's settings; a job file's own settings override them.",
    )
    batch.add_argument("spec", metavar="SPEC",
                       help="a folder of exemplar photos, or a .json/.toml job file "
                       "(exemplars, settings, seeds or variations, sizes: see the README)")
    batch.add_argument("-o", "--output", metavar="OUTDIR", required=True,
                       help="folder for the images, their sidecars and the summary (created if missing)")
    batch.add_argument("--variations", type=int, default=None, metavar="K",
                       help="K seeds per exemplar and setting: --seed, --seed+1, ... (default 1)")
    batch.add_argument("--executor", choices=("sequential", "pool", "ray"), default="sequential",
                       help="sequential: one job at a time in this process (default); pool: local worker "
                       "processes, one per CUDA GPU or one on CPU; ray: one Ray task per job")
    batch.add_argument("--ray-address", metavar="ADDRESS",
                       help="the Ray cluster to use with --executor ray, e.g. auto or ray://HEAD:10001 "
                       "(default: start a local Ray instance)")
    batch.add_argument("--format", choices=("png", "tif"), default="png", help="image format (default png)")
    add_synth_options(batch)
    batch.add_argument("--overwrite", action="store_true",
                       help="run finished jobs again and replace their files (default: skip them)")
    batch.add_argument("--dry-run", action="store_true",
                       help="list the jobs and whether they are finished; run nothing")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.add_argument("--debug", action="store_true", help="show a traceback for unexpected errors")


def plan_from_args(args: argparse.Namespace):
    from texstudio.batch.plan import plan_batch
    from texstudio.engine.errors import ConfigError

    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    if args.variations is not None and args.variations < 1:
        raise ConfigError(f"--variations must be 1 or more, got {args.variations}")
    return plan_batch(args.spec, args.output, config_from_args(args), variations=args.variations,
                      keep_exemplar_size=args.exemplar_size is not None, init=args.init,
                      bit_depth=args.bit_depth, image_format=args.format)


def run(args: argparse.Namespace) -> int:
    from texstudio.batch.events import JobFinished, JobProgressed, JobStarted
    from texstudio.batch.runner import run_batch
    from texstudio.engine.cancel import StopToken

    plan = plan_from_args(args)
    if args.dry_run:
        return _list_jobs(plan)
    if not args.quiet:
        _weights_notice(plan)

    stop = StopToken()

    def on_sigint(signum, frame) -> None:
        if stop.is_set():  # a second Ctrl-C means "now"
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping: the running job is dropped, finished ones are kept (Ctrl-C again to abort)",
              file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        progress = tqdm(total=len(plan.jobs), unit="job", desc="batch", file=sys.stderr, dynamic_ncols=True)
    steps = run_batch(plan, args.executor, stop, args.ray_address, rerun=args.overwrite)
    redrawn = 0.0
    try:
        while True:
            try:
                event = next(steps)
            except StopIteration as finished:
                summary = finished.value
                break
            if progress is None:
                continue
            if isinstance(event, JobFinished):
                if event.outcome.status != "cancelled":  # a stopped batch's bar stays short of 100 %
                    progress.update(1)
                progress.set_postfix_str(f"{event.job.id}: {event.outcome.status}", refresh=False)
            elif isinstance(event, JobStarted):
                progress.set_postfix_str(f"{event.job.id}", refresh=False)
            elif isinstance(event, JobProgressed) and event.iteration:
                # Steps can come faster than a terminal needs: redraw every REDRAW_S at most.
                progress.set_postfix_str(f"{plan.jobs[event.index].id} step {event.iteration}/{event.total_steps}",
                                         refresh=False)
                if time.monotonic() - redrawn >= REDRAW_S:
                    progress.refresh()
                    redrawn = time.monotonic()
    except KeyboardInterrupt:
        steps.close()  # writes the summary of what is finished
        print(f"texstudio: interrupted; finished jobs are in {plan.outdir}; run the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress is not None:
            progress.close()
    return _report(summary, stop.is_set(), args.quiet)


def _report(summary, stopped: bool, quiet: bool) -> int:
    if not quiet:
        print(f"{summary.describe()} in {summary.wall_s:.1f} s; summary: {summary.csv_path}", file=sys.stderr)
    for row in summary.failed:
        print(f"texstudio: {row['job_id']} failed: {row['error']}", file=sys.stderr)
    if stopped:
        print("texstudio: stopped; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary.failed:
        print(f"texstudio: {len(summary.failed)} of {len(summary.rows)} jobs failed (see {summary.csv_path})",
              file=sys.stderr)
        return EXIT_FAULT
    return EXIT_OK


def _list_jobs(plan) -> int:
    from texstudio.batch.plan import finished_sidecar

    hashes: dict = {}
    finished = 0
    for job in plan.jobs:
        done = finished_sidecar(job, plan.outdir, hashes) is not None
        finished += done
        print(f"{'finished' if done else 'to run  '}  {job.image_name}  ({job.exemplar}"
              f"{', ' + job.settings_name if job.settings_name else ''})")
    print(f"{len(plan.jobs)} jobs, {finished} finished, {len(plan.jobs) - finished} to run, into {plan.outdir}",
          file=sys.stderr)
    return EXIT_OK


def _weights_notice(plan) -> None:
    if any(job.config.backbone == "vgg19" for job in plan.jobs):
        from texstudio.engine.weights import vgg19_weights_notice

        notice = vgg19_weights_notice()
        if notice:
            print(f"texstudio: {notice}", file=sys.stderr)
