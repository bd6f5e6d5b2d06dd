"""Scale-out on Ray: the asynchronous campaign loop against synchronous ones.

(a) Simulated. Evaluation is replaced by a Ray actor that sleeps a
heavy-tailed (lognormal) time and scores the plan on a smooth two-objective
test function (no model is loaded), on 1, 2, 4 and 8 workers. Three loops
run the same budget (the reference trials, then ``--trials`` searched
trials) with the same proposer and the same duration of the k-th trial:

- ``async``: mmmo's own loop (``Campaign.run`` with the Ray executor):
  a new point whenever a worker is free, trials in flight pending;
- ``batch``: a synchronous batch of one point per worker, waiting for the
  whole batch before proposing the next (one process's batch loop, spread
  over the workers);
- ``generation``: generation-synchronous evaluation as mergekit-evolve does
  it: a population of ``--population`` members spread over the workers, the
  next generation waiting for the slowest member.

On one worker the three loops are the same schedule, so only ``async`` runs
there (it gives the speed-up's baseline). For each it reports worker utilisation (busy seconds / (workers x wall)),
the wall time to the budget (first trial started to last trial finished)
and the hypervolume of every finished trial against wall time, with a fixed
reference point; ``hv_at`` gives it at quarters of the async loop's wall time.

(b) Real. The default zoo's demo campaign (``mmmo.demo.demo_config``) on 1
and 2 CPU workers of the Ray executor: wall time to the budget.

Usage:
    python benchmarks/scale_out.py [--workers 1,2,4,8] [--trials 64] [--mean 1.0] [--sigma 1.0]
        [--population 16] [--proposer sobol] [--real-workers 1,2] [--real-trials 8] [--skip-real]

Results are appended as they come to ``benchmarks/results/scale_out.jsonl``;
the last line printed is one JSON object with every figure and the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REF_POINT = (-0.5, -0.5)  # below both objectives' minimum (-0.25) on the whole space
SEED = 7


# ------------------------------------------------------------ simulated evaluation


def duration(trial_id: int, mean: float, sigma: float, seed: int = SEED) -> float:
    """Seconds the trial ``trial_id`` takes: lognormal with mean ``mean``, the same in every loop."""
    rng = np.random.default_rng([seed, trial_id])
    return float(rng.lognormal(math.log(mean) - sigma**2 / 2, sigma))


def test_function(plan: dict) -> tuple[float, float]:
    """Two maximised objectives of a two-source task-arithmetic plan (weights in [0, 1.5]).

    Along the first weight one objective rises as the other falls (a concave
    front); the second weight has one best value (0.25) for both.
    """
    a0, a1 = (p["weight"] / 1.5 for p in plan["params"]["all"])
    shared = 0.25 * a1 - 0.5 * a1**2
    return a0 + shared, 1.0 - a0**2 + shared


class SimulatedWorker:
    """A Ray actor with the worker protocol of :class:`mmmo.evaluation.ray_executor.RayExecutor`."""

    def __init__(self, config_json: str, threads: int, mean: float, sigma: float) -> None:
        self.mean, self.sigma = mean, sigma
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def identity(self) -> tuple[str, tuple[str, ...]]:
        return self.name, ("maximize", "maximize")

    def evaluate(self, request_json: str) -> str:
        from mmmo.evaluation import TrialOutcome, TrialRequest
        from mmmo.objectives.base import Measurement

        request = TrialRequest.from_json(request_json)
        start = time.perf_counter()
        time.sleep(duration(request.trial_id, self.mean, self.sigma))
        values = test_function(dict(request.plan))
        seconds = time.perf_counter() - start
        measurements = {name: Measurement(v, seconds=seconds).to_dict() for name, v in zip(("f1", "f2"), values)}
        return TrialOutcome(request.trial_id, "complete", measurements, 0.0, seconds, worker=self.name).to_json()


def simulated_config(zoo, workers: int, args: argparse.Namespace) -> dict:
    names = list(zoo.expert_tasks[:2])
    return {
        "name": "scale_out_simulated",
        "base": str(zoo.base),
        "models": [{"path": str(zoo.experts[t]), "name": t} for t in names],
        "space": "task_arithmetic",
        "objectives": [
            {"kind": "callable", "function": "scale_out:never_built", "name": n, "direction": "maximize"}
            for n in ("f1", "f2")
        ],
        "budget": {"trials": args.trials, "initial": min(args.initial, args.trials), "batch_size": 1},
        "proposer": args.proposer,
        "recipes": False,
        "seed": SEED,
        "device": "cpu",
        "executor": {"kind": "ray", "workers": workers, "cpus_per_worker": min(1.0, args.cpus / workers)},
    }


# ------------------------------------------------------------ figures


def figures(trials: list[tuple[float, float, tuple[float, float]]], workers: int) -> dict:
    """Utilisation, wall time and the hypervolume curve of ``(start, finish, values)`` trials (Unix times)."""
    from mmmo.search.pareto import hypervolume_history

    trials = sorted(trials, key=lambda t: t[1])
    t0 = min(start for start, _, _ in trials)
    wall = max(finish for _, finish, _ in trials) - t0
    busy = sum(finish - start for start, finish, _ in trials)
    # While trials are still waiting to start: the loop's own doing, without the
    # budget's end, where the last trials run and finished workers have nothing left.
    last_start = max(start for start, _, _ in trials)
    steady = sum(max(0.0, min(finish, last_start) - start) for start, finish, _ in trials)
    Y = torch.tensor([values for _, _, values in trials], dtype=torch.float64)
    hv = hypervolume_history(Y, torch.tensor(REF_POINT, dtype=torch.float64)).tolist()
    return {
        "workers": workers,
        "trials": len(trials),
        "wall_s": round(wall, 3),
        "busy_s": round(busy, 3),
        "utilisation": round(busy / (workers * wall), 4),
        "utilisation_until_last_start": round(steady / (workers * (last_start - t0)), 4) if last_start > t0 else None,
        "ideal_utilisation": round(ideal_utilisation([f - s for s, f, _ in sorted(trials)], workers), 4),
        "curve": [(round(finish - t0, 3), round(h, 5)) for (_, finish, _), h in zip(trials, hv)],
    }


def ideal_utilisation(durations: list[float], workers: int) -> float:
    """Utilisation of a scheduler with no overhead at all: each trial starts the moment a worker frees.

    The bound that the budget's end sets: the last trials run alone.
    """
    free = [0.0] * workers
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return sum(durations) / (workers * max(free))


def hv_at(curve: list[tuple[float, float]], t: float) -> float:
    """Hypervolume of the trials finished by wall time ``t`` (0 before the first)."""
    values = [h for time_s, h in curve if time_s <= t + 1e-9]
    return values[-1] if values else 0.0


# ------------------------------------------------------------ the three loops


def run_async(zoo, workers: int, args: argparse.Namespace, folder: Path) -> dict:
    import mmmo.campaign
    from mmmo.campaign import Campaign
    from mmmo.evaluation.ray_executor import RayExecutor

    real = mmmo.campaign.make_executor
    mmmo.campaign.make_executor = lambda config, _: RayExecutor(config, SimulatedWorker, (args.mean, args.sigma))
    try:
        with Campaign.create(folder / f"async_{workers}.sqlite", simulated_config(zoo, workers, args)) as campaign:
            campaign.run()
            records = campaign._store.trials()
    finally:
        mmmo.campaign.make_executor = real
    trials = [
        (r.finished_at - r.seconds_eval, r.finished_at, (r.measurements["f1"].value, r.measurements["f2"].value))
        for r in records
    ]
    return figures(trials, workers)


def run_synchronous(zoo, workers: int, args: argparse.Namespace, group: int) -> dict:
    """Groups of ``group`` points; each group waits for its slowest member before the next is proposed."""
    from mmmo.config import parse_config
    from mmmo.evaluation import TrialRequest
    from mmmo.evaluation.ray_executor import RayExecutor
    from mmmo.references import reference_trials
    from mmmo.search.proposers import make_proposer
    from mmmo.search.space import SearchSpace

    config = parse_config(simulated_config(zoo, workers, args))
    space = SearchSpace(config.space, config.model_names, 2)
    executor = RayExecutor(config, SimulatedWorker, (args.mean, args.sigma))
    executor.start()
    proposers = {name: make_proposer(name, seed=SEED) for name in {"sobol", config.proposer}}
    X: list[list[float]] = []
    Y: list[tuple[float, float]] = []
    trials: list[tuple[float, float, tuple[float, float]]] = []
    next_id = 1

    def run_group(plans: list[dict]) -> None:
        nonlocal next_id
        queue = []
        for plan in plans:
            queue.append(TrialRequest(next_id, plan))
            next_id += 1
        started: dict[int, float] = {}
        waiting = len(queue)
        while waiting:
            while queue and executor.free():
                request = queue.pop(0)
                executor.submit(request)
                started[request.trial_id] = time.time()
            for outcome in executor.wait(None):
                finished = time.time()
                values = tuple(outcome.measurements[n]["value"] for n in ("f1", "f2"))
                trials.append((finished - outcome.seconds_eval, finished, values))
                Y.append(values)
                waiting -= 1

    try:
        references = reference_trials(config.model_names, recipes=False, seed=SEED)
        for ref in references:
            X.append(space.try_encode(ref.plan).tolist())
        run_group([ref.plan.to_dict() for ref in references])
        searched = 0
        while searched < args.trials:
            n = min(group, args.trials - searched)
            name = "sobol" if searched < config.budget.initial else config.proposer
            Xt = torch.tensor(X, dtype=torch.float64)
            Yt = torch.tensor(Y, dtype=torch.float64)
            ref_point = torch.tensor(REF_POINT, dtype=torch.float64)
            candidates = proposers[name].propose(Xt, Yt, torch.empty(0, space.dim, dtype=torch.float64), n, ref_point)
            plans = []
            for i, x in enumerate(candidates):
                X.append(x.tolist())
                plans.append(space.decode(x, seed=SEED + next_id + i).to_dict())
            run_group(plans)
            searched += n
    finally:
        executor.close()
    return figures(trials, workers)


# ------------------------------------------------------------ (b) real


def run_real(workers: int, args: argparse.Namespace, folder: Path) -> dict:
    from mmmo.campaign import Campaign
    from mmmo.demo import demo_config
    from mmmo.zoo import ZooConfig, build_zoo

    zoo = build_zoo(ZooConfig(), progress=False)
    config = demo_config(zoo, trials=args.real_trials, seed=SEED).model_dump(mode="json")
    config["executor"] = {"kind": "ray", "workers": workers, "cpus_per_worker": 1}
    start = time.time()
    with Campaign.create(folder / f"real_{workers}.sqlite", config) as campaign:
        campaign.run()
        records = campaign._store.trials()
    total = time.time() - start
    first = min(r.finished_at - (r.seconds_eval or 0) - (r.seconds_merge or 0) for r in records)
    wall = max(r.finished_at for r in records) - first
    busy = sum((r.seconds_eval or 0) + (r.seconds_merge or 0) for r in records)
    return {
        "workers": workers,
        "trials": len(records),
        "searched": sum(r.is_searched for r in records),
        "failed": sum(r.status == "failed" for r in records),
        "wall_s": round(wall, 2),
        "total_s": round(total, 2),  # with starting the workers (loading the models)
        "utilisation": round(busy / (workers * wall), 3),
    }


# ------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--mean", type=float, default=1.0, help="mean seconds of a simulated evaluation")
    parser.add_argument("--sigma", type=float, default=1.0, help="lognormal spread (sigma of the log)")
    parser.add_argument("--population", type=int, default=16, help="generation size of the generation loop")
    parser.add_argument("--proposer", default="sobol")
    parser.add_argument("--cpus", type=float, default=2.0, help="CPUs of the local Ray instance")
    parser.add_argument("--loops", default="async,batch,generation")
    parser.add_argument("--real-workers", default="1,2")
    parser.add_argument("--real-trials", type=int, default=8)
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()

    import ray

    from mmmo.zoo import ZooConfig, build_zoo


    # Workers import mmmo, and this module's classes when it is imported rather than run.
    paths = (str(ROOT / "benchmarks"), str(ROOT), os.environ.get("PYTHONPATH", ""))
    pythonpath = os.pathsep.join(p for p in paths if p)
    ray.init(num_cpus=args.cpus, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1"}})
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "scale_out.jsonl"
    settings = {k: v for k, v in vars(args).items()}
    summary: dict = {"settings": settings, "simulated": {}, "real": {}}

    def record(kind: str, loop: str, result: dict) -> None:
        with log.open("a") as f:
            f.write(json.dumps({"kind": kind, "loop": loop, "settings": settings, **result}) + "\n")
        shown = {k: v for k, v in result.items() if k != "curve"}
        print(f"{kind} {loop}: {shown}", flush=True)

    zoo = build_zoo(ZooConfig.tiny(), progress=False)
    loops = args.loops.split(",")
    with tempfile.TemporaryDirectory() as folder:
        for workers in [int(w) for w in args.workers.split(",")]:
            for loop in loops:
                if loop != "async" and workers == 1:
                    continue  # on one worker every loop is the same schedule: one trial after another
                if loop == "async":
                    result = run_async(zoo, workers, args, Path(folder))
                else:
                    result = run_synchronous(zoo, workers, args, workers if loop == "batch" else args.population)
                summary["simulated"].setdefault(loop, {})[workers] = result
                record("simulated", loop, result)
        if not args.skip_real:
            for workers in [int(w) for w in args.real_workers.split(",")]:
                result = run_real(workers, args, Path(folder))
                summary["real"][workers] = result
                record("real", "async", result)
    ray.shutdown()

    simulated = summary["simulated"]
    out: dict = {"settings": settings, "simulated": {}, "real": summary["real"], "targets": {}}
    for loop, by_workers in simulated.items():
        for workers, result in by_workers.items():
            row = {k: v for k, v in result.items() if k != "curve"}
            base = simulated.get("async", {}).get(workers)
            if base is not None:
                times = [round(base["wall_s"] * q, 3) for q in (0.25, 0.5, 0.75, 1.0)]
                row["hv_at"] = {str(t): hv_at(result["curve"], t) for t in times}
            if loop == "async" and 1 in by_workers:
                row["speedup_vs_1"] = round(by_workers[1]["wall_s"] / result["wall_s"], 2)
            out["simulated"].setdefault(loop, {})[workers] = row
    most = max((int(w) for w in simulated.get("async", {})), default=None)
    if most is not None:
        best = out["simulated"]["async"][most]
        out["targets"] = {
            "workers": most,
            "utilisation_ge_0.9": best["utilisation"] >= 0.9,
            "speedup_ge_6": best.get("speedup_vs_1", 0) >= 6,
            "hv_not_lower_than_synchronous": all(
                best["hv_at"][t] >= out["simulated"][loop][most]["hv_at"][t] - 1e-9
                for loop in out["simulated"] if loop != "async" for t in best["hv_at"]
            ),
        }
    print(json.dumps(out))


def never_built(model, tokenizer) -> float:  # the simulated config's objectives; the workers never build them
    raise RuntimeError("simulated objectives are scored by SimulatedWorker")


if __name__ == "__main__":
    main()
