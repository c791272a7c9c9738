"""IPP codec (RFC 8010 encoding, RFC 8011 semantics), sans-I/O.

`decode_message` / `MessageParser` turn application/ipp bytes into a `Message`,
`encode_message` turns a `Message` into bytes, `attribute` builds attributes with the tags
the registry (IANA IPP registry) gives their names. Nothing here does I/O or knows the
device.
"""

from mfpd.codecs.ipp.decode import WIRE_MAX_LENGTH, Limits, MessageParser, decode_message
from mfpd.codecs.ipp.encode import (
    encode_attribute,
    encode_message,
    forget_encoded,
    keep_encoded,
    keep_encoded_group,
    make_request,
    make_response,
)
from mfpd.codecs.ipp.errors import IppDecodeError, IppEncodeError
from mfpd.codecs.ipp.registry import REGISTRY, Syntax, attribute, names_of_kind, syntax_for
from mfpd.codecs.ipp.tags import DelimiterTag, Operation, ResolutionUnits, StatusCode, ValueTag
from mfpd.codecs.ipp.values import (
    Attribute,
    AttributeGroup,
    Collection,
    Message,
    NameWithLanguage,
    OutOfBand,
    Range,
    Resolution,
    TextWithLanguage,
    Value,
)

__all__ = [
    "REGISTRY",
    "WIRE_MAX_LENGTH",
    "Attribute",
    "AttributeGroup",
    "Collection",
    "DelimiterTag",
    "IppDecodeError",
    "IppEncodeError",
    "Limits",
    "Message",
    "MessageParser",
    "NameWithLanguage",
    "Operation",
    "OutOfBand",
    "Range",
    "Resolution",
    "ResolutionUnits",
    "StatusCode",
    "Syntax",
    "TextWithLanguage",
    "Value",
    "ValueTag",
    "attribute",
    "decode_message",
    "encode_attribute",
    "encode_message",
    "forget_encoded",
    "keep_encoded",
    "keep_encoded_group",
    "make_request",
    "make_response",
    "names_of_kind",
    "syntax_for",
]
