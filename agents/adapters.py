"""Adapters between our agents and other ecosystems' APIs.

stable-baselines3's ``evaluate_policy`` calls ``model.predict(obs, state, episode_start,
deterministic)`` on a VecEnv and never shows the model an ``info``; our agents decide with
``act(obs, info)`` because some need what the env says of the coming period (the traffic
baseline's ``demand_next``). :class:`SB3Policy` reads that from the env itself:

>>> env = make_env("small")
>>> policy = SB3Policy(TrafficAgent(), env)
>>> mean, std = evaluate_policy(policy, DummyVecEnv([lambda: env]), n_eval_episodes=1)

The agent is evaluated as it is (``act`` only: no ``observe``, so no learning).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from slicesim.rollout import Policy, SlicingSpec, check_env

__all__ = ["SB3Policy"]


class SB3Policy:
    """A stable-baselines3-style ``predict`` for an agent acting on one :class:`SlicingEnv`.

    Args:
        agent: any agent (``act(obs, info)``; ``reset(spec, seed)`` is called per episode).
        env: the env the VecEnv steps (the same object), so its coming-period info is read.
        seed: passed to the agent's ``reset`` at each episode start.
    """

    def __init__(self, agent: Policy, env: gym.Env, seed: int | None = None) -> None:
        self.agent, self.env, self.seed = agent, env, seed
        self.base = check_env(env)
        self.spec = SlicingSpec.from_env(env)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Shares for a batch of one observation ``(1, n_cells, n_slices, F)``: ``(action, state)``.

        Raises:
            ValueError: a batch of more than one env (the adapter reads one env's info).
        """
        obs = np.asarray(observation)
        batched = obs.ndim == 4
        if batched and obs.shape[0] != 1:
            raise ValueError(f"SB3Policy steps one env; got a batch of {obs.shape[0]} observations")
        if episode_start is None or bool(np.asarray(episode_start).any()):
            reset = getattr(self.agent, "reset", None)
            if callable(reset):
                reset(self.spec, self.seed)
        action = self.agent.act(obs[0] if batched else obs, self.base.decision_info())
        action = np.asarray(action, dtype=np.float32)
        return (action[None] if batched else action), state
