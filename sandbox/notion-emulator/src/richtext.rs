//! Rich text: request validation (size limits included) and Notion's response shape.

use crate::dates::IsoDate;
use crate::error::ApiError;
use serde_json::{json, Map, Value};

/// Request limits from Notion's "Request limits" page.
pub const MAX_TEXT_CONTENT: usize = 2000;
pub const MAX_LINK_URL: usize = 2000;
pub const MAX_EQUATION: usize = 1000;
pub const MAX_ARRAY: usize = 100;

const COLORS: &[&str] = &[
    "default",
    "gray",
    "brown",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "red",
    "gray_background",
    "brown_background",
    "orange_background",
    "yellow_background",
    "green_background",
    "blue_background",
    "purple_background",
    "pink_background",
    "red_background",
];

/// Length as Notion (JavaScript) counts it: UTF-16 code units.
pub fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// What the emulator needs to render mentions.
pub trait MentionContext {
    fn user_name(&self, id: &str) -> Option<String>;
    /// (title, url) of a known page.
    fn page_info(&self, id: &str) -> Option<(String, String)>;
    /// (title, url) of a known database.
    fn database_info(&self, id: &str) -> Option<(String, String)>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Text {
        content: String,
        link: Option<String>,
    },
    /// The rendered `mention` object.
    Mention(Value),
    Equation(String),
}

/// One stored rich text object.
#[derive(Debug, Clone, PartialEq)]
pub struct RichText {
    pub segment: Segment,
    pub annotations: Value,
    pub plain_text: String,
    pub href: Option<String>,
}

