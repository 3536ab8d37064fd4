//! Request limits: how much work and memory one request may cost the translators,
//! checked once when a body is peeked, before a provider is picked.
//!
//! Why here and not in each translator: a request is then accepted or refused the
//! same way whichever provider serves it (a fallback from OpenAI to Gemini must not
//! turn an accepted request into a crash or a 400 halfway through), and a refusal
//! costs a borrowed scan of the body, not a `serde_json::Value` of it. The
//! translators keep their own bounds as well (the Gemini schema converter counts
//! depth and nodes), so a direct caller such as a fuzz target is bounded too.
//!
//! What is bounded, and why:
//! - **Schema depth.** serde_json stops nesting at 128 levels while parsing, but a
//!   `$ref` chain (`A → B → C → …`) is flat JSON that a walker turns into recursion:
//!   a 3,000-link chain overflowed the Gemini converter's stack and aborted the
//!   process. Depth is counted along the walk, each inlined `$ref` as one level.
//! - **Schema nodes.** Inlining `$ref`s multiplies a schema (`A` uses `B` twice, `B`
//!   uses `C` twice, …); the nodes visited with `$ref`s followed are counted across
//!   the whole request.
//! - **Tools, messages, embedding inputs.** Each becomes at least one object in the
//!   translated body (190k tools for Gemini grew the process by about 1 GB), and
//!   each is an item the providers cap themselves.
//!
//! Recursive schemas (a `$ref` back to a schema being expanded, `"$ref": "#"`) are
//! not refused here: OpenAI accepts them. The walk simply does not expand a `$ref`
//! a second time inside itself; the Gemini converter refuses them on its own.
//!
//! Everything here is a pure function of the body; it never panics.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::anthropic::TranslateError;

/// Most entries in `messages`.
pub const MAX_MESSAGES: usize = 10_000;
/// Most entries in `tools` (or legacy `functions`).
pub const MAX_TOOLS: usize = 512;
/// Most strings in an embeddings `input` array (OpenAI's own limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2_048;
/// Deepest a JSON Schema may nest, counting each level of objects and arrays and each
/// `$ref` the walk inlines.
pub const MAX_SCHEMA_DEPTH: usize = 64;
/// Most schema nodes (objects, arrays and scalars) in one request, counted with every
/// `$ref` inlined where it is used.
pub const MAX_SCHEMA_NODES: usize = 100_000;

/// The fields of a request body the limits look at, borrowed.
/// [`super::peek`] reads these with the rest of its fields, in the same scan.
#[derive(Deserialize, Default)]
pub(crate) struct Bounded<'a> {
    #[serde(borrow, default)]
    pub messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub functions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_format: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub input: Option<&'a RawValue>,
}

/// A tool in either dialect: OpenAI's `{"function": {"parameters"}}`, Anthropic's
/// `{"input_schema"}`, or a legacy OpenAI `functions[]` entry (`{"parameters"}`).
#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(borrow, default)]
    function: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input_schema: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResponseFormat<'a> {
    #[serde(borrow, default)]
    json_schema: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct JsonSchemaSpec<'a> {
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
}

/// Checks `body` (a JSON object, already parsed once by the caller) against the
/// limits above. Fields of the wrong shape are left to the translators and the
/// providers, which name them better; only sizes are judged here.
pub fn check(body: &[u8]) -> Result<(), TranslateError> {
    // `Bounded` borrows every field as raw JSON, so only a repeated key fails it: a
    // repeated `tools` must not slip past the count.
    let fields = serde_json::from_slice::<Bounded>(body)
        .map_err(|e| TranslateError::new("body", format!("{e}; send each field once")))?;
    check_fields(&fields)
}

pub(crate) fn check_fields(fields: &Bounded<'_>) -> Result<(), TranslateError> {
    if let Some(messages) = fields.messages {
        at_most(messages, MAX_MESSAGES, "messages")?;
    }
    if let Some(input) = fields.input {
        at_most(input, MAX_EMBEDDING_INPUTS, "input")?;
    }
    let mut budget = SchemaBudget::new();
    for (key, tools) in [("tools", fields.tools), ("functions", fields.functions)] {
        let Some(tools) = tools else { continue };
        at_most(tools, MAX_TOOLS, key)?;
        let Ok(tools) = serde_json::from_str::<Vec<&RawValue>>(tools.get()) else {
            continue;
        };
        for (i, tool) in tools.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let Some(tool) = fields_of::<Tool>(tool, &path)? else {
                continue;
            };
            let function = match tool.function {
                Some(f) => fields_of::<Function>(f, &format!("{path}.function"))?,
                None => None,
            };
            if let Some(schema) = function.and_then(|f| f.parameters) {
                budget.check(schema, &format!("{key}[{i}].function.parameters"))?;
            }
            if let Some(schema) = tool.parameters {
                budget.check(schema, &format!("{key}[{i}].parameters"))?;
            }
            if let Some(schema) = tool.input_schema {
                budget.check(schema, &format!("{key}[{i}].input_schema"))?;
            }
        }
    }
    let spec = match fields.response_format {
        Some(f) => fields_of::<ResponseFormat>(f, "response_format")?.and_then(|f| f.json_schema),
        None => None,
    };
    let schema = match spec {
        Some(s) => {
            fields_of::<JsonSchemaSpec>(s, "response_format.json_schema")?.and_then(|s| s.schema)
        }
        None => None,
    };
    if let Some(schema) = schema {
        budget.check(schema, "response_format.json_schema.schema")?;
    }
    Ok(())
}

