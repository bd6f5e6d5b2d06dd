"""The ``mmmo`` command line: run, resume and inspect merge campaigns.

Exit codes: 0 on success, 2 on a usage or configuration error (any
:class:`~mmmo.errors.MmmoError`: the message names the field, file or trial at
fault, without a traceback), 1 on any other failure, 130 when interrupted
(SIGINT) and 143 when terminated (SIGTERM): either way the running trial is
put back to pending, so ``mmmo resume`` runs it again. Tables and JSON go to
stdout; progress and messages go to stderr, so ``mmmo front PATH --json | jq``
works while a bar is drawn, and a reader that stops early (``| head``) ends
the command quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmmo.errors import ConfigError, ExportError, MmmoError, StoreError
from mmmo.progress import TrialProgress
from mmmo.summary import front_records, front_table, status_text

if TYPE_CHECKING:
    from mmmo.campaign import Campaign


def _message(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so it stops as cleanly as on Ctrl-C."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def _open(path: str | Path, readonly: bool, accept_changed_models: bool = False) -> Campaign:
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no campaign file at {path}")
    from mmmo.campaign import Campaign  # torch and friends: only once the input is known good

    return Campaign.open(path, readonly=readonly, accept_changed_models=accept_changed_models)


def _run(campaign: Campaign, trials: int | None = None, batch_size: int | None = None) -> None:
    try:
        with TrialProgress() as progress:
            campaign.run(n_trials=trials, batch_size=batch_size, callback=progress)
    except KeyboardInterrupt:
        # The trial under way is put back to pending now, not left running until a resume.
        requeued = campaign.requeue_running()
        if requeued:
            _message(f"trial(s) {', '.join(f'#{i}' for i in requeued)} put back to pending")
        raise


def _check_out_folder(out: Path, flag: str) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{flag} {out}: exists and is not a folder")


# ---------------------------------------------------------------- commands


def _new_demo_config(args: argparse.Namespace) -> Any:
    """The config of a new demo campaign: the demo zoo's, or with ``--real`` the real zoo's."""
    if args.real:
        if args.zoo != "default":
            raise ConfigError(f"--real and --zoo {args.zoo}: the real zoo has one size; drop --zoo")
        from mmmo.demo import REAL_DEMO_LIMIT, REAL_DEMO_TRIALS, real_demo_config
        from mmmo.realzoo import RealZooConfig, build_real_zoo, real_zoo_dir

        real_config = RealZooConfig()
        if not real_zoo_dir(real_config).is_dir():
            _message(f"building the real zoo in {real_zoo_dir(real_config)} (once, about 20 minutes on 2 cores; "
                     "later runs reuse it)")
        zoo = build_real_zoo(real_config, log=_message)
        return real_demo_config(zoo, trials=args.trials or REAL_DEMO_TRIALS, seed=args.seed,
                                limit=args.limit or REAL_DEMO_LIMIT)
    from mmmo.demo import DEMO_LIMIT, DEMO_TRIALS, demo_config
    from mmmo.zoo import ZooConfig, build_zoo, zoo_dir

    zoo_config = ZooConfig.tiny() if args.zoo == "tiny" else ZooConfig()
    if not zoo_dir(zoo_config).is_dir():  # the folder appears only once a build is complete
        _message(f"building the demo zoo in {zoo_dir(zoo_config)} (once; later runs reuse it)")
    zoo = build_zoo(zoo_config, progress=True)
    return demo_config(zoo, trials=args.trials or DEMO_TRIALS, seed=args.seed, limit=args.limit or DEMO_LIMIT)


def _export_and_reload(campaign: Campaign, out: Path) -> None:
    """Export the front's most balanced member and check that transformers reloads it with the same scores."""
    from mmmo.reload_check import check_reload

    names = campaign.objective_names
    member = campaign.select([1.0 / len(names)] * len(names))
    trial_id = int(member["trial_id"])
    path = campaign.export(trial_id, out / "export", overwrite=True)
    _message(f"exported trial #{trial_id} (the front member closest to equal weight on every task) to {path}")
    check = check_reload(campaign, trial_id, path)
    _message(check.text())
    if not check.matches:
        raise ExportError(f"{path}: the reloaded checkpoint does not score as trial #{trial_id} did")


