"""The Ray executor: one Ray actor per worker, each with its own evaluator and live model.

``executor: {kind: ray, address: local | auto | HOST:PORT | ray://HOST:PORT,
workers: N, gpus_per_worker: G, cpus_per_worker: C}``.

- ``local`` starts a Ray instance on this machine (or uses the one this
  process already started with ``ray.init``); ``auto`` joins the cluster
  that ``ray start`` runs on this machine; an address joins that cluster.
  An address is first checked with a short connection attempt, so one that
  cannot be reached is an error naming it before any trial starts.
- Each actor builds a :class:`~mmmo.evaluation.TrialEvaluator` from the
  campaign's config (JSON) and reads the models from the config's paths,
  which every node must see. It receives requests (plans, never weights)
  and sends back outcomes; only the campaign process writes the store.
- A worker that dies (killed, crashed, out of memory) is replaced by a new
  actor at once; calls sent to it wait until it is built. Ray never re-runs
  a call on its own, so the campaign sees the loss and re-queues the trial
  itself, exactly once per death.
"""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from mmmo.config import CampaignConfig
from mmmo.errors import ConfigError, ExecutorError
from mmmo.evaluation.messages import TrialOutcome, TrialRequest

__all__ = ["RayExecutor", "check_reachable", "import_ray"]

logger = logging.getLogger(__name__)

# Seconds to wait for a TCP connection to a cluster's address before calling it unreachable.
CONNECT_TIMEOUT = 5.0
_DEFAULT_PORTS = {"ray": 10001, "": 6379}


