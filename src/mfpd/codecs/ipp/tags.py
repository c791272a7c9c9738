"""IPP protocol constants: delimiter and value tags, operation ids, status codes.

References: RFC 8010 section 3.5.1 (delimiter tags) and 3.5.2 (value tags); RFC 8011 section
5.4.15 ("operations-supported" lists the operation ids) and appendix B (status codes); the IANA
"Internet Printing Protocol (IPP) Registrations" (operations, status codes, attribute group tags
and out-of-band value tags registries), which adds the ids and codes of RFC 3380 (Set
operations), RFC 3995/3996 (subscriptions, notifications), RFC 3998 (administrative
operations) and the PWG 5100.x standards. Vendor ids (CUPS) are listed where a real client
sends them, so that the server can name what it refuses.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "DelimiterTag",
    "Operation",
    "ResolutionUnits",
    "StatusCode",
    "ValueTag",
]


class DelimiterTag(IntEnum):
    """Begin-attribute-group tags and the end-of-attributes tag (RFC 8010 section 3.5.1).

    0x00 is reserved, 0x0B-0x0E are reserved for future groups and 0x0F for a chunking
    end-of-attributes tag: a decoder refuses them all.
    """

    OPERATION = 0x01  # RFC 8010 3.5.1 operation-attributes-tag
    JOB = 0x02  # RFC 8010 3.5.1 job-attributes-tag
    END = 0x03  # RFC 8010 3.5.1 end-of-attributes-tag
    PRINTER = 0x04  # RFC 8010 3.5.1 printer-attributes-tag
    UNSUPPORTED = 0x05  # RFC 8010 3.5.1 unsupported-attributes-tag
    SUBSCRIPTION = 0x06  # RFC 3995 section 14 subscription-attributes-tag
    EVENT_NOTIFICATION = 0x07  # RFC 3995 section 14 event-notification-attributes-tag
    RESOURCE = 0x08  # PWG 5100.22 resource-attributes-tag
    DOCUMENT = 0x09  # PWG 5100.5 document-attributes-tag
    SYSTEM = 0x0A  # PWG 5100.22 system-attributes-tag


class ValueTag(IntEnum):
    """Value tags: the syntax of one attribute value (RFC 8010 section 3.5.2).

    0x10-0x1F are "out-of-band" values that carry no value octets (the value-length is 0):
    they say why an attribute has no ordinary value. 0x20-0x2F are integer types, 0x30-0x3F
    octetString types and 0x40-0x5F character-string types. 0x7F was the RFC 2910 extension
    tag (a 32-bit tag in the value); RFC 8010 reserves it and this codec refuses it, as it
    refuses every reserved tag (0x11 'default', 0x14, 0x18-0x1F, 0x20, 0x24-0x2F, 0x38-0x3F,
    0x40, 0x43, 0x4B-0x7E and 0x80-0xFF).
    """

    # Out-of-band values (RFC 8010 3.5.2, RFC 3380 section 8.3 for 0x15-0x17)
    UNSUPPORTED = 0x10  # the attribute or value is not supported (unsupported group)
    UNKNOWN = 0x12  # supported, but the value is unknown at the moment
    NO_VALUE = 0x13  # supported, but no value is assigned (e.g. no limit configured)
    NOT_SETTABLE = 0x15  # RFC 3380: the attribute cannot be set (Set-*-Attributes)
    DELETE_ATTRIBUTE = 0x16  # RFC 3380: delete the attribute (Set-*-Attributes)
    ADMIN_DEFINE = 0x17  # RFC 3380: the administrator defines the value
    # Integer types (RFC 8010 3.5.2), 4-octet SIGNED-INTEGER or 1-octet SIGNED-BYTE
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    # octetString types (RFC 8010 3.5.2)
    OCTET_STRING = 0x30  # octetString with an unspecified format
    DATE_TIME = 0x31  # RFC 2579 DateAndTime, 11 octets
    RESOLUTION = 0x32  # 9 octets: cross-feed, feed, units
    RANGE_OF_INTEGER = 0x33  # 8 octets: lower, upper
    BEG_COLLECTION = 0x34  # RFC 8010 3.1.6: starts a collection value
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37  # RFC 8010 3.1.6: ends a collection value
    # Character-string types (RFC 8010 3.5.2)
    TEXT_WITHOUT_LANGUAGE = 0x41
    NAME_WITHOUT_LANGUAGE = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    NATURAL_LANGUAGE = 0x48
    MIME_MEDIA_TYPE = 0x49
    MEMBER_ATTR_NAME = 0x4A  # RFC 8010 3.1.7: the name of a collection member
    # RFC 8010 3.5.2: reserved "for extending types beyond the 255 values"; always refused.
    EXTENSION = 0x7F
    # Aliases: the attribute syntaxes "text" and "name" of RFC 8011 5.1.2/5.1.3
    TEXT = 0x41
    NAME = 0x42

    @property
    def is_out_of_band(self) -> bool:
        """True for the out-of-band tags 0x10-0x1F (RFC 8010 3.5.2)."""
        return 0x10 <= self.value <= 0x1F


class ResolutionUnits(IntEnum):
    """Units of a resolution value (RFC 8011 section 5.1.16 "resolution")."""

    DOTS_PER_INCH = 3
    DOTS_PER_CM = 4


class Operation(IntEnum):
    """Operation ids (RFC 8011 5.4.15; IANA IPP registry "Operations").

    `label` gives the name an IPP document uses (``Print-Job``).
    """

    # RFC 8011 (IPP/1.1 model), sections 4.2-4.3
    PRINT_JOB = 0x0002
    PRINT_URI = 0x0003
    VALIDATE_JOB = 0x0004
    CREATE_JOB = 0x0005
    SEND_DOCUMENT = 0x0006
    SEND_URI = 0x0007
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_JOBS = 0x000A
    GET_PRINTER_ATTRIBUTES = 0x000B
    HOLD_JOB = 0x000C
    RELEASE_JOB = 0x000D
    RESTART_JOB = 0x000E  # deprecated by RFC 8011
    PAUSE_PRINTER = 0x0010
    RESUME_PRINTER = 0x0011
    PURGE_JOBS = 0x0012  # deprecated by PWG 5100.11 (use Cancel-Jobs)
    # RFC 3380 (Set operations)
    SET_PRINTER_ATTRIBUTES = 0x0013
    SET_JOB_ATTRIBUTES = 0x0014
    GET_PRINTER_SUPPORTED_VALUES = 0x0015
    # RFC 3995 (event notifications and subscriptions)
    CREATE_PRINTER_SUBSCRIPTIONS = 0x0016
    CREATE_JOB_SUBSCRIPTIONS = 0x0017
    GET_SUBSCRIPTION_ATTRIBUTES = 0x0018
    GET_SUBSCRIPTIONS = 0x0019
    RENEW_SUBSCRIPTION = 0x001A
    CANCEL_SUBSCRIPTION = 0x001B
    # RFC 3996 (ippget pull method)
    GET_NOTIFICATIONS = 0x001C
    # 0x001D-0x0021: reserved (ipp-indp Send-Notifications, ipp-get-resources and IPP
    # driver installation drafts that never became standards), not listed
    # RFC 3998 (job and printer administrative operations)
    ENABLE_PRINTER = 0x0022
    DISABLE_PRINTER = 0x0023
    PAUSE_PRINTER_AFTER_CURRENT_JOB = 0x0024
    HOLD_NEW_JOBS = 0x0025
    RELEASE_HELD_NEW_JOBS = 0x0026
    DEACTIVATE_PRINTER = 0x0027
    ACTIVATE_PRINTER = 0x0028
    RESTART_PRINTER = 0x0029
    SHUTDOWN_PRINTER = 0x002A
    STARTUP_PRINTER = 0x002B
    REPROCESS_JOB = 0x002C
    CANCEL_CURRENT_JOB = 0x002D
    SUSPEND_CURRENT_JOB = 0x002E
    RESUME_JOB = 0x002F
    PROMOTE_JOB = 0x0030
    SCHEDULE_JOB_AFTER = 0x0031
    # PWG 5100.5 (document object)
    CANCEL_DOCUMENT = 0x0033
    GET_DOCUMENT_ATTRIBUTES = 0x0034
    GET_DOCUMENTS = 0x0035
    DELETE_DOCUMENT = 0x0036
    SET_DOCUMENT_ATTRIBUTES = 0x0037
    # PWG 5100.11 (job and printer extensions set 2)
    CANCEL_JOBS = 0x0038
    CANCEL_MY_JOBS = 0x0039
    RESUBMIT_JOB = 0x003A
    CLOSE_JOB = 0x003B
    # PWG 5100.13 (job and printer extensions set 3)
    IDENTIFY_PRINTER = 0x003C
    VALIDATE_DOCUMENT = 0x003D
    # PWG 5100.17 (scan service)
    ADD_DOCUMENT_IMAGES = 0x003E
    # PWG 5100.18 (IPP shared infrastructure extensions)
    ACKNOWLEDGE_DOCUMENT = 0x003F
    ACKNOWLEDGE_IDENTIFY_PRINTER = 0x0040
    ACKNOWLEDGE_JOB = 0x0041
    FETCH_DOCUMENT = 0x0042
    FETCH_JOB = 0x0043
    GET_OUTPUT_DEVICE_ATTRIBUTES = 0x0044
    UPDATE_ACTIVE_JOBS = 0x0045
    DEREGISTER_OUTPUT_DEVICE = 0x0046
    UPDATE_DOCUMENT_STATUS = 0x0047
    UPDATE_JOB_STATUS = 0x0048
    UPDATE_OUTPUT_DEVICE_ATTRIBUTES = 0x0049
    # PWG 5100.17 (scan service)
    GET_NEXT_DOCUMENT_DATA = 0x004A
    # PWG 5100.22 (system service)
    ALLOCATE_PRINTER_RESOURCES = 0x004B
    CREATE_PRINTER = 0x004C
    DEALLOCATE_PRINTER_RESOURCES = 0x004D
    DELETE_PRINTER = 0x004E
    GET_PRINTERS = 0x004F
    SHUTDOWN_ONE_PRINTER = 0x0050
    STARTUP_ONE_PRINTER = 0x0051
    CANCEL_RESOURCE = 0x0052
    CREATE_RESOURCE = 0x0053
    INSTALL_RESOURCE = 0x0054
    SEND_RESOURCE_DATA = 0x0055
    SET_RESOURCE_ATTRIBUTES = 0x0056
    CREATE_RESOURCE_SUBSCRIPTIONS = 0x0057
    CREATE_SYSTEM_SUBSCRIPTIONS = 0x0058
    DISABLE_ALL_PRINTERS = 0x0059
    ENABLE_ALL_PRINTERS = 0x005A
    GET_SYSTEM_ATTRIBUTES = 0x005B
    GET_SYSTEM_SUPPORTED_VALUES = 0x005C
    PAUSE_ALL_PRINTERS = 0x005D
    PAUSE_ALL_PRINTERS_AFTER_CURRENT_JOB = 0x005E
    REGISTER_OUTPUT_DEVICE = 0x005F
    RESTART_SYSTEM = 0x0060
    RESUME_ALL_PRINTERS = 0x0061
    SET_SYSTEM_ATTRIBUTES = 0x0062
    SHUTDOWN_ALL_PRINTERS = 0x0063
    STARTUP_ALL_PRINTERS = 0x0064
    # CUPS vendor operations (0x4000-0x7FFF are vendor ids, RFC 8011 5.4.15); CUPS clients
    # such as lpstat send them to any server ("CUPS Implementation of IPP").
    CUPS_GET_DEFAULT = 0x4001
    CUPS_GET_PRINTERS = 0x4002
    CUPS_ADD_MODIFY_PRINTER = 0x4003
    CUPS_DELETE_PRINTER = 0x4004
    CUPS_GET_CLASSES = 0x4005
    CUPS_ADD_MODIFY_CLASS = 0x4006
    CUPS_DELETE_CLASS = 0x4007
    CUPS_ACCEPT_JOBS = 0x4008
    CUPS_REJECT_JOBS = 0x4009
    CUPS_SET_DEFAULT = 0x400A
    CUPS_GET_DEVICES = 0x400B
    CUPS_GET_PPDS = 0x400C
    CUPS_MOVE_JOB = 0x400D
    CUPS_AUTHENTICATE_JOB = 0x400E
    CUPS_GET_PPD = 0x400F
    CUPS_GET_DOCUMENT = 0x4027
    CUPS_CREATE_LOCAL_PRINTER = 0x4028

    @property
    def label(self) -> str:
        """The operation's name as the specifications spell it, e.g. ``Get-Jobs``."""
        return _OPERATION_LABELS[self]


