"""Records waiting for their caller's identity, held in bounded memory, then on disk.

The sink builds a hook's record as soon as it takes the capture, so nothing of the
caller's (parameters, a response's open stream) is held while STS is asked who the
caller is. Until the answer comes, the record carries a placeholder account (a random
12-digit string, wherever the account goes: ``recipientAccountId``, an ARN, a
resource owner); :func:`stamp` puts the identity in. Up to ``bound`` records wait in
memory; past it they go to the journal's awaiting segments (with a fingerprint of
their credentials, never the credentials), as records spill when Kafka is away, with
the same kind of warning.

A record waits at most ``identity_wait`` seconds; then it is delivered with what is
known of the caller (:func:`recorder.producer.identity.known_identity`: the access key
id and the account it carries). A record that waited in the journal of a process that
is gone is delivered that way at once (its credentials went with the process). One
whose account cannot be known at all stays in the journal, reported, never dropped.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder.obs.logging import get_logger
from recorder.producer.identity import Credentials, known_identity
from recorder.producer.journal import AwaitingJournal
from recorder.producer.record import Identity, fit

log = get_logger("recorder.producer")

#: How often a continuing wait for identities is reported again at warning level.
WARN_EVERY = 30.0


def placeholder() -> str:
    """A placeholder account id that no record holds by chance."""
    return f"9{secrets.randbelow(10**11):011d}"


def user_identity(identity: Identity) -> dict[str, Any]:
    """``userIdentity``; for an identity known only by its key (``Unknown``) no ARN or
    user name is made up."""
    if identity.type == "Unknown":
        out = {
            "type": "Unknown",
            "principalId": identity.principal_id or identity.access_key_id or "",
            "accountId": identity.account_id,
        }
        if identity.access_key_id:
            out["accessKeyId"] = identity.access_key_id
        return out
    return identity.user_identity()


#: The members of ``userIdentity`` that come from the identity; the others (e.g.
#: ``inScopeOf``) come from the call and are kept.
_IDENTITY_MEMBERS = frozenset(
    {"type", "principalId", "arn", "accountId", "accessKeyId", "userName", "sessionContext"}
)


def with_identity(user: Any, identity: Identity) -> dict[str, Any]:
    """``userIdentity`` of ``identity``, keeping what the call added to ``user``."""
    out = user_identity(identity)
    if isinstance(user, dict):
        out.update({k: v for k, v in user.items() if k not in _IDENTITY_MEMBERS})
    return out


def stamp(record: dict[str, Any], account: str, identity: Identity) -> dict[str, Any]:
    """The record with ``identity`` in place of the placeholder ``account`` (the
    recipient, ARNs, resource owners) and of the placeholder ``userIdentity``."""
    out = _replace(record, account, identity.account_id)
    out["userIdentity"] = with_identity(out.get("userIdentity"), identity)
    return fit(out)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new) if old in value else value
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


@dataclass(slots=True)
class Pending:
    record: dict[str, Any]
    placeholder: str
    fingerprint: str
    access_key: str | None
    region: str | None
    schema_version: int
    since: float  # epoch seconds: when it began to wait
    installation: Any = None  # in this process only
    #: "network": the record to send is the VPC endpoint owner's network activity event
    #: derived from this one (``event_id`` its eventID) once the identity is known
    derive: str | None = None
    event_id: str | None = None

    def to_json(self, token: str | None) -> dict[str, Any]:
        return {
            "fp": self.fingerprint,
            "ak": self.access_key,
            "region": self.region,
            "s": self.placeholder,
            "v": self.schema_version,
            "t": self.since,
            "i": token,
            "d": self.derive,
            "e": self.event_id,
            "r": self.record,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], installation: Any) -> Pending:
        return cls(
            doc["r"],
            str(doc["s"]),
            str(doc["fp"]),
            doc.get("ak"),
            doc.get("region"),
            int(doc.get("v", 1)),
            float(doc.get("t", 0.0)),
            installation,
            doc.get("d"),
            doc.get("e"),
        )


#: Finishes a waiting record with its identity: the encoded (key, value), or None when
#: it cannot be encoded (counted as a failed record by the sink).
Finish = Callable[[Pending, Identity], "tuple[bytes, bytes] | None"]


class Awaiting:
    """What waits for an identity: per credential set in memory, the rest in ``journal``."""

    def __init__(
        self,
        journal: AwaitingJournal,
        bound: int,
        identity_wait: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.bound = bound
        self.identity_wait = identity_wait
        self.clock = clock
        self._memory: dict[str, list[Pending]] = {}
        self.held = 0
        # fingerprint -> (credentials, resolver): in memory only, never written
        self._credentials: dict[str, tuple[Credentials, Any]] = {}
        # token -> installation, so that journaled records find theirs (on_record)
        self._installations: dict[str, Any] = {}
        self._spill: list[dict[str, Any]] = []
        self._in_journal: set[str] = set()  # fingerprints of journaled records
        self._journal_due = True  # something there may be resolvable now
        self._warned_at = 0.0
        self.unknowable = 0

    @property
    def count(self) -> int:
        return self.held + len(self._spill) + self.journal.records

    def _token(self, installation: Any) -> str | None:
        if installation is None:
            return None
        for token, inst in self._installations.items():
            if inst is installation:
                return token
        token = str(len(self._installations))
        self._installations[token] = installation
        return token

    def add(self, pending: Pending, credentials: Credentials, resolver: Any) -> None:
        self._credentials.setdefault(pending.fingerprint, (credentials, resolver))
        if self.held < self.bound:
            self._memory.setdefault(pending.fingerprint, []).append(pending)
            self.held += 1
        else:
            self._spill.append(pending.to_json(self._token(pending.installation)))
            self._in_journal.add(pending.fingerprint)

    def spill(self, journal_dir: str) -> int:
        """Write what went past the bound since the last call (one fsync for all)."""
        spilled, self._spill = self._spill, []
        if not spilled:
            return 0
        self.journal.append(spilled)
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "identity_unavailable",
                waiting_in_memory=self.held,
                journal_records=self.journal.records,
                journal_dir=journal_dir,
            )
        return len(spilled)

    def release_memory(self, finish: Finish) -> list[tuple[bytes, bytes]]:
        """Every record in memory whose identity is known now (or whose wait is over)."""
        out: list[tuple[bytes, bytes]] = []
        now = self.clock()
        for fp in list(self._memory):
            pendings = self._memory[fp]
            identity = self._identity(fp, pendings[0], now)
            if identity is None:
                continue
            del self._memory[fp]
            self.held -= len(pendings)
            self._journal_due = True
            for p in pendings:
                if (done := finish(p, identity)) is not None:
                    out.append(done)
        # the journal's credential sets are asked too, so their lookups go on
        for fp in self._in_journal - self._memory.keys():
            found = self._credentials.get(fp)
            if found is not None and found[1].resolve(found[0], None) is not None:
                self._journal_due = True
        return out

    @property
    def journal_due(self) -> bool:
        return self._journal_due and self.journal.records > 0

    def release_journal(
        self, finish: Finish, deliver: Callable[[list[tuple[bytes, bytes]]], None]
    ) -> int:
        """Read the awaiting segments once: what can be finished is handed to
        ``deliver`` (which makes it durable: sent or in the ready journal) before its
        segment is deleted; what still waits is written back. Returns how many left."""
        self._journal_due = False
        now = self.clock()
        left = 0
        in_journal: set[str] = set()
        for segment in self.journal.seal():
            ready: list[tuple[bytes, bytes]] = []
            keep: list[dict[str, Any]] = []
            for doc in self.journal.read(segment):
                try:
                    p = Pending.from_json(doc, self._installations.get(str(doc.get("i"))))
                except (KeyError, TypeError, ValueError):
                    continue  # not a record of ours: nothing to deliver
                identity = self._identity(p.fingerprint, p, now)
                if identity is None:
                    if p.fingerprint not in self._credentials:
                        self._unknowable(p)
                    keep.append(doc)
                    in_journal.add(p.fingerprint)
                    continue
                if (done := finish(p, identity)) is not None:
                    ready.append(done)
            deliver(ready)
            if keep:
                self.journal.append(keep)
            self.journal.done(segment)
            left += len(keep)
        self._in_journal = in_journal | {d["fp"] for d in self._spill}
        for fp in list(self._credentials):
            if fp not in self._memory and fp not in self._in_journal:
                del self._credentials[fp]
        return left

    def _identity(self, fp: str, p: Pending, now: float) -> Identity | None:
        found = self._credentials.get(fp)
        if found is None:
            # its credentials went with the process that wrote it: what is known, now
            return known_identity(Credentials(p.access_key or "", "", None))
        creds, resolver = found
        identity: Identity | None = resolver.resolve(creds, p.region)
        if identity is not None or now - p.since < self.identity_wait:
            return identity
        return known_identity(creds)

    def _unknowable(self, p: Pending) -> None:
        self.unknowable += 1
        if self.unknowable == 1 or self.unknowable % 1000 == 0:
            log.error(
                "identity_unknowable",
                access_key_id=p.access_key,
                records=self.unknowable,
                why="its credentials went with the process that recorded it and its access "
                "key id carries no account; it stays in the journal",
            )

    def spill_memory(self) -> None:
        """Everything in memory to the spill list (the sink stops: it goes to disk)."""
        for pendings in self._memory.values():
            for p in pendings:
                self._spill.append(p.to_json(self._token(p.installation)))
                self._in_journal.add(p.fingerprint)
        self._memory.clear()
        self.held = 0
