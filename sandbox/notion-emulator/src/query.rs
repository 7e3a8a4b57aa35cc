//! `POST /v1/data_sources/{id}/query`: filters, sorts, pagination.

use crate::config::InTrashReading;
use crate::dates::{cmp_ts, round_to_minute, IsoDate};
use crate::error::ApiError;
use crate::ids;
use crate::richtext;
use crate::store::{parse_date_arg, DataSource, Kind, Page, PropValue, Store};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Body keys the emulator accepts on a query (all defined by Notion's OpenAPI document).
pub const QUERY_BODY_KEYS: &[&str] = &["filter", "sorts", "start_cursor", "page_size", "in_trash", "archived"];

/// Notion: "compound filter conditions can be nested up to two levels deep".
const MAX_COMPOUND_DEPTH: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsField {
    Created,
    LastEdited,
}

#[derive(Debug, Clone)]
pub enum DateCond {
    Equals(IsoDate),
    Before(IsoDate),
    After(IsoDate),
    OnOrBefore(IsoDate),
    OnOrAfter(IsoDate),
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone)]
pub enum TextCond {
    Equals(String),
    DoesNotEqual(String),
    Contains(String),
    DoesNotContain(String),
    StartsWith(String),
    EndsWith(String),
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone)]
pub enum NumCond {
    Equals(f64),
    DoesNotEqual(f64),
    GreaterThan(f64),
    LessThan(f64),
    GreaterOrEqual(f64),
    LessOrEqual(f64),
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone)]
pub enum SelectCond {
    Equals(String),
    DoesNotEqual(String),
    Contains(String),
    DoesNotContain(String),
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Timestamp(TsField, DateCond),
    Text(String, TextCond),
    Checkbox(String, bool, bool),
    Number(String, NumCond),
    Select(String, SelectCond),
    Date(String, DateCond),
}

#[derive(Debug, Clone)]
pub enum SortKey {
    Timestamp(TsField),
    Property(String),
}

#[derive(Debug, Clone)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Option<Filter>,
    pub sorts: Vec<Sort>,
    pub start_cursor: Option<String>,
    pub page_size: usize,
    pub in_trash: bool,
}

/// Where a cursor points: the next page, plus its sort values when issued (so a cursor
/// stays usable if that page later stops matching).
#[derive(Debug, Clone)]
pub struct CursorState {
    pub next_page_id: String,
    pub keys: Vec<SortVal>,
    pub seq: u64,
    /// Results this query has returned before the cursor (for the result cap).
    pub served: usize,
}

/// One answer page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub page_ids: Vec<String>,
    pub next_cursor: Option<String>,
    /// The query matched more results than the cap: `request_status` "incomplete".
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortVal {
    Empty,
    Time(DateTime<Utc>),
    Text(String),
    Num(f64),
    Bool(bool),
}

fn kind_of(ds: &DataSource, key: &str) -> Option<(String, Kind)> {
    ds.prop_by_key(key).map(|p| (p.id.clone(), p.kind))
}

fn expect_obj<'a>(v: &'a Value, path: &str) -> Result<&'a serde_json::Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| ApiError::body(path, "an object", v))
}

/// Parses and validates a query body; `reading` says what `in_trash` / `archived` do.
pub fn parse_query(body: &Value, ds: &DataSource, reading: InTrashReading) -> Result<Query, ApiError> {
    let o = expect_obj(body, "body")?;
    for (k, v) in o {
        let refused = reading == InTrashReading::Rejected && (k == "in_trash" || k == "archived");
        if refused || !QUERY_BODY_KEYS.contains(&k.as_str()) {
            return Err(ApiError::body(&format!("body.{k}"), "not present", v));
        }
    }
    let page_size = match o.get("page_size") {
        None | Some(Value::Null) => 100,
        Some(v) => {
            let n = v
                .as_i64()
                .filter(|_| v.is_i64() || v.is_u64())
                .ok_or_else(|| ApiError::body("body.page_size", "an integer", v))?;
            if n > 100 {
                return Err(ApiError::validation(format!(
                    "body failed validation: body.page_size should be ≤ `100`, instead was `{n}`."
                )));
            }
            if n < 1 {
                return Err(ApiError::validation(format!(
                    "body failed validation: body.page_size should be ≥ `1`, instead was `{n}`."
                )));
            }
            n as usize
        }
    };
    let start_cursor = match o.get("start_cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            ids::normalize(s)
                .ok_or_else(|| ApiError::body("body.start_cursor", "a valid uuid", &Value::String(s.clone())))?,
        ),
        Some(v) => return Err(ApiError::body("body.start_cursor", "a string", v)),
    };
    let flag = |k: &str| -> Result<Option<bool>, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(ApiError::body(&format!("body.{k}"), "a boolean", v)),
        }
    };
    let in_trash = match (flag("in_trash")?, flag("archived")?) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::validation(
                "body failed validation: body.in_trash and body.archived must agree when both are given.",
            ))
        }
        (Some(a), _) | (None, Some(a)) => a && reading == InTrashReading::OnlyTrashed,
        (None, None) => false,
    };
    let filter = match o.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(parse_filter(f, ds, "body.filter", 0)?),
    };
    let sorts = match o.get("sorts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| parse_sort(s, ds, &format!("body.sorts[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(ApiError::body("body.sorts", "an array", v)),
    };
    Ok(Query { filter, sorts, start_cursor, page_size, in_trash })
}