impl RichText {
    pub fn plain(content: &str) -> RichText {
        RichText {
            segment: Segment::Text { content: content.to_string(), link: None },
            annotations: default_annotations(),
            plain_text: content.to_string(),
            href: None,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        match &self.segment {
            Segment::Text { content, link } => {
                o.insert("type".into(), json!("text"));
                o.insert("text".into(), json!({"content": content, "link": link.as_ref().map(|u| json!({"url": u}))}));
            }
            Segment::Mention(m) => {
                o.insert("type".into(), json!("mention"));
                o.insert("mention".into(), m.clone());
            }
            Segment::Equation(e) => {
                o.insert("type".into(), json!("equation"));
                o.insert("equation".into(), json!({"expression": e}));
            }
        }
        o.insert("annotations".into(), self.annotations.clone());
        o.insert("plain_text".into(), json!(self.plain_text));
        o.insert("href".into(), json!(self.href));
        Value::Object(o)
    }
}

pub fn default_annotations() -> Value {
    json!({
        "bold": false, "italic": false, "strikethrough": false,
        "underline": false, "code": false, "color": "default"
    })
}

pub fn plain_text_of(items: &[RichText]) -> String {
    items.iter().map(|r| r.plain_text.as_str()).collect()
}

pub fn render(items: &[RichText]) -> Value {
    Value::Array(items.iter().map(RichText::to_json).collect())
}

/// Validates an array of rich text request objects found at `path`.
pub fn parse_array(v: &Value, path: &str, ctx: &dyn MentionContext) -> Result<Vec<RichText>, ApiError> {
    let items = v.as_array().ok_or_else(|| ApiError::body(path, "an array", v))?;
    if items.len() > MAX_ARRAY {
        return Err(ApiError::validation(format!(
            "body failed validation: {path}.length should be ≤ `{MAX_ARRAY}`, instead was `{}`.",
            items.len()
        )));
    }
    items.iter().enumerate().map(|(i, item)| parse_item(item, &format!("{path}[{i}]"), ctx)).collect()
}

fn parse_item(v: &Value, path: &str, ctx: &dyn MentionContext) -> Result<RichText, ApiError> {
    let o = v.as_object().ok_or_else(|| ApiError::body(path, "an object", v))?;
    for key in o.keys() {
        if !matches!(key.as_str(), "type" | "text" | "mention" | "equation" | "annotations" | "plain_text" | "href") {
            return Err(ApiError::body(&format!("{path}.{key}"), "not present", &o[key]));
        }
    }
    let ty = match o.get("type") {
        None => {
            if o.contains_key("text") {
                "text"
            } else if o.contains_key("mention") {
                "mention"
            } else if o.contains_key("equation") {
                "equation"
            } else {
                return Err(ApiError::body_missing(&format!("{path}.text")));
            }
        }
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return Err(ApiError::body(&format!("{path}.type"), "`\"text\"`, `\"mention\"`, or `\"equation\"`", other))
        }
    };
    let annotations = parse_annotations(o.get("annotations"), &format!("{path}.annotations"))?;
    match ty {
        "text" => {
            let tpath = format!("{path}.text");
            let t = o.get("text").ok_or_else(|| ApiError::body_missing(&tpath))?;
            let t = t.as_object().ok_or_else(|| ApiError::body(&tpath, "an object", t))?;
            for key in t.keys() {
                if key != "content" && key != "link" {
                    return Err(ApiError::body(&format!("{tpath}.{key}"), "not present", &t[key]));
                }
            }
            let cpath = format!("{tpath}.content");
            let content = match t.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => return Err(ApiError::body(&cpath, "a string", other)),
                None => return Err(ApiError::body_missing(&cpath)),
            };
            if js_len(&content) > MAX_TEXT_CONTENT {
                return Err(ApiError::validation(format!(
                    "body failed validation: {cpath}.length should be ≤ `{MAX_TEXT_CONTENT}`, instead was `{}`.",
                    js_len(&content)
                )));
            }
            let link = match t.get("link") {
                None | Some(Value::Null) => None,
                Some(Value::Object(l)) => {
                    let upath = format!("{tpath}.link.url");
                    match l.get("url") {
                        Some(Value::String(u)) => {
                            if js_len(u) > MAX_LINK_URL {
                                return Err(ApiError::validation(format!(
                                    "body failed validation: {upath}.length should be ≤ `{MAX_LINK_URL}`, instead was `{}`.",
                                    js_len(u)
                                )));
                            }
                            Some(u.clone())
                        }
                        Some(other) => return Err(ApiError::body(&upath, "a string", other)),
                        None => return Err(ApiError::body_missing(&upath)),
                    }
                }
                Some(other) => return Err(ApiError::body(&format!("{tpath}.link"), "an object or `null`", other)),
            };
            Ok(RichText {
                plain_text: content.clone(),
                href: link.clone(),
                segment: Segment::Text { content, link },
                annotations,
            })
        }
        "equation" => {
            let epath = format!("{path}.equation.expression");
            let expr =
                o.get("equation").and_then(|e| e.get("expression")).ok_or_else(|| ApiError::body_missing(&epath))?;
            let expr = expr.as_str().ok_or_else(|| ApiError::body(&epath, "a string", expr))?;
            if js_len(expr) > MAX_EQUATION {
                return Err(ApiError::validation(format!(
                    "body failed validation: {epath}.length should be ≤ `{MAX_EQUATION}`, instead was `{}`.",
                    js_len(expr)
                )));
            }
            Ok(RichText {
                segment: Segment::Equation(expr.to_string()),
                annotations,
                plain_text: expr.to_string(),
                href: None,
            })
        }
        "mention" => {
            let mpath = format!("{path}.mention");
            let m = o.get("mention").ok_or_else(|| ApiError::body_missing(&mpath))?;
            let (mention, plain_text, href) = parse_mention(m, &mpath, ctx)?;
            Ok(RichText { segment: Segment::Mention(mention), annotations, plain_text, href })
        }
        _ => Err(ApiError::body(&format!("{path}.type"), "`\"text\"`, `\"mention\"`, or `\"equation\"`", &json!(ty))),
    }
}