def cmd_demo(args: argparse.Namespace) -> int:
    from mmmo.campaign import Campaign
    from mmmo.demo import write_config
    from mmmo.plots import plot_campaign

    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        # The zoo's tensors are tiny: a second thread adds synchronisation, not
        # speed, and on a busy 2-core machine it made the demo several times slower.
        torch.set_num_threads(1)
    out = Path(args.out or ("mmmo_demo_real" if args.real else "mmmo_demo"))
    db, config_path = out / "demo.db", out / "demo.yaml"
    if db.exists():
        _message(f"resuming the demo campaign in {db} (delete {out} to start over)")
        campaign = _open(db, readonly=False, accept_changed_models=args.accept_changed_models)
        if args.trials and args.trials != campaign.config.budget.trials:
            _message(f"--trials {args.trials} ignored: the stored budget is "
                     f"{campaign.config.budget.trials} (use 'mmmo resume {db} --trials N' for more)")
    else:
        config = _new_demo_config(args)
        write_config(config, config_path)
        campaign = Campaign.create(db, config)
        _message(f"campaign {db}, config {config_path}")
    _run(campaign, batch_size=args.batch_size)
    print(front_table(campaign))
    plots = plot_campaign(campaign, out / "plots")
    _message("plots: " + ", ".join(str(p) for p in plots))
    if args.real:
        _export_and_reload(campaign, out)
    _message(f"next: mmmo status {db} | mmmo front {db} --json | mmmo export {db} TRIAL_ID DIR")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mmmo.config import load_config

    config = load_config(args.config)
    db = Path(args.db) if args.db else Path(args.config).with_suffix(".db")
    if db.exists() and not args.resume:
        raise StoreError(f"{db} already exists; pass --resume to continue it, or choose another --db")
    from mmmo.campaign import Campaign

    if db.exists():
        campaign = _open(db, readonly=False, accept_changed_models=args.accept_changed_models)
        changed = _changed_fields(campaign.config, config)
        if changed:
            raise StoreError(
                f"{db} was created from a different config (fields {changed} differ); "
                f"continue it with 'mmmo resume {db}' or choose another --db"
            )
        _message(f"resuming {db}")
    else:
        campaign = Campaign.create(db, config)
        _message(f"created {db}")
    _run(campaign, trials=args.trials, batch_size=args.batch_size)
    print(front_table(campaign))
    return 0


def _changed_fields(stored: Any, new: Any) -> list[str]:
    old, fresh = stored.model_dump(mode="json"), new.model_dump(mode="json")
    return sorted(k for k in fresh if old.get(k) != fresh[k])


def cmd_resume(args: argparse.Namespace) -> int:
    campaign = _open(args.path, readonly=False, accept_changed_models=args.accept_changed_models)
    _run(campaign, trials=args.trials, batch_size=args.batch_size)
    print(front_table(campaign))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    campaign = _open(args.path, readonly=True)
    print(status_text(campaign, Path(args.path)))
    return 0


def cmd_front(args: argparse.Namespace) -> int:
    campaign = _open(args.path, readonly=True)
    if args.json:
        print(json.dumps(front_records(campaign, all_fidelities=args.all_fidelities), indent=None))
    else:
        print(front_table(campaign, all_fidelities=args.all_fidelities))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    _check_out_folder(Path(args.out_dir), "OUT_DIR")
    campaign = _open(args.path, readonly=True, accept_changed_models=args.accept_changed_models)
    out = campaign.export(args.trial_id, Path(args.out_dir), overwrite=args.overwrite)
    _message(f"exported trial #{args.trial_id}")
    print(out)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from mmmo.plots import plot_campaign

    path = Path(args.path)
    out = Path(args.out) if args.out else path.with_name(f"{path.stem}-plots")
    _check_out_folder(out, "--out")
    campaign = _open(path, readonly=True)
    for file in plot_campaign(campaign, out, all_fidelities=args.all_fidelities):
        print(file)
    return 0


def cmd_pareto_merge(args: argparse.Namespace) -> int:
    from mmmo.pareto_merging import run_from_config

    result = run_from_config(args.config, db=args.db, out=args.out)
    if result is not None:
        print(result)
    return 0