fn parse_sort(v: &Value, ds: &DataSource, path: &str) -> Result<Sort, ApiError> {
    let o = expect_obj(v, path)?;
    let descending = match o.get("direction") {
        Some(Value::String(d)) if d == "ascending" => false,
        Some(Value::String(d)) if d == "descending" => true,
        Some(other) => {
            return Err(ApiError::body(&format!("{path}.direction"), "`\"ascending\"` or `\"descending\"`", other))
        }
        None => return Err(ApiError::body_missing(&format!("{path}.direction"))),
    };
    for k in o.keys() {
        if !matches!(k.as_str(), "direction" | "timestamp" | "property") {
            return Err(ApiError::body(&format!("{path}.{k}"), "not present", &o[k]));
        }
    }
    let key = match (o.get("timestamp"), o.get("property")) {
        (Some(t), None) => SortKey::Timestamp(parse_ts_field(t, &format!("{path}.timestamp"))?),
        (None, Some(Value::String(p))) => {
            let (id, _) = kind_of(ds, p)
                .ok_or_else(|| ApiError::validation(format!("Could not find sort property with name or id: {p}")))?;
            SortKey::Property(id)
        }
        (None, Some(other)) => return Err(ApiError::body(&format!("{path}.property"), "a string", other)),
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(format!(
                "body failed validation: {path} should have either `property` or `timestamp`, not both."
            )))
        }
        (None, None) => return Err(ApiError::body_missing(&format!("{path}.property"))),
    };
    Ok(Sort { key, descending })
}

fn parse_ts_field(v: &Value, path: &str) -> Result<TsField, ApiError> {
    match v.as_str() {
        Some("created_time") => Ok(TsField::Created),
        Some("last_edited_time") => Ok(TsField::LastEdited),
        _ => Err(ApiError::body(path, "`\"created_time\"` or `\"last_edited_time\"`", v)),
    }
}

fn single_condition<'a>(v: &'a Value, path: &str) -> Result<(&'a str, &'a Value), ApiError> {
    let o = expect_obj(v, path)?;
    if o.len() != 1 {
        return Err(ApiError::validation(format!(
            "body failed validation: {path} should have exactly one condition, instead had `{}`.",
            o.len()
        )));
    }
    o.iter().next().map(|(k, v)| (k.as_str(), v)).ok_or_else(|| ApiError::body(path, "a filter condition", v))
}

fn require_true(v: &Value, path: &str) -> Result<(), ApiError> {
    if v == &Value::Bool(true) {
        Ok(())
    } else {
        Err(ApiError::body(path, "`true`", v))
    }
}

fn parse_date_cond(v: &Value, path: &str) -> Result<DateCond, ApiError> {
    let (op, arg) = single_condition(v, path)?;
    let apath = format!("{path}.{op}");
    Ok(match op {
        "equals" => DateCond::Equals(parse_date_arg(arg, &apath)?),
        "before" => DateCond::Before(parse_date_arg(arg, &apath)?),
        "after" => DateCond::After(parse_date_arg(arg, &apath)?),
        "on_or_before" => DateCond::OnOrBefore(parse_date_arg(arg, &apath)?),
        "on_or_after" => DateCond::OnOrAfter(parse_date_arg(arg, &apath)?),
        "is_empty" => {
            require_true(arg, &apath)?;
            DateCond::IsEmpty
        }
        "is_not_empty" => {
            require_true(arg, &apath)?;
            DateCond::IsNotEmpty
        }
        "past_week" | "past_month" | "past_year" | "next_week" | "next_month" | "next_year"
        | "this_week" => {
            return Err(ApiError::validation(format!(
                "body failed validation: {apath} is a relative date condition, which the Notion emulator does not model."
            )))
        }
        other => {
            return Err(ApiError::validation(format!(
                "body failed validation: {path}.{other} should be not present, instead was `{}`.",
                crate::error::show(arg)
            )))
        }
    })
}