def _label(name: str) -> str:
    words = [w.capitalize() for w in name.split("_")]
    return "-".join(
        {"Uri": "URI", "Cups": "CUPS", "Ppd": "PPD", "Ppds": "PPDs"}.get(w, w) for w in words
    )


_OPERATION_LABELS = {op: _label(op.name) for op in Operation}


class StatusCode(IntEnum):
    """Status codes (RFC 8011 appendix B.1; IANA IPP registry "Status Codes").

    The member name is the keyword with '-' as '_': `keyword` gives it back. The class is
    the high byte: 0x00 successful, 0x04 client error, 0x05 server error.
    """

    # Successful (RFC 8011 B.1.2)
    SUCCESSFUL_OK = 0x0000
    SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES = 0x0001
    SUCCESSFUL_OK_CONFLICTING_ATTRIBUTES = 0x0002
    SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS = 0x0003  # RFC 3995 section 12.1
    SUCCESSFUL_OK_TOO_MANY_EVENTS = 0x0005  # RFC 3995 section 12.1
    SUCCESSFUL_OK_EVENTS_COMPLETE = 0x0007  # RFC 3996 section 10.1
    # Client errors (RFC 8011 B.1.4)
    CLIENT_ERROR_BAD_REQUEST = 0x0400
    CLIENT_ERROR_FORBIDDEN = 0x0401
    CLIENT_ERROR_NOT_AUTHENTICATED = 0x0402
    CLIENT_ERROR_NOT_AUTHORIZED = 0x0403
    CLIENT_ERROR_NOT_POSSIBLE = 0x0404
    CLIENT_ERROR_TIMEOUT = 0x0405
    CLIENT_ERROR_NOT_FOUND = 0x0406
    CLIENT_ERROR_GONE = 0x0407
    CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE = 0x0408
    CLIENT_ERROR_REQUEST_VALUE_TOO_LONG = 0x0409
    CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED = 0x040A
    CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED = 0x040B
    CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED = 0x040C
    CLIENT_ERROR_CHARSET_NOT_SUPPORTED = 0x040D
    CLIENT_ERROR_CONFLICTING_ATTRIBUTES = 0x040E
    CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED = 0x040F
    CLIENT_ERROR_COMPRESSION_ERROR = 0x0410
    CLIENT_ERROR_DOCUMENT_FORMAT_ERROR = 0x0411
    CLIENT_ERROR_DOCUMENT_ACCESS_ERROR = 0x0412
    CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE = 0x0413  # RFC 3380 section 9.2
    CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS = 0x0414  # RFC 3995 section 12.2
    CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS = 0x0415  # RFC 3995 section 12.2
    CLIENT_ERROR_DOCUMENT_PASSWORD_ERROR = 0x0418  # PWG 5100.13
    CLIENT_ERROR_DOCUMENT_PERMISSION_ERROR = 0x0419  # PWG 5100.13
    CLIENT_ERROR_DOCUMENT_SECURITY_ERROR = 0x041A  # PWG 5100.13
    CLIENT_ERROR_DOCUMENT_UNPRINTABLE_ERROR = 0x041B  # PWG 5100.13
    CLIENT_ERROR_ACCOUNT_INFO_NEEDED = 0x041C  # PWG 5100.16
    CLIENT_ERROR_ACCOUNT_CLOSED = 0x041D  # PWG 5100.16
    CLIENT_ERROR_ACCOUNT_LIMIT_REACHED = 0x041E  # PWG 5100.16
    CLIENT_ERROR_ACCOUNT_AUTHORIZATION_FAILED = 0x041F  # PWG 5100.16
    CLIENT_ERROR_NOT_FETCHABLE = 0x0420  # PWG 5100.18
    # Server errors (RFC 8011 B.1.5)
    SERVER_ERROR_INTERNAL_ERROR = 0x0500
    SERVER_ERROR_OPERATION_NOT_SUPPORTED = 0x0501
    SERVER_ERROR_SERVICE_UNAVAILABLE = 0x0502
    SERVER_ERROR_VERSION_NOT_SUPPORTED = 0x0503
    SERVER_ERROR_DEVICE_ERROR = 0x0504
    SERVER_ERROR_TEMPORARY_ERROR = 0x0505
    SERVER_ERROR_NOT_ACCEPTING_JOBS = 0x0506
    SERVER_ERROR_BUSY = 0x0507
    SERVER_ERROR_JOB_CANCELED = 0x0508
    SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED = 0x0509
    SERVER_ERROR_PRINTER_IS_DEACTIVATED = 0x050A  # RFC 3998 section 6.2
    SERVER_ERROR_TOO_MANY_JOBS = 0x050B  # PWG 5100.7
    SERVER_ERROR_TOO_MANY_DOCUMENTS = 0x050C  # PWG 5100.7

    @property
    def keyword(self) -> str:
        """The status keyword, e.g. ``client-error-bad-request`` (RFC 8011 B.1)."""
        return self.name.lower().replace("_", "-")

    @property
    def is_successful(self) -> bool:
        """True for 0x0000-0x00FF (RFC 8011 B.1.2)."""
        return self.value < 0x0100
