"""What ``aws cloudtrail validate-logs`` checks, as a core with the I/O passed in.

This is a port of awscli's ``customizations/cloudtrail/validation.py``
(``DigestProvider``, ``DigestTraverser``, ``Sha256RSADigestValidator`` and the
command's reporting), kept close to it on purpose: ``recorder validate`` must
say what the real CLI says about the same bucket, line for line, with the same
exit status. The walk starts at the newest digest in range and follows each
digest's ``previousDigestS3Object`` link back in time; a digest that is
missing, altered or unsigned is reported, and the walk resumes at the next
older digest found by listing. A digest's log files are checked only if the
digest itself is valid.

The caller provides S3 listing and reads (:class:`DigestStore`), log file reads
(``fetch_log``) and ListPublicKeys (``public_keys``), so a thin boto3 wrapper,
an in-memory test double or an offline copy can all drive it.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from recorder.aws.arn import arn_or_none
from recorder.integrity.naming import (
    digest_chain,
    digest_folder,
    digest_key,
    digest_key_pattern,
    digest_key_time,
    is_backfill_key,
)
from recorder.integrity.signing import PublicKey, string_to_sign
from recorder.integrity.times import format_key_time, format_time, parse_time, utc
from recorder.trails.destination import Destination

_REQUIRED_DIGEST_KEYS = (
    "digestPublicKeyFingerprint",
    "digestS3Bucket",
    "digestS3Object",
    "previousDigestSignature",
    "digestEndTime",
    "digestStartTime",
)


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes  # as stored: gzip
    metadata: Mapping[str, str] = field(default_factory=dict)  # S3 user metadata


class DigestStore(Protocol):
    def list_keys(self, bucket: str, prefix: str, marker: str) -> Iterable[str]:
        """S3 ListObjects: keys under ``prefix`` after ``marker``, in key order (lazily is fine)."""
        ...

    def get(self, bucket: str, key: str) -> StoredObject | None:
        """The object, or None for NoSuchKey. Other failures should raise."""
        ...


#: ListPublicKeys(StartTime, EndTime) -> the keys in range.
PublicKeySource = Callable[[dt.datetime, dt.datetime], Iterable[PublicKey]]
#: GetObject of a log file: its stored (gzip) bytes, or None for NoSuchKey.
LogFetcher = Callable[[str, str], bytes | None]


@dataclass(frozen=True, slots=True)
class ValidationRequest:
    """validate-logs' arguments, with what it looks up already resolved.

    ``bucket``/``prefix`` are ``--s3-bucket``/``--s3-prefix`` or the trail's
    ``S3BucketName``/``S3KeyPrefix``; ``organization_id`` is set for an
    organization trail (then ``account_id`` is the member account, required).
    ``source_region`` is the CLI's region (the digests' region); it defaults
    to the trail's home region, as the CLI does without ``--region``.
    """

    trail_arn: str
    start_time: dt.datetime
    end_time: dt.datetime
    bucket: str
    prefix: str | None = None
    account_id: str | None = None
    organization_id: str | None = None
    source_region: str | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_time", utc(self.start_time))
        object.__setattr__(self, "end_time", utc(self.end_time))
        if self.start_time > self.end_time:
            raise ValueError("Invalid time range specified: start-time must occur before end-time")
        if self.organization_id and not self.account_id:
            raise ValueError("Missing required parameter for organization trail: '--account-id'")

    @property
    def chain(self) -> Destination:
        arn = arn_or_none(self.trail_arn)  # a bad one is digest_chain's error, in the CLI's words
        chain = Destination(
            trail_arn=self.trail_arn,
            account_id=self.account_id or (arn.account if arn is not None else ""),
            region=self.source_region or (arn.region if arn is not None else ""),
            org_id=self.organization_id,
        )
        return digest_chain(chain)


@dataclass(frozen=True, slots=True)
class Output:
    """One write of validate-logs, to the stream it writes it to, newlines included."""

    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True, slots=True)
class ValidationResult:
    exit_code: int  # 0 valid, 1 something INVALID, 255 the run failed (no public keys)
    stdout: str
    stderr: str
    valid_digests: int
    invalid_digests: int
    valid_logs: int
    invalid_logs: int


class NoPublicKeysError(RuntimeError):
    pass


class DigestError(ValueError):
    """A digest failed; the message is the line validate-logs prints for it."""


def _invalid(bucket: str, key: str, reason: str) -> DigestError:
    return DigestError(f"Digest file\ts3://{bucket}/{key}\tINVALID: {reason}")


class _Missing(Exception):
    pass


class LogValidation:
    """One validate-logs run. Iterate :meth:`run` to stream output; then read the counters."""

    def __init__(
        self,
        request: ValidationRequest,
        digests: DigestStore,
        public_keys: PublicKeySource,
        fetch_log: LogFetcher,
        *,
        find_gaps: bool = False,
    ) -> None:
        self.request = request
        #: Report runs of consecutive deleted digests, which the CLI misses.
        self.find_gaps = find_gaps
        self._chain = request.chain
        self._store = digests
        self._list_public_keys = public_keys
        self._fetch_log = fetch_log
        self._listed: dict[tuple[str, str | None], tuple[list[str], list[str]]] = {}
        self.valid_digests = 0
        self.invalid_digests = 0
        self.valid_backfill_digests = 0
        self.invalid_backfill_digests = 0
        self.valid_logs = 0
        self.invalid_logs = 0
        self.failed = False
        self._double_spaced = True
        self._found_start: dt.datetime | None = None
        self._found_end: dt.datetime | None = None

    @property
    def exit_code(self) -> int:
        if self.failed:
            return 255
        invalid = self.invalid_digests + self.invalid_backfill_digests
        return 1 if invalid or self.invalid_logs else 0

    def run(self) -> Iterator[Output]:
        r = self.request
        yield Output(
            "stdout",
            f"Validating log files for trail {r.trail_arn} between "
            f"{format_time(r.start_time)} and {format_time(r.end_time)}\n\n",
        )
        try:
            for backfill in (False, True):
                yield from self._validate_chain(backfill)
        except NoPublicKeysError as exc:
            # The CLI lets this escape and its driver prints it: exit 255, no summary.
            self.failed = True
            yield Output("stderr", f"\n{exc}\n")
            return
        yield from self._summary()

    # -- reporting, as CloudTrailValidateLogs does it --------------------------------

    def _status(self, message: str, is_error: bool = False) -> Iterator[Output]:
        if is_error:
            text = f"{message}\n\n" if self._double_spaced else f"\n{message}\n\n"
            self._double_spaced = True
            yield Output("stderr", text)
        elif self.request.verbose:
            self._double_spaced = False
            yield Output("stdout", f"{message}\n")

    def _summary(self) -> Iterator[Output]:
        r = self.request
        out = "" if self._double_spaced else "\n"
        out += f"Results requested for {format_time(r.start_time)} to {format_time(r.end_time)}\n"
        valid = self.valid_digests + self.valid_backfill_digests
        invalid = self.invalid_digests + self.invalid_backfill_digests
        if not valid and not invalid:
            yield Output("stdout", out + "No digests found\n")
            return
        if self._found_start is None or self._found_end is None:
            out += "No valid digests found in range\n"
        else:
            out += (
                f"Results found for {format_time(self._found_start)} to "
                f"{format_time(self._found_end)}:\n"
            )
        out += _ratio(self.valid_digests, self.invalid_digests, "digest")
        out += _ratio(self.valid_backfill_digests, self.invalid_backfill_digests, "backfill digest")
        out += _ratio(self.valid_logs, self.invalid_logs, "log")
        yield Output("stdout", out + "\n")

    def _track_found_times(self, digest: Mapping[str, Any]) -> None:
        start = max(parse_time(digest["digestStartTime"]), self.request.start_time)
        if self._found_start is None or start < self._found_start:
            self._found_start = start
        end = min(parse_time(digest["digestEndTime"]), self.request.end_time)
        if self._found_end is None or end > self._found_end:
            self._found_end = end

    # -- the walk, as DigestTraverser does it -----------------------------------------

    def _validate_chain(self, backfill: bool) -> Iterator[Output]:
        tag = "(backfill) " if backfill else ""
        for item in self._traverse(backfill):
            if isinstance(item, Output):
                yield item
                continue
            digest = item
            self._track_found_times(digest)
            if backfill:
                self.valid_backfill_digests += 1
            else:
                self.valid_digests += 1
            yield from self._status(
                f"{tag}Digest file\ts3://{digest['digestS3Bucket']}/{digest['digestS3Object']}\tvalid"
            )
            for log in digest.get("logFiles") or ():
                yield from self._check_log(log)

    def _traverse(self, backfill: bool) -> Iterator[dict[str, Any] | Output]:
        """Yields each valid digest (newest first) and the error lines for the bad ones."""
        r = self.request
        bucket, prefix = r.bucket, r.prefix
        digests = self._digest_keys(bucket, prefix, backfill)
        public_keys: dict[str, PublicKey] = (
            {} if backfill else self._public_keys(r.start_time, r.end_time + dt.timedelta(hours=2))
        )
        key, _ = _last_digest(digests)
        last_start = _key_date(key) if key else None
        # After a linked digest is found missing: where the gap ends (the start of
        # the digest that linked to it) and that digest's length (the cadence).
        gap: tuple[dt.datetime, dt.timedelta] | None = None
        length = dt.timedelta(0)
        while key and last_start is not None and r.start_time <= last_start:
            try:
                digest = self._load_and_validate(public_keys, bucket, key, backfill)
                if gap is not None:
                    yield from self._consecutive_missing(backfill, bucket, prefix, gap, digest)
                    gap = None
                last_start = parse_time(digest["digestStartTime"])
                length = parse_time(digest["digestEndTime"]) - last_start
                previous_bucket = digest.get("previousDigestS3Bucket")
                previous_key = digest.get("previousDigestS3Object")
                yield digest
                if previous_bucket is None or previous_key is None:
                    # The chain ends here: a gap if older digests are still listed.
                    next_key, next_end = _last_digest(digests, key)
                    if next_key and next_end is not None:
                        yield from self._status(
                            f"{'(backfill) ' if backfill else ''}No log files were delivered "
                            f"by CloudTrail between {format_time(next_end)} and "
                            f"{format_time(last_start)}",
                            True,
                        )
                    key = next_key
                else:
                    key = previous_key
                    if previous_bucket != bucket:
                        bucket = previous_bucket
                        digests = self._digest_keys(bucket, prefix, backfill)
            except _Missing:
                yield from self._digest_failed(
                    backfill, f"Digest file\ts3://{bucket}/{key}\tINVALID: not found"
                )
                gap = (last_start, length) if self.find_gaps and length else None
                key, _ = _last_digest(digests, key)
            except DigestError as exc:
                yield from self._digest_failed(backfill, str(exc))
                gap = None
                key, _ = _last_digest(digests, key)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # The CLI reports any other failure of a digest as INVALID with its text.
                yield from self._digest_failed(
                    backfill, f"Digest file\ts3://{bucket}/{key}\tINVALID: {exc}"
                )
                key, _ = _last_digest(digests, key)

    def _consecutive_missing(
        self,
        backfill: bool,
        bucket: str,
        prefix: str | None,
        gap: tuple[dt.datetime, dt.timedelta],
        older: Mapping[str, Any],
    ) -> Iterator[Output]:
        """Report digests missing beyond the one a link named (aws-cli issue 7054).

        The CLI reports the digest a link names as not found, then resumes at the
        next older digest the listing has, and never notices that more than one
        digest is gone. The chain tells the gap's end (the linking digest's start);
        the next older digest found tells its start; the linking digest's length is
        the chain's cadence (an hour in CloudTrail). A gap longer than 1.5 of them
        held more than one digest.
        """
        gap_end, length = gap
        gap_start = parse_time(older["digestEndTime"])
        missing = round((gap_end - gap_start) / length)
        if missing < 2:
            return
        for _ in range(missing - 1):
            self._count_failed(backfill)
        folder = digest_folder(self._chain, prefix)
        yield from self._status(
            f"{'(backfill) ' if backfill else ''}Digest files\ts3://{bucket}/{folder}\t"
            f"INVALID: {missing} consecutive digests not found between "
            f"{format_time(gap_start)} and {format_time(gap_end)}",
            True,
        )

    def _count_failed(self, backfill: bool) -> None:
        if backfill:
            self.invalid_backfill_digests += 1
        else:
            self.invalid_digests += 1

    def _digest_failed(self, backfill: bool, message: str) -> Iterator[Output]:
        if backfill:
            self.invalid_backfill_digests += 1
        else:
            self.invalid_digests += 1
        yield from self._status(f"{'(backfill) ' if backfill else ''}{message}", True)

    def _digest_keys(self, bucket: str, prefix: str | None, backfill: bool) -> list[str]:
        """This chain's digest keys in range, oldest first (a fresh list: the walk pops it)."""
        if (bucket, prefix) not in self._listed:
            self._listed[(bucket, prefix)] = self._list_digest_keys(bucket, prefix)
        standard, backfills = self._listed[(bucket, prefix)]
        return list(backfills if backfill else standard)

    def _list_digest_keys(self, bucket: str, prefix: str | None) -> tuple[list[str], list[str]]:
        r = self.request
        # The marker is the key a digest ending a minute before the start would have.
        marker = digest_key(self._chain, prefix, r.start_time - dt.timedelta(minutes=1))
        first = format_key_time(r.start_time)
        # One hour past the end: the digest covering the end closes after it.
        last = format_key_time(r.end_time + dt.timedelta(hours=1))
        pattern = digest_key_pattern(self._chain, prefix)
        standard: list[str] = []
        backfills: list[str] = []
        for key in self._store.list_keys(bucket, digest_folder(self._chain, prefix), marker):
            if not (key and pattern.match(key)):
                continue
            when = digest_key_time(key)
            if when > last:
                break
            if when < first:
                continue
            (backfills if is_backfill_key(key) else standard).append(key)
        return standard, backfills

    def _public_keys(self, start: dt.datetime, end: dt.datetime) -> dict[str, PublicKey]:
        keys = {k.fingerprint: k for k in self._list_public_keys(start, end)}
        if not keys:
            raise NoPublicKeysError(
                f"No public keys found between {format_time(start)} and {format_time(end)}"
            )
        return keys

    def _load_and_validate(
        self, public_keys: dict[str, PublicKey], bucket: str, key: str, backfill: bool
    ) -> dict[str, Any]:
        stored = self._store.get(bucket, key)
        if stored is None:
            raise _Missing
        try:
            inflated = zlib.decompress(stored.body, zlib.MAX_WBITS | 16)
            digest = json.loads(inflated.decode())
        except (ValueError, zlib.error):
            raise _invalid(bucket, key, "invalid format") from None
        if not isinstance(digest, dict):
            raise _invalid(bucket, key, "invalid format")
        metadata = stored.metadata
        if "signature" not in metadata or "signature-algorithm" not in metadata:
            raise _invalid(bucket, key, "signature verification failed")
        if backfill and "backfill-generation-timestamp" not in metadata:
            raise _invalid(bucket, key, "invalid format")
        if any(k not in digest for k in _REQUIRED_DIGEST_KEYS):
            raise _invalid(bucket, key, "invalid format")
        if digest["digestS3Bucket"] != bucket or digest["digestS3Object"] != key:
            raise _invalid(bucket, key, "has been moved from its original location")
        fingerprint = digest["digestPublicKeyFingerprint"]
        if fingerprint not in public_keys and backfill:
            generated = parse_time(metadata["backfill-generation-timestamp"])
            public_keys.update(
                self._public_keys(
                    generated - dt.timedelta(hours=1), generated + dt.timedelta(hours=1)
                )
            )
        if fingerprint not in public_keys:
            raise _invalid(
                bucket,
                key,
                f"public key not found in region {self._chain.home_region} "
                f"for fingerprint {fingerprint}",
            )
        _verify_signature(bucket, key, public_keys[fingerprint], digest, metadata, inflated)
        return digest

    # -- log files, as CloudTrailValidateLogs._download_log does it -------------------

    def _check_log(self, log: Mapping[str, Any]) -> Iterator[Output]:
        where = f"Log file\ts3://{log['s3Bucket']}/{log['s3Object']}\t"
        body = self._fetch_log(log["s3Bucket"], log["s3Object"])
        if body is None:
            self.invalid_logs += 1
            yield from self._status(where + "INVALID: not found", True)
            return
        try:
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            sha = hashlib.sha256(inflater.decompress(body))
            sha.update(inflater.flush())
            trailing = bool(inflater.unused_data)
            matches = sha.hexdigest() == log["hashValue"]
        except Exception:
            self.invalid_logs += 1
            yield from self._status(where + "INVALID: invalid format", True)
            return
        if trailing:
            self.invalid_logs += 1
            yield from self._status(
                where + "INVALID: unexpected data after end of compressed stream", True
            )
        elif not matches:
            self.invalid_logs += 1
            yield from self._status(where + "INVALID: hash value doesn't match", True)
        else:
            self.valid_logs += 1
            yield from self._status(where + "valid")


