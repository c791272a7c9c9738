"""The OpenAPI paths and schemas of the scanner's part of /api/v1 (api_scan_templates.py,
api_scans.py, api_mailboxes.py and the job thumbnail), merged into openapi.py's document.

The template schema is the configuration's ([[scan.templates]]) with what the scanner can do
(its resolutions, duplex from the feeder only) and the destinations the device sends to,
including the mailboxes it has: what the document calls valid, the API accepts.
"""

from __future__ import annotations

from typing import Any

from mfpd.config import Config
from mfpd.device.scan_settings import FORMATS, RESOLUTIONS, ColorMode, InputSource, Intent
from mfpd.services.web.api_scan_templates import MAX_URI, destination_pattern

JSON = "application/json"
_ERROR = {"$ref": "#/components/responses/Error"}
_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
_OPEN: list[dict[str, list[str]]] = [{}, {"bearer": []}, {"session": []}]
_BINARY = {"type": "string", "format": "binary"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _template_schema(config: Config, *, request: bool) -> dict[str, Any]:
    """A template as a client sends it (`request`: every constraint the device checks) or as
    the device answers it (passwords masked)."""
    uri: dict[str, Any] = {"type": "string"}
    if request:
        mailboxes = [box.name for box in config.scan.mailboxes]
        uri = {"type": "string", "maxLength": MAX_URI, "pattern": destination_pattern(mailboxes)}
    table = {
        "type": "object",
        "required": ["uri"],
        "properties": {
            "uri": uri,
            "username": {"type": "string"},
            "password": {
                "type": "string",
                "description": "sealed when stored; answered as ******** when set, and "
                "******** sent back keeps the stored one",
            },
        },
        "additionalProperties": False,
    }
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["name", "destinations"],
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "^[A-Za-z0-9 ._-]+$",
            },
            "destinations": {
                "type": "array",
                "minItems": 1,
                "maxItems": 16,
                "items": {"anyOf": [uri, table]},
                "description": "mailto:ADDR, ftp:// or ftps://USER@HOST:PORT/PATH, "
                "smb://USER@HOST:PORT/SHARE/PATH, mailbox:NAME; a password in the URI "
                "(USER:PASS@) moves into the table form, sealed",
            },
            "resolution": {"type": "integer", "enum": list(RESOLUTIONS)},
            "color_mode": {"type": "string", "enum": [m.value for m in ColorMode]},
            "format": {"type": "string", "enum": list(FORMATS)},
            "duplex": {"type": "boolean"},
            "source": {"type": "string", "enum": [s.value for s in InputSource]},
            "intent": {"type": "string", "enum": [i.value for i in Intent]},
            "blank_page_suppression": {"type": "boolean"},
            "pdfa": {"type": "boolean"},
        },
        "additionalProperties": False,
    }
    if request:
        # Only the document feeder scans both sides.
        schema["if"] = {"properties": {"duplex": {"const": True}}, "required": ["duplex"]}
        schema["then"] = {"properties": {"source": {"const": "Feeder"}}, "required": ["source"]}
    return schema


def scan_schemas(config: Config) -> dict[str, Any]:
    return {
        "ScanTemplate": _template_schema(config, request=False),
        "ScanTemplateInput": _template_schema(config, request=True),
        "Scanner": {
            "type": "object",
            "required": ["state", "adf_state", "feeder_sheets", "feeder_capacity", "glass"],
            "properties": {
                "state": {"type": "string", "enum": ["Idle", "Processing", "Stopped"]},
                "adf_state": {"type": "string", "description": "eSCL AdfState"},
                "feeder_sheets": {"type": "integer"},
                "feeder_capacity": {"type": "integer"},
                "feeder": {"type": "array", "items": {"type": "string"}},
                "glass": {"type": "string"},
                "jammed": {"type": "boolean"},
                "cover_open": {"type": "boolean"},
                "images": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "images scanned, by colour mode",
                },
            },
        },
        "Mailbox": {
            "type": "object",
            "required": ["name", "protected", "delete_after_retrieval", "documents"],
            "properties": {
                "name": {"type": "string"},
                "protected": {"type": "boolean", "description": "it has a passcode"},
                "delete_after_retrieval": {"type": "boolean"},
                "documents": {
                    "type": ["integer", "null"],
                    "description": "how many; null for a protected folder",
                },
            },
        },
        "MailboxDocument": {
            "type": "object",
            "required": ["id", "filename", "format", "size", "job_id", "created_at", "url"],
            "properties": {
                "id": {"type": "string"},
                "filename": {"type": "string"},
                "format": {"type": "string"},
                "size": {"type": "integer"},
                "job_id": {"type": "integer"},
                "created_at": {"type": "number"},
                "url": {"type": "string"},
            },
        },
    }


