"""One action, several accounts: ``sharedEventID`` and each copy's own ``eventID``.

"Each CloudTrail event delivered for this AWS action shares the same sharedEventID,
but also has a unique eventID and recipientAccountId"; "the sharedEventID field is
present only when CloudTrail events are delivered to multiple accounts" (guide line
11650). Both are derived from the action's ``eventID`` (UUID version 5), never drawn
at random: a replay of the same record after a crash gives the same copies, so the
writer's idempotent keys and eventID de-duplication keep working.

The copy for the account the action occurred in (``recipientAccountId`` of the
record) keeps the original ``eventID``; the copy for any other account gets one
derived from the original and that account.
"""

from __future__ import annotations

import uuid

#: Fixed namespace of recorder's derived identifiers (a random UUID, chosen once).
NAMESPACE = uuid.UUID("5f0c6c1e-8a57-4c39-9a0e-2f1d7c3b9e41")


def shared_event_id(event_id: str) -> str:
    """The ``sharedEventID`` of every copy of the action ``event_id`` names."""
    return str(uuid.uuid5(NAMESPACE, f"shared/{event_id}"))


def copy_event_id(event_id: str, recipient: str, account_id: str) -> str:
    """The ``eventID`` of the copy delivered to ``account_id``: the original for the
    account the action occurred in, a derived one for any other."""
    if account_id == recipient:
        return event_id
    return str(uuid.uuid5(NAMESPACE, f"copy/{event_id}/{account_id}"))