def import_ray() -> Any:
    """The ``ray`` module, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "executor.kind: 'ray' needs Ray, which is not installed; install the extra: pip install 'mmmo[ray]'"
        ) from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise :class:`ExecutorError` naming ``address`` unless a TCP connection to it opens in ``timeout`` s."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme, 6379)
    except ValueError as exc:
        raise ExecutorError(f"executor.address: {address!r} is not HOST:PORT or ray://HOST:PORT ({exc})") from None
    if not host:
        raise ExecutorError(f"executor.address: {address!r} is not HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ExecutorError(
            f"executor.address: cannot reach the Ray cluster at {address} ({host}:{port}: {exc}); "
            f"is 'ray start --head' running there, and is the port open?"
        ) from None


class _Worker:
    """The actor: one evaluator, built once, answering JSON requests with JSON outcomes."""

    def __init__(self, config_json: str, threads: int, data_seed: int = 0) -> None:
        import torch

        from mmmo.evaluation.evaluator import TrialEvaluator

        torch.set_num_threads(threads)
        self._evaluator = TrialEvaluator.from_json(config_json, data_seed=data_seed)

    def identity(self) -> tuple[str, tuple[str, ...]]:
        return self._evaluator.worker, self._evaluator.directions

    def evaluate(self, request_json: str) -> str:
        return self._evaluator.evaluate(TrialRequest.from_json(request_json)).to_json()


class RayExecutor:
    """Run trials on ``config.executor.workers`` Ray actors (see the module docs).

    Args:
        config: The campaign config.
        worker_class: The actor's class: built as ``worker_class(config_json,
            threads, *worker_args)``, with ``identity() -> (name, directions)``
            and ``evaluate(request_json) -> outcome_json``. The default builds a
            :class:`~mmmo.evaluation.TrialEvaluator`; benchmarks put a
            simulated evaluation in its place.
        worker_args: Further arguments of ``worker_class``.
    """

    def __init__(self, config: CampaignConfig, worker_class: type | None = None, worker_args: tuple = ()) -> None:
        self.config = config
        self._worker_class = worker_class or _Worker
        self._worker_args = tuple(worker_args)
        self.spec = config.executor
        self.workers = self.spec.workers
        self.lookahead = 1
        self._ray: Any = None
        self._connected_here = False
        self._actors: list[Any] = []
        self._names: list[str | None] = []
        self._busy: dict[Any, tuple[int, TrialRequest]] = {}  # object ref -> (worker slot, request)

    # -- starting ------------------------------------------------------------

    def start(self) -> tuple[str, ...]:
        ray = self._ray = import_ray()
        self._connect(ray)
        self._check_resources(ray)
        self._actor_class = ray.remote(
            num_cpus=self.spec.cpus_per_worker,
            num_gpus=self.spec.gpus_per_worker,
            max_restarts=0,
            max_task_retries=0,
        )(self._worker_class)
        self._actors = [self._new_actor() for _ in range(self.workers)]
        try:
            identities = ray.get([a.identity.remote() for a in self._actors])
        except ray.exceptions.RayError as exc:
            self.close()
            raise ExecutorError(f"executor: a Ray worker could not build its evaluator: {_last_line(exc)}") from None
        self._names = [name for name, _ in identities]
        logger.info("Ray workers ready: %s", ", ".join(self._names))
        return identities[0][1]

    def _new_actor(self) -> Any:
        threads = max(1, int(self.spec.cpus_per_worker))
        return self._actor_class.remote(self.config.model_dump_json(), threads, *self._worker_args)

    def _restart(self, slot: int) -> None:
        """Replace worker ``slot`` by a new actor (a fresh process, model and objectives)."""
        try:
            self._ray.kill(self._actors[slot], no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._actors[slot] = self._new_actor()
        self._names[slot] = None

    def _connect(self, ray: Any) -> None:
        address = self.spec.address
        if address not in ("local", "auto"):
            check_reachable(address)
        if ray.is_initialized():
            logger.info("using the Ray instance this process already started")
            return
        try:
            if address == "local":
                ray.init(include_dashboard=False)
            else:
                ray.init(address=address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorError(f"executor.address: cannot join the Ray cluster at {address!r}: {exc}") from None
        self._connected_here = True

    def _check_resources(self, ray: Any) -> None:
        """Refuse a worker count the cluster cannot place (the actors would wait forever)."""
        total = ray.cluster_resources()
        for resource, per_worker in (("CPU", self.spec.cpus_per_worker), ("GPU", self.spec.gpus_per_worker)):
            need = per_worker * self.workers
            if need > total.get(resource, 0.0) + 1e-9:
                raise ExecutorError(
                    f"executor: {self.workers} workers x {per_worker:g} {resource} need {need:g} {resource}s; "
                    f"the Ray cluster at {self.spec.address!r} has {total.get(resource, 0.0):g}"
                )

    # -- running ------------------------------------------------------------

    def free(self) -> int:
        return self.workers - len(self._busy)

    def submit(self, request: TrialRequest) -> str:
        busy = {slot for slot, _ in self._busy.values()}
        slot = next(s for s in range(self.workers) if s not in busy)
        # A new actor takes the call once it is built (Ray queues it); its
        # name is known from its first outcome.
        self._busy[self._actors[slot].evaluate.remote(request.to_json())] = (slot, request)
        return self._names[slot] or f"worker {slot} (starting)"

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        if not self._busy:
            return []
        ray = self._ray
        ready, _ = ray.wait(list(self._busy), num_returns=1, timeout=timeout)
        if ready:  # and any others that are done too
            ready, _ = ray.wait(list(self._busy), num_returns=len(self._busy), timeout=0)
        return [self._collect(ref) for ref in ready]

    def _collect(self, ref: Any) -> TrialOutcome:
        ray = self._ray
        slot, request = self._busy.pop(ref)
        name = self._names[slot] or f"worker {slot} (starting)"
        try:
            outcome = TrialOutcome.from_json(ray.get(ref))
        except ray.exceptions.OutOfMemoryError as exc:  # Ray's memory monitor killed it
            self._restart(slot)
            return TrialOutcome(request.trial_id, "failed", error=f"out of memory: {exc}", worker=name,
                                out_of_memory=True)
        except ray.exceptions.RayActorError as exc:
            self._restart(slot)
            if "running low on memory" in str(exc):  # killed by Ray's memory monitor
                return TrialOutcome(request.trial_id, "failed", error=f"out of memory: {_first_line(exc)}",
                                    worker=name, out_of_memory=True)
            return TrialOutcome.lost(request.trial_id, name, f"worker {name} died: {_first_line(exc)}")
        except ray.exceptions.RayError as exc:  # the call itself raised: a bug, stored as the trial's failure
            return TrialOutcome(request.trial_id, "failed", error=f"worker {name}: {_first_line(exc)}", worker=name)
        self._names[slot] = outcome.worker
        if outcome.out_of_memory:
            # Its live model may be half written: replace it before it takes another trial.
            self._restart(slot)
        return outcome

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for actor in self._actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors, self._busy = [], {}
        if self._connected_here and ray.is_initialized():
            ray.shutdown()
        self._connected_here = False


def _last_line(exc: BaseException) -> str:
    """The root cause of a remote traceback: its last line (``module.Error: message``)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
