"""Log file integrity: hourly signed digests, their chain, signing keys, and validation.

Everything here is pure (bytes and dataclasses in, bytes and dataclasses out):
the digester service feeds it ``delivered`` manifests and writes what it
returns to S3; ``recorder validate`` drives :class:`LogValidation` over S3.
Behaviour: guide lines 7848-8420, and awscli's ``cloudtrail/validation.py``,
which must accept every digest produced here unchanged.
"""

from recorder.integrity.chain import (
    ChainState,
    DigestArtifact,
    StaleWindowError,
    next_backfill,
    next_digest,
    state_from_digest,
)
from recorder.integrity.digest import DIGEST_FIELDS, DigestWindow, PreviousDigest, build_digest
from recorder.integrity.envelope import EnvelopeError, encrypted_data_key
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import digest_chain, digest_folder, digest_key
from recorder.integrity.signing import (
    SIGNATURE_ALGORITHM,
    KeyRing,
    NoSigningKeyError,
    PublicKey,
    Signer,
    SigningKey,
    string_to_sign,
)
from recorder.integrity.validator import (
    DigestStore,
    LogValidation,
    Output,
    StoredObject,
    ValidationRequest,
    ValidationResult,
    validate_logs,
)

__all__ = [
    "DIGEST_FIELDS",
    "SIGNATURE_ALGORITHM",
    "ChainState",
    "DigestArtifact",
    "DigestStore",
    "DigestWindow",
    "EnvelopeError",
    "KeyRing",
    "LogFileManifest",
    "LogValidation",
    "NoSigningKeyError",
    "Output",
    "PreviousDigest",
    "PublicKey",
    "Signer",
    "SigningKey",
    "StaleWindowError",
    "StoredObject",
    "ValidationRequest",
    "ValidationResult",
    "build_digest",
    "digest_chain",
    "digest_folder",
    "digest_key",
    "encrypted_data_key",
    "next_backfill",
    "next_digest",
    "state_from_digest",
    "string_to_sign",
    "validate_logs",
]
