"""``mmmo real-zoo``: build (or find) the real zoo and print its accuracy table."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mmmo.realzoo.config import RealZooConfig


def add_command(commands: Any) -> None:
    """Register ``real-zoo`` on the CLI's subcommand parsers."""
    help = "download SmolLM2 and BIG-bench, train LoRA experts, cache the real zoo"
    sub = commands.add_parser("real-zoo", help=help, description=help)
    sub.set_defaults(handler=run)
    sub.add_argument("--reduced", action="store_true", help="two tasks, few steps (tests)")
    sub.add_argument("--tasks", nargs="+", metavar="TASK",
                     help="expert tasks, BIG-bench names such as arithmetic/2_digit_addition")
    sub.add_argument("--held-out", nargs="*", metavar="TASK", help="tasks no expert trains on")
    sub.add_argument("--steps", type=int, help="training steps per adapter")
    sub.add_argument("--save-merged", action="store_true", help="also save merged full checkpoints")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--json", action="store_true", help="print the manifest's scores as JSON")


def config_from_args(args: argparse.Namespace) -> RealZooConfig:
    base = RealZooConfig.reduced() if args.reduced else RealZooConfig()
    changes: dict[str, Any] = {"seed": args.seed}
    if args.tasks:
        changes["expert_tasks"] = tuple(args.tasks)
    if args.held_out is not None:
        changes["held_out_tasks"] = tuple(args.held_out)
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.save_merged:
        changes["save_merged"] = True
    return RealZooConfig(**{**base.to_dict(), **changes})


def run(args: argparse.Namespace) -> int:
    from mmmo.realzoo.build import build_real_zoo, real_zoo_dir

    config = config_from_args(args)
    print(f"real zoo: {real_zoo_dir(config)}", file=sys.stderr, flush=True)
    zoo = build_real_zoo(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    scores = zoo.scores()
    if args.json:
        print(json.dumps({"root": str(zoo.root), "scores": scores}))
        return 0
    print(score_table(scores, zoo.expert_tasks + zoo.held_out_tasks))
    return 0


def score_table(scores: dict[str, dict[str, float]], tasks: tuple[str, ...]) -> str:
    """Exact match of every model (rows) on every task (columns)."""
    width = max(len(m) for m in scores)
    lines = [" " * width + "  " + "  ".join(tasks)]
    for model, by_task in scores.items():
        cells = "  ".join(f"{by_task[t]:>{len(t)}.3f}" for t in tasks)
        lines.append(f"{model:<{width}}  {cells}")
    return "\n".join(lines)
