"""CloudTrail's wire protocol: AWS JSON 1.1 requests, responses and errors.

Every request is ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>`` and a
JSON body; every answer is JSON shaped by the operation's output shape, and every
failure is ``{"__type": "<Code>", "message": "..."}``. The shapes come from
botocore's own service model for ``cloudtrail``, so what we accept and what we send
back is exactly what the clients (botocore, the ``aws`` CLI, Terraform's Go SDK)
serialise and parse: a field we forget to drop or a timestamp in the wrong form
would break them, not us.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session
from botocore.utils import parse_to_aware_datetime
from botocore.validate import ParamValidator

from recorder.api.model_additions import extended

CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE_NAME = "cloudtrail"
#: CloudTrail Data (``PutAuditEvents``): REST-JSON, ``POST /PutAuditEvents?channelArn=``.
DATA_SERVICE_NAME = "cloudtrail-data"
DATA_CONTENT_TYPE = "application/json"


class ApiError(Exception):
    """A failure the client sees as ``{"__type": code, "message": message}``.

    ``code`` is the exception name a real CloudTrail answers with, so botocore
    raises the modelled class (``client.exceptions.TrailNotFoundException``).
    """

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@functools.cache
def service_model() -> ServiceModel:
    """botocore's model of CloudTrail (loaded once; it is a few MB of JSON), with the
    members the API gained after the installed botocore (:mod:`recorder.api.model_additions`)."""
    loader = get_session().get_component("data_loader")
    raw = loader.load_service_model(SERVICE_NAME, "service-2")
    return ServiceModel(extended(raw), service_name=SERVICE_NAME)


@functools.cache
def data_service_model() -> ServiceModel:
    """botocore's model of CloudTrail Data (``PutAuditEvents``)."""
    loader = get_session().get_component("data_loader")
    raw = loader.load_service_model(DATA_SERVICE_NAME, "service-2")
    return ServiceModel(raw, service_name=DATA_SERVICE_NAME)


def data_operation(path: str) -> OperationModel | None:
    """The CloudTrail Data operation a REST path names (``/PutAuditEvents``), if any."""
    model = data_service_model()
    for name in model.operation_names:
        operation = model.operation_model(name)
        if operation.http.get("requestUri", "").split("?")[0] == path:
            return operation
    return None


def target_prefix() -> str:
    return str(service_model().metadata["targetPrefix"])


def parse_target(header: str | None) -> OperationModel:
    """``X-Amz-Target`` -> the operation; anything else is ``UnknownOperationException``.

    botocore sends the model's full prefix
    (``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101``); the Smithy-based
    SDKs (Go v2, so Terraform) send only its last part (``CloudTrail_20131101``).
    AWS accepts both.
    """
    if not header:
        raise ApiError("UnknownOperationException", "Missing X-Amz-Target header")
    prefix, _, name = header.strip().rpartition(".")
    full = target_prefix()
    accepted = prefix in (full, full.rsplit(".", 1)[-1])
    if not accepted or name not in service_model().operation_names:
        raise ApiError("UnknownOperationException", f"Unknown operation {header.strip()!r}")
    return service_model().operation_model(name)


def decode_input(
    operation: OperationModel, body: bytes, query: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Parse and validate a request body against the operation's input shape.

    JSON that is not an object is a ``SerializationException`` (what AWS JSON
    services answer); members the shape does not know are ignored, as AWS does for
    newer clients; type and required-member violations are a
    ``ValidationException`` whose message lists botocore's findings.
    """
    shape = operation.input_shape
    if not body.strip():
        raw: Any = {}
    else:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError("SerializationException", f"Malformed JSON body: {exc}") from None
    if not isinstance(raw, dict):
        raise ApiError("SerializationException", "Request body must be a JSON object")
    if shape is None:
        return {}
    params = _from_wire(raw, shape)
    # REST-JSON members bound to the query string (CloudTrail Data's channelArn): taken
    # from there only, never from the body.
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        if member.serialization.get("location") == "querystring":
            params.pop(name, None)
            value = (query or {}).get(member.serialization.get("name", name))
            if value is not None:
                params[name] = value
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        lines = report.generate_report().splitlines()
        noun = "error" if len(lines) == 1 else "errors"
        raise ApiError(
            "ValidationException", f"{len(lines)} validation {noun} detected: {'; '.join(lines)}"
        )
    return dict(params)


def _from_wire(value: Any, shape: Shape) -> Any:
    """JSON values -> botocore parameter types (timestamps, blobs); drop unknown members.

    Values of the wrong JSON type are passed through unchanged for the validator
    to report with the member's path.
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _from_wire(v, members[k]) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [_from_wire(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_wire(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp" and isinstance(value, bool):
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{str(value).lower()}' at "
            f"'{shape.name}' failed to satisfy constraint: Member must be a timestamp",
        )
    if kind == "timestamp" and isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{value}' at '{shape.name}' failed to "
                "satisfy constraint: Member must be a timestamp between years 1 and 9999",
            ) from None
    if kind == "timestamp" and isinstance(value, str):
        try:
            return parse_to_aware_datetime(value)
        except Exception:  # botocore raises ValueError, RuntimeError, OverflowError...
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value '{value[:64]}' at '{shape.name}' failed "
                "to satisfy constraint: Member must be a timestamp",
            ) from None
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
    return value


def encode_output(operation: OperationModel, result: Mapping[str, Any] | None) -> bytes:
    """Shape a handler's result by the output shape and serialise it.

    Members the shape does not declare are dropped (documents carry extra fields),
    ``None`` is left out, timestamps become epoch seconds as the JSON protocol
    wants, blobs base64.
    """
    shape = operation.output_shape
    if shape is None or result is None:
        return b"{}"
    return orjson.dumps(_to_wire(result, shape))


def _to_wire(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return None
        members = shape.members  # type: ignore[attr-defined]
        out = {}
        for name, member in members.items():
            v = value.get(name)
            if v is None:
                continue
            wire = _to_wire(v, member)
            if wire is not None:
                out[name] = wire
        return out
    if kind == "list":
        return [_to_wire(v, shape.member) for v in value or ()]  # type: ignore[attr-defined]
    if kind == "map":
        return {str(k): _to_wire(v, shape.value) for k, v in dict(value).items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return epoch_seconds(value)
    if kind == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return str(value)


def epoch_seconds(value: Any) -> float | None:
    """A datetime, ISO-8601 string or number as epoch seconds (JSON timestamps)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return round(value.timestamp(), 3)
    return None


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"__type": code, "message": message})
