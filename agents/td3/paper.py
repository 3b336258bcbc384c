"""The paper's DRL scheme (Section V-C, ref. [8]): a cell-wise TD3 sized to the active slice set.

Unlike :class:`agents.td3.TD3Agent`, whose fixed-width observation carries per-slice active flags,
this agent's cell observation is the features of the active slices only and its action one weight
per active slice, so the networks' shapes are tied to the slice set. When the set changes (slice 3
joins in H2) the old networks no longer fit: the agent builds fresh ones and an empty replay
buffer, explores randomly for ``reexplore_periods`` and trains again ("the DRL scheme needs to
retrain the model when the slice configuration changes", paper Section V-C). The benchmark report
shows the resulting recovery lag next to ``td3``.

Every cell must have the same active slice set (as on every shipped timeline).
"""

from __future__ import annotations

import numpy as np

from agents.base import SlicingSpec
from agents.td3.agent import TD3Agent
from agents.td3.vec_env import to_action

__all__ = ["TD3PaperAgent"]


class TD3PaperAgent(TD3Agent):
    """Cell-wise TD3 whose networks match the active slice set and are rebuilt when it changes."""

    name = "td3-paper"
    transfer = ()
    """Its networks fit one slice set: it cannot be deployed on another timeline untrained."""

    def _columns(self, active: np.ndarray) -> np.ndarray:
        """The active slice columns, the same in every cell."""
        if not (active == active[:1]).all():
            raise ValueError(
                "td3-paper sizes its networks to one slice set: every cell must have the same "
                "active slices"
            )
        return np.flatnonzero(active[0])

    def cell_dims(self, spec: SlicingSpec, active: np.ndarray) -> tuple[int, int]:
        """Features (without the active flag) and a weight per active slice."""
        n = len(self._columns(active))
        return n * (len(spec.feature_names) - 1), n * self._pairs(spec)

    def cell_obs(self, obs: np.ndarray, active: np.ndarray) -> np.ndarray:
        flag = self.spec.feature("active")
        features = [f for f in range(len(self.spec.feature_names)) if f != flag]
        block = np.asarray(obs, dtype=np.float32)[:, self._columns(active)][:, :, features]
        return block.reshape(self.spec.n_cells, -1)

    def shares(self, weights: np.ndarray, active: np.ndarray) -> np.ndarray:
        pairs, n = self._pairs(self.spec), active.shape[1]
        cols = np.concatenate([self._columns(active) + k * n for k in range(pairs)])
        full = np.zeros((active.shape[0], n * pairs))
        full[:, cols] = weights
        return to_action(full, active, pairs == 2)

    def on_slice_change(self, active: np.ndarray) -> None:
        """Fresh networks and buffer for the new slice set; explore, then train again."""
        if self.learning:  # ensure_model rebuilds the networks, re-explores and trains again
            self.ensure_model(active)
