/// The JSON Schema (draft 2020-12) of a khactl spec file, as `khactl spec schema` prints it.
///
/// Scalars may be written as YAML numbers or booleans; khactl reads every scalar as the text it spells, so
/// `cidr_netmask: 24` and `cidr_netmask: "24"` are the same. Docs/spec.md describes each key.
public enum SpecSchema {
    /// The schema as JSON text.
    public static let json: String = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://khactl.invalid/schema/spec.json",
          "title": "khactl Pacemaker resource graph spec",
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "properties": {"$ref": "#/$defs/pairs", "description": "Cluster properties (cib-bootstrap-options, or several cluster_property_sets as a list)."},
            "defaults": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "resources": {"$ref": "#/$defs/pairs", "description": "Resource defaults (rsc_defaults)."},
                "operations": {"$ref": "#/$defs/pairs", "description": "Operation defaults (op_defaults)."}
              }
            },
            "nodes": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/node"}, {"$ref": "#/$defs/xml"}]}},
            "resources": {"type": "array", "items": {"$ref": "#/$defs/resource"}},
            "constraints": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/constraint"}, {"$ref": "#/$defs/xml"}]}},
            "alerts": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/alert"}, {"$ref": "#/$defs/xml"}]}},
            "fencing-topology": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/fencingLevel"}, {"$ref": "#/$defs/xml"}]}},
            "xml": {"type": "array", "items": {"type": "string"}, "description": "Sections of the configuration the spec does not type (acls, tags, ...), verbatim."}
          },
          "$defs": {
            "xml": {
              "type": "object",
              "additionalProperties": false,
              "required": ["xml"],
              "properties": {"xml": {"type": "string", "description": "One element of the CIB, kept verbatim (what the spec's keys cannot spell)."}}
            },
            "scalar": {"type": ["string", "number", "boolean"]},
            "pairMap": {"type": "object", "additionalProperties": {"$ref": "#/$defs/scalar"}},
            "pairs": {
              "description": "One attribute set with pcs's ids (a mapping), or a list of sets with their ids, scores and pairs, or kept verbatim as xml.",
              "oneOf": [
                {"$ref": "#/$defs/pairMap"},
                {"type": "array", "items": {"$ref": "#/$defs/attributeSet"}}
              ]
            },
            "attributeSet": {
              "oneOf": [
                {
                  "type": "object",
                  "additionalProperties": false,
                  "required": ["pairs"],
                  "properties": {
                    "id": {"$ref": "#/$defs/scalar"},
                    "score": {"$ref": "#/$defs/scalar"},
                    "pairs": {
                      "oneOf": [
                        {"$ref": "#/$defs/pairMap"},
                        {
                          "type": "array",
                          "items": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["name"],
                            "properties": {
                              "name": {"$ref": "#/$defs/scalar"},
                              "value": {"$ref": "#/$defs/scalar"},
                              "id": {"$ref": "#/$defs/scalar"}
                            }
                          }
                        }
                      ]
                    }
                  }
                },
                {
                  "type": "object",
                  "additionalProperties": false,
                  "required": ["xml"],
                  "properties": {"xml": {"type": "string", "description": "The set's XML element, kept verbatim (e.g. a set with rules)."}}
                }
              ]
            },
            "names": {"type": "array", "items": {"$ref": "#/$defs/scalar"}},
            "node": {
              "type": "object",
              "additionalProperties": false,
              "required": ["id", "name"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "name": {"$ref": "#/$defs/scalar"},
                "type": {"enum": ["member", "remote", "ping"]},
                "description": {"$ref": "#/$defs/scalar"},
                "attributes": {"$ref": "#/$defs/pairs"},
                "utilization": {"$ref": "#/$defs/pairs"}
              }
            },
            "operation": {
              "type": "object",
              "additionalProperties": false,
              "required": ["name"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "name": {"$ref": "#/$defs/scalar"},
                "interval": {"$ref": "#/$defs/scalar", "default": "0s"},
                "timeout": {"$ref": "#/$defs/scalar"},
                "role": {"$ref": "#/$defs/scalar"},
                "on-fail": {"enum": ["ignore", "block", "stop", "restart", "standby", "fence", "demote"]},
                "start-delay": {"$ref": "#/$defs/scalar"},
                "interval-origin": {"$ref": "#/$defs/scalar"},
                "record-pending": {"$ref": "#/$defs/scalar"},
                "enabled": {"$ref": "#/$defs/scalar"},
                "description": {"$ref": "#/$defs/scalar"}
              }
            },
            "cloneOptions": {
              "type": "object",
              "description": "Makes the resource a clone. id defaults to <resource>-clone; every other key is a clone meta attribute.",
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "description": {"$ref": "#/$defs/scalar"},
                "meta": {"oneOf": [{"$ref": "#/$defs/scalar"}, {"type": "array", "items": {"$ref": "#/$defs/attributeSet"}}]},
                "params": {"type": "array", "items": {"$ref": "#/$defs/attributeSet"}}
              },
              "additionalProperties": {"$ref": "#/$defs/scalar"}
            },
            "primitive": {
              "type": "object",
              "additionalProperties": false,
              "required": ["id", "agent"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "agent": {"type": "string", "pattern": "^(ocf:[^:]+:[^:]+|[^:]+:[^:]+)$"},
                "description": {"$ref": "#/$defs/scalar"},
                "params": {"$ref": "#/$defs/pairs"},
                "meta": {"$ref": "#/$defs/pairs"},
                "utilization": {"$ref": "#/$defs/pairs"},
                "operations": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/operation"}, {"$ref": "#/$defs/xml"}]}},
                "operations-id": {"$ref": "#/$defs/scalar", "description": "The id of the operations element, when not <id>-operations."},
                "default-monitor": {"$ref": "#/$defs/scalar", "default": true},
                "clone": {"$ref": "#/$defs/cloneOptions"}
              }
            },
            "group": {
              "type": "object",
              "additionalProperties": false,
              "required": ["group", "resources"],
              "properties": {
                "group": {"$ref": "#/$defs/scalar"},
                "description": {"$ref": "#/$defs/scalar"},
                "meta": {"$ref": "#/$defs/pairs"},
                "params": {"$ref": "#/$defs/pairs"},
                "resources": {
                  "type": "array",
                  "items": {"anyOf": [{"$ref": "#/$defs/resource"}, {"type": "string", "description": "A top-level primitive, moved into the group."}]}
                },
                "clone": {"$ref": "#/$defs/cloneOptions"}
              }
            },
            "clone": {
              "type": "object",
              "additionalProperties": false,
              "required": ["clone", "resource"],
              "properties": {
                "clone": {"$ref": "#/$defs/scalar"},
                "resource": {"$ref": "#/$defs/resource"},
                "description": {"$ref": "#/$defs/scalar"},
                "meta": {"$ref": "#/$defs/pairs"},
                "params": {"$ref": "#/$defs/pairs"}
              }
            },
            "resource": {
              "oneOf": [
                {"$ref": "#/$defs/group"},
                {"$ref": "#/$defs/clone"},
                {"$ref": "#/$defs/primitive"},
                {"$ref": "#/$defs/xml"}
              ]
            },
            "resourceSet": {
              "type": "object",
              "additionalProperties": false,
              "required": ["resources"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "resources": {"$ref": "#/$defs/names"},
                "sequential": {"$ref": "#/$defs/scalar"},
                "require-all": {"$ref": "#/$defs/scalar"},
                "ordered": {"$ref": "#/$defs/scalar"},
                "ordering": {"$ref": "#/$defs/scalar"},
                "action": {"enum": ["start", "stop", "promote", "demote"]},
                "role": {"$ref": "#/$defs/scalar"},
                "kind": {"enum": ["Mandatory", "Optional", "Serialize"]},
                "score": {"$ref": "#/$defs/scalar"}
              }
            },
            "sets": {"type": "array", "items": {"$ref": "#/$defs/resourceSet"}},
            "order": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "first": {"$ref": "#/$defs/scalar"},
                "then": {"$ref": "#/$defs/scalar"},
                "first-action": {"enum": ["start", "stop", "promote", "demote"], "default": "start"},
                "then-action": {"enum": ["start", "stop", "promote", "demote"], "default": "start"},
                "pcs-defaults": {"$ref": "#/$defs/scalar", "description": "false: add none of what pcs writes by default (the CIB left it out)."},
                "kind": {"enum": ["Mandatory", "Optional", "Serialize"]},
                "symmetrical": {"$ref": "#/$defs/scalar"},
                "sets": {"$ref": "#/$defs/sets"}
              }
            },
            "colocation": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "pcs-defaults": {"$ref": "#/$defs/scalar", "description": "false: add none of what pcs writes by default (the CIB left it out)."},
                "id": {"$ref": "#/$defs/scalar"},
                "resource": {"$ref": "#/$defs/scalar"},
                "with": {"$ref": "#/$defs/scalar"},
                "score": {"$ref": "#/$defs/scalar", "default": "INFINITY"},
                "resource-role": {"$ref": "#/$defs/scalar"},
                "with-role": {"$ref": "#/$defs/scalar"},
                "node-attribute": {"$ref": "#/$defs/scalar"},
                "influence": {"$ref": "#/$defs/scalar"},
                "sets": {"$ref": "#/$defs/sets"}
              }
            },
            "expression": {
              "type": "object",
              "additionalProperties": false,
              "required": ["attribute", "operation"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "attribute": {"$ref": "#/$defs/scalar"},
                "operation": {"enum": ["lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"]},
                "value": {"$ref": "#/$defs/scalar"},
                "type": {"enum": ["string", "integer", "number", "version"]},
                "value-source": {"enum": ["literal", "param", "meta"]}
              }
            },
            "rule": {
              "type": "object",
              "additionalProperties": false,
              "required": ["expressions"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "score": {"$ref": "#/$defs/scalar"},
                "score-attribute": {"$ref": "#/$defs/scalar", "description": "The node attribute whose value is the score, instead of score."},
                "boolean-op": {"enum": ["and", "or"]},
                "role": {"$ref": "#/$defs/scalar"},
                "expressions": {"type": "array", "items": {"$ref": "#/$defs/expression"}}
              }
            },
            "location": {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "pcs-defaults": {"$ref": "#/$defs/scalar", "description": "false: add none of what pcs writes by default (the CIB left it out)."},
                "id": {"$ref": "#/$defs/scalar"},
                "resource": {"$ref": "#/$defs/scalar"},
                "resource-pattern": {"$ref": "#/$defs/scalar"},
                "node": {"$ref": "#/$defs/scalar"},
                "score": {"$ref": "#/$defs/scalar", "default": "INFINITY"},
                "role": {"$ref": "#/$defs/scalar"},
                "resource-discovery": {"enum": ["always", "never", "exclusive"]},
                "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
                "sets": {"$ref": "#/$defs/sets"}
              }
            },
            "constraint": {
              "type": "object",
              "minProperties": 1,
              "maxProperties": 1,
              "additionalProperties": false,
              "properties": {
                "order": {"$ref": "#/$defs/order"},
                "colocation": {"$ref": "#/$defs/colocation"},
                "location": {"$ref": "#/$defs/location"}
              }
            },
            "recipient": {
              "type": "object",
              "additionalProperties": false,
              "required": ["value"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "value": {"$ref": "#/$defs/scalar"},
                "description": {"$ref": "#/$defs/scalar"},
                "options": {"$ref": "#/$defs/pairs"},
                "meta": {"$ref": "#/$defs/pairs"}
              }
            },
            "alert": {
              "type": "object",
              "additionalProperties": false,
              "required": ["path"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "path": {"$ref": "#/$defs/scalar"},
                "description": {"$ref": "#/$defs/scalar"},
                "select": {"type": "array", "items": {"enum": ["nodes", "fencing", "resources", "attributes"]}},
                "options": {"$ref": "#/$defs/pairs"},
                "meta": {"$ref": "#/$defs/pairs"},
                "recipients": {"type": "array", "items": {"$ref": "#/$defs/recipient"}}
              }
            },
            "fencingLevel": {
              "type": "object",
              "additionalProperties": false,
              "required": ["target", "index", "devices"],
              "properties": {
                "id": {"$ref": "#/$defs/scalar"},
                "target": {"$ref": "#/$defs/scalar"},
                "index": {"$ref": "#/$defs/scalar"},
                "devices": {"$ref": "#/$defs/names"}
              }
            }
          }
        }
        """#
}