# ---------------------------------------------------------------- parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmmo", description="Find the Pareto set of merged language models.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an unexpected failure")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    def accept_changed(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--accept-changed-models", action="store_true",
                         help="go on although a base or source folder changed since the campaign was created")

    def run_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--trials", type=_positive, help="searched trials to run (default: the budget)")
        sub.add_argument("--batch-size", type=_positive, help="trials proposed at once")
        accept_changed(sub)

    demo = command("demo", cmd_demo, "build the demo zoo if needed and run a campaign on it")
    demo.add_argument("--trials", type=_positive, help="searched trials of a new demo campaign")
    demo.add_argument("--batch-size", type=_positive, help="trials proposed at once")
    demo.add_argument("--out", default=None,
                      help="folder for the campaign, its config and plots (default: mmmo_demo, or mmmo_demo_real)")
    demo.add_argument("--zoo", choices=("default", "tiny"), default="default",
                      help="zoo size: tiny trains in a fraction of the time (tests)")
    demo.add_argument("--real", action="store_true",
                      help="SmolLM2-135M-Instruct with LoRA experts on BIG-bench tasks (the real zoo, built "
                           "once); ends by exporting a front member and reloading it with transformers")
    demo.add_argument("--limit", type=_positive, help="test examples scored per task and trial")
    demo.add_argument("--seed", type=int, default=0)
    accept_changed(demo)

    run = command("run", cmd_run, "start a campaign from a YAML config")
    run.add_argument("config", help="campaign YAML file")
    run.add_argument("--db", help="campaign file to create (default: CONFIG with .db)")
    run.add_argument("--resume", action="store_true", help="continue --db if it exists")
    run_options(run)

    resume = command("resume", cmd_resume, "continue a campaign")
    resume.add_argument("path", help="campaign file")
    run_options(resume)

    status = command("status", cmd_status, "progress, best per objective, hypervolume, failures")
    status.add_argument("path", help="campaign file")

    front = command("front", cmd_front, "print the Pareto front")
    front.add_argument("path", help="campaign file")
    front.add_argument("--json", action="store_true",
                       help="one JSON array of trials (id, params, objectives, fidelity)")
    front.add_argument("--all-fidelities", action="store_true",
                       help="also trials scored on part of their examples (multi-fidelity campaigns)")

    export = command("export", cmd_export, "write a trial's merged model as an HF checkpoint")
    export.add_argument("path", help="campaign file")
    export.add_argument("trial_id", type=int, help="trial id (see 'mmmo front')")
    export.add_argument("out_dir", help="folder to write the checkpoint into (new or empty)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty OUT_DIR (never a folder holding a campaign model)")
    accept_changed(export)

    plot = command("plot", cmd_plot, "write the front, hypervolume and parameter plots (PNG)")
    plot.add_argument("path", help="campaign file")
    plot.add_argument("--out", help="folder for the PNG files (default: PATH-plots beside PATH)")
    plot.add_argument("--all-fidelities", action="store_true",
                      help="plot trials scored on part of their examples on the front too")

    pareto = command("pareto-merge", cmd_pareto_merge, "run Pareto Merging from a YAML config")
    pareto.add_argument("config", help="Pareto Merging YAML file")
    pareto.add_argument("--db", help="campaign file to record the preference grid in")
    pareto.add_argument("--out", help="folder for the trained model and its outputs")

    from mmmo.realzoo.command import add_command as add_real_zoo_command

    add_real_zoo_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mmmo.cache import configure_cli_environment

    configure_cli_environment()  # the command's own process; the library leaves the environment alone
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped early (mmmo front | head): not an error of ours.
        # Later writes to stdout go nowhere, so exiting does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except MmmoError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            _message(f"mmmo: error: {line}")
        return 2
    except _Terminated:
        _message("mmmo: terminated; completed trials are saved ('mmmo resume PATH' continues)")
        return 143
    except KeyboardInterrupt:
        _message("mmmo: interrupted; completed trials are saved ('mmmo resume PATH' continues)")
        return 130
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        _message(f"mmmo: error: {type(exc).__name__}: {exc}")
        if not args.traceback:
            _message("mmmo: run with 'mmmo --traceback ...' to see where it failed")
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
