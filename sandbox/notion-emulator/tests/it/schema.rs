//! A small JSON Schema validator for the subset Notion's OpenAPI document (and our
//! documented-shape schemas) use. Unknown *assertion* keywords are reported as errors so
//! nothing passes silently.

use serde_json::Value;

pub struct Validator<'a> {
    root: &'a Value,
}

const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "default",
    "title",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$schema",
    "$id",
    "nullable",
];

impl<'a> Validator<'a> {
    /// `root` is the document `$ref`s resolve against.
    pub fn new(root: &'a Value) -> Self {
        Validator { root }
    }

    pub fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Returns the list of violations (empty when valid).
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, instance, "$", &mut errors, 0);
        errors
    }

    fn check(&self, schema: &Value, inst: &Value, path: &str, errors: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            errors.push(format!("{path}: schema recursion too deep"));
            return;
        }
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errors.push(format!("{path}: not allowed"));
                return;
            }
            Value::Object(o) => o,
            _ => {
                errors.push(format!("{path}: schema is not an object"));
                return;
            }
        };
        for (kw, arg) in s {
            match kw.as_str() {
                "$ref" => match arg.as_str().and_then(|r| self.resolve(r)) {
                    Some(target) => self.check(target, inst, path, errors, depth + 1),
                    None => errors.push(format!("{path}: unresolvable $ref {arg}")),
                },
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !types.iter().any(|t| type_matches(t, inst)) {
                        errors.push(format!("{path}: expected type {types:?}, got {}", short(inst)));
                    }
                }
                "enum" => {
                    if !arg.as_array().is_some_and(|a| a.contains(inst)) {
                        errors.push(format!("{path}: {} not in enum {arg}", short(inst)));
                    }
                }
                "const" => {
                    if arg != inst {
                        errors.push(format!("{path}: expected const {arg}, got {}", short(inst)));
                    }
                }
                "properties" => {
                    if let (Some(props), Some(obj)) = (arg.as_object(), inst.as_object()) {
                        for (k, sub) in props {
                            if let Some(v) = obj.get(k) {
                                self.check(sub, v, &format!("{path}.{k}"), errors, depth + 1);
                            }
                        }
                    }
                }
                "required" => {
                    if let (Some(req), Some(obj)) = (arg.as_array(), inst.as_object()) {
                        for k in req.iter().filter_map(Value::as_str) {
                            if !obj.contains_key(k) {
                                errors.push(format!("{path}: missing required {k}"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(obj) = inst.as_object() {
                        let declared = s.get("properties").and_then(Value::as_object);
                        for (k, v) in obj {
                            if declared.is_some_and(|d| d.contains_key(k)) {
                                continue;
                            }
                            self.check(arg, v, &format!("{path}.{k}"), errors, depth + 1);
                        }
                    }
                }
                "items" => {
                    if let Some(a) = inst.as_array() {
                        for (i, v) in a.iter().enumerate() {
                            self.check(arg, v, &format!("{path}[{i}]"), errors, depth + 1);
                        }
                    }
                }
                "maxItems" | "minItems" => {
                    if let (Some(n), Some(a)) = (arg.as_u64(), inst.as_array()) {
                        let bad = if kw == "maxItems" { a.len() as u64 > n } else { (a.len() as u64) < n };
                        if bad {
                            errors.push(format!("{path}: {kw} {n}, got {} items", a.len()));
                        }
                    }
                }
                "maxLength" | "minLength" => {
                    if let (Some(n), Some(t)) = (arg.as_u64(), inst.as_str()) {
                        let len = t.encode_utf16().count() as u64;
                        let bad = if kw == "maxLength" { len > n } else { len < n };
                        if bad {
                            errors.push(format!("{path}: {kw} {n}, got {len}"));
                        }
                    }
                }
                "oneOf" | "anyOf" | "allOf" => {
                    let subs = arg.as_array().cloned().unwrap_or_default();
                    let passing = subs.iter().filter(|sub| self.validate_at(sub, inst, path, depth).is_empty()).count();
                    let ok = match kw.as_str() {
                        "oneOf" => passing == 1,
                        "anyOf" => passing >= 1,
                        _ => passing == subs.len(),
                    };
                    if !ok {
                        let detail: Vec<String> =
                            subs.iter().map(|sub| self.validate_at(sub, inst, path, depth).join("; ")).collect();
                        errors.push(format!(
                            "{path}: {kw} matched {passing} of {} [{}]",
                            subs.len(),
                            detail.join(" | ")
                        ));
                    }
                }
                "format" => {
                    if let (Some(f), Some(t)) = (arg.as_str(), inst.as_str()) {
                        if !format_ok(f, t) {
                            errors.push(format!("{path}: {t:?} is not a valid {f}"));
                        }
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                other => errors.push(format!("{path}: validator does not support keyword {other:?}")),
            }
        }
    }

    fn validate_at(&self, schema: &Value, inst: &Value, path: &str, depth: usize) -> Vec<String> {
        let mut e = Vec::new();
        self.check(schema, inst, path, &mut e, depth + 1);
        e
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        _ => false,
    }
}

fn is_uuid(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

fn format_ok(f: &str, t: &str) -> bool {
    match f {
        "uuid" => is_uuid(t),
        // ISO 8601 with milliseconds and Z, as Notion prints timestamps.
        "date-time" => chrono::DateTime::parse_from_rfc3339(t).is_ok(),
        // Our own format for documented shapes: minute-rounded `YYYY-MM-DDTHH:MM:00.000Z`.
        "notion-minute" => chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.len() == 24 && t.ends_with(":00.000Z"),
        "uri" => t.starts_with("https://") || t.starts_with("http://"),
        // `json` (used by the OpenAPI file for icon/cover strings) and unknown formats: no check.
        _ => true,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().nth(77).map(|(i, _)| i).unwrap_or(s.len())])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validator_handles_refs_one_of_and_unknown_keywords() {
        let root = json!({
            "components": {"schemas": {
                "a": {"type": "object", "required": ["x"], "properties": {"x": {"const": 1}}},
                "b": {"type": "object", "required": ["y"]}
            }}
        });
        let v = Validator::new(&root);
        let one_of = json!({"oneOf": [{"$ref": "#/components/schemas/a"}, {"$ref": "#/components/schemas/b"}]});
        assert!(v.validate(&one_of, &json!({"x": 1})).is_empty());
        assert!(!v.validate(&one_of, &json!({"x": 1, "y": 2})).is_empty(), "both match: oneOf fails");
        assert!(!v.validate(&one_of, &json!({"z": 0})).is_empty());
        assert!(!v.validate(&json!({"pattern": "^a"}), &json!("a")).is_empty(), "unknown keyword reported");
        assert!(!v.validate(&json!({"type": "string", "format": "uuid"}), &json!("nope")).is_empty());
        assert!(!v
            .validate(&json!({"additionalProperties": false, "properties": {"a": {}}}), &json!({"b": 1}))
            .is_empty());
    }
}
