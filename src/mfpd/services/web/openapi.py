"""The OpenAPI 3.1 document of /api/v1 (api.py): what each route takes and answers.

Kept beside the routes and checked against them by schemathesis in the tests (every
response must match its schema, no 5xx), so the document cannot drift from the API.
"""

from __future__ import annotations

from typing import Any

from mfpd.config import Config
from mfpd.device.fax_jobs import ADDRESS_PATTERN
from mfpd.device.machine import Device
from mfpd.device.operator import FAULTS
from mfpd.security.audit import CATEGORIES, LEVELS
from mfpd.security.audit_log import EVENTS
from mfpd.services.web.actions import DEVICE_ACTIONS, JOB_ACTIONS

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


_ERROR = {"$ref": "#/components/responses/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    """The error answers an operation may give: each an Error object (components)."""
    return {str(code): _ERROR for code in codes}


_DOCUMENT = {"type": "string", "format": "binary", "minLength": 1}
_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_NUMBER = {"type": ["number", "null"]}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
    "Alert": {
        "type": "object",
        "required": ["index", "kind", "code", "severity", "group", "description", "time"],
        "properties": {
            "index": {"type": "integer"},
            "kind": {"type": "string"},
            "code": {"type": "integer", "description": "RFC 3805 PrtAlertCodeTC"},
            "severity": {"type": "string"},
            "group": {"type": "integer"},
            "group_index": {"type": "integer"},
            "description": {"type": "string"},
            "time": {"type": "number"},
        },
    },
    "Supply": {
        "type": "object",
        "required": ["name", "kind", "color", "capacity", "level", "percent", "key"],
        "properties": {
            "index": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["toner", "opc", "fuser", "waste", "developer"]},
            "color": {"type": "string"},
            "capacity": {"type": "integer"},
            "level": {"type": "integer"},
            "low_percent": {"type": "integer"},
            "percent": {"type": "integer"},
            "key": {"type": "string"},
        },
    },
    "Tray": {
        "type": "object",
        "required": ["name", "media", "capacity", "level", "key"],
        "properties": {
            "index": {"type": "integer"},
            "name": {"type": "string"},
            "media": {"type": "string", "description": "PWG 5101.1 media size name"},
            "media_type": {"type": "string"},
            "capacity": {"type": "integer"},
            "level": {"type": "integer"},
            "low_level": {"type": "integer"},
            "key": {"type": "string"},
        },
    },
    "Bin": {
        "type": "object",
        "required": ["name", "capacity", "level", "key"],
        "properties": {
            "index": {"type": "integer"},
            "name": {"type": "string"},
            "capacity": {"type": "integer"},
            "level": {"type": "integer"},
            "key": {"type": "string"},
        },
    },
    "Status": {
        "type": "object",
        "required": [
            "identity",
            "state",
            "state_reasons",
            "display",
            "accepting",
            "alerts",
            "supplies",
            "trays",
            "bins",
            "counters",
            "jobs",
        ],
        "properties": {
            "identity": {"type": "object", "additionalProperties": {"type": "string"}},
            "state": {"type": "string", "enum": ["idle", "processing", "stopped"]},
            "state_reasons": {"type": "array", "items": {"type": "string"}},
            "display": {"type": "string", "description": "the front panel's text"},
            "up_since": {"type": "number"},
            "accepting": {"type": "boolean"},
            "paused": {"type": "boolean"},
            "hold_new_jobs": {"type": "boolean"},
            "alerts": {"type": "array", "items": _ref("Alert")},
            "supplies": {"type": "array", "items": _ref("Supply")},
            "trays": {"type": "array", "items": _ref("Tray")},
            "bins": {"type": "array", "items": _ref("Bin")},
            "counters": {"type": "object", "additionalProperties": {"type": "integer"}},
            "scanner": _ref("Scanner"),
            "network": _ref("Network"),
            "jobs": {
                "type": "object",
                "required": ["active", "printing"],
                "properties": {"active": {"type": "integer"}, "printing": _NULLABLE_INT},
            },
        },
    },
    "Network": {
        "type": "object",
        "description": "the DHCP client and its lease (RFC 2131); times are Unix seconds",
        "required": ["dhcp", "detail", "lease"],
        "properties": {
            "dhcp": {
                "type": "string",
                "enum": [
                    "off",
                    "unavailable",
                    "init",
                    "requesting",
                    "bound",
                    "renewing",
                    "rebinding",
                    "released",
                ],
            },
            "detail": {"type": "string"},
            "lease": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {
                            "interface": {"type": "string"},
                            "address": {"type": "string"},
                            "prefix_length": {"type": "integer"},
                            "server": {"type": "string"},
                            "routers": {"type": "array", "items": {"type": "string"}},
                            "dns_servers": {"type": "array", "items": {"type": "string"}},
                            "domain": {"type": "string"},
                            "host_name": {"type": "string"},
                            "lease_time": {"type": "integer"},
                            "obtained": {"type": "number"},
                            "expires": {"type": "number"},
                            "renew_at": {"type": "number", "description": "T1"},
                            "rebind_at": {"type": "number", "description": "T2"},
                            "renewals": {"type": "integer"},
                        },
                    },
                ]
            },
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "name", "user", "source", "format", "state", "state_reasons"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "user": {"type": "string"},
            "source": {
                "type": "string",
                "description": "raw, lpd, ipp, web, ifax, console; escl, walkup",
            },
            "kind": {"type": "string", "enum": ["print", "scan", "fax-send", "fax-receive"]},
            "recipients": {
                "type": "array",
                "items": {"type": "string"},
                "description": "a fax-send job's",
            },
            "format": {"type": "string"},
            "state": {
                "type": "string",
                "enum": [
                    "pending",
                    "held",
                    "processing",
                    "stopped",
                    "canceled",
                    "aborted",
                    "completed",
                ],
            },
            "state_reasons": {"type": "array", "items": {"type": "string"}},
            "state_message": {"type": "string"},
            "pages": _NULLABLE_INT,
            "copies": {"type": "integer"},
            "impressions": _NULLABLE_INT,
            "impressions_completed": {"type": "integer"},
            "sheets_completed": {"type": "integer"},
            "bytes": {"type": "integer"},
            "created_at": {"type": "number"},
            "processing_at": _NULLABLE_NUMBER,
            "completed_at": _NULLABLE_NUMBER,
            "originating_host": {"type": "string"},
            "secure": {"type": "boolean", "description": "waits for its passcode"},
            "priority": {"type": "integer"},
            "attributes": {"type": "object"},
            "thumbnail": {
                "type": ["string", "null"],
                "description": "a scan job's first image, small (GET it)",
            },
            "destinations": {
                "type": "array",
                "items": {"type": "string"},
                "description": "where a walk-up scan goes (passwords left out)",
            },
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs"],
        "properties": {"jobs": {"type": "array", "items": _ref("Job")}},
    },
    "JobActionResult": {
        "type": "object",
        "required": ["message", "job"],
        "properties": {"message": {"type": "string"}, "job": _ref("Job")},
    },
    "Settings": {
        "type": "object",
        "description": "the editable settings; PATCH takes an RFC 7396 merge patch of it",
        "required": ["identity", "services", "web", "tls"],
        "properties": {
            "identity": {"type": "object", "additionalProperties": {"type": "string"}},
            "services": {"type": "object"},
            "web": {"type": "object"},
            "tls": {
                "type": "object",
                "description": "minimum_version (1.2, 1.3), ciphers (OpenSSL list for TLS "
                "1.2), hsts_max_age, ca_bundle (a path), expiry_warning_days",
            },
        },
    },
    "ActionResult": {
        "type": "object",
        "required": ["message", "status"],
        "properties": {"message": {"type": "string"}, "status": _ref("Status")},
    },
    "LogEntry": {
        "type": "object",
        "required": ["id", "time", "category", "level", "message", "data"],
        "properties": {
            "id": {"type": "integer"},
            "time": {"type": "number"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "level": {"type": "string", "enum": list(LEVELS)},
            "message": {"type": "string"},
            "data": {"type": "object"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "description": "one entry of the security audit log",
        "required": [
            "id",
            "time",
            "event_id",
            "event",
            "user",
            "address",
            "interface",
            "outcome",
            "details",
        ],
        "properties": {
            "id": {"type": "integer", "description": "increasing, never reused"},
            "time": {"type": "number", "description": "seconds since the epoch"},
            "event_id": {
                "type": "integer",
                "description": "the WorkCentre's audit event ID (1 startup, 2 shutdown, 3/4 "
                "on-demand overwrite, 5 print job, 30 administrator login, 33 audit log "
                "download, 38 certificate, 40 SNMPv3, 41 IP filtering, 42 security setting) "
                "or mfpd's (1001 IP filter drops, 1002 configuration, 1003 immediate overwrite)",
            },
            "event": {"type": "string", "enum": list(EVENTS)},
            "user": {"type": "string"},
            "address": {"type": "string"},
            "interface": {"type": "string"},
            "outcome": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "OverwriteReport": {
        "type": "object",
        "required": [
            "mode",
            "started",
            "ended",
            "files",
            "bytes",
            "free_space_bytes",
            "verified",
            "errors",
        ],
        "properties": {
            "mode": {"type": "string"},
            "started": {"type": "number"},
            "ended": {"type": "number"},
            "files": {"type": "integer"},
            "bytes": {"type": "integer"},
            "free_space_bytes": {"type": "integer"},
            "verified": {"type": "boolean"},
            "errors": {"type": "array", "items": {"type": "string"}},
            "job": _NULLABLE_INT,
        },
    },
    "OverwriteResult": {
        "type": "object",
        "required": ["message", "report"],
        "properties": {"message": {"type": "string"}, "report": _ref("OverwriteReport")},
    },
    "Port": {
        "type": "object",
        "required": ["service", "protocol", "address", "port", "standard_port", "state"],
        "properties": {
            "service": {"type": "string"},
            "protocol": {"type": "string", "enum": ["tcp", "udp"]},
            "address": {"type": "string"},
            "port": {"type": "integer"},
            "standard_port": {"type": "integer"},
            "state": {"type": "string"},
            "note": {"type": "string"},
        },
    },
    "AddressBook": {
        "type": "object",
        "required": ["entries", "truncated"],
        "properties": {
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "email", "fax"],
                    "properties": {
                        "name": {"type": "string"},
                        "email": {"type": "string", "description": "empty when none"},
                        "fax": {"type": "string", "description": "empty when none"},
                    },
                    "additionalProperties": False,
                },
            },
            "truncated": {
                "type": "boolean",
                "description": "more match than [ldap] size_limit or the server's limit",
            },
        },
        "additionalProperties": False,
    },
    "IpFilterRule": {
        "type": "object",
        "properties": {
            "protocol": {"type": "string", "enum": ["all", "tcp", "udp", "icmp"]},
            "source": {"type": "string", "description": "CIDR (IPv4 or IPv6), or any"},
            "source_ports": {"type": "string", "description": "a port or low-high, or empty"},
            "destination": {
                "type": "string",
                "description": "a service of the port table or a standard port; empty: all",
            },
            "action": {"type": "string", "enum": ["accept", "reject", "drop"]},
            "icmp_type": {"type": "string", "description": "protocol icmp: a type or number"},
            "number": {"type": "integer", "readOnly": True},
            "hits": {"type": "integer", "readOnly": True},
        },
    },
    "IpFilter": {
        "type": "object",
        "required": ["backend", "rules"],
        "properties": {
            "backend": {"type": "string", "enum": ["gate", "nftables"]},
            "backend_state": {"type": "string"},
            "rules": {"type": "array", "items": {"$ref": "#/components/schemas/IpFilterRule"}},
        },
    },
    "Certificate": {
        "type": "object",
        "required": ["subject", "issuer", "self_signed", "not_before", "not_after"],
        "properties": {
            "subject": {"type": "string"},
            "issuer": {"type": "string"},
            "self_signed": {"type": "boolean"},
            "not_before": {"type": "string", "format": "date-time"},
            "not_after": {"type": "string", "format": "date-time"},
            "serial_number": {"type": "string"},
            "sha256_fingerprint": {"type": "string"},
            "subject_alt_names": {"type": "array", "items": {"type": "string"}},
            "days_left": {"type": "integer"},
            "condition": {"type": "string", "enum": ["valid", "expiring", "expired"]},
            "warning": {
                "type": "boolean",
                "description": "expires within [tls] expiry_warning_days, or has expired",
            },
        },
    },
    "CaBundle": {
        "type": "object",
        "required": ["uploaded", "files"],
        "properties": {
            "uploaded": {"type": "boolean"},
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "error": {"type": "string"},
                        "certificates": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "subject": {"type": "string"},
                                    "not_after": {"type": "string", "format": "date-time"},
                                    "sha256_fingerprint": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Token": {
        "type": "object",
        "required": ["id", "name", "created"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "created": {"type": "number"},
            "token": {"type": "string", "description": "only in the answer that creates it"},
        },
    },
}

_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
_OPEN: list[dict[str, list[str]]] = [{}, {"bearer": []}, {"session": []}]
_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}


def _paths() -> dict[str, Any]:
    job_action_body = {
        "required": False,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {"passcode": {"type": "string"}},
                    "additionalProperties": False,
                }
            }
        },
    }
    return {
        "/api/v1/status": {
            "get": {
                "summary": "Device state, alerts, supplies, trays, bins, counters",
                "operationId": "getStatus",
                "security": _OPEN,
                "responses": {"200": _json(_ref("Status"), "the status"), "401": _ERROR},
            }
        },
        "/api/v1/jobs": {
            "get": {
                "summary": "The jobs, newest first",
                "operationId": "listJobs",
                "security": _OPEN,
                "parameters": [
                    {
                        "name": "which",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["all", "active", "completed"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
                    },
                ],
                "responses": {
                    "200": _json(_ref("JobList"), "the jobs"),
                    **_errors(400, 401),
                },
            },
            "post": {
                "summary": "Submit a document: the body is the document (its Content-Type the "
                "document format), or a multipart/form-data form with a part named file",
                "operationId": "submitJob",
                "security": _OPEN,
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "user", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "copies",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 999},
                    },
                    {"name": "passcode", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "hold",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/pdf": {"schema": _DOCUMENT},
                        "application/octet-stream": {"schema": _DOCUMENT},
                        "text/plain": {"schema": {"type": "string", "minLength": 1}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": _DOCUMENT,
                                    "name": {"type": "string"},
                                    "copies": {"type": "string", "pattern": "^[1-9][0-9]{0,2}$"},
                                    "passcode": {"type": "string"},
                                },
                                "additionalProperties": False,
                            }
                        },
                    },
                },
                "responses": {
                    "201": _json(_ref("Job"), "the job, accepted"),
                    **_errors(400, 401, 403, 413, 503),
                },
            },
        },
        "/api/v1/ifax": {
            "post": {
                "summary": "Send an Internet Fax (RFC 3965): the files rendered to TIFF-F and "
                "mailed through [smtp] to each recipient; a fax-send job",
                "operationId": "sendFax",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["to", "file"],
                                "properties": {
                                    "to": {
                                        "type": "string",
                                        "pattern": ADDRESS_PATTERN,
                                        "description": "an email address (the field may "
                                        "be repeated, or hold several separated by commas)",
                                    },
                                    "file": _DOCUMENT,
                                    "name": {"type": "string"},
                                },
                                "additionalProperties": False,
                            }
                        },
                    },
                },
                "responses": {
                    "201": _json(_ref("Job"), "the fax-send job, sending"),
                    **_errors(400, 401, 403, 413, 415, 503),
                },
            },
        },
        "/api/v1/jobs/{job_id}": {
            "parameters": [_JOB_ID],
            "get": {
                "summary": "One job",
                "operationId": "getJob",
                "security": _OPEN,
                "responses": {
                    "200": _json(_ref("Job"), "the job"),
                    **_errors(400, 401, 404),
                },
            },
        },
        "/api/v1/jobs/{job_id}/{action}": {
            "parameters": [
                _JOB_ID,
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(JOB_ACTIONS)},
                },
            ],
            "post": {
                "summary": "Cancel, hold or release a job; a secure-print job is released "
                "with its passcode, by anybody who has it",
                "operationId": "jobAction",
                "security": _OPEN,
                "requestBody": job_action_body,
                "responses": {
                    "200": _json(_ref("JobActionResult"), "done"),
                    **_errors(400, 401, 403, 404, 409, 415),
                },
            },
        },
        "/api/v1/jobs/{job_id}/preview": {
            "parameters": [_JOB_ID],
            "get": {
                "summary": "A PNG image of the job's first page",
                "operationId": "jobPreview",
                "security": _OPEN,
                "responses": {
                    "200": {
                        "description": "the preview",
                        "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    **_errors(400, 401, 403, 404, 409),
                },
            },
        },
        "/api/v1/config": {
            "get": {
                "summary": "The editable settings (secrets masked)",
                "operationId": "getConfig",
                "security": _ADMIN,
                "responses": {"200": _json(_ref("Settings"), "the settings"), "401": _ERROR},
            },
            "patch": {
                "summary": "Change settings with an RFC 7396 merge patch; applied at once "
                "(a service switched off closes its port) and kept across restarts",
                "operationId": "patchConfig",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/merge-patch+json": {"schema": {"type": "object"}},
                        JSON: {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": _json(_ref("Settings"), "the new settings"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/v1/actions": {
            "post": {
                "summary": "Operator actions: refill, raise or clear a fault, pause, resume, "
                "and the on-demand image overwrite (answered when it is done; 409 while a job "
                "prints; the report says whether every pass read back as written). An "
                "operator's or the administrator's; the overwrite the administrator's only",
                "operationId": "deviceAction",
                "security": _ADMIN,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Action")}}},
                "responses": {
                    "200": _json(
                        {"oneOf": [_ref("ActionResult"), _ref("OverwriteResult")]}, "done"
                    ),
                    **_errors(400, 401, 403, 404, 409, 413, 415),
                },
            }
        },
        "/api/v1/logs": {
            "get": {
                "summary": "The event log, newest first (administrator)",
                "operationId": "getLogs",
                "security": _ADMIN,
                "parameters": [
                    {
                        "name": "category",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(CATEGORIES)},
                    },
                    {
                        "name": "level",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(LEVELS)},
                    },
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**53},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["entries"],
                            "properties": {"entries": {"type": "array", "items": _ref("LogEntry")}},
                        },
                        "the entries",
                    ),
                    **_errors(400, 401),
                },
            }
        },
        "/api/v1/audit-log": {
            "get": {
                "summary": "The security audit log, newest first (administrator, HTTPS only: "
                "403 over plain HTTP); each request is itself recorded (audit-log-export)",
                "operationId": "getAuditLog",
                "security": _ADMIN,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "description": "entries per page (default 100)",
                    },
                    {
                        "name": "before",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
                        "description": "only entries older than this id: next_before of the "
                        "previous page",
                    },
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "number", "minimum": 0},
                        "description": "only entries from this time (seconds since the epoch)",
                    },
                    {"name": "event", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["entries", "next_before"],
                            "properties": {
                                "entries": {"type": "array", "items": _ref("AuditEntry")},
                                "next_before": _NULLABLE_INT,
                            },
                        },
                        "one page of entries",
                    ),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/api/v1/audit-log.csv": {
            "get": {
                "summary": "The whole security audit log as CSV (administrator, HTTPS only); "
                "recorded, and it clears the audit-log-almost-full warning",
                "operationId": "getAuditLogCsv",
                "security": _ADMIN,
                "responses": {
                    "200": {
                        "description": "RFC 4180 CSV with a header row: id, time (UTC), "
                        "event_id, event, user, address, interface, outcome, details (JSON)",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 403),
                },
            }
        },
        "/api/v1/ports": {
            "get": {
                "summary": "The live port table",
                "operationId": "getPorts",
                "security": _OPEN,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["ports"],
                            "properties": {"ports": {"type": "array", "items": _ref("Port")}},
                        },
                        "the port table",
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/v1/tokens": {
            "get": {
                "summary": "API tokens (their secrets are never shown again)",
                "operationId": "listTokens",
                "security": _ADMIN,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["tokens"],
                            "properties": {"tokens": {"type": "array", "items": _ref("Token")}},
                        },
                        "the tokens",
                    ),
                    **_errors(401),
                },
            },
            "post": {
                "summary": "Create a token; the answer carries its secret, once",
                "operationId": "createToken",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 64}
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(_ref("Token"), "the token"),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
        },
        "/api/v1/tokens/{token_id}": {
            "parameters": [
                {"name": "token_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "delete": {
                "summary": "Revoke a token",
                "operationId": "deleteToken",
                "security": _ADMIN,
                "responses": {
                    "204": {"description": "revoked"},
                    **_errors(401, 403, 404),
                },
            },
        },
        "/api/v1/events": {
            "get": {
                "summary": "Server-Sent Events: status, job and (administrator) log events",
                "operationId": "events",
                "security": _OPEN,
                "responses": {
                    "200": {
                        "description": "an event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 503),
                },
            }
        },
        "/api/v1/certificate": {
            "get": {
                "summary": "The device certificate (HTTPS, IPPS)",
                "operationId": "getCertificate",
                "security": _ADMIN,
                "responses": {"200": _json(_ref("Certificate"), "the certificate"), "401": _ERROR},
            },
            "put": {
                "summary": "Install a certificate (PEM, chain after it) and its key; without "
                "a key, one signed from the device's request keeps the device's key. The TLS "
                "listeners restart with it",
                "operationId": "installCertificate",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["certificate"],
                                "properties": {
                                    "certificate": {"type": "string"},
                                    "key": {"type": "string"},
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Certificate"), "installed"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/v1/address-book": {
            "get": {
                "summary": "The directory's people ([ldap]) whose name or email contains q "
                "(every one, up to [ldap] size_limit, when q is empty), sorted by name: the "
                "recipients of scans and Internet Faxes. The administrator's, and any logged-in "
                "user's when [ldap] address_book_for_users",
                "operationId": "getAddressBook",
                "security": _ADMIN,
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": 256},
                        "description": "text to find (filter syntax is text: RFC 4515)",
                    }
                ],
                "responses": {
                    "200": _json(_ref("AddressBook"), "the people found"),
                    # 503: no directory configured, or it does not answer (the error says).
                    **_errors(400, 401, 403, 503),
                },
            },
        },
        "/api/v1/ip-filter": {
            "get": {
                "summary": "The IP filter: rules in order (first match wins, no match "
                "accepts), each with how many connections or datagrams it turned away",
                "operationId": "getIpFilter",
                "security": _ADMIN,
                "responses": {"200": _json(_ref("IpFilter"), "the rules"), "401": _ERROR},
            },
            "put": {
                "summary": "Replace the rules. Refused (422) when they would turn the "
                "requesting address away from HTTPS, unless force is true",
                "operationId": "putIpFilter",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["rules"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": _ref("IpFilterRule"),
                                    },
                                    "backend": {"type": "string", "enum": ["gate", "nftables"]},
                                    "force": {"type": "boolean"},
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("IpFilter"), "applied"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/v1/ipsec": {
            "get": {
                "summary": "The IPsec policies (pre-shared keys masked). Recorded, not "
                "enforced: the host gives the device no kernel ESP. Changed with PATCH "
                "/api/v1/config over HTTPS only",
                "operationId": "getIpsec",
                "security": _ADMIN,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["enforced", "note", "enabled", "policies"],
                            "properties": {
                                "enforced": {"type": "boolean"},
                                "note": {"type": "string"},
                                "tunnel_life": {"type": "string"},
                                "enabled": {"type": "boolean"},
                                "allow_non_ipsec": {"type": "boolean"},
                                "policies": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "the policies",
                    ),
                    "401": _ERROR,
                },
            }
        },
        "/api/v1/certificate/csr": {
            "post": {
                "summary": "A certificate signing request (PKCS #10) for the device's key",
                "operationId": "makeCsr",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "common_name": {"type": "string", "pattern": "^[ -~]{0,64}$"}
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["csr"],
                            "properties": {"csr": {"type": "string"}},
                        },
                        "the request, PEM",
                    ),
                    **_errors(400, 401, 403, 413, 415),
                },
            }
        },
        "/api/v1/ca-bundle": {
            "get": {
                "summary": "The CAs outbound peers are verified with ([tls] ca_bundle and the "
                "imported bundle)",
                "operationId": "getCaBundle",
                "security": _ADMIN,
                "responses": {"200": _json(_ref("CaBundle"), "the bundles"), "401": _ERROR},
            },
            "put": {
                "summary": "Import a CA bundle (PEM certificates) for outbound peers; an empty "
                "one removes the imported bundle",
                "operationId": "importCaBundle",
                "security": _ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["bundle"],
                                "properties": {"bundle": {"type": "string"}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("CaBundle"), "imported"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "security": [{}],
                "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
            }
        },
    }


def _action_schema(device: Device) -> dict[str, Any]:
    """What POST /api/v1/actions takes, exactly: the targets are this device's trays and
    supplies, and a fault names the kind of target it has."""
    trays = [t.key for t in device.trays]
    supplies = [s.key for s in device.supplies]
    toners = [s.key for s in device.supplies if s.kind == "toner"]

    def one(action: list[str], kind: list[str] | None, target: list[str] | None) -> Any:
        properties: dict[str, Any] = {"action": {"type": "string", "enum": action}}
        if kind is not None:
            properties["kind"] = {"type": "string", "enum": kind}
        if target is not None:
            properties["target"] = {"type": "string", "enum": target}
        required = ["action"] + (["kind"] if kind else [])
        return {
            "type": "object",
            "required": required,
            "properties": properties,
            "additionalProperties": False,
        }

    manual = [f for f in FAULTS if f not in ("tray-empty", "toner-low", "toner-empty")]
    return {
        "oneOf": [
            one(["refill"], None, ["all", "trays", "toner", "supplies", "bins", *trays, *supplies]),
            one(["fault", "clear"], manual, None),
            one(["fault", "clear"], ["tray-empty"], trays),
            one(["fault", "clear"], ["toner-low", "toner-empty"], toners),
            one(["clear"], None, None),
            one(["pause", "resume"], None, None),
            one(["overwrite"], None, None),
        ],
        "description": "an operator action: " + ", ".join(DEVICE_ACTIONS),
    }


def openapi_document(device: Device, config: Config | None = None) -> dict[str, Any]:
    """`config`: the live configuration (the scan templates' mailboxes); default: the
    embedded defaults."""
    # Imported here: openapi_scan reads api_scan_templates, which imports this module.
    from mfpd.services.web.openapi_scan import scan_paths, scan_schemas

    config = config or Config()
    identity = device.identity
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{identity.make_and_model} web API",
            "version": "1",
            "description": "The device's JSON API. Errors are {error, status} objects. "
            "Scripts authenticate with a Bearer token the administrator creates; the pages "
            "use their session cookie with an X-CSRF-Token header.",
        },
        "paths": {**_paths(), **scan_paths()},
        "components": {
            "schemas": {**_SCHEMAS, **scan_schemas(config), "Action": _action_schema(device)},
            "responses": {"Error": _json(_ref("Error"), "an error")},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
