//! JSON Schema (OpenAI `parameters`, `response_format.json_schema.schema`) → Gemini
//! `Schema`, the OpenAPI 3.0 subset Gemini accepts (wire-formats.md §3, §5.5).
//!
//! Gemini answers 400 to keywords outside its subset (`$schema`,
//! `additionalProperties`, `$ref`, …), so the conversion keeps only the keywords
//! Gemini's v1beta `Schema` has and rewrites the common JSON Schema idioms it can
//! express:
//! - local `$ref`s (`#/$defs/X`, `#/definitions/X`, as pydantic emits) are inlined;
//!   remote or dangling ones are dropped; a recursive one cannot be inlined and is
//!   refused;
//! - `type: [T, "null"]` and `anyOf: [S, {"type":"null"}]` → `nullable: true`;
//!   several non-null types → `anyOf`; `oneOf` → `anyOf` (a generator cannot tell
//!   them apart); a one-element `allOf` is merged, longer ones are merged shallowly;
//! - `const` → a one-value `enum`; `enum` values become strings (Gemini's `enum` is
//!   `string[]`), `null` among them → `nullable`;
//! - `required` keeps only names in `properties` (Gemini rejects the others);
//! - `format` is kept only where Gemini gives it meaning (`enum`, `date-time`,
//!   `float`, `double`, `int32`, `int64`); other formats fail requests on the
//!   Developer API;
//! - `title` is dropped (python-genai#1732), as is everything else not listed in
//!   [`KEPT`].
//!
//! The walk is bounded in depth (`$ref` chains are flat JSON that it turns into
//! recursion) and in nodes, per schema and per request (`translate::limits`).

use serde_json::{Map, Value};

use super::TranslateError;
use crate::translate::limits;
use crate::translate::shape::Object;

/// Keywords copied as they are (the rest of Gemini's `Schema` is rebuilt below).
const KEPT: &[&str] = &[
    "description",
    "nullable",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "default",
    "example",
    "propertyOrdering",
];

/// `format` values Gemini acts on.
const FORMATS: &[&str] = &["enum", "date-time", "float", "double", "int32", "int64"];

/// Most schema nodes one conversion may produce: inlining `$ref`s can grow a schema
/// exponentially (`A` uses `B` twice, `B` uses `C` twice, …).
const MAX_NODES: usize = 10_000;

/// The schema nodes one request's conversions may still produce, shared by all its
/// schemas (`limits::MAX_SCHEMA_NODES`): 512 tools of 10,000 nodes each would
/// otherwise be 5 million objects.
pub(super) struct NodeBudget(usize);

impl Default for NodeBudget {
    fn default() -> Self {
        NodeBudget(limits::MAX_SCHEMA_NODES)
    }
}

/// `schema` (at `path`, for errors) in Gemini's subset, spending `budget`.
pub(super) fn to_gemini(
    schema: &Value,
    path: &str,
    budget: &mut NodeBudget,
) -> Result<Value, TranslateError> {
    let root = schema.as_object();
    let defs = |key| root.and_then(|r| r.get(key)).and_then(Value::as_object);
    let mut converter = Converter {
        defs: defs("$defs"),
        definitions: defs("definitions"),
        expanding: Vec::new(),
        nodes: 0,
        depth: 0,
        budget,
        path,
    };
    converter.convert(schema).map(Value::Object)
}

struct Converter<'a, 'b> {
    defs: Option<&'a Object>,
    definitions: Option<&'a Object>,
    /// The `$ref`s being inlined, outermost first: meeting one again is recursion.
    expanding: Vec<&'a str>,
    nodes: usize,
    /// Nested `convert` calls, each inlined `$ref` one of them: a `$ref` chain is
    /// flat JSON, so serde's nesting limit does not bound this recursion.
    depth: usize,
    budget: &'b mut NodeBudget,
    path: &'a str,
}