def _verify_signature(
    bucket: str,
    key: str,
    public_key: PublicKey,
    digest: Mapping[str, Any],
    metadata: Mapping[str, str],
    inflated: bytes,
) -> None:
    """Sha256RSADigestValidator.validate, with ``cryptography`` in place of ``rsa``."""
    try:
        loaded = serialization.load_der_public_key(public_key.der)
    except ValueError:
        loaded = None
    # The CLI loads PKCS#1 RSAPublicKey DER only; cryptography would also take SPKI.
    if not isinstance(loaded, rsa.RSAPublicKey) or not public_key.der.startswith(
        loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    ):
        raise _invalid(
            bucket,
            key,
            f"Unable to load PKCS #1 key with fingerprint {digest['digestPublicKeyFingerprint']}",
        )
    message = string_to_sign(
        digest["digestEndTime"],
        digest["digestS3Bucket"],
        digest["digestS3Object"],
        hashlib.sha256(inflated).hexdigest(),
        digest["previousDigestSignature"],
    )
    signature = binascii.unhexlify(metadata["signature"])  # its error text is what the CLI shows
    try:
        loaded.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise _invalid(bucket, key, "signature verification failed") from None


def _key_date(key: str) -> dt.datetime:
    return parse_time(digest_key_time(key))


