import Foundation
package import GatewayModel

/// The OpenAPI 3.0.3 description of the whole admin API, served at `GET /openapi.json` and checked into the repo
/// as `docs/openapi.json`.
///
/// One source of truth: this code. Entity bodies come from the same ``EntitySchema`` field tables the validator
/// uses, plugin configs from ``PluginSchema``, and the paths from the same rules ``EntityController`` registers
/// routes with, so a field or a nested route added to the code appears here without a second edit. The repo file
/// is this document's bytes; `OpenAPIDocumentTests` fails when the two differ and rewrites the file when run with
/// `PORTCULLIS_WRITE_OPENAPI=1`.
package enum OpenAPIDocument {
    /// What `GET /openapi.json` sends and `docs/openapi.json` holds: the canonical pretty JSON (sorted keys).
    package static let bytes: [UInt8] = JSONWriter.bytes(document, pretty: true)

    package static var document: JSON {
        var paths: JSONObject = [:]
        for schema in EntityRegistry.all { EntityPaths(schema: schema).add(to: &paths) }
        for (path, item) in OtherPaths.all { paths[path] = item }
        var schemas: JSONObject = Components.schemas
        for schema in EntityRegistry.all {
            schemas[Names.entity(schema)] = Shapes.entity(schema)
            schemas[Names.input(schema)] = Shapes.input(schema)
            schemas[Names.list(schema)] = Shapes.list(schema)
            schemas[Names.form(schema)] = Shapes.form(schema)
        }
        for (name, plugin) in PluginSchema.available {
            schemas[Names.pluginConfig(name)] = Shapes.record(plugin.config, response: true)
        }
        return [
            "openapi": "3.0.3",
            "info": [
                "title": "Portcullis control plane admin API",
                "version": .string(ControlPlaneServer.version),
                "description": .string(
                    "The control plane's admin API, after Kong's: entities, declarative configuration, snapshot "
                        + "history, cluster state and status. Lists are paginated with `size` and `offset`; the "
                        + "`next` field of a page is the path of the following one (null on the last). Errors are "
                        + "Kong's bodies: `{\"message\"}` for transport-level answers (401, 404, 405, 413, 415), "
                        + "`{\"code\", \"name\", \"message\", \"fields\"}` for rejected input, where `fields` "
                        + "names each bad field. When the control plane runs with `--admin-token`, every path "
                        + "(this document included) needs the token as `Kong-Admin-Token` or as a bearer token; "
                        + "without it none does. Every successful write answers `X-Portcullis-Config-Version`."),
            ],
            "tags": .array(Tags.all.map { ["name": .string($0.0), "description": .string($0.1)] }),
            "security": [["adminToken": []], ["bearerToken": []], [:]],
            "paths": .object(paths),
            "components": [
                "schemas": .object(schemas),
                "parameters": Components.parameters,
                "responses": Components.responses,
                "headers": Components.headers,
                "securitySchemes": [
                    "adminToken": [
                        "type": "apiKey", "in": "header", "name": "Kong-Admin-Token",
                        "description": "The control plane's `--admin-token`.",
                    ],
                    "bearerToken": [
                        "type": "http", "scheme": "bearer",
                        "description": "The control plane's `--admin-token` as `Authorization: Bearer TOKEN`.",
                    ],
                ],
            ],
        ]
    }
}

// MARK: - Names and references