fn string_arg(v: &Value, path: &str) -> Result<String, ApiError> {
    v.as_str().map(str::to_string).ok_or_else(|| ApiError::body(path, "a string", v))
}

fn parse_text_cond(v: &Value, path: &str) -> Result<TextCond, ApiError> {
    let (op, arg) = single_condition(v, path)?;
    let apath = format!("{path}.{op}");
    Ok(match op {
        "equals" => TextCond::Equals(string_arg(arg, &apath)?),
        "does_not_equal" => TextCond::DoesNotEqual(string_arg(arg, &apath)?),
        "contains" => TextCond::Contains(string_arg(arg, &apath)?),
        "does_not_contain" => TextCond::DoesNotContain(string_arg(arg, &apath)?),
        "starts_with" => TextCond::StartsWith(string_arg(arg, &apath)?),
        "ends_with" => TextCond::EndsWith(string_arg(arg, &apath)?),
        "is_empty" => {
            require_true(arg, &apath)?;
            TextCond::IsEmpty
        }
        "is_not_empty" => {
            require_true(arg, &apath)?;
            TextCond::IsNotEmpty
        }
        _ => return Err(ApiError::body(&apath, "not present", arg)),
    })
}

fn num_arg(v: &Value, path: &str) -> Result<f64, ApiError> {
    v.as_f64().ok_or_else(|| ApiError::body(path, "a number", v))
}

fn parse_num_cond(v: &Value, path: &str) -> Result<NumCond, ApiError> {
    let (op, arg) = single_condition(v, path)?;
    let apath = format!("{path}.{op}");
    Ok(match op {
        "equals" => NumCond::Equals(num_arg(arg, &apath)?),
        "does_not_equal" => NumCond::DoesNotEqual(num_arg(arg, &apath)?),
        "greater_than" => NumCond::GreaterThan(num_arg(arg, &apath)?),
        "less_than" => NumCond::LessThan(num_arg(arg, &apath)?),
        "greater_than_or_equal_to" => NumCond::GreaterOrEqual(num_arg(arg, &apath)?),
        "less_than_or_equal_to" => NumCond::LessOrEqual(num_arg(arg, &apath)?),
        "is_empty" => {
            require_true(arg, &apath)?;
            NumCond::IsEmpty
        }
        "is_not_empty" => {
            require_true(arg, &apath)?;
            NumCond::IsNotEmpty
        }
        _ => return Err(ApiError::body(&apath, "not present", arg)),
    })
}

fn parse_select_cond(v: &Value, path: &str, multi: bool) -> Result<SelectCond, ApiError> {
    let (op, arg) = single_condition(v, path)?;
    let apath = format!("{path}.{op}");
    Ok(match (op, multi) {
        ("equals", false) => SelectCond::Equals(string_arg(arg, &apath)?),
        ("does_not_equal", false) => SelectCond::DoesNotEqual(string_arg(arg, &apath)?),
        ("contains", true) => SelectCond::Contains(string_arg(arg, &apath)?),
        ("does_not_contain", true) => SelectCond::DoesNotContain(string_arg(arg, &apath)?),
        ("is_empty", _) => {
            require_true(arg, &apath)?;
            SelectCond::IsEmpty
        }
        ("is_not_empty", _) => {
            require_true(arg, &apath)?;
            SelectCond::IsNotEmpty
        }
        _ => return Err(ApiError::body(&apath, "not present", arg)),
    })
}

