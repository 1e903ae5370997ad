"""Where a record comes from, and whether that source may write it.

In CloudTrail a record comes from AWS itself; here it comes from tenants'
applications, so the trust boundary is built here. Every producer holds a key
(:mod:`recorder.provenance.keys`: the operator's producers file, the accounts each
producer may write for, two keys at once for rotation) and signs each record it
sends: an HMAC over the record's Kafka key and value bytes, in two Kafka headers
(:mod:`recorder.provenance.signature`). Whatever reads ``api-events`` admits a
record through one function, :func:`recorder.provenance.admission.admit`: the
signature over the bytes first, then the decoding, the guide's rules and the
accounts the record names. A record refused there reaches no trail.
"""

from recorder.provenance.admission import Admitted, admit, admit_record
from recorder.provenance.keys import ProducerKey, ProducerKeys, Rejected
from recorder.provenance.signature import KEY_ID_HEADER, SIGNATURE_HEADER, sign

__all__ = [
    "KEY_ID_HEADER",
    "SIGNATURE_HEADER",
    "Admitted",
    "ProducerKey",
    "ProducerKeys",
    "Rejected",
    "admit",
    "admit_record",
    "sign",
]