fn parse_annotations(v: Option<&Value>, path: &str) -> Result<Value, ApiError> {
    let mut out = default_annotations();
    let Some(v) = v else { return Ok(out) };
    if v.is_null() {
        return Ok(out);
    }
    let o = v.as_object().ok_or_else(|| ApiError::body(path, "an object", v))?;
    for (key, val) in o {
        match key.as_str() {
            "bold" | "italic" | "strikethrough" | "underline" | "code" => {
                let b = val.as_bool().ok_or_else(|| ApiError::body(&format!("{path}.{key}"), "a boolean", val))?;
                out[key.as_str()] = json!(b);
            }
            "color" => {
                let c = val
                    .as_str()
                    .filter(|c| COLORS.contains(c))
                    .ok_or_else(|| ApiError::body(&format!("{path}.color"), "a valid color", val))?;
                out["color"] = json!(c);
            }
            _ => return Err(ApiError::body(&format!("{path}.{key}"), "not present", val)),
        }
    }
    Ok(out)
}

fn id_at(v: &Value, path: &str) -> Result<String, ApiError> {
    let raw = v.get("id").ok_or_else(|| ApiError::body_missing(&format!("{path}.id")))?;
    let s = raw.as_str().ok_or_else(|| ApiError::body(&format!("{path}.id"), "a string", raw))?;
    crate::ids::normalize(s).ok_or_else(|| ApiError::body(&format!("{path}.id"), "a valid uuid", raw))
}

/// Returns (rendered mention object, plain_text, href).
fn parse_mention(m: &Value, path: &str, ctx: &dyn MentionContext) -> Result<(Value, String, Option<String>), ApiError> {
    let o = m.as_object().ok_or_else(|| ApiError::body(path, "an object", m))?;
    let ty = match o.get("type").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => ["user", "page", "database", "date", "link_preview"]
            .iter()
            .find(|k| o.contains_key(**k))
            .map(|k| k.to_string())
            .ok_or_else(|| ApiError::body_missing(&format!("{path}.type")))?,
    };
    let body = o.get(&ty).ok_or_else(|| ApiError::body_missing(&format!("{path}.{ty}")))?;
    let bpath = format!("{path}.{ty}");
    match ty.as_str() {
        "user" => {
            let id = id_at(body, &bpath)?;
            let name = ctx.user_name(&id).unwrap_or_else(|| "Unknown user".to_string());
            Ok((json!({"type": "user", "user": {"object": "user", "id": id}}), format!("@{name}"), None))
        }
        "page" => {
            let id = id_at(body, &bpath)?;
            let (title, url) = ctx
                .page_info(&id)
                .unwrap_or_else(|| ("Untitled".to_string(), format!("https://www.notion.so/{}", crate::ids::undashed(&id))));
            Ok((json!({"type": "page", "page": {"id": id}}), title, Some(url)))
        }
        "database" => {
            let id = id_at(body, &bpath)?;
            let (title, url) = ctx
                .database_info(&id)
                .unwrap_or_else(|| ("Untitled".to_string(), format!("https://www.notion.so/{}", crate::ids::undashed(&id))));
            Ok((json!({"type": "database", "database": {"id": id}}), title, Some(url)))
        }
        "date" => {
            let d = parse_date_object(body, &bpath)?;
            let plain = match &d.end {
                Some(end) => format!("{} → {}", d.start, end),
                None => d.start.clone(),
            };
            Ok((json!({"type": "date", "date": d.to_json()}), plain, None))
        }
        "link_preview" => {
            let upath = format!("{bpath}.url");
            let u = body.get("url").ok_or_else(|| ApiError::body_missing(&upath))?;
            let u = u.as_str().ok_or_else(|| ApiError::body(&upath, "a string", u))?;
            Ok((json!({"type": "link_preview", "link_preview": {"url": u}}), u.to_string(), Some(u.to_string())))
        }
        other => Err(ApiError::validation(format!(
            "body failed validation: {path}.type should be one of `user`, `page`, `database`, `date`, `link_preview` (the mention types the emulator models), instead was `\"{other}\"`."
        ))),
    }
}

/// A stored date value (`{start, end, time_zone}`), strings normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct DateValue {
    pub start: String,
    pub start_parsed: IsoDate,
    pub end: Option<String>,
    pub time_zone: Option<String>,
}