/// `raw`'s fields if it is an object; `None` for anything else (the translators and
/// providers name a wrong shape better). Its fields are raw JSON, so only a repeated
/// key fails, and that is refused: a repeat must not hide a schema from the walk.
fn fields_of<'a, T: Deserialize<'a>>(
    raw: &'a RawValue,
    path: &str,
) -> Result<Option<T>, TranslateError> {
    if !raw.get().starts_with('{') {
        return Ok(None);
    }
    serde_json::from_str(raw.get())
        .map(Some)
        .map_err(|e| TranslateError::new(path, format!("`{path}`: {e}; send each field once")))
}

/// `raw`, if an array, has at most `max` elements (counted without keeping them).
fn at_most(raw: &RawValue, max: usize, field: &str) -> Result<(), TranslateError> {
    if !raw.get().starts_with('[') {
        return Ok(());
    }
    let len = match serde_json::from_str::<Count>(raw.get()) {
        Ok(Count(len)) => len,
        Err(_) => return Ok(()),
    };
    if len > max {
        return Err(TranslateError::new(
            field,
            format!(
                "`{field}` has {len} entries; a request may have at most {max} \
                 (see \"Request limits\" in the README)"
            ),
        ));
    }
    Ok(())
}

/// The length of a JSON array, counted element by element.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// The schema nodes left for one request, shared by all its schemas.
struct SchemaBudget {
    nodes: usize,
}

impl SchemaBudget {
    fn new() -> Self {
        SchemaBudget { nodes: 0 }
    }

    /// Counts `raw`'s nodes and depth; a schema with `$ref`s is then walked with them
    /// inlined. The first pass allocates nothing, so a huge schema is refused before
    /// it is ever turned into a `Value`.
    fn check(&mut self, raw: &RawValue, path: &str) -> Result<(), TranslateError> {
        let mut shape = Shape {
            nodes: 0,
            deepest: 0,
        };
        // Invalid JSON cannot be here: the body parsed.
        let _ = (ShapeSeed {
            shape: &mut shape,
            depth: 1,
        })
        .deserialize(&mut serde_json::Deserializer::from_str(raw.get()));
        if shape.deepest > MAX_SCHEMA_DEPTH {
            return Err(too_deep(path));
        }
        if self.nodes + shape.nodes > MAX_SCHEMA_NODES {
            return Err(too_many_nodes(path));
        }
        if !raw.get().contains("\"$ref\"") {
            self.nodes += shape.nodes;
            return Ok(());
        }
        let Ok(schema) = serde_json::from_str::<Value>(raw.get()) else {
            return Ok(());
        };
        let mut walk = RefWalk {
            root: &schema,
            expanding: Vec::new(),
            nodes: &mut self.nodes,
            path,
        };
        walk.visit(&schema, 1)
    }
}

/// Nodes and deepest level of a JSON value, as the deserializer meets them.
struct Shape {
    nodes: usize,
    deepest: usize,
}

struct ShapeSeed<'s> {
    shape: &'s mut Shape,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.shape.nodes += 1;
        self.shape.deepest = self.shape.deepest.max(self.depth);
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        while seq
            .next_element_seed(ShapeSeed {
                shape: &mut *self.shape,
                depth,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(ShapeSeed {
                shape: &mut *self.shape,
                depth,
            })?;
        }
        Ok(())
    }
}

/// A walk over a schema with its local `$ref`s inlined where they are used.
struct RefWalk<'a> {
    root: &'a Value,
    /// The `$ref`s being inlined, outermost first; one met again is not re-entered.
    expanding: Vec<&'a str>,
    nodes: &'a mut usize,
    path: &'a str,
}