impl<'a> Converter<'a, '_> {
    fn convert(&mut self, schema: &'a Value) -> Result<Object, TranslateError> {
        if self.depth >= limits::MAX_SCHEMA_DEPTH {
            return Err(limits::too_deep(self.path));
        }
        if self.budget.0 == 0 {
            return Err(limits::too_many_nodes(self.path));
        }
        self.budget.0 -= 1;
        self.depth += 1;
        let out = self.convert_node(schema);
        self.depth -= 1;
        out
    }

    fn convert_node(&mut self, schema: &'a Value) -> Result<Object, TranslateError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(TranslateError::new(
                self.path,
                format!(
                    "`{}` is too large once its `$ref`s are inlined (over {MAX_NODES} nodes); \
                     simplify the schema",
                    self.path
                ),
            ));
        }
        // `true`, `{}` and anything else that is not an object: any value.
        let Some(obj) = schema.as_object() else {
            return Ok(Map::new());
        };
        let mut out = Map::new();
        for key in KEPT {
            if let Some(v) = obj.get(*key).filter(|v| !v.is_null()) {
                out.insert((*key).to_owned(), v.clone());
            }
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str)
            && FORMATS.contains(&format)
        {
            out.insert("format".into(), format.into());
        }
        self.types(obj, &mut out);
        self.enumeration(obj, &mut out);
        if let Some(Value::Object(properties)) = obj.get("properties") {
            let mut converted = Map::new();
            for (name, property) in properties {
                converted.insert(name.clone(), Value::Object(self.convert(property)?));
            }
            if let Some(Value::Array(required)) = obj.get("required") {
                let required: Vec<Value> = required
                    .iter()
                    .filter(|r| r.as_str().is_some_and(|r| converted.contains_key(r)))
                    .cloned()
                    .collect();
                if !required.is_empty() {
                    out.insert("required".into(), Value::Array(required));
                }
            }
            out.insert("properties".into(), Value::Object(converted));
        }
        // A tuple (`items: [..]`, `prefixItems`) has no Gemini form: left open.
        if let Some(items @ Value::Object(_)) = obj.get("items") {
            out.insert("items".into(), Value::Object(self.convert(items)?));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(variants)) = obj.get(key) {
                self.any_of(variants, &mut out)?;
            }
        }
        if let Some(Value::Array(parts)) = obj.get("allOf") {
            for part in parts {
                let part = self.convert(part)?;
                merge_missing(&mut out, part);
            }
        }
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str)
            && let Some(target) = self.resolve(reference)
        {
            if self.expanding.contains(&reference) {
                return Err(TranslateError::new(
                    self.path,
                    format!(
                        "`{}` refers to itself through `{reference}`; Gemini schemas cannot be \
                         recursive, so unroll it to a fixed depth",
                        self.path
                    ),
                ));
            }
            self.expanding.push(reference);
            let target = self.convert(target)?;
            self.expanding.pop();
            // Siblings of `$ref` (a `description`, say) win over the target's.
            merge_missing(&mut out, target);
        }
        Ok(out)
    }

    /// `type` (a string or an array of them) → `type`, `nullable`, or `anyOf`.
    fn types(&self, obj: &Object, out: &mut Object) {
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return,
        };
        let nullable = types.len() > 1 && types.contains(&"null");
        let types: Vec<&str> = if nullable {
            types.into_iter().filter(|t| *t != "null").collect()
        } else {
            types
        };
        if nullable {
            out.insert("nullable".into(), true.into());
        }
        match types.as_slice() {
            [] => {}
            [one] => {
                out.insert("type".into(), (*one).into());
            }
            many => {
                let variants = many
                    .iter()
                    .map(|t| Value::Object(Map::from_iter([("type".to_owned(), (*t).into())])))
                    .collect();
                out.insert("anyOf".into(), Value::Array(variants));
            }
        }
    }

    /// `enum` and `const` → a string `enum`; a `null` member → `nullable`.
    fn enumeration(&self, obj: &Object, out: &mut Object) {
        let members: Vec<&Value> = match (obj.get("enum"), obj.get("const")) {
            (Some(Value::Array(members)), _) => members.iter().collect(),
            (_, Some(value)) => vec![value],
            _ => return,
        };
        let mut strings = Vec::with_capacity(members.len());
        for member in members {
            match member {
                Value::Null => {
                    out.insert("nullable".into(), true.into());
                }
                Value::String(s) => strings.push(Value::String(s.clone())),
                Value::Number(_) | Value::Bool(_) => strings.push(member.to_string().into()),
                // Objects and arrays cannot be Gemini enum members.
                Value::Array(_) | Value::Object(_) => {}
            }
        }
        if !strings.is_empty() {
            out.insert("enum".into(), Value::Array(strings));
        }
    }

    /// `anyOf`/`oneOf`: `{"type":"null"}` members become `nullable`; a single member
    /// left is merged in.
    fn any_of(&mut self, variants: &'a [Value], out: &mut Object) -> Result<(), TranslateError> {
        let mut kept = Vec::with_capacity(variants.len());
        for variant in variants {
            let variant = self.convert(variant)?;
            if variant.len() == 1 && variant.get("type").and_then(Value::as_str) == Some("null") {
                out.insert("nullable".into(), true.into());
            } else {
                kept.push(variant);
            }
        }
        if kept.len() == 1 {
            if let Some(only) = kept.pop() {
                merge_missing(out, only);
            }
        } else if !kept.is_empty() && !out.contains_key("anyOf") {
            out.insert(
                "anyOf".into(),
                Value::Array(kept.into_iter().map(Value::Object).collect()),
            );
        }
        Ok(())
    }

    /// `#/$defs/Name` or `#/definitions/Name` (JSON-pointer escapes undone).
    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let (defs, name) = if let Some(name) = reference.strip_prefix("#/$defs/") {
            (self.defs?, name)
        } else {
            (self.definitions?, reference.strip_prefix("#/definitions/")?)
        };
        defs.get(&name.replace("~1", "/").replace("~0", "~"))
    }
}

/// Copies `from`'s keys that `into` lacks.
fn merge_missing(into: &mut Object, from: Object) {
    for (key, value) in from {
        into.entry(key).or_insert(value);
    }
}

