"""The unit of work of every experiment - one agent on one scenario with one seed - and the
executors that run many (a local process pool, a Ray cluster); :class:`RunOptions`, how a bench
or a sweep runs its jobs."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import Manager
from pathlib import Path
from queue import Empty
from typing import Any

import gymnasium as gym
from tqdm import tqdm

from slicesim.experiments.claims import claimed, live_claim
from slicesim.experiments.registry import agent_class, agent_label, agent_role, make_agent
from slicesim.io import atomic_write
from slicesim.rollout import ORACLE_DRAWS

__all__ = [
    "Job",
    "RunOptions",
    "execute",
    "job_periods",
    "run_job",
    "run_local",
    "run_ray",
    "seed_list",
]


WAIT_S = 2.0
"""How often a process waiting for runs that others compute looks again."""


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """The seeds of a bench or sweep: a count N means 0..N-1, a sequence is taken as given.

    Raises:
        ValueError: a count below 1, an empty list, a negative, non-integer or repeated seed.
    """
    if isinstance(seeds, bool):
        raise ValueError(f"--seeds = {seeds!r}: give a count (3) or a list of seeds (5,7,11)")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"--seeds = {seeds} is out of range: allowed a count >= 1 or a list")
        return list(range(seeds))
    out = list(seeds)
    if not out:
        raise ValueError("--seeds: the list of seeds is empty")
    for seed in out:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"--seeds: {seed!r} is not a seed (allowed: whole numbers >= 0)")
    if len(set(out)) != len(out):
        raise ValueError(f"--seeds: {out} repeats a seed")
    return out


@dataclass(frozen=True)
class RunOptions:
    """How a bench or a sweep runs: the timeline, the executor and the oracles' options.

    Attributes:
        quick: timelines compressed to 450 periods, windows of at most 10 s.
        periods: compress the timeline to this many periods (phases scaled).
        executor: ``local`` (a process pool) or ``ray``.
        address: the Ray cluster's address (None: a local Ray instance).
        workers: runs side by side (local pool) or Ray CPUs.
        oracle_draws: K of the stochastic simulator oracle (default: the converged
            :data:`~slicesim.rollout.ORACLE_DRAWS`).
        oracle_every: the simulator oracles evaluate every k-th period; all agents are scored
            on those periods (None: :func:`~slicesim.rollout.default_every`, every
            :data:`~slicesim.rollout.ORACLE_EVERY`-th, less on short timelines).
        csv: also write each run's ``trajectory.csv``.
        progress: show progress bars.
    """

    quick: bool = False
    periods: int | None = None
    executor: str = "local"
    address: str | None = None
    workers: int = 2
    oracle_draws: int = ORACLE_DRAWS
    oracle_every: int | None = None
    csv: bool = False
    progress: bool = True


@dataclass(frozen=True)
class Job:
    """One run: an agent on a scenario with a seed; results go to ``folder``.

    ``options`` are the agent's settings (dotted fields, :func:`~slicesim.experiments.registry.
    agent_config`). ``load_from`` deploys an agent saved by another job (transfer), learning on
    (``learn``) or frozen; ``save_to`` saves the agent after the run (pretraining).
    """

    scenario: str
    overrides: dict[str, Any]
    agent: str
    seed: int
    folder: str
    options: dict[str, Any] = field(default_factory=dict)
    csv: bool = False
    progress: bool = False
    label: str = ""
    load_from: str | None = None
    learn: bool = False
    save_to: str | None = None

    @property
    def done_file(self) -> Path:
        return Path(self.folder) / "summary.json"

    @property
    def name(self) -> str:
        """The agent's name in reports."""
        return self.label or agent_label(self.agent)

    def fingerprint(self) -> dict[str, Any]:
        """What makes the run's results (not how it shows progress or writes CSV)."""
        return json.loads(
            json.dumps(
                {k: v for k, v in asdict(self).items() if k not in ("progress", "csv")}, default=str
            )
        )

    def finished(self) -> bool:
        """Whether the run is done with these very settings.

        Raises:
            ValueError: the folder holds a finished run made with other settings (mixing them
                would make the report wrong): use another ``--out``.
        """
        if not self.done_file.is_file():
            return False
        made, now = Path(self.folder) / "job.json", self.fingerprint()
        before = json.loads(made.read_text()) if made.is_file() else {}
        if before != now:
            diff = sorted(k for k in now if before.get(k) != now[k])
            raise ValueError(
                f"{self.folder} holds a run made with other settings ({', '.join(diff)}): "
                "give another --out (or remove it) to run with these"
            )
        return True


def job_periods(job: Job) -> int:
    """The periods a job runs: its scenario's timeline, overrides included."""
    from slicesim.config import load_scenario

    return load_scenario(job.scenario, job.overrides).timeline.n_periods


class _Ticks(gym.Wrapper):  # type: ignore[type-arg]
    """Counts the periods a run steps and reports them to ``report`` (a callable, or a queue
    shared with the main process) at most every ``every_s`` seconds; :meth:`flush` sends the
    rest. Spaces and the env under it are unchanged (``agents.run`` accepts the wrapper)."""

    def __init__(self, env: gym.Env, report: Any, every_s: float = 0.25) -> None:
        super().__init__(env)
        self.report = report.put if hasattr(report, "put") else report
        self.every_s, self.count, self.sent = every_s, 0, time.monotonic()

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self.count += 1
        if time.monotonic() - self.sent >= self.every_s:
            self.flush()
        return out

    def flush(self) -> None:
        if self.count:
            self.report(self.count)
        self.count, self.sent = 0, time.monotonic()


def _build_agent(job: Job) -> Any:
    if job.load_from is None:
        return make_agent(job.agent, job.options)
    cls = agent_class(job.agent)
    if job.learn:  # declared transfer "online": load(path, learn=True) keeps learning
        return cls.load(job.load_from, learn=True)
    return cls.load(job.load_from)


def run_job(job: Job, ticks: Callable[[int], Any] | Any = None) -> dict[str, Any]:
    """Run one job in this process and write its results (the unit of work of every executor).

    Args:
        job: the run.
        ticks: where to report the periods done as they run: a callable taking a count, or a
            queue (``put``) shared with the process that shows the progress; None: nowhere.
    """
    with claimed(job.folder) as mine:
        if not mine or job.finished():  # another process computes it, or has computed it
            return {"agent": job.name, "seed": job.seed, "seconds": 0.0, "ran": False}
        return _run(job, ticks)


def _run(job: Job, ticks: Callable[[int], Any] | Any) -> dict[str, Any]:
    """:func:`run_job` once the run is claimed."""
    import torch

    from slicesim.envs import make_env
    from slicesim.rollout import run

    torch.set_num_threads(1)  # jobs run side by side: one thread each avoids oversubscription
    start = time.perf_counter()
    agent = _build_agent(job)
    env = make_env(job.scenario, job.overrides)
    if ticks is not None:
        env = _Ticks(env, ticks)
    trajectory = run(env, agent, progress=job.progress, seed=job.seed)
    if isinstance(env, _Ticks):
        env.flush()
    trajectory.agent = job.name
    folder = Path(job.folder)
    save_artifacts = getattr(agent, "save_artifacts", None)  # agents.base.Agent.save_artifacts
    if callable(save_artifacts):
        save_artifacts(folder)
    if job.save_to is not None:
        agent.save(job.save_to)
    seconds = time.perf_counter() - start
    trajectory.meta["seconds"] = seconds
    with atomic_write(folder / "job.json") as fh:
        json.dump(job.fingerprint(), fh, indent=2)
    trajectory.save(folder, csv=job.csv)  # summary.json last: it marks the run as finished
    return {"agent": trajectory.agent, "seed": job.seed, "seconds": seconds, "ran": True}


def execute(
    jobs: Sequence[Job],
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the jobs that have not finished yet, on the local process pool or Ray; the
    simulator oracles' runs (the longest by far) start first, so that the others fill the
    workers around them. A run that another process has claimed (:mod:`slicesim.experiments.
    claims`) is left to it and waited for (taken over if that process dies), so that several
    processes share one folder's runs, each computed once.

    Returns:
        What each run this process computed returned.
    """
    done: list[dict[str, Any]] = []
    waited = False
    while True:
        todo = [job for job in jobs if not job.finished()]
        if not todo:
            return [r for r in done if r.get("ran", True)]
        free = [job for job in todo if not live_claim(job.folder)]
        if not free:  # every run left is being computed by another process: wait for it
            if progress and not waited:
                print(f"waiting for {len(todo)} runs another process is computing", flush=True)
            waited = True
            time.sleep(WAIT_S)
            continue
        free.sort(key=lambda job: agent_role(job.agent) not in ("yardstick", "bound"))  # stable
        if executor == "ray":
            done += run_ray(free, workers, address, progress)
        else:
            done += run_local(free, workers, progress)


def run_local(jobs: Sequence[Job], workers: int, progress: bool = True) -> list[dict[str, Any]]:
    """Run jobs in a local process pool (in this process when there is one worker).

    With ``progress`` one bar counts the periods of all runs as they are simulated (the workers
    report them every quarter of a second), the runs done beside it.
    """
    show = progress and bool(jobs)
    total = sum(job_periods(job) for job in jobs) if show else 0
    bar = tqdm(total=total, desc=f"{len(jobs)} runs", unit="period", disable=not show)
    done: list[dict[str, Any]] = []

    def finished(result: dict[str, Any]) -> None:
        done.append(result)
        bar.set_postfix_str(f"{len(done)}/{len(jobs)} runs done", refresh=True)

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            finished(run_job(job, bar.update if show else None))
    else:
        with (
            Manager() as manager,
            ProcessPoolExecutor(max_workers=workers, initializer=one_thread) as pool,
        ):
            queue = manager.Queue() if show else None
            pending = {pool.submit(run_job, job, queue) for job in jobs}
            while pending:
                ready, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(queue, bar)
                for future in ready:
                    finished(future.result())
            _drain(queue, bar)
    bar.close()
    return done


def one_thread() -> None:
    """A worker that runs beside others computes on one thread: the compiled engine's draws
    (numba) and torch each take one core, so that the workers do not oversubscribe them."""
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(ImportError):
        import numba

        numba.set_num_threads(1)


def _ray_job(job: Job) -> dict[str, Any]:
    """:func:`run_job` as a Ray task of one CPU."""
    one_thread()
    return run_job(job)


def _drain(queue: Any, bar: Any) -> None:
    """Move the periods the workers reported onto the bar."""
    if queue is None:
        return
    while True:
        try:
            bar.update(queue.get_nowait())
        except Empty:
            return


def run_ray(
    jobs: Sequence[Job], workers: int, address: str | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Run jobs as Ray tasks (``address``: an existing cluster; None: a local Ray instance)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "--executor ray needs Ray: pip install 'slicesim[ray]' (or pip install ray)"
        ) from None
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_ray_job)
        pending = [task.remote(job) for job in jobs]
        done = []
        with tqdm(total=len(jobs), desc="bench", unit="run", disable=not progress) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done.extend(ray.get(ready))
                bar.update(len(ready))
        return done
    finally:
        if started:
            ray.shutdown()
