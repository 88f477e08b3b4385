"""Time spent in training steps, for `train.budget_seconds` and the checkpoint's `clock`.

`TrainingClock` adds up, over the steps of a run (and across resumes, through the checkpoint),
the wall-clock and the process CPU seconds (`time.process_time()`: all threads of this process)
spent fetching batches and taking optimizer steps; validation, media and checkpoint writing are
not counted. Process CPU time is the steadier measure on a shared machine, provided the thread
count is fixed (`torch.set_num_threads`).
"""

from __future__ import annotations

import time

CLOCKS = ("process", "wall")


class TrainingClock:
    """Accumulated `wall_s` and `process_s` of the timed sections."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.process_s = 0.0
        self._started: tuple[float, float] | None = None

    def start(self) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def stop(self) -> None:
        if self._started is None:
            return
        wall, cpu = self._started
        self.wall_s += time.perf_counter() - wall
        self.process_s += time.process_time() - cpu
        self._started = None

    def seconds(self, clock: str) -> float:
        """Seconds so far on `clock` ("process" or "wall")."""
        return self.process_s if clock == "process" else self.wall_s

    def state_dict(self) -> dict[str, float]:
        return {"wall_s": self.wall_s, "process_s": self.process_s}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.wall_s = float(state.get("wall_s", 0.0))
        self.process_s = float(state.get("process_s", 0.0))