/// True for a schema of an object with no properties, which Gemini rejects as
/// function parameters ("properties: should be non-empty for OBJECT type").
pub(super) fn is_empty_object(schema: &Value) -> bool {
    let no_properties = match schema.get("properties") {
        None => true,
        Some(Value::Object(p)) => p.is_empty(),
        Some(_) => false,
    };
    no_properties
        && schema.get("anyOf").is_none()
        && schema
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t.eq_ignore_ascii_case("object"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(schema: Value) -> Value {
        to_gemini(&schema, "s", &mut NodeBudget::default()).unwrap()
    }

    #[test]
    fn unsupported_keywords_are_stripped_at_every_depth() {
        let out = convert(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Args", "type": "object", "additionalProperties": false, "strict": true,
            "properties": {
                "city": {"type": "string", "description": "City", "format": "hostname", "examples": ["x"]},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string", "additionalProperties": false}, "maxItems": 3},
                "additionalProperties": {"type": "integer", "exclusiveMinimum": 0, "minimum": 1},
            },
            "required": ["city", "ghost"],
        }));
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                    // A property may be *named* like a keyword.
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
                "required": ["city"],
            })
        );
    }

    #[test]
    fn nullable_idioms_become_nullable() {
        let out = convert(json!({"type": "object", "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "B"},
            "c": {"type": ["string", "integer"]},
            "d": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "e": {"enum": ["x", null, 3, true, {"no": 1}]},
            "f": {"const": "only"},
        }}));
        assert_eq!(
            out["properties"],
            json!({
                "a": {"type": "string", "nullable": true},
                "b": {"type": "integer", "nullable": true, "description": "B"},
                "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "d": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                "e": {"enum": ["x", "3", "true"], "nullable": true},
                "f": {"enum": ["only"]},
            })
        );
    }

    #[test]
    fn local_refs_are_inlined_and_recursion_is_refused() {
        let out = convert(json!({
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Address", "description": "Where they live"},
                "work": {"allOf": [{"$ref": "#/definitions/Address"}]},
                "far": {"$ref": "https://x.test/schema.json"},
            },
            "$defs": {"Address": {"title": "Address", "type": "object",
                "properties": {"street": {"type": "string"}}, "description": "An address"}},
            "definitions": {"Address": {"type": "object", "properties": {"zip": {"type": "string"}}}},
        }));
        assert_eq!(
            out["properties"],
            json!({
                "home": {"type": "object", "description": "Where they live",
                    "properties": {"street": {"type": "string"}}},
                "work": {"type": "object", "properties": {"zip": {"type": "string"}}},
                "far": {},
            })
        );
        let recursive = json!({"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}});
        let err = to_gemini(
            &recursive,
            "tools[0].function.parameters",
            &mut NodeBudget::default(),
        )
        .unwrap_err();
        assert_eq!(err.field, "tools[0].function.parameters");
    }

    #[test]
    fn exponential_refs_are_bounded() {
        let mut defs = Map::new();
        for i in 0..40 {
            let next = format!("#/$defs/D{}", i + 1);
            defs.insert(
                format!("D{i}"),
                json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        let schema = json!({"$ref": "#/$defs/D0", "$defs": defs});
        assert!(to_gemini(&schema, "s", &mut NodeBudget::default()).is_err());
    }

    #[test]
    fn a_long_ref_chain_is_refused_not_recursed() {
        // 10,000 links overflowed the stack before the depth bound.
        let mut defs = Map::new();
        for i in 0..10_000 {
            defs.insert(
                format!("D{i}"),
                json!({"$ref": format!("#/$defs/D{}", i + 1)}),
            );
        }
        let schema = json!({"$ref": "#/$defs/D0", "$defs": defs});
        let err = to_gemini(&schema, "p", &mut NodeBudget::default()).unwrap_err();
        assert_eq!(err.field, "p");
        assert!(err.message.contains("64 levels"), "{}", err.message);
    }

    #[test]
    fn the_node_budget_is_shared_across_a_request() {
        let wide: Map<String, Value> = (0..9_000)
            .map(|i| (format!("p{i}"), json!({"type": "string"})))
            .collect();
        let schema = json!({"type": "object", "properties": wide});
        let mut budget = NodeBudget::default();
        for _ in 0..11 {
            to_gemini(&schema, "p", &mut budget).unwrap();
        }
        let err = to_gemini(&schema, "q", &mut budget).unwrap_err();
        assert_eq!(err.field, "q");
    }

    #[test]
    fn parameterless_functions_are_recognised() {
        for empty in [
            json!({}),
            json!({"type": "object"}),
            json!({"type": "OBJECT", "properties": {}}),
        ] {
            assert!(is_empty_object(&empty), "{empty}");
        }
        assert!(!is_empty_object(
            &json!({"type": "object", "properties": {"a": {}}})
        ));
        assert!(!is_empty_object(&json!({"type": "string"})));
    }
}
