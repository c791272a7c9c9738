"""What an IPP handler works with: the validated request, the response it fills, its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from mfpd.codecs.ipp.tags import StatusCode
from mfpd.codecs.ipp.values import Attribute, AttributeGroup, Message


class IppError(Exception):
    """Ends a request with an IPP status (RFC 8011 appendix B)."""

    def __init__(self, status: StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: StatusCode = StatusCode.SUCCESSFUL_OK
    message: str = ""
    operation: list[Attribute] = field(default_factory=list)
    unsupported: list[Attribute] = field(default_factory=list)
    groups: list[AttributeGroup] = field(default_factory=list)


@dataclass
class Request:
    message: Message
    operation: AttributeGroup
    job_template: AttributeGroup
    peer: str
    small: bool = False  # a request of a few kilobytes: what is learnt about it may be kept

    def get(self, name: str) -> Attribute | None:
        return self.operation.get(name)

    def value(self, name: str, default: object = None) -> object:
        attr = self.operation.get(name)
        if attr is None or attr.is_out_of_band:
            return default
        return attr.value

    def as_received(self, name: str) -> list[Attribute]:
        """The operation attribute as the client sent it, for the unsupported group: echoing
        it with the tag the printer expected cannot encode a value of another syntax."""
        attr = self.operation.get(name)
        return [attr] if attr is not None else []

    @property
    def user(self) -> str:
        user = self.value("requesting-user-name")
        return user if isinstance(user, str) and user else "anonymous"


Body = AsyncIterator[bytes]
Handler = Callable[[Request, Body, Response], Awaitable[None]]