impl DateValue {
    pub fn to_json(&self) -> Value {
        json!({"start": self.start, "end": self.end, "time_zone": self.time_zone})
    }
}

pub fn parse_date_object(v: &Value, path: &str) -> Result<DateValue, ApiError> {
    let o = v.as_object().ok_or_else(|| ApiError::body(path, "an object or `null`", v))?;
    for key in o.keys() {
        if !matches!(key.as_str(), "start" | "end" | "time_zone") {
            return Err(ApiError::body(&format!("{path}.{key}"), "not present", &o[key]));
        }
    }
    let spath = format!("{path}.start");
    let start_raw = o.get("start").ok_or_else(|| ApiError::body_missing(&spath))?;
    let start_s = start_raw.as_str().ok_or_else(|| ApiError::body(&spath, "a string", start_raw))?;
    let start =
        IsoDate::parse(start_s).ok_or_else(|| ApiError::body(&spath, "a valid ISO 8601 date string", start_raw))?;
    let end = match o.get("end") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            IsoDate::parse(s)
                .ok_or_else(|| ApiError::body(&format!("{path}.end"), "a valid ISO 8601 date string", &json!(s)))?,
        ),
        Some(other) => return Err(ApiError::body(&format!("{path}.end"), "a string or `null`", other)),
    };
    let time_zone = match o.get("time_zone") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => return Err(ApiError::body(&format!("{path}.time_zone"), "a time zone name or `null`", other)),
    };
    if time_zone.is_some() {
        check_zoned(path, "start", &start)?;
        if let Some(end) = &end {
            check_zoned(path, "end", end)?;
        }
    }
    Ok(DateValue { start: start.normalized(), start_parsed: start, end: end.map(|end| end.normalized()), time_zone })
}

/// With a `time_zone`, `start` and `end` must be local date-times: "When time zone information is
/// provided in this method, start and end cannot contain UTC offsets. In addition when time zone
/// information is provided in dates, start and end cannot be dates without time information"
/// (https://developers.notion.com/changelog/time-zone-support).
fn check_zoned(path: &str, key: &str, value: &IsoDate) -> Result<(), ApiError> {
    let problem = match value {
        IsoDate::Naive(_) => return Ok(()),
        IsoDate::Day(_) => "a date with a time when `time_zone` is set",
        IsoDate::Offset(_) => "a date-time without a UTC offset when `time_zone` is set",
    };
    Err(ApiError::body(&format!("{path}.{key}"), problem, &json!(value.normalized())))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoCtx;
    impl MentionContext for NoCtx {
        fn user_name(&self, _: &str) -> Option<String> {
            Some("Ada".into())
        }
        fn page_info(&self, _: &str) -> Option<(String, String)> {
            None
        }
        fn database_info(&self, _: &str) -> Option<(String, String)> {
            None
        }
    }

    #[test]
    fn counts_utf16_units() {
        assert_eq!(js_len("a😀"), 3);
        let ok = "😀".repeat(1000);
        assert!(parse_array(&json!([{"text": {"content": ok}}]), "p", &NoCtx).is_ok());
        let too_long = format!("{}a", "😀".repeat(1000));
        let err = parse_array(&json!([{"text": {"content": too_long}}]), "p", &NoCtx).err();
        assert_eq!(
            err.map(|e| e.message),
            Some(
                "body failed validation: p[0].text.content.length should be ≤ `2000`, instead was `2001`.".to_string()
            )
        );
    }

    #[test]
    fn mentions_have_plain_text() {
        let items = parse_array(
            &json!([
                {"text": {"content": "by "}},
                {"type": "mention", "mention": {"type": "user", "user": {"id": "be633bf1dfa0436db259571129a590e5"}}},
                {"type": "mention", "mention": {"date": {"start": "2024-01-02"}}}
            ]),
            "p",
            &NoCtx,
        );
        assert_eq!(items.map(|i| plain_text_of(&i)).ok().as_deref(), Some("by @Ada2024-01-02"));
    }
}