def _last_digest(
    digests: list[str], before_key: str | None = None
) -> tuple[str | None, dt.datetime | None]:
    """Pop the newest listed digest, or the newest one older than ``before_key``."""
    if not digests:
        return None, None
    if before_key is None:
        key = digests.pop()
        return key, _key_date(key)
    before = _key_date(before_key)
    while digests:
        key = digests.pop()
        when = _key_date(key)
        if when < before:
            return key, when
    return None, None


def _ratio(valid: int, invalid: int, name: str) -> str:
    total = valid + invalid
    if not total:
        return ""
    text = f"\n{valid}/{total} {name} files valid"
    if invalid:
        text += f", {invalid}/{total} {name} files INVALID"
    return text


def validate_logs(
    request: ValidationRequest,
    digests: DigestStore,
    public_keys: PublicKeySource,
    fetch_log: LogFetcher,
    *,
    find_gaps: bool = False,
) -> ValidationResult:
    """Run validate-logs to the end and collect what it would print."""
    run = LogValidation(request, digests, public_keys, fetch_log, find_gaps=find_gaps)
    chunks = list(run.run())
    return ValidationResult(
        exit_code=run.exit_code,
        stdout="".join(c.text for c in chunks if c.stream == "stdout"),
        stderr="".join(c.text for c in chunks if c.stream == "stderr"),
        valid_digests=run.valid_digests + run.valid_backfill_digests,
        invalid_digests=run.invalid_digests + run.invalid_backfill_digests,
        valid_logs=run.valid_logs,
        invalid_logs=run.invalid_logs,
    )