def _scanner_answer(description: str) -> dict[str, Any]:
    return _json(
        {
            "type": "object",
            "required": ["message", "scanner"],
            "properties": {"message": {"type": "string"}, "scanner": _ref("Scanner")},
        },
        description,
    )


_TEMPLATE_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
_MAILBOX = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_DOC = {"name": "doc", "in": "path", "required": True, "schema": {"type": "string"}}
_PASSCODE = {
    "name": "X-Mailbox-Passcode",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "the folder's passcode, when it has one",
}
_PASSCODE_FORM = {
    "required": False,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"passcode": {"type": "string"}},
                "additionalProperties": False,
            }
        }
    },
}


def scan_paths() -> dict[str, Any]:
    templates_list = _json(
        {
            "type": "object",
            "required": ["templates"],
            "properties": {"templates": {"type": "array", "items": _ref("ScanTemplate")}},
        },
        "the templates, passwords masked",
    )
    return {
        "/api/v1/scan-templates": {
            "get": {
                "summary": "The walk-up scan templates ([[scan.templates]])",
                "operationId": "listScanTemplates",
                "security": _ADMIN,
                "responses": {"200": templates_list, **_errors(401)},
            },
            "post": {
                "summary": "Add a template (kept in the settings, passwords sealed)",
                "operationId": "createScanTemplate",
                "security": _ADMIN,
                "requestBody": _body(_ref("ScanTemplateInput")),
                "responses": {
                    "201": {
                        **_json(_ref("ScanTemplate"), "the template"),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 403, 409, 413, 415, 422),
                },
            },
        },
        "/api/v1/scan-templates/{name}": {
            "parameters": [_TEMPLATE_NAME],
            "get": {
                "summary": "One template",
                "operationId": "getScanTemplate",
                "security": _ADMIN,
                "responses": {
                    "200": _json(_ref("ScanTemplate"), "the template"),
                    **_errors(401, 404),
                },
            },
            "put": {
                "summary": "Replace a template (a masked password sent back is kept)",
                "operationId": "replaceScanTemplate",
                "security": _ADMIN,
                "requestBody": _body(_ref("ScanTemplateInput")),
                "responses": {
                    "200": _json(_ref("ScanTemplate"), "the template"),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            },
            "delete": {
                "summary": "Delete a template",
                "operationId": "deleteScanTemplate",
                "security": _ADMIN,
                "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404, 422)},
            },
        },
        "/api/v1/scans": {
            "post": {
                "summary": "Start a walk-up scan with a template: scanned, then delivered to "
                "its destinations (follow the job)",
                "operationId": "startScan",
                "security": _OPEN,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["template"],
                        "properties": {"template": {"type": "string", "minLength": 1}},
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    "202": {
                        **_json(
                            {
                                "type": "object",
                                "required": ["id", "uuid", "url", "job"],
                                "properties": {
                                    "id": {"type": "integer"},
                                    "uuid": {"type": "string"},
                                    "url": {"type": "string"},
                                    "job": {"$ref": "#/components/schemas/Job"},
                                },
                            },
                            "the scan job, started",
                        ),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "409": _json(
                        {
                            "type": "object",
                            "required": ["error", "status"],
                            "properties": {
                                "error": {"type": "string"},
                                "status": {"type": "integer"},
                                "reason": {"type": "string", "description": "eSCL AdfState"},
                            },
                        },
                        "the feeder cannot feed (empty, jammed, open)",
                    ),
                    "503": {
                        **_json({"$ref": "#/components/schemas/Error"}, "the scanner is busy"),
                        "headers": {"Retry-After": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            }
        },
        "/api/v1/originals": {
            "post": {
                "summary": "Put files (PDF, PostScript, PNG, JPEG, TIFF) in the document "
                "feeder, a sheet per page, or one on the glass",
                "operationId": "loadOriginals",
                "security": _ADMIN,
                "parameters": [
                    {
                        "name": "to",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["feeder", "glass"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {**_BINARY, "minLength": 1},
                                    "to": {"type": "string", "enum": ["feeder", "glass"]},
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _scanner_answer("loaded"),
                    **_errors(400, 401, 403, 404, 413, 415, 422),
                },
            },
            "delete": {
                "summary": "Take every original away (the glass holds the test chart again)",
                "operationId": "clearOriginals",
                "security": _ADMIN,
                "responses": {"200": _scanner_answer("cleared"), **_errors(401, 403, 404)},
            },
        },
        "/api/v1/mailboxes": {
            "get": {
                "summary": "The scan mailboxes",
                "operationId": "listMailboxes",
                "security": _OPEN,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["mailboxes"],
                            "properties": {
                                "mailboxes": {"type": "array", "items": _ref("Mailbox")}
                            },
                        },
                        "the folders",
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/v1/mailboxes/{name}": {
            "parameters": [_MAILBOX],
            "get": _folder("listMailbox", header=True),
            "post": _folder("listMailboxWithForm", header=False),
        },
        "/api/v1/mailboxes/{name}/{doc}": {
            "parameters": [_MAILBOX, _DOC],
            "get": _download("getMailboxDocument", header=True),
            "post": _download("getMailboxDocumentWithForm", header=False),
            "delete": {
                "summary": "Delete a document",
                "operationId": "deleteMailboxDocument",
                "security": _OPEN,
                "parameters": [_PASSCODE],
                "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404, 500)},
            },
        },
        "/api/v1/jobs/{job_id}/thumbnail": {
            "parameters": [
                {
                    "name": "job_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                }
            ],
            "get": {
                "summary": "A scan job's first image, small (PNG); until it is scanned, a "
                "redirect to a generic picture",
                "operationId": "scanThumbnail",
                "security": _OPEN,
                "responses": {
                    "200": {
                        "description": "the thumbnail",
                        "content": {"image/png": {"schema": _BINARY}},
                    },
                    "302": {"description": "not scanned yet"},
                    **_errors(400, 401, 404),
                },
            },
        },
    }


def _folder(operation: str, *, header: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": "A folder's documents (its passcode in X-Mailbox-Passcode"
        + (")" if header else ", or a passcode form field)"),
        "operationId": operation,
        "security": _OPEN,
        "parameters": [_PASSCODE],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": ["name", "protected", "documents"],
                    "properties": {
                        "name": {"type": "string"},
                        "protected": {"type": "boolean"},
                        "documents": {"type": "array", "items": _ref("MailboxDocument")},
                    },
                },
                "the documents",
            ),
            **_errors(401, 403, 404, 500),
        },
    }
    if not header:
        doc["requestBody"] = _PASSCODE_FORM
    return doc


def _download(operation: str, *, header: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": "Download a document (streamed); removed afterwards when the folder "
        "deletes after retrieval",
        "operationId": operation,
        "security": _OPEN,
        "parameters": [_PASSCODE],
        "responses": {
            "200": {
                "description": "the document, in its own format",
                "content": {"*/*": {"schema": _BINARY}},
            },
            **_errors(401, 403, 404, 500),
        },
    }
    if not header:
        doc["requestBody"] = _PASSCODE_FORM
    return doc