fn parse_filter(v: &Value, ds: &DataSource, path: &str, depth: usize) -> Result<Filter, ApiError> {
    let o = expect_obj(v, path)?;
    for key in ["and", "or"] {
        if let Some(list) = o.get(key) {
            if o.len() != 1 {
                return Err(ApiError::validation(format!(
                    "body failed validation: {path} should have only `{key}` next to a compound condition."
                )));
            }
            if depth >= MAX_COMPOUND_DEPTH {
                return Err(ApiError::validation(format!(
                    "body failed validation: {path}.{key} is nested too deeply; compound filters can be nested up to two levels deep."
                )));
            }
            let items = list.as_array().ok_or_else(|| ApiError::body(&format!("{path}.{key}"), "an array", list))?;
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, f)| parse_filter(f, ds, &format!("{path}.{key}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if key == "and" { Filter::And(parsed) } else { Filter::Or(parsed) });
        }
    }
    if let Some(t) = o.get("timestamp") {
        let field = parse_ts_field(t, &format!("{path}.timestamp"))?;
        let fname = if field == TsField::Created { "created_time" } else { "last_edited_time" };
        for k in o.keys() {
            if k != "timestamp" && k != fname {
                return Err(ApiError::body(&format!("{path}.{k}"), "not present", &o[k]));
            }
        }
        let cond_v = o.get(fname).ok_or_else(|| ApiError::body_missing(&format!("{path}.{fname}")))?;
        return Ok(Filter::Timestamp(field, parse_date_cond(cond_v, &format!("{path}.{fname}"))?));
    }
    let prop_v = o.get("property").ok_or_else(|| ApiError::body_missing(&format!("{path}.property")))?;
    let prop = prop_v.as_str().ok_or_else(|| ApiError::body(&format!("{path}.property"), "a string", prop_v))?;
    let (pid, kind) = kind_of(ds, prop)
        .ok_or_else(|| ApiError::validation(format!("Could not find property with name or id: {prop}")))?;
    let cond_keys: Vec<&String> = o.keys().filter(|k| *k != "property" && *k != "type").collect();
    let [cond_key] = cond_keys.as_slice() else {
        return Err(ApiError::validation(format!(
            "body failed validation: {path} should have exactly one filter condition for property {prop}."
        )));
    };
    let cond_key = cond_key.as_str();
    if let Some(t) = o.get("type") {
        if t.as_str() != Some(cond_key) {
            return Err(ApiError::body(&format!("{path}.type"), &format!("`\"{cond_key}\"`"), t));
        }
    }
    // The text condition applies to title and rich_text properties alike.
    let compatible = cond_key == kind.name()
        || (kind == Kind::Title && cond_key == "rich_text")
        || (kind == Kind::RichText && cond_key == "title");
    if !compatible {
        return Err(ApiError::validation(format!(
            "body failed validation: {path}.{cond_key} does not match the type of property {prop}, which is {}.",
            kind.name()
        )));
    }
    let cpath = format!("{path}.{cond_key}");
    let cond = &o[cond_key];
    Ok(match kind {
        Kind::Title | Kind::RichText | Kind::Url => Filter::Text(pid, parse_text_cond(cond, &cpath)?),
        Kind::Checkbox => {
            let (op, arg) = single_condition(cond, &cpath)?;
            let apath = format!("{cpath}.{op}");
            let b = arg.as_bool().ok_or_else(|| ApiError::body(&apath, "a boolean", arg))?;
            match op {
                "equals" => Filter::Checkbox(pid, b, false),
                "does_not_equal" => Filter::Checkbox(pid, b, true),
                _ => return Err(ApiError::body(&apath, "not present", arg)),
            }
        }
        Kind::Number => Filter::Number(pid, parse_num_cond(cond, &cpath)?),
        Kind::Select => Filter::Select(pid, parse_select_cond(cond, &cpath, false)?),
        Kind::MultiSelect => Filter::Select(pid, parse_select_cond(cond, &cpath, true)?),
        Kind::Date => Filter::Date(pid, parse_date_cond(cond, &cpath)?),
    })
}

// ----- evaluation --------------------------------------------------------------------------

fn ts_of(page: &Page, f: TsField) -> DateTime<Utc> {
    // Filters compare the values clients can see: rounded down to the minute.
    round_to_minute(match f {
        TsField::Created => page.created,
        TsField::LastEdited => page.edited,
    })
}

fn date_matches(ord: Option<Ordering>, cond: &DateCond) -> bool {
    match (cond, ord) {
        (DateCond::IsEmpty, o) => o.is_none(),
        (DateCond::IsNotEmpty, o) => o.is_some(),
        (_, None) => false,
        (DateCond::Equals(_), Some(o)) => o == Ordering::Equal,
        (DateCond::Before(_), Some(o)) => o == Ordering::Less,
        (DateCond::After(_), Some(o)) => o == Ordering::Greater,
        (DateCond::OnOrBefore(_), Some(o)) => o != Ordering::Greater,
        (DateCond::OnOrAfter(_), Some(o)) => o != Ordering::Less,
    }
}

fn date_arg(cond: &DateCond) -> Option<&IsoDate> {
    match cond {
        DateCond::Equals(a)
        | DateCond::Before(a)
        | DateCond::After(a)
        | DateCond::OnOrBefore(a)
        | DateCond::OnOrAfter(a) => Some(a),
        DateCond::IsEmpty | DateCond::IsNotEmpty => None,
    }
}

fn text_of(store: &Store, page: &Page, pid: &str) -> String {
    let _ = store;
    match page.values.get(pid) {
        Some(PropValue::Title(items)) | Some(PropValue::RichText(items)) => richtext::plain_text_of(items),
        Some(PropValue::Url(Some(u))) => u.clone(),
        _ => String::new(),
    }
}

fn option_names(store: &Store, page: &Page, pid: &str) -> Vec<String> {
    let Some(schema) =
        store.data_sources.get(&page.data_source_id).and_then(|ds| ds.props.iter().find(|p| p.id == pid))
    else {
        return Vec::new();
    };
    let ids: Vec<String> = match page.values.get(pid) {
        Some(PropValue::MultiSelect(ids)) => ids.clone(),
        Some(PropValue::Select(Some(id))) => vec![id.clone()],
        _ => Vec::new(),
    };
    ids.iter().filter_map(|id| schema.options.iter().find(|o| &o.id == id).map(|o| o.name.clone())).collect()
}

pub fn matches(store: &Store, page: &Page, f: &Filter) -> bool {
    match f {
        Filter::And(items) => items.iter().all(|f| matches(store, page, f)),
        Filter::Or(items) => items.iter().any(|f| matches(store, page, f)),
        Filter::Timestamp(field, cond) => {
            let ts = ts_of(page, *field);
            date_matches(date_arg(cond).map(|a| cmp_ts(ts, a)).or(Some(Ordering::Equal)), cond)
        }
        Filter::Date(pid, cond) => {
            let value = match page.values.get(pid) {
                Some(PropValue::Date(Some(d))) => Some(d.start_parsed),
                _ => None,
            };
            let ord = value.map(|v| date_arg(cond).map(|a| v.cmp_to(a)).unwrap_or(Ordering::Equal));
            date_matches(ord, cond)
        }
        Filter::Text(pid, cond) => {
            let t = text_of(store, page, pid);
            match cond {
                TextCond::Equals(s) => &t == s,
                TextCond::DoesNotEqual(s) => &t != s,
                TextCond::Contains(s) => t.contains(s.as_str()),
                TextCond::DoesNotContain(s) => !t.contains(s.as_str()),
                TextCond::StartsWith(s) => t.starts_with(s.as_str()),
                TextCond::EndsWith(s) => t.ends_with(s.as_str()),
                TextCond::IsEmpty => t.is_empty(),
                TextCond::IsNotEmpty => !t.is_empty(),
            }
        }
        Filter::Checkbox(pid, b, negate) => {
            let v = matches!(page.values.get(pid), Some(PropValue::Checkbox(true)));
            (v == *b) != *negate
        }
        Filter::Number(pid, cond) => {
            let v = match page.values.get(pid) {
                Some(PropValue::Number(n)) => *n,
                _ => None,
            };
            match (cond, v) {
                (NumCond::IsEmpty, v) => v.is_none(),
                (NumCond::IsNotEmpty, v) => v.is_some(),
                (_, None) => false,
                (NumCond::Equals(x), Some(v)) => v == *x,
                (NumCond::DoesNotEqual(x), Some(v)) => v != *x,
                (NumCond::GreaterThan(x), Some(v)) => v > *x,
                (NumCond::LessThan(x), Some(v)) => v < *x,
                (NumCond::GreaterOrEqual(x), Some(v)) => v >= *x,
                (NumCond::LessOrEqual(x), Some(v)) => v <= *x,
            }
        }
        Filter::Select(pid, cond) => {
            let names = option_names(store, page, pid);
            match cond {
                SelectCond::Equals(s) | SelectCond::Contains(s) => names.iter().any(|n| n == s),
                SelectCond::DoesNotEqual(s) | SelectCond::DoesNotContain(s) => !names.iter().any(|n| n == s),
                SelectCond::IsEmpty => names.is_empty(),
                SelectCond::IsNotEmpty => !names.is_empty(),
            }
        }
    }
}

fn sort_val(store: &Store, page: &Page, key: &SortKey) -> SortVal {
    match key {
        SortKey::Timestamp(TsField::Created) => SortVal::Time(page.created),
        SortKey::Timestamp(TsField::LastEdited) => SortVal::Time(page.edited),
        SortKey::Property(pid) => match page.values.get(pid) {
            Some(PropValue::Title(_)) | Some(PropValue::RichText(_)) | Some(PropValue::Url(_)) => {
                let t = text_of(store, page, pid);
                if t.is_empty() {
                    SortVal::Empty
                } else {
                    SortVal::Text(t)
                }
            }
            Some(PropValue::Checkbox(b)) => SortVal::Bool(*b),
            Some(PropValue::Number(Some(n))) => SortVal::Num(*n),
            Some(PropValue::Date(Some(d))) => SortVal::Time(d.start_parsed.instant()),
            Some(PropValue::Select(_)) | Some(PropValue::MultiSelect(_)) => {
                match option_names(store, page, pid).into_iter().next() {
                    Some(n) => SortVal::Text(n),
                    None => SortVal::Empty,
                }
            }
            _ => SortVal::Empty,
        },
    }
}

fn cmp_keys(a: &[SortVal], a_seq: u64, b: &[SortVal], b_seq: u64, sorts: &[Sort]) -> Ordering {
    for (i, s) in sorts.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        // Empty values sort last in either direction.
        let ord = match (x, y) {
            (SortVal::Empty, SortVal::Empty) => Ordering::Equal,
            (SortVal::Empty, _) => return Ordering::Greater,
            (_, SortVal::Empty) => return Ordering::Less,
            _ => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        };
        let ord = if s.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a_seq.cmp(&b_seq)
}

/// Runs a query. At most `limit` results are returned across all pages of one query (its
/// cursors carry the count): then `has_more` is false, and every page of a query that
/// matches more than `limit` results is marked incomplete.
pub fn run(
    store: &Store,
    cursors: &mut HashMap<String, CursorState>,
    ds_id: &str,
    q: &Query,
    limit: usize,
) -> Result<Batch, ApiError> {
    let sorts: Vec<Sort> = if q.sorts.is_empty() {
        // Notion documents no default order; the emulator uses creation order.
        vec![Sort { key: SortKey::Timestamp(TsField::Created), descending: false }]
    } else {
        q.sorts.clone()
    };
    let mut rows: Vec<(Vec<SortVal>, u64, &Page)> = store
        .pages
        .values()
        .filter(|p| p.data_source_id == ds_id && p.in_trash == q.in_trash)
        .filter(|p| q.filter.as_ref().is_none_or(|f| matches(store, p, f)))
        .map(|p| (sorts.iter().map(|s| sort_val(store, p, &s.key)).collect(), p.seq, p))
        .collect();
    rows.sort_by(|a, b| cmp_keys(&a.0, a.1, &b.0, b.1, &sorts));

    let (start, served) = match &q.start_cursor {
        None => (0, 0),
        Some(c) => {
            let state = cursors
                .get(c)
                .ok_or_else(|| ApiError::validation(format!("The start_cursor provided is invalid: {c}")))?;
            let start = match rows.iter().position(|r| r.2.id == state.next_page_id) {
                Some(i) => i,
                None if state.keys.len() == sorts.len() => rows
                    .iter()
                    .position(|r| cmp_keys(&r.0, r.1, &state.keys, state.seq, &sorts) != Ordering::Less)
                    .unwrap_or(rows.len()),
                None => rows.len(),
            };
            (start, state.served)
        }
    };
    let allowed = limit.saturating_sub(served);
    let incomplete = served + (rows.len() - start) > limit;
    let end = (start + q.page_size.min(allowed)).min(rows.len());
    let batch: Vec<String> = rows[start..end].iter().map(|r| r.2.id.clone()).collect();
    let served_after = served + batch.len();
    let next = rows.get(end).filter(|_| served_after < limit).map(|r| {
        if cursors.len() > 50_000 {
            cursors.clear();
        }
        let cursor = ids::new_uuid();
        cursors.insert(
            cursor.clone(),
            CursorState { next_page_id: r.2.id.clone(), keys: r.0.clone(), seq: r.1, served: served_after },
        );
        cursor
    });
    Ok(Batch { page_ids: batch, next_cursor: next, incomplete })
}
