"""The OpenAPI 3.1 document of the JSON API, generated from the gateway's descriptor set.

    python -m gateway.openapi --descriptor build/aiorch.pb --out build/openapi.json

Everything comes from the contracts: paths and methods from their `google.api.http` rules,
descriptions from their comments (the descriptor carries source info), schemas from the
messages, shaped as Envoy's grpc_json_transcoder really reads and prints them with the
print options of gateway/envoy.yaml.tmpl: proto field names (preserve_proto_field_names),
enums by name, 64-bit integers as strings, Duration and Timestamp as strings, every field
printed, server streams as one JSON object per line. Only EXAMPLES are written here, and
each is checked against the generated schema of its request.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# Registers the http option so the descriptor's method options parse with it.
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

PACKAGE = "aiorch.v1"
FDP = descriptor_pb2.FieldDescriptorProto
INT64 = {FDP.TYPE_INT64, FDP.TYPE_SINT64, FDP.TYPE_SFIXED64}
UINT64 = {FDP.TYPE_UINT64, FDP.TYPE_FIXED64}
INT32 = {FDP.TYPE_INT32, FDP.TYPE_SINT32, FDP.TYPE_SFIXED32}
UINT32 = {FDP.TYPE_UINT32, FDP.TYPE_FIXED32}
# The JSON mapping of 64-bit integers: printed as strings, read from strings or numbers.
INT64_SCHEMA = {"type": ["string", "integer"], "format": "int64", "pattern": r"^-?[0-9]+$"}
UINT64_SCHEMA = {"type": ["string", "integer"], "format": "uint64", "pattern": r"^[0-9]+$"}
DURATION = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
    "description": "A duration in seconds with an s suffix (google.protobuf.Duration).",
    "examples": ["30s", "0.5s"],
}
WELL_KNOWN = {
    ".google.protobuf.Duration": DURATION,
    ".google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339, UTC (google.protobuf.Timestamp).",
    },
    ".google.protobuf.Struct": {"type": "object"},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array"},
    ".google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    ".google.protobuf.FieldMask": {"type": "string"},
    ".google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "description": "A message of the type @type names, its fields beside @type.",
    },
    ".google.protobuf.DoubleValue": {"type": ["number", "null"]},
    ".google.protobuf.FloatValue": {"type": ["number", "null"]},
    ".google.protobuf.Int64Value": {**INT64_SCHEMA, "type": ["string", "integer", "null"]},
    ".google.protobuf.UInt64Value": {**UINT64_SCHEMA, "type": ["string", "integer", "null"]},
    ".google.protobuf.Int32Value": {"type": ["integer", "null"], "format": "int32"},
    ".google.protobuf.UInt32Value": {"type": ["integer", "null"], "format": "uint32"},
    ".google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    ".google.protobuf.StringValue": {"type": ["string", "null"]},
    ".google.protobuf.BytesValue": {"type": ["string", "null"], "contentEncoding": "base64"},
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# Request examples, by RPC: the one hand-written part. `python -m gateway.openapi` fails
# if one does not fit its generated schema, and the e2e tests send each through the gateway.
LABELS = [{"name": "finance"}, {"name": "sports"}]
EXAMPLES: dict[str, dict] = {
    "aiorch.v1.ClassifierService.Classify": {
        "text": "Bob will send the invoice on Friday.",
        "labels": LABELS,
        "include_keywords": True,
    },
    "aiorch.v1.ClassifierService.ClassifyBatch": {
        "texts": ["The match ended 2-1.", "Bob will send the invoice on Friday."],
        "labels": LABELS,
    },
    "aiorch.v1.ClassifierService.RegisterLabelSet": {
        "labels": [
            {
                "name": "finance",
                "description": "Money: invoices, payments, prices and budgets.",
                "examples": ["Please pay the invoice by Friday."],
            },
            {"name": "sports", "examples": ["The match ended 2-1 after extra time."]},
        ]
    },
    "aiorch.v1.MeetingIntelService.Analyze": {
        "transcript": "Alice: Bob, can you send the invoice to Acme by Friday?\n"
        "Bob: Sure, I will send it by Friday. We decided to drop the old pricing.",
        "meeting_date": "2026-03-02",
    },
    "aiorch.v1.EmbeddingsService.Embed": {"texts": ["Bob will send the invoice."]},
    "aiorch.v1.AssistantService.IndexDocument": {
        "source_id": "acme-call.txt",
        "title": "Call with Acme",
        "text": "Bob will send the invoice to Acme by Friday. We dropped the old pricing.",
    },
    "aiorch.v1.AssistantService.Search": {"query": "When is the invoice due?", "top_k": 3},
    "aiorch.v1.AssistantService.CreateSession": {"title": "Acme account"},
    "aiorch.v1.AssistantService.Chat": {"message": "When is the invoice to Acme due?"},
    "aiorch.v1.AssistantService.StreamChat": {"message": "When is the invoice to Acme due?"},
    "aiorch.v1.OrchestratorService.CreateWorkflow": {
        "type": "classification",
        "wait": True,
        "input": {"text": "Bob will send the invoice on Friday.", "labels": LABELS},
        "timeout": "20s",
    },
    "aiorch.v1.OrchestratorService.CreateBatch": {
        "items": [
            {"type": "classification", "input": {"text": "The match ended 2-1.", "labels": LABELS}},
            {"type": "embedding", "input": {"text": "Bob will send the invoice."}},
        ],
        "max_parallelism": 2,
    },
    "aiorch.v1.OrchestratorService.Optimize": {},
    "aiorch.v1.OrchestratorService.InvalidateCache": {"pattern": "embedding:*"},
    "aiorch.v1.MonitorService.Optimize": {},
    "aiorch.v1.MonitorService.TrackActivity": {
        "activity_type": "workflow_created",
        "feature": "classification",
        "metadata": {"source": "openapi example"},
        "session_id": "example-session",
    },
    "aiorch.v1.MonitorService.GetMetricsHistory": {"window": "60s", "step": "10s"},
    "aiorch.v1.MonitorService.GetMetricsSummary": {"window": "60s"},
    "aiorch.v1.MonitorService.GetAlerts": {"include_resolved": True},
    "aiorch.v1.MonitorService.GetActivitySummary": {"window": "3600s"},
}


def _comment(location) -> str:
    text = (location.leading_comments or location.trailing_comments).strip()
    return "\n".join(line.strip() for line in text.splitlines()).strip()


@dataclass
class Contracts:
    """The descriptor set, indexed: messages and enums by full name, comments by path."""

    files: list[descriptor_pb2.FileDescriptorProto]
    messages: dict[str, tuple[descriptor_pb2.DescriptorProto, str]] = field(default_factory=dict)
    enums: dict[str, tuple[descriptor_pb2.EnumDescriptorProto, str]] = field(default_factory=dict)
    comments: dict[tuple[str, tuple[int, ...]], str] = field(default_factory=dict)
    message_paths: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)

    @classmethod
    def load(cls, data: bytes) -> Contracts:
        found = cls(list(descriptor_pb2.FileDescriptorSet.FromString(data).file))
        for file in found.files:
            for location in file.source_code_info.location:
                if location.leading_comments or location.trailing_comments:
                    found.comments[(file.name, tuple(location.path))] = _comment(location)
            prefix = f".{file.package}" if file.package else ""
            for index, message in enumerate(file.message_type):
                found._add_message(file.name, prefix, message, (4, index))
            for index, enum in enumerate(file.enum_type):
                found.enums[f"{prefix}.{enum.name}"] = (enum, file.name)
                found.message_paths[f"{prefix}.{enum.name}"] = (file.name, (5, index))
        return found

    def _add_message(self, file: str, prefix: str, message, path: tuple[int, ...]) -> None:
        name = f"{prefix}.{message.name}"
        self.messages[name] = (message, file)
        self.message_paths[name] = (file, path)
        for index, nested in enumerate(message.nested_type):
            self._add_message(file, name, nested, (*path, 3, index))
        for index, enum in enumerate(message.enum_type):
            self.enums[f"{name}.{enum.name}"] = (enum, file)
            self.message_paths[f"{name}.{enum.name}"] = (file, (*path, 4, index))

    def comment(self, full_name: str, *rest: int) -> str:
        file, path = self.message_paths[full_name]
        return self.comments.get((file, (*path, *rest)), "")


def component_name(full_name: str) -> str:
    """`.aiorch.v1.ClassifyRequest` → `ClassifyRequest`; other packages keep theirs."""
    return full_name.removeprefix(f".{PACKAGE}.").lstrip(".")


class Builder:
    def __init__(self, contracts: Contracts):
        self.contracts = contracts
        self.schemas: dict[str, dict] = {}

    def ref(self, full_name: str) -> dict:
        """A $ref to the message's or enum's component, made on first use."""
        if full_name in WELL_KNOWN:
            return copy.deepcopy(WELL_KNOWN[full_name])
        name = component_name(full_name)
        if name not in self.schemas:
            self.schemas[name] = {}  # reserved first: messages may refer to themselves
            if full_name in self.contracts.enums:
                self.schemas[name] = self.enum_schema(full_name)
            else:
                self.schemas[name] = self.message_schema(full_name)
        return {"$ref": f"#/components/schemas/{name}"}

    def enum_schema(self, full_name: str) -> dict:
        enum, _ = self.contracts.enums[full_name]
        lines = [self.contracts.comment(full_name)]
        for index, value in enumerate(enum.value):
            said = self.contracts.comment(full_name, 2, index)
            lines.append(f"- {value.name}: {said}" if said else f"- {value.name}")
        return {
            "type": "string",
            "enum": [value.name for value in enum.value],
            "description": "\n".join(line for line in lines if line),
        }

    def message_schema(self, full_name: str) -> dict:
        message, _ = self.contracts.messages[full_name]
        properties = {}
        for index, item in enumerate(message.field):
            schema = self.field_schema(item)
            said = self.contracts.comment(full_name, 2, index)
            if item.HasField("oneof_index") and not item.proto3_optional:
                group = message.oneof_decl[item.oneof_index].name
                said = f"{said} (one of {group}: set at most one)".strip()
            if item.options.deprecated:
                schema["deprecated"] = True
            if said:
                # JSON Schema 2020-12 (OpenAPI 3.1) lets a description stand beside $ref.
                schema = {**schema, "description": said}
            properties[item.name] = schema
        # No additionalProperties: false, as the transcoder ignores fields it does not know.
        schema = {"type": "object", "properties": properties}
        said = self.contracts.comment(full_name)
        if said:
            schema["description"] = said
        return schema

    def field_schema(self, item: descriptor_pb2.FieldDescriptorProto) -> dict:
        if item.type == FDP.TYPE_MESSAGE:
            entry = self.contracts.messages.get(item.type_name)
            if entry and entry[0].options.map_entry:
                value = entry[0].field[1]
                return {"type": "object", "additionalProperties": self.field_schema(value)}
        single = self.single_schema(item)
        if item.label == FDP.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def single_schema(self, item: descriptor_pb2.FieldDescriptorProto) -> dict:
        kind = item.type
        if kind in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            return self.ref(item.type_name)
        if kind in (FDP.TYPE_DOUBLE, FDP.TYPE_FLOAT):
            return {"type": "number", "format": "double" if kind == FDP.TYPE_DOUBLE else "float"}
        if kind in INT32:
            return {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
        if kind in UINT32:
            return {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2**32 - 1}
        if kind in INT64:
            return dict(INT64_SCHEMA)
        if kind in UINT64:
            return dict(UINT64_SCHEMA)
        if kind == FDP.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == FDP.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}

    def query_parameters(self, full_name: str, bound: set[str], prefix: str = "") -> list[dict]:
        """A GET's request fields as query parameters (nested ones as a.b), but those the
        path binds."""
        message, _ = self.contracts.messages[full_name]
        found = []
        for index, item in enumerate(message.field):
            name = f"{prefix}{item.name}"
            if name in bound:
                continue
            nested = item.type == FDP.TYPE_MESSAGE and item.type_name not in WELL_KNOWN
            if nested and item.label != FDP.LABEL_REPEATED and prefix.count(".") < 3:
                found += self.query_parameters(item.type_name, bound, f"{name}.")
                continue
            if nested:
                continue  # a repeated message cannot travel in a query string
            parameter = {"name": name, "in": "query", "schema": self.field_schema(item)}
            said = self.contracts.comment(full_name, 2, index)
            if said:
                parameter["description"] = said
            if item.label == FDP.LABEL_REPEATED:
                parameter |= {"style": "form", "explode": True}
            found.append(parameter)
        return found


PATH_VARIABLE = re.compile(r"\{([^}=]+)(=[^}]*)?\}")


def http_rules(rule: http_pb2.HttpRule):
    yield rule
    for more in rule.additional_bindings:
        yield from http_rules(more)


def field_of(
    contracts: Contracts, message: str, dotted: str
) -> descriptor_pb2.FieldDescriptorProto:
    item = None
    for part in dotted.split("."):
        fields = {f.name: f for f in contracts.messages[message][0].field}
        item = fields[part]
        message = item.type_name
    assert item is not None
    return item


def operation(
    builder: Builder, file: str, service_index: int, service, index: int, method, rule
) -> tuple[str, str, dict]:
    contracts = builder.contracts
    verb = rule.WhichOneof("pattern")
    template = getattr(rule, verb) if verb in HTTP_METHODS else rule.custom.path
    verb = verb if verb in HTTP_METHODS else rule.custom.kind.lower()
    full = f"{PACKAGE}.{service.name}.{method.name}"
    said = contracts.comments.get((file, (6, service_index, 2, index)), "")
    bound = [m[1] for m in PATH_VARIABLE.finditer(template)]
    path = PATH_VARIABLE.sub(lambda m: "{" + m[1] + "}", template)
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": builder.single_schema(field_of(contracts, method.input_type, name)),
        }
        for name in bound
    ]
    result: dict = {
        "operationId": f"{service.name}_{method.name}",
        "tags": [service.name],
        "summary": said.splitlines()[0] if said else method.name,
        "x-grpc-method": f"/{PACKAGE}.{service.name}/{method.name}",
    }
    if said:
        result["description"] = said
    example = EXAMPLES.get(full)
    if rule.body == "*":
        schema = builder.ref(method.input_type)
        if bound:
            schema = {
                "allOf": [schema],
                "description": f"Without {', '.join(bound)} (in the path).",
            }
        body = {"required": True, "content": {"application/json": {"schema": schema}}}
        if example is not None:
            body["content"]["application/json"]["examples"] = {"example": {"value": example}}
        result["requestBody"] = body
    elif rule.body:
        item = field_of(contracts, method.input_type, rule.body)
        body = {
            "required": True,
            "content": {"application/json": {"schema": builder.field_schema(item)}},
        }
        result["requestBody"] = body
        parameters += builder.query_parameters(method.input_type, {*bound, rule.body})
    else:
        query = builder.query_parameters(method.input_type, set(bound))
        for parameter in query:
            if example and parameter["name"] in example:
                parameter["example"] = example[parameter["name"]]
        parameters += query
    if parameters:
        result["parameters"] = parameters
    if rule.response_body:
        reply = builder.field_schema(field_of(contracts, method.output_type, rule.response_body))
    else:
        reply = builder.ref(method.output_type)
    if method.server_streaming:
        content = {
            "application/x-ndjson": {
                "schema": reply,
                "x-stream": "newline-delimited",
            }
        }
        description = (
            "A stream: one JSON object of this schema per line, sent as each arrives "
            "(the gateway labels it application/json). A failure after the first line "
            "ends the stream with grpc-status and grpc-message trailers."
        )
    else:
        content = {"application/json": {"schema": reply}}
        description = "OK"
    result["responses"] = {
        "200": {"description": description, "content": content},
        "default": {"$ref": "#/components/responses/Error"},
    }
    return path, verb, result


ERROR_DESCRIPTION = (
    "A google.rpc.Status: `code` is the gRPC status code, `message` says what went wrong "
    "and `details` may hold a google.rpc.BadRequest (which fields, and why), RetryInfo (how "
    "long to wait) or ErrorInfo. HTTP status by gRPC code: INVALID_ARGUMENT 400, "
    "UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, RESOURCE_EXHAUSTED 429, "
    "CANCELLED 499, UNAVAILABLE 503, DEADLINE_EXCEEDED 504."
)


def document(descriptor: bytes | Path, version: str = "1") -> dict:
    """The OpenAPI 3.1 document of every aiorch.v1 RPC with an HTTP rule."""
    data = descriptor.read_bytes() if isinstance(descriptor, Path) else descriptor
    contracts = Contracts.load(data)
    builder = Builder(contracts)
    paths: dict[str, dict] = {}
    tags = []
    for file in contracts.files:
        if file.package != PACKAGE:
            continue
        for service_index, service in enumerate(file.service):
            said = contracts.comments.get((file.name, (6, service_index)), "")
            tags.append({"name": service.name, **({"description": said} if said else {})})
            for index, method in enumerate(service.method):
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                for rule in http_rules(method.options.Extensions[annotations_pb2.http]):
                    path, verb, op = operation(
                        builder, file.name, service_index, service, index, method, rule
                    )
                    if path in paths and verb in paths[path]:
                        raise ValueError(f"{verb.upper()} {path} is bound twice")
                    paths.setdefault(path, {})[verb] = op
    builder.ref(".google.rpc.Status")
    spec = {
        "openapi": "3.1.0",
        "info": {
            "title": "aiorch JSON API",
            "version": version,
            "description": (
                "The aiorch suite through its Envoy gateway, which transcodes JSON to the "
                "gRPC services. Field names are the contracts' (snake_case); enums travel "
                'by name, 64-bit integers as strings, durations as "30s", timestamps as '
                "RFC 3339. Responses print every field, defaults included; unknown fields "
                "of a request are ignored. Generated from "
                "protos/aiorch/v1 by gateway/openapi.py."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": sorted(tags, key=lambda tag: tag["name"]),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "responses": {
                "Error": {
                    "description": ERROR_DESCRIPTION,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/google.rpc.Status"}
                        }
                    },
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from the identity provider the gateway trusts.",
                }
            },
        },
    }
    check_examples(spec)
    return spec


def check_examples(spec: dict) -> None:
    """Every example must fit its schema: a contract change that breaks one fails here."""
    import jsonschema

    known = set()
    for path, operations in spec["paths"].items():
        for verb, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body and not body.get("examples"):
                raise ValueError(f"{verb.upper()} {path} takes a body: give it an example")
            for example in body.get("examples", {}).values():
                schema = {**body["schema"], "components": spec["components"]}
                errors = list(jsonschema.Draft202012Validator(schema).iter_errors(example["value"]))
                if errors:
                    raise ValueError(f"example of {verb.upper()} {path}: {errors[0].message}")
            for parameter in op.get("parameters", []):
                if "example" in parameter:
                    jsonschema.validate(parameter["example"], parameter["schema"])
            known.add(op["x-grpc-method"].strip("/").replace("/", "."))
    unused = set(EXAMPLES) - known
    if unused:
        raise ValueError(f"examples of RPCs without an HTTP rule: {sorted(unused)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--descriptor", type=Path, required=True, help="descriptor set (.pb)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document(args.descriptor), indent=1) + "\n")


if __name__ == "__main__":
    main()