impl<'a> RefWalk<'a> {
    fn visit(&mut self, value: &'a Value, depth: usize) -> Result<(), TranslateError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(too_deep(self.path));
        }
        *self.nodes += 1;
        if *self.nodes > MAX_SCHEMA_NODES {
            return Err(too_many_nodes(self.path));
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    self.visit(item, depth + 1)?;
                }
            }
            Value::Object(obj) => {
                for (key, child) in obj {
                    // Definitions are counted where they are used, not where they sit.
                    if key != "$defs" && key != "definitions" {
                        self.visit(child, depth + 1)?;
                    }
                }
                if let Some(reference) = obj.get("$ref").and_then(Value::as_str)
                    && !self.expanding.contains(&reference)
                    && let Some(target) = resolve(self.root, reference)
                {
                    self.expanding.push(reference);
                    self.visit(target, depth + 1)?;
                    self.expanding.pop();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A local `$ref` (`#`, `#/$defs/X`, any `#/json/pointer`) within `root`.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

pub(crate) fn too_deep(path: &str) -> TranslateError {
    TranslateError::new(
        path,
        format!(
            "`{path}` nests deeper than {MAX_SCHEMA_DEPTH} levels (counting each `$ref` it \
             inlines); flatten the schema"
        ),
    )
}

pub(crate) fn too_many_nodes(path: &str) -> TranslateError {
    TranslateError::new(
        path,
        format!(
            "the request's JSON Schemas exceed {MAX_SCHEMA_NODES} nodes with their `$ref`s \
             inlined (reached at `{path}`); simplify the schemas or send fewer tools"
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ref_chain(links: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..links {
            defs.insert(
                format!("D{i}"),
                json!({"$ref": format!("#/$defs/D{}", i + 1)}),
            );
        }
        defs.insert(format!("D{links}"), json!({"type": "string"}));
        json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/D0"}}, "$defs": defs})
    }

    fn check_value(v: Value) -> Result<(), TranslateError> {
        check(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn a_long_ref_chain_is_too_deep_wherever_the_schema_is() {
        let deep = ref_chain(10_000);
        let cases = [
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": deep}}]}),
                "tools[0].function.parameters",
            ),
            (
                json!({"tools": [{"name": "f", "input_schema": deep}]}),
                "tools[0].input_schema",
            ),
            (
                json!({"functions": [{"name": "f", "parameters": deep}]}),
                "functions[0].parameters",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": deep}}}),
                "response_format.json_schema.schema",
            ),
        ];
        for (body, field) in cases {
            let err = check_value(body).unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.message.contains("64 levels"), "{}", err.message);
        }
    }

    #[test]
    fn ordinary_and_recursive_schemas_pass() {
        check_value(json!({"tools": [{"function": {"parameters": ref_chain(20)}}]})).unwrap();
        let recursive = json!({"type": "object", "properties": {"child": {"$ref": "#"},
            "next": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}});
        check_value(json!({"tools": [{"function": {"parameters": recursive}}]})).unwrap();
    }

    #[test]
    fn plain_nesting_counts_too() {
        let mut schema = json!({"type": "string"});
        for _ in 0..40 {
            schema = json!({"type": "object", "properties": {"x": schema}});
        }
        let err = check_value(json!({"tools": [{"input_schema": schema}]})).unwrap_err();
        assert_eq!(err.field, "tools[0].input_schema");
    }

    #[test]
    fn exponential_refs_exhaust_the_node_budget() {
        let mut defs = serde_json::Map::new();
        // Ten uses of the next definition at each of eight levels: 10^8 nodes inlined,
        // though no deeper than 30 levels.
        for i in 0..8 {
            let next = json!({"$ref": format!("#/$defs/D{}", i + 1)});
            let properties: serde_json::Map<String, Value> =
                (0..10).map(|p| (format!("p{p}"), next.clone())).collect();
            defs.insert(
                format!("D{i}"),
                json!({"type": "object", "properties": properties}),
            );
        }
        let schema = json!({"$ref": "#/$defs/D0", "$defs": defs});
        let err =
            check_value(json!({"tools": [{"function": {"parameters": schema}}]})).unwrap_err();
        assert!(err.message.contains("100000 nodes"), "{}", err.message);
    }

    #[test]
    fn counts_are_capped() {
        let tools: Vec<Value> = (0..=MAX_TOOLS)
            .map(|i| json!({"type": "function", "function": {"name": format!("f{i}")}}))
            .collect();
        let err = check_value(json!({"tools": tools})).unwrap_err();
        assert_eq!(err.field, "tools");
        assert!(err.message.contains("at most 512"), "{}", err.message);
        let messages = vec![json!({"role": "user", "content": "x"}); MAX_MESSAGES + 1];
        assert_eq!(
            check_value(json!({"messages": messages}))
                .unwrap_err()
                .field,
            "messages"
        );
        let input = vec![json!("x"); MAX_EMBEDDING_INPUTS + 1];
        assert_eq!(
            check_value(json!({"input": input})).unwrap_err().field,
            "input"
        );
        let dup = br#"{"tools": [], "tools": [{"function": {"parameters": {}}}]}"#;
        assert_eq!(check(dup).unwrap_err().field, "body");
        let ok = vec![json!({"role": "user", "content": "x"}); MAX_MESSAGES];
        check_value(json!({"messages": ok, "input": "one string", "tools": "not an array"}))
            .unwrap();
    }
}
