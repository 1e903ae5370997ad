"""Supervision: a failed service is restarted with backoff while the others keep running.

``recorder run all`` runs every stage in one process; one stage's failure (a
broker hiccup in the digester, a port taken from the API) must not take the
others down. Each service runs under :meth:`Supervisor.supervise`: a failure is
logged, counted (``recorder_service_restarts_total{service}``), reported by
``/readyz`` and followed by a restart after a growing backoff.

The same rule decides when a process gives up: a process that runs a single
stage (each Deployment of the Helm chart) exits after ``service_max_restarts``
failures in a row, so its orchestrator restarts it and shows the crash loop; a
process running several stages never gives up on one of them while the others
work. :class:`RestartPolicy` is that rule, pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.retry import backoff_ceiling
from recorder.settings import Settings

log = get_logger("recorder.supervise")


class ServiceGaveUp(RuntimeError):
    """A lone stage failed ``max_restarts`` times in a row: the process should exit."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    backoff: float = 1.0
    backoff_max: float = 60.0
    max_restarts: int = 5
    #: A run that lasted this long was healthy: the failure count starts again.
    healthy_after: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        return cls(
            backoff=settings.service_restart_backoff,
            backoff_max=settings.service_restart_backoff_max,
            max_restarts=settings.service_max_restarts,
        )

    def delay(self, failures: int) -> float:
        """Seconds before restart number ``failures`` (1, 2, ...): doubling, capped."""
        return backoff_ceiling(failures, base=self.backoff, cap=self.backoff_max)

    def gives_up(self, failures: int, *, alone: bool) -> bool:
        """Whether the process exits: only a lone stage, past ``max_restarts``."""
        return alone and failures > self.max_restarts

    def failures_after(self, failures: int, ran_for: float) -> int:
        """The count after one more failure of a run that lasted ``ran_for`` seconds."""
        return 1 if ran_for >= self.healthy_after else failures + 1


@dataclass
class _State:
    failures: int = 0
    error: str | None = None  # the last failure, while not recovered
    running_since: float | None = None


@dataclass
class Supervisor:
    policy: RestartPolicy
    metrics: Metrics
    stop: asyncio.Event
    #: After a restart, a service counts as recovered once it has run this long.
    settle: float = 5.0
    _states: dict[str, _State] = field(default_factory=dict)

    async def supervise(
        self, name: str, runner: Callable[[], Awaitable[None]], *, alone: bool
    ) -> None:
        """Run ``runner`` until ``stop``; restart it when it fails (or returns early).

        Raises :class:`ServiceGaveUp` when the policy says the process should exit.
        """
        st = self._states.setdefault(name, _State())
        self.metrics.service_restarts.labels(name)  # at 0: alerts take its increase()
        while not self.stop.is_set():
            started = time.monotonic()
            st.running_since = started
            try:
                await runner()
                if self.stop.is_set():
                    return
                raise RuntimeError(f"{name} returned before the process was stopped")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                st.running_since = None
                if self.stop.is_set():
                    log.warning("service_failed_while_stopping", service=name, error=repr(exc))
                    return
                st.failures = self.policy.failures_after(st.failures, time.monotonic() - started)
                st.error = f"{type(exc).__name__}: {exc}"[:500]
                log.error(
                    "service_failed",
                    service=name,
                    error=repr(exc),
                    failures=st.failures,
                    exc_info=exc,
                )
                if self.policy.gives_up(st.failures, alone=alone):
                    raise ServiceGaveUp(f"{name} failed {st.failures} times in a row") from exc
                delay = self.policy.delay(st.failures)
                self.metrics.service_restarts.labels(name).inc()
                log.warning("service_restarting", service=name, after_seconds=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)

    def failing(self) -> dict[str, str]:
        """Services whose last run failed and which have not run ``settle`` seconds since."""
        now = time.monotonic()
        out = {}
        for name, st in self._states.items():
            if st.error is None:
                continue
            if st.running_since is not None and now - st.running_since >= self.settle:
                st.error = None  # recovered
                continue
            out[name] = st.error
        return out
