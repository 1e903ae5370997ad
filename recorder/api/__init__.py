"""The CloudTrail-compatible control API: the ``aws`` CLI, boto3 and Terraform manage
trails by pointing their CloudTrail endpoint here.

One module per job: :mod:`~recorder.api.protocol` (JSON 1.1 wire, errors),
:mod:`~recorder.api.auth` (SigV4, credential store), :mod:`~recorder.api.operations`
(the handlers), :mod:`~recorder.api.rules` (the trail model's rules as API errors),
:mod:`~recorder.api.checks` (S3/SNS/KMS existence), :mod:`~recorder.api.store` (the
``trails`` topic with read-your-writes), :mod:`~recorder.api.audit` (the API's own
events), :mod:`~recorder.api.sources` (status and public-key seams),
:mod:`~recorder.api.config` (``RECORDER_API_*``) and :mod:`~recorder.api.service`
(the aiohttp app and ``create`` for ``recorder run api``).
"""

from recorder.api.auth import CredentialStore, Principal
from recorder.api.protocol import ApiError
from recorder.api.sources import PublicKeySource, StatusSource

__all__ = ["ApiError", "CredentialStore", "Principal", "PublicKeySource", "StatusSource"]
