"""Validation of PagerDuty stand-in responses against PagerDuty's published OpenAPI document.

The document lives in the shared reference folder beside the clone
(`<repo>/../shared/reference/pagerduty-rest-openapiv3.json`). A few of its schemas contradict
what the real API sends; `SPEC_DEFECTS` corrects exactly those, each with its reason, so the
stand-in is held to the real wire format rather than to the document's mistakes.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "reference" / "pagerduty-rest-openapiv3.json"
SPEC_URI = "urn:pagerduty-rest-openapiv3"

# (schema name, property): PagerDuty sends null here although the document does not say
# `nullable` (an unset priority, an open incident's resolved_at, a user target's on-call
# window, a layer without end...).
NULLABLE = [
    ("Incident", "priority"),
    ("Incident", "resolved_at"),
    ("Incident", "resolve_reason"),
    ("Service", "support_hours"),
    ("Service", "last_incident_timestamp"),
    ("Service", "response_play"),
    ("Oncall", "schedule"),
    ("Oncall", "start"),
    ("Oncall", "end"),
    ("ScheduleLayer", "end"),
    ("MaintenanceWindow", "created_by"),
]


def _object_part(schema: dict) -> dict:
    """The part of a schema (possibly allOf[...]) that declares the given properties."""
    if "properties" in schema:
        return schema
    for part in schema.get("allOf", []):
        if "properties" in part:
            return part
    raise KeyError("no properties")


def _patch(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    # 1. AcknowledgeLogEntry says type "acknowledgement_log_entry", which its own base
    #    (LogEntry.type's enum) forbids; the API sends "acknowledge_log_entry".
    _object_part(schemas["AcknowledgeLogEntry"]["allOf"][1])["properties"]["type"]["enum"] = [
        "acknowledge_log_entry"]
    # 2. Channel's oneOf alternatives are open objects that overlap (every channel matches
    #    several), so `oneOf` can never pass: it means anyOf.
    schemas["Channel"]["anyOf"] = schemas["Channel"].pop("oneOf")
    # 3. `include[]=escalation_policies` expands a service's policy to the full object, as
    #    the endpoint's own description of include[] says; the schema only allows a reference.
    service = _object_part(schemas["Service"])
    service["properties"]["escalation_policy"] = {"anyOf": [
        service["properties"]["escalation_policy"],
        {"$ref": "#/components/schemas/EscalationPolicy"}]}
    #    Likewise `include[]=incidents|services` on log entries.
    log_entry = _object_part(schemas["LogEntry"])
    for prop, full in (("incident", "Incident"), ("service", "Service")):
        log_entry["properties"][prop] = {"anyOf": [
            log_entry["properties"][prop], {"$ref": f"#/components/schemas/{full}"}]}
    # 4. Speed, not correctness: a log entry list's items are a oneOf over fifteen types told
    #    apart by `type` alone; validate_response checks each entry against its own type's
    #    schema instead (same verdict, a fraction of the time).
    for path in ("/log_entries", "/incidents/{id}/log_entries"):
        response = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        response["schema"]["allOf"][1]["properties"]["log_entries"]["items"] = {}
    # 5. Fields the API sends as null.
    for name, prop in NULLABLE:
        part = _object_part(schemas[name])
        part["properties"][prop] = {"anyOf": [part["properties"][prop], {"enum": [None]}]}
    return spec


@functools.lru_cache(maxsize=1)
def _spec_and_registry() -> tuple[dict, Registry]:
    if not SPEC_PATH.exists():
        pytest.skip(f"PagerDuty OpenAPI document not found at {SPEC_PATH}")
    spec = _patch(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    return spec, Registry().with_resource(SPEC_URI, resource)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def response_schema_ref(path: str, method: str, status: int) -> str:
    spec, _ = _spec_and_registry()
    response = spec["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:  # shared responses (errors)
        return f"{SPEC_URI}{response['$ref']}/content/application~1json/schema"
    return (f"{SPEC_URI}#/{_pointer('paths', path, method.lower(), 'responses', str(status))}"
            "/content/application~1json/schema")


@functools.cache
def _validator(path: str, method: str, status: int) -> OAS30Validator:
    _, registry = _spec_and_registry()
    return OAS30Validator({"$ref": response_schema_ref(path, method, status)}, registry=registry)


@functools.cache
def _schema_validator(name: str) -> OAS30Validator:
    spec, registry = _spec_and_registry()
    if name not in spec["components"]["schemas"]:
        return OAS30Validator({"not": {}, "description": f"no schema {name}"})
    return OAS30Validator({"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry)


def validate_response(path: str, method: str, status: int, body: Any) -> None:
    """Raise AssertionError if `body` is not a valid `status` answer of `method path` (path as
    in the document, e.g. "/incidents/{id}")."""
    validator = _validator(path, method.lower(), status)
    errors = list(validator.iter_errors(body))
    if path.endswith("log_entries") and status == 200 and isinstance(body, dict):
        for entry in body.get("log_entries", []):
            schema_name = "".join(part.title() for part in str(entry.get("type")).split("_"))
            errors += list(_schema_validator(schema_name).iter_errors(entry))
    if errors:
        # The deepest, most specific error reads best.
        best = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise AssertionError(f"{method} {path} {status}: {best.message} at "
                             f"{'/'.join(map(str, best.absolute_path))}")
