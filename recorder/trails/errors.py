"""The one error type of trail configuration: what CloudTrail would answer.

The control API turns a :class:`TrailError` into a JSON 1.1 error response, so
``code`` must be the exact exception name botocore models (a real client then
raises ``client.exceptions.<code>``); ``message`` names the offending value.
"""

from __future__ import annotations


class TrailError(Exception):
    """An invalid trail or event selector, with the CloudTrail exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
