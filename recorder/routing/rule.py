"""The one routing rule: what the router service and ``recorder route`` both apply.

An event is routed by its routing fields (:mod:`recorder.events.routing_fields`:
the producer's signed ``recorder-route`` header, or the record's own), and its body is
decoded and admitted (:func:`recorder.provenance.admission.admit_body`) only when some
trail selects it: a body that is not what its header said, or that breaks the guide's
rules, is refused then, and reaches no trail. An event no trail selects is neither
decoded nor delivered, so a bad body nobody selects is not reported (it would reach
no trail either way). A refusal of the routing fields is named as the body names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from recorder.provenance.admission import Routable, admit_body
from recorder.selectors import RecordError
from recorder.trails.destination import Destination


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
    try:
        deliveries = engine.route(routable.fields, produced_ms)
    except RecordError:
        admit_body(routable)  # the body's own refusal, if it has one
        raise
    if deliveries:
        admit_body(routable)
    return deliveries
