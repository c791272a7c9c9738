"""The IPP codec's own exceptions."""

from __future__ import annotations

from mfpd.codecs.ipp.tags import StatusCode

__all__ = ["IppDecodeError", "IppEncodeError"]


class IppDecodeError(ValueError):
    """The bytes are not an acceptable IPP message.

    ``status`` is the IPP status the server answers with (RFC 8011 appendix B):
    client-error-bad-request for malformed encoding, client-error-request-value-too-long for
    a value over its length limit, client-error-request-entity-too-large for a message over
    a size or count limit. ``offset`` is where in the message the problem was found.
    """

    def __init__(
        self,
        message: str,
        status: StatusCode = StatusCode.CLIENT_ERROR_BAD_REQUEST,
        offset: int | None = None,
    ) -> None:
        super().__init__(message if offset is None else f"{message} (at octet {offset})")
        self.status = status
        self.offset = offset


class IppEncodeError(ValueError):
    """A value cannot be encoded with its tag (wrong Python type, too long, not ASCII...)."""
