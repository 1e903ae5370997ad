"""The one routing rule: what the router service and ``recorder route`` both apply.

An event is routed by its routing fields (:mod:`recorder.events.routing_fields`:
the producer's signed ``recorder-route`` header, or the record's own), and its body is
decoded and admitted (:func:`recorder.provenance.admission.admit_body`) only when some
trail selects it: a body that is not what its header said, or that breaks the guide's
rules, is refused then, and reaches no trail. An event no trail selects is neither
decoded nor delivered, so a bad body nobody selects is not reported (it would reach
no trail either way). A refusal of the routing fields is named as the body names it.

:func:`decide_all` applies the rule to a consumed batch one step at a time (every
event routed, then every selected body admitted) rather than one event at a time:
the same answers, but each step's code and data stay warm in the CPU's caches for the
whole batch, which made the router's own work a quarter cheaper (issue 29).
:func:`decide` is the same rule for one event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from recorder.events import EventDecodeError, InvalidEventError
from recorder.provenance.admission import Routable, admit_body
from recorder.provenance.keys import Rejected
from recorder.selectors import RecordError
from recorder.trails.destination import Destination

#: Why a record is refused: by admission (its producer's key, its bytes, the guide's
#: rules) or by routing (it cannot be routed).
Refusal = Rejected | EventDecodeError | InvalidEventError | RecordError


class Routes(Protocol):
    def route(
        self, record: Mapping[str, Any], produced_ms: int | None = None
    ) -> Sequence[Destination]: ...


def decide(
    engine: Routes, routable: Routable, produced_ms: int | None = None
) -> Sequence[Destination]:
    """The destinations of an admitted-for-routing record; raises what admission
    raises, or ``RecordError``. ``routable.record`` is the admitted body whenever the
    answer is not empty."""
    [decision] = decide_all(engine, [routable], [produced_ms])
    if isinstance(decision, Exception):
        raise decision
    return decision


def decide_all(
    engine: Routes, routables: Sequence[Routable], produced_ms: Sequence[int | None]
) -> list[Sequence[Destination] | Refusal]:
    """:func:`decide` for each record, in order: its destinations, or the refusal it
    would raise (an exception other than a refusal is a fault, and propagates)."""
    decisions: list[Sequence[Destination] | Refusal] = []
    append = decisions.append
    route = engine.route
    for routable, produced in zip(routables, produced_ms, strict=True):
        try:
            append(route(routable.fields, produced))
        except RecordError as exc:
            append(exc)
    for i, routable in enumerate(routables):
        decision = decisions[i]
        if not decision:
            continue  # no trail selects it: its body is never decoded
        try:
            admit_body(routable)  # a refused route's body may have its own refusal
        except (Rejected, EventDecodeError, InvalidEventError) as exc:
            decisions[i] = exc
    return decisions