enum Names {
    static func camel(_ s: String) -> String {
        s.split(whereSeparator: { $0 == "_" || $0 == "-" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func entity(_ s: EntitySchema) -> String { camel(s.singular) }
    static func input(_ s: EntitySchema) -> String { camel(s.singular) + "Input" }
    static func list(_ s: EntitySchema) -> String { camel(s.singular) + "List" }
    static func form(_ s: EntitySchema) -> String { camel(s.singular) + "Form" }
    static func pluginConfig(_ name: String) -> String { camel(name) + "Config" }
}

func ref(_ kind: String, _ name: String) -> JSON { ["$ref": .string("#/components/\(kind)/\(name)")] }
func schemaRef(_ name: String) -> JSON { ref("schemas", name) }

/// A JSON response with the given schema.
func jsonContent(_ schema: JSON) -> JSON { ["application/json": ["schema": schema]] }

enum Tags {
    static let all: [(String, String)] = [
        ("ca_certificates", "Trust anchors that services and header-cert-auth reference by id."),
        ("services", "Upstream services."),
        ("routes", "How requests are matched to services."),
        ("consumers", "Who a verified certificate maps to."),
        ("plugins", "Plugin instances, global or scoped to a service, a route or a consumer."),
        ("header_cert_auth_credentials", "Certificate-to-consumer mappings of header-cert-auth."),
        ("config", "The whole configuration as a declarative document."),
        ("snapshots", "Configuration history: versions, diffs and rollback."),
        ("clustering", "Connected data planes and convergence."),
        ("status", "Node information, health and tags."),
    ]
}

// MARK: - Entity bodies from the field tables

enum Shapes {
    /// One field's schema. Responses show every field, null when unset; inputs accept null for optional fields.
    static func field(_ spec: FieldSpec, response: Bool) -> JSON {
        var s: JSONObject
        switch spec.type {
        case .string: s = ["type": "string"]
        case .integer: s = ["type": "integer"]
        case .number: s = ["type": "number"]
        case .boolean: s = ["type": "boolean"]
        case .array(let element): s = ["type": "array", "items": self.field(element, response: response)]
        case .set(let element):
            s = ["type": "array", "items": self.field(element, response: response)]
            if response { s["uniqueItems"] = true }
        case .map(let values): s = ["type": "object", "additionalProperties": self.field(values, response: response)]
        case .record(let fields): s = self.record(fields, response: response).objectValue ?? [:]
        case .foreign(let reference):
            let parent = EntityRegistry.schema(reference)
            if response {
                s = ["type": "object", "properties": ["id": ["type": "string", "format": "uuid"]], "required": ["id"]]
            } else {
                var props: JSONObject = ["id": ["type": "string"]]
                if let key = parent?.endpointKey { props[key] = ["type": "string"] }
                s = ["oneOf": [["type": "object", "properties": .object(props), "additionalProperties": false],
                               ["type": "string", "description": "the parent's id or endpoint key"]]]
            }
        case .any: s = [:]
        }
        if let oneOf = spec.oneOf { s["enum"] = .array(oneOf) }
        if let range = spec.between {
            s["minimum"] = .int(range.lowerBound)
            s["maximum"] = .int(range.upperBound)
        }
        if let n = spec.lenMin { s[self.isArray(spec.type) ? "minItems" : "minLength"] = .int(Int64(n)) }
        if let n = spec.lenMax { s[self.isArray(spec.type) ? "maxItems" : "maxLength"] = .int(Int64(n)) }
        if let d = spec.defaultValue, !response { s["default"] = d }
        if spec.name == "id" || spec.name == "ca_certificate" || spec.name == "ca_certificates" {
            if case .string = spec.type { s["format"] = "uuid" }
        }
        if !spec.required, !s.isEmpty { s["nullable"] = true }
        if spec.generated, !response { s["description"] = "Filled by the gateway; a given value is checked." }
        return .object(s)
    }

    private static func isArray(_ type: FieldType) -> Bool {
        switch type {
        case .array, .set: return true
        default: return false
        }
    }

    static func record(_ fields: [FieldSpec], response: Bool) -> JSON {
        var props: JSONObject = [:]
        for f in fields { props[f.name] = self.field(f, response: response) }
        var s: JSONObject = ["type": "object", "properties": .object(props)]
        if response {
            s["required"] = .array(fields.map { .string($0.name) })
        } else {
            s["additionalProperties"] = false
        }
        return .object(s)
    }

    /// An entity as the API answers it: every field present (null when unset), ids and timestamps filled.
    static func entity(_ schema: EntitySchema) -> JSON {
        guard case .object(var s) = self.record(schema.fields, response: true) else { return [:] }
        if schema.name == "plugins", case .object(var props)? = s["properties"] {
            props["config"] = [
                "type": "object",
                "description": "The plugin's configuration, with its defaults filled in.",
                "anyOf": .array(PluginSchema.available.keys.sorted().map { schemaRef(Names.pluginConfig($0)) }),
            ]
            s["properties"] = .object(props)
        }
        return .object(s)
    }

    /// What a create, replace or update accepts: every field optional (PATCH merges; POST and PUT fill defaults and
    /// report missing required fields as a schema violation), unknown fields rejected.
    static func input(_ schema: EntitySchema) -> JSON {
        guard case .object(var s) = self.record(schema.fields, response: false),
            case .object(var props)? = s["properties"]
        else { return [:] }
        for shorthand in schema.shorthands {
            props[shorthand] = ["type": "string", "nullable": true,
                                "description": "Shorthand: sets protocol, host, port and path at once."]
        }
        if schema.name == "plugins" {
            props["name"] = ["type": "string", "description": .string(
                "The plugin: one of " + PluginSchema.available.keys.sorted().joined(separator: ", ") + ".")]
            props["config"] = ["type": "object", "nullable": true, "description": .string(
                "The plugin's configuration (see the `*Config` schemas); missing fields take their defaults.")]
        }
        s["properties"] = .object(props)
        return .object(s)
    }

    /// The same input as form fields (text, converted to each field's type): scalars as they are, arrays as a
    /// repeated key; records, maps and references take dotted keys (`config.status_code=403`, `service.id=…`).
    static func form(_ schema: EntitySchema) -> JSON {
        var props: JSONObject = [:]
        var dotted: [String] = []
        for f in schema.fields {
            switch f.type {
            case .string, .integer, .number, .boolean: props[f.name] = ["type": "string"]
            case .array, .set: props[f.name] = ["type": "array", "items": ["type": "string"]]
            case .record, .map, .foreign, .any: dotted.append(f.name)
            }
        }
        for shorthand in schema.shorthands { props[shorthand] = ["type": "string"] }
        var s: JSONObject = ["type": "object", "properties": .object(props)]
        if dotted.isEmpty {
            s["additionalProperties"] = false
        } else {
            s["additionalProperties"] = ["type": "string"]
            s["description"] = .string("Also `FIELD.KEY=value` for " + dotted.map { "`\($0)`" }.joined(separator: ", ")
                + "; other names are refused as unknown fields.")
        }
        return .object(s)
    }

    static func list(_ schema: EntitySchema) -> JSON {
        self.page(schemaRef(Names.entity(schema)))
    }

    /// Kong's page: `data`, and `offset` / `next` (null on the last page).
    static func page(_ item: JSON) -> JSON {
        [
            "type": "object",
            "required": ["data", "next"],
            "properties": [
                "data": ["type": "array", "items": item],
                "offset": ["type": "string", "nullable": true,
                           "description": "Pass as `offset` to read the next page; null on the last page."],
                "next": ["type": "string", "nullable": true,
                         "description": "The path and query of the next page; null on the last page."],
            ],
        ]
    }
}

// MARK: - Entity paths, registered as EntityController registers routes

struct EntityPaths {
    let schema: EntitySchema

    private var tag: JSON { [.string(self.schema.name)] }

    private func keyParameter(_ name: String, of schema: EntitySchema) -> JSON {
        let by = schema.endpointKey.map { "id or \($0)" } ?? "id"
        return [
            "name": .string(name), "in": "path", "required": true,
            "description": .string("The \(schema.singular.replacingOccurrences(of: "_", with: " ")) (\(by))."),
            "schema": ["type": "string"],
        ]
    }

    func add(to paths: inout JSONObject) {
        let s = self.schema
        let base = "/\(s.adminPath)"
        let one = "{\(s.singular)}"
        paths[base] = [
            "get": self.listOperation("List \(s.name)", parameters: []),
            "post": self.createOperation("Create a \(s.singular)", parameters: []),
        ]
        paths["\(base)/\(one)"] = self.entityItem(parameters: [self.keyParameter(s.singular, of: s)], nested: nil)
        for fk in s.foreignKeys {
            guard let parent = EntityRegistry.schema(fk.reference) else { continue }
            let parentParam = self.keyParameter("\(parent.singular)", of: parent)
            let childName = parent.singular == s.singular ? "child_\(s.singular)" : s.singular
            let nested = "/\(parent.adminPath)/{\(parent.singular)}/\(s.nestedAdminPath)"
            paths[nested] = [
                "get": self.listOperation("List the \(s.name) of a \(parent.singular)", parameters: [parentParam]),
                "post": self.createOperation("Create a \(s.singular) of a \(parent.singular)", parameters: [parentParam]),
            ]
            paths["\(nested)/{\(childName)}"] = self.entityItem(
                parameters: [parentParam, self.keyParameter(childName, of: s)], nested: parent)
            // The parent seen from the child (`/routes/{route}/service`).
            let childParam = self.keyParameter(s.singular, of: s)
            let parentBody = jsonContent(schemaRef(Names.entity(parent)))
            paths["\(base)/\(one)/\(fk.field)"] = [
                "get": [
                    "tags": self.tag, "operationId": .string("get-\(s.singular)-\(fk.field)"),
                    "summary": .string("The \(parent.singular) a \(s.singular) references"),
                    "parameters": [childParam],
                    "responses": Components.withErrors(["200": ["description": "The parent.", "content": parentBody]],
                                                       [404]),
                ],
                "patch": [
                    "tags": self.tag, "operationId": .string("update-\(s.singular)-\(fk.field)"),
                    "summary": .string("Update the \(parent.singular) a \(s.singular) references"),
                    "parameters": [childParam],
                    "requestBody": Components.body(parent),
                    "responses": Components.withErrors(
                        ["200": ["description": "The updated parent.", "content": parentBody,
                                 "headers": Components.writeHeaders]],
                        [400, 404, 409, 413, 415]),
                ],
            ]
        }
    }

    private func operationID(_ verb: String, _ parameters: [JSON]) -> JSON {
        let scope = parameters.compactMap { $0["name"]?.stringValue }.joined(separator: "-")
        return .string(scope.isEmpty ? "\(verb)-\(self.schema.name)" : "\(verb)-\(self.schema.name)-by-\(scope)")
    }

    private func listOperation(_ summary: String, parameters: [JSON]) -> JSON {
        [
            "tags": self.tag, "operationId": self.operationID("list", parameters), "summary": .string(summary),
            "parameters": .array(parameters + [ref("parameters", "size"), ref("parameters", "offset"),
                                               ref("parameters", "tags")]),
            "responses": Components.withErrors(
                ["200": ["description": .string("A page of \(self.schema.name)."),
                         "content": jsonContent(schemaRef(Names.list(self.schema)))]],
                parameters.isEmpty ? [400] : [400, 404]),
        ]
    }

    private func createOperation(_ summary: String, parameters: [JSON]) -> JSON {
        [
            "tags": self.tag, "operationId": self.operationID("create", parameters), "summary": .string(summary),
            "parameters": .array(parameters),
            "requestBody": Components.body(self.schema),
            "responses": Components.withErrors(
                ["201": ["description": "Created.", "content": jsonContent(schemaRef(Names.entity(self.schema))),
                         "headers": Components.writeHeaders]],
                parameters.isEmpty ? [400, 409, 413, 415] : [400, 404, 409, 413, 415]),
        ]
    }

    private func entityItem(parameters: [JSON], nested parent: EntitySchema?) -> JSON {
        let body = jsonContent(schemaRef(Names.entity(self.schema)))
        let scopeNote = parent.map { " Answers 404 when the \($0.singular) does not exist or is not its parent." } ?? ""
        return [
            "get": [
                "tags": self.tag, "operationId": self.operationID("get", parameters),
                "summary": .string("Read a \(self.schema.singular)"),
                "description": .string("By id or endpoint key." + scopeNote),
                "parameters": .array(parameters),
                "responses": Components.withErrors(["200": ["description": "The entity.", "content": body]], [404]),
            ],
            "patch": [
                "tags": self.tag, "operationId": self.operationID("update", parameters),
                "summary": .string("Update a \(self.schema.singular)"),
                "description": .string("Merges the given fields into the stored entity." + scopeNote),
                "parameters": .array(parameters),
                "requestBody": Components.body(self.schema),
                "responses": Components.withErrors(
                    ["200": ["description": "The updated entity.", "content": body, "headers": Components.writeHeaders]],
                    [400, 404, 409, 413, 415]),
            ],
            "put": [
                "tags": self.tag, "operationId": self.operationID("upsert", parameters),
                "summary": .string("Create or replace a \(self.schema.singular)"),
                "description": .string("The key in the path becomes the id (a UUID) or the endpoint key." + scopeNote),
                "parameters": .array(parameters),
                "requestBody": Components.body(self.schema),
                "responses": Components.withErrors(
                    ["200": ["description": "The stored entity.", "content": body, "headers": Components.writeHeaders]],
                    [400, 404, 409, 413, 415]),
            ],
            "delete": [
                "tags": self.tag, "operationId": self.operationID("delete", parameters),
                "summary": .string("Delete a \(self.schema.singular)"),
                "description": .string("204 whether or not it existed; 400 while other entities reference it."
                    + scopeNote),
                "parameters": .array(parameters),
                "responses": Components.withErrors(
                    ["204": ["description": "Deleted (or never existed).", "headers": Components.writeHeaders]],
                    parent == nil ? [400] : [400, 404]),
            ],
        ]
    }
}

// MARK: - Shared components

enum Components {
    static let errorStatuses: [Int: String] = [
        304: "Not modified.",
        400: "Rejected input: the body names each bad field in `fields`.",
        401: "The admin token is missing or wrong (only when the control plane has one).",
        404: "Not found.",
        409: "A unique field is already taken.",
        413: "The body is larger than `--admin-body-limit`.",
        415: "The body's media type is not JSON, form or multipart.",
        503: "Not ready.",
    ]

    /// `responses` with the given successes, the given error statuses and 401.
    static func withErrors(_ success: JSONObject, _ errors: [Int]) -> JSON {
        var out = success
        for status in Set(errors + [401]) { out[String(status)] = ref("responses", "Error\(status)") }
        return .object(out)
    }

    static func body(_ schema: EntitySchema) -> JSON {
        let form = schemaRef(Names.form(schema))
        return [
            "required": false,
            "content": [
                "application/json": ["schema": schemaRef(Names.input(schema))],
                "application/x-www-form-urlencoded": ["schema": form],
                "multipart/form-data": ["schema": form],
            ],
        ]
    }

    static let writeHeaders: JSON = ["X-Portcullis-Config-Version": ref("headers", "ConfigVersion")]

    static let headers: JSON = [
        "ConfigVersion": [
            "description": "The configuration version that includes this write (or a later one).",
            "required": true,
            "schema": ["type": "string", "pattern": "^[0-9]+$"],
        ],
    ]

    static var responses: JSON {
        var out: JSONObject = [:]
        for (status, description) in self.errorStatuses where status != 304 {
            out["Error\(status)"] = ["description": .string(description), "content": jsonContent(schemaRef("Error"))]
        }
        return .object(out)
    }

    static let parameters: JSON = [
        "size": [
            "name": "size", "in": "query", "required": false,
            "description": "Entities per page (default 100).",
            "schema": ["type": "integer", "minimum": 1, "maximum": 1000],
        ],
        "offset": [
            "name": "offset", "in": "query", "required": false,
            "description": "The `offset` of the previous page (an opaque token).",
            "schema": ["type": "string", "pattern": "^[A-Za-z0-9_-]+$"],
        ],
        "tags": [
            "name": "tags", "in": "query", "required": false,
            "description": "Entities with all of these tags (`a,b`) or any of them (`a/b`); at most 5.",
            "schema": ["type": "string"],
        ],
    ]

    static let schemas: JSONObject = [
        "Error": [
            "type": "object",
            "required": ["message"],
            "description": "Kong's error body: `message` always; `code`, `name` and `fields` for rejected input.",
            "properties": [
                "message": ["type": "string"],
                "code": ["type": "integer", "description": .string("Kong's error code (2 schema violation, 3 primary key, "
                    + "4 foreign key, 5 unique, 7 offset, 9 size, 11 options, 14 declarative).")],
                "name": ["type": "string"],
                "fields": ["description": .string("Per field: a message, or nested messages for records, arrays and maps; "
                    + "`@entity` holds whole-entity messages.")],
            ],
        ],
        "SnapshotInfo": [
            "type": "object",
            "required": ["version", "hash", "created_at", "size", "stored_size", "counts", "author", "comment",
                         "changes", "stored_as"],
            "properties": [
                "version": ["type": "integer"],
                "hash": ["type": "string"],
                "created_at": ["type": "number", "description": "Seconds since the epoch."],
                "size": ["type": "integer", "description": "Bytes of the canonical payload."],
                "stored_size": ["type": "integer", "description": "Bytes stored after compression."],
                "counts": ["type": "object", "additionalProperties": ["type": "integer"]],
                "author": ["type": "string", "nullable": true],
                "comment": ["type": "string", "nullable": true],
                "changes": ["type": "integer", "description": "Committed versions this snapshot covers."],
                "stored_as": ["type": "string", "description": "`full` or `delta from N`."],
            ],
        ],
        "SnapshotList": Shapes.page(schemaRef("SnapshotInfo")),
        "ConfigDiff": [
            "type": "object",
            "required": ["added", "removed", "changed", "settings", "summary", "from", "to"],
            "properties": [
                "added": ["type": "object", "additionalProperties": ["type": "array", "items": ["type": "object"]]],
                "removed": ["type": "object", "additionalProperties": ["type": "array", "items": ["type": "object"]]],
                "changed": ["type": "object", "additionalProperties": ["type": "array", "items": ["type": "object"]]],
                "settings": ["type": "object"],
                "summary": [
                    "type": "object", "required": ["added", "removed", "changed"],
                    "properties": ["added": ["type": "integer"], "removed": ["type": "integer"],
                                   "changed": ["type": "integer"]],
                ],
                "from": schemaRef("SnapshotInfo"),
                "to": schemaRef("SnapshotInfo"),
            ],
        ],
        "WriteResult": [
            "type": "object",
            "required": ["version", "hash"],
            "properties": [
                "version": ["type": "integer", "description": "The configuration version now current."],
                "hash": ["type": "string", "nullable": true],
                "counts": ["type": "object", "additionalProperties": ["type": "integer"]],
                "rolled_back_to": schemaRef("SnapshotInfo"),
            ],
        ],
        "DeclarativeDocument": [
            "type": "object",
            "required": ["_format_version"],
            "description": .string("A declarative configuration: `_format_version` and arrays per entity type; children may "
                + "be nested under their parents, references are names or ids."),
            "properties": [
                "_format_version": ["type": "string", "enum": ["1.1", "2.1", "3.0"]],
                "_transform": ["type": "boolean"],
                "_comment": ["type": "string"],
            ],
            "additionalProperties": ["type": "array", "items": ["type": "object"]],
        ],
        "DataPlane": [
            "type": "object",
            "required": ["id", "hostname", "pid", "ip", "protocol_version", "version", "connected", "connected_at",
                         "last_seen", "config_version", "config_hash", "last_sent_version", "last_error", "apply_ms",
                         "applied_at", "sync_status"],
            "properties": [
                "id": ["type": "string"], "hostname": ["type": "string"], "pid": ["type": "integer"],
                "ip": ["type": "string"], "protocol_version": ["type": "string"], "version": ["type": "string"],
                "connected": ["type": "boolean"],
                "connected_at": ["type": "number"], "last_seen": ["type": "number"],
                "config_version": ["type": "integer", "nullable": true],
                "config_hash": ["type": "string", "nullable": true],
                "last_sent_version": ["type": "integer", "nullable": true],
                "last_error": ["type": "string", "nullable": true, "description": "The last NACK's reason."],
                "apply_ms": ["type": "number", "nullable": true],
                "applied_at": ["type": "number", "nullable": true],
                "sync_status": ["type": "string", "enum": ["normal", "syncing", "failed", "stale", "offline"]],
            ],
        ],
        "ClusterStatus": [
            "type": "object",
            "required": ["newest", "data_planes", "converged"],
            "properties": [
                "newest": [
                    "type": "object", "nullable": true, "required": ["version", "hash"],
                    "properties": ["version": ["type": "integer"], "hash": ["type": "string"]],
                ],
                "data_planes": [
                    "type": "object",
                    "required": ["known", "connected", "normal", "syncing", "failed", "stale", "offline"],
                    "additionalProperties": ["type": "integer"],
                ],
                "converged": ["type": "boolean"],
                "wait_for_version": ["type": "integer"],
                "reached": ["type": "boolean"],
                "waited_ms": ["type": "number"],
            ],
        ],
        "NodeInfo": [
            "type": "object",
            "required": ["tagline", "node_id", "hostname", "version", "role", "plugins", "configuration"],
            "properties": [
                "tagline": ["type": "string"], "node_id": ["type": "string"], "hostname": ["type": "string"],
                "version": ["type": "string"], "role": ["type": "string", "enum": ["control_plane"]],
                "plugins": [
                    "type": "object", "required": ["available_on_server"],
                    "properties": ["available_on_server": [
                        "type": "object",
                        "additionalProperties": [
                            "type": "object", "required": ["priority", "version"],
                            "properties": ["priority": ["type": "integer"], "version": ["type": "string"]],
                        ],
                    ]],
                ],
                "configuration": ["type": "object", "description": "The settings this control plane runs with."],
            ],
        ],
        "Status": [
            "type": "object",
            "required": ["database", "server", "configuration_version", "configuration_hash", "snapshot",
                         "in_sync"],
            "properties": [
                "database": [
                    "type": "object", "required": ["reachable"],
                    "properties": ["reachable": ["type": "boolean"]],
                ],
                "server": [
                    "type": "object",
                    "required": ["total_requests", "connections_active", "connections_accepted", "connections_handled"],
                    "description": "Kong's counters of the admin listener since start.",
                    "properties": [
                        "total_requests": ["type": "integer"],
                        "connections_active": ["type": "integer"],
                        "connections_accepted": ["type": "integer"],
                        "connections_handled": ["type": "integer"],
                    ],
                ],
                "configuration_version": ["type": "integer"],
                "configuration_hash": ["type": "string", "nullable": true],
                "snapshot": [
                    "nullable": true, "allOf": [schemaRef("SnapshotInfo")],
                    "description": "The newest materialised snapshot.",
                ],
                "in_sync": ["type": "boolean", "description": "The newest snapshot is the current version."],
            ],
        ],
        "Message": [
            "type": "object", "required": ["message"], "properties": ["message": ["type": "string"]],
        ],
        "TagList": Shapes.page([
            "type": "object", "required": ["entity_name", "entity_id", "tag"],
            "properties": ["entity_name": ["type": "string"], "entity_id": ["type": "string"], "tag": ["type": "string"]],
        ]),
    ]
}

// MARK: - Declarative configuration, history, cluster and status

enum OtherPaths {
    static var all: JSONObject {
        let version: JSON = [
            "name": "version", "in": "path", "required": true,
            "description": "A snapshot version, or `latest`.",
            "schema": ["type": "string", "pattern": "^([0-9]+|latest)$"],
        ]
        let other: JSON = [
            "name": "other", "in": "path", "required": true, "description": "The version to compare with, or `latest`.",
            "schema": ["type": "string", "pattern": "^([0-9]+|latest)$"],
        ]
        let format: JSON = [
            "name": "format", "in": "query", "required": false,
            "schema": ["type": "string", "enum": ["json", "yaml"]],
        ]
        // Schemathesis (and any YAML-aware client) reads the YAML text as the document it encodes.
        let yaml: JSON = ["schema": schemaRef("DeclarativeDocument")]
        return [
            "/openapi.json": [
                "get": [
                    "tags": ["status"], "operationId": "get-openapi", "summary": "This document",
                    "responses": Components.withErrors(
                        ["200": ["description": "The OpenAPI document of the admin API.",
                                 "content": jsonContent(["type": "object"])]], []),
                ],
            ],
            "/config": [
                "get": [
                    "tags": ["config"], "operationId": "export-config",
                    "summary": "Export the configuration as a declarative document",
                    "description": .string("Without `format`: `{\"config\": YAML text}` (Kong's shape); `format=json`: the "
                        + "document; `format=yaml`: the YAML text."),
                    "parameters": [format],
                    "responses": Components.withErrors([
                        "200": [
                            "description": "The current configuration.",
                            "content": [
                                "application/json": ["schema": ["oneOf": [
                                    schemaRef("DeclarativeDocument"),
                                    ["type": "object", "required": ["config"], "additionalProperties": false,
                                     "properties": ["config": ["type": "string"]]],
                                ]]],
                                "application/yaml": yaml,
                            ],
                        ],
                    ], [400]),
                ],
                "post": [
                    "tags": ["config"], "operationId": "import-config",
                    "summary": "Replace the whole configuration with a declarative document",
                    "description": .string("One transaction: all of it is stored or nothing. The document may be sent as "
                        + "JSON, as YAML text, or as a `config` field (JSON, form or multipart) holding either."),
                    "parameters": [[
                        "name": "check_hash", "in": "query", "required": false,
                        "description": "With 1/true: answer 304 when the document equals the current configuration.",
                        "schema": ["type": "string"],
                    ]],
                    "requestBody": [
                        "required": true,
                        "content": [
                            "application/json": ["schema": ["oneOf": [
                                schemaRef("DeclarativeDocument"),
                                ["type": "object", "required": ["config"], "properties": ["config": ["type": "string"]]],
                            ]]],
                            "application/yaml": yaml,
                            "application/x-www-form-urlencoded": [
                                "schema": ["type": "object", "required": ["config"],
                                           "properties": ["config": ["type": "string"]]],
                            ],
                            "multipart/form-data": [
                                "schema": ["type": "object", "required": ["config"],
                                           "properties": ["config": ["type": "string"]]],
                            ],
                        ],
                    ],
                    "responses": Components.withErrors([
                        "201": ["description": "Stored as a new version.", "content": jsonContent(schemaRef("WriteResult")),
                                "headers": Components.writeHeaders],
                        "304": ["description": "`check_hash` was set and the document equals the current configuration."],
                    ], [400, 413, 415]),
                ],
            ],
            "/snapshots": [
                "get": [
                    "tags": ["snapshots"], "operationId": "list-snapshots", "summary": "Configuration versions, newest first",
                    "parameters": [
                        ref("parameters", "size"),
                        ["name": "offset", "in": "query", "required": false,
                         "description": "The `offset` of the previous page (a version).",
                         "schema": ["type": "string", "pattern": "^[0-9]+$"]],
                    ],
                    "responses": Components.withErrors(
                        ["200": ["description": "A page of snapshots.", "content": jsonContent(schemaRef("SnapshotList"))]],
                        [400]),
                ],
            ],
            "/snapshots/{version}": [
                "get": [
                    "tags": ["snapshots"], "operationId": "get-snapshot", "summary": "One snapshot's content",
                    "parameters": [version, format],
                    "responses": Components.withErrors([
                        "200": [
                            "description": "The snapshot as a declarative document.",
                            "headers": [
                                "X-Portcullis-Config-Version": ["required": true, "schema": ["type": "string"]],
                                "X-Portcullis-Config-Hash": ["required": true, "schema": ["type": "string"]],
                            ],
                            "content": ["application/json": ["schema": schemaRef("DeclarativeDocument")],
                                        "application/yaml": yaml],
                        ],
                    ], [400, 404]),
                ],
            ],
            "/snapshots/{version}/diff/{other}": [
                "get": [
                    "tags": ["snapshots"], "operationId": "diff-snapshots",
                    "summary": "Entities added, removed and changed between two versions",
                    "parameters": [version, other],
                    "responses": Components.withErrors(
                        ["200": ["description": "The differences.", "content": jsonContent(schemaRef("ConfigDiff"))]],
                        [400, 404]),
                ],
            ],
            "/snapshots/{version}/rollback": [
                "post": [
                    "tags": ["snapshots"], "operationId": "rollback-snapshot",
                    "summary": "Make a version's content current again, as a new version",
                    "parameters": [version],
                    "responses": Components.withErrors(
                        ["201": ["description": "Rolled back.", "content": jsonContent(schemaRef("WriteResult")),
                                 "headers": Components.writeHeaders]],
                        [400, 404]),
                ],
            ],
            "/clustering/data-planes": [
                "get": [
                    "tags": ["clustering"], "operationId": "list-data-planes",
                    "summary": "The data planes known to this control plane",
                    "responses": Components.withErrors([
                        "200": ["description": "Every data plane, connected or not.", "content": jsonContent(
                            ["type": "object", "required": ["data", "next"], "properties": [
                                "data": ["type": "array", "items": schemaRef("DataPlane")],
                                "next": ["type": "string", "nullable": true],
                            ]])],
                    ], []),
                ],
            ],
            "/clustering/status": [
                "get": [
                    "tags": ["clustering"], "operationId": "cluster-status", "summary": "Convergence summary",
                    "description": .string("With `wait_for_version`, answers once every connected data plane serves that "
                        + "version or newer, or after `timeout_ms` (default 10000); `reached` says which."),
                    "parameters": [
                        ["name": "wait_for_version", "in": "query", "required": false,
                         "schema": ["type": "integer", "format": "int64", "minimum": 0, "maximum": .int(Int64.max)]],
                        ["name": "timeout_ms", "in": "query", "required": false,
                         "schema": ["type": "integer", "minimum": 0, "maximum": 300_000]],
                    ],
                    "responses": Components.withErrors(
                        ["200": ["description": "The summary.", "content": jsonContent(schemaRef("ClusterStatus"))]],
                        [400]),
                ],
            ],
            "/": [
                "get": [
                    "tags": ["status"], "operationId": "node-info", "summary": "Node information",
                    "responses": Components.withErrors(
                        ["200": ["description": "This control plane.", "content": jsonContent(schemaRef("NodeInfo"))]],
                        []),
                ],
            ],
            "/status": [
                "get": [
                    "tags": ["status"], "operationId": "status", "summary": "Health and configuration state",
                    "responses": Components.withErrors(
                        ["200": ["description": "Kong's status shape.", "content": jsonContent(schemaRef("Status"))]],
                        []),
                ],
            ],
            "/status/ready": [
                "get": [
                    "tags": ["status"], "operationId": "status-ready", "summary": "Readiness",
                    "description": "200 once the store is open and a snapshot is built; 503 before.",
                    "responses": Components.withErrors([
                        "200": ["description": "Ready.", "content": jsonContent(schemaRef("Message"))],
                        "503": ["description": "Not ready yet.", "content": jsonContent(schemaRef("Message"))],
                    ], []),
                ],
            ],
            "/metrics": [
                "get": [
                    "tags": ["status"], "operationId": "metrics", "summary": "Prometheus metrics",
                    "description": "The control plane's series in the Prometheus text format (docs/operations.md).",
                    "responses": Components.withErrors([
                        "200": ["description": "The exposition.",
                                "content": ["text/plain": ["schema": ["type": "string"]]]],
                    ], []),
                ],
            ],
            "/tags": [
                "get": [
                    "tags": ["status"], "operationId": "list-tags", "summary": "Tagged entities across types",
                    "responses": Components.withErrors(
                        ["200": ["description": "Every tag of every entity.", "content": jsonContent(schemaRef("TagList"))]],
                        []),
                ],
            ],
            "/tags/{tag}": [
                "get": [
                    "tags": ["status"], "operationId": "list-tag", "summary": "Entities with one tag",
                    "parameters": [["name": "tag", "in": "path", "required": true, "schema": ["type": "string"]]],
                    "responses": Components.withErrors(
                        ["200": ["description": "The entities with this tag.", "content": jsonContent(schemaRef("TagList"))]],
                        []),
                ],
            ],
        ]
    }
}
