//! HTTP conventions every area shares: strict JSON bodies, query strings, path ids, If-Match/ETag,
//! `201 Created` with `Location`, JSON merge patch and cursor pagination.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult, FieldError, FieldLocation};

tokio::task_local! {
    /// The id of the request being served, for problem documents and logs.
    pub static REQUEST_ID: String;
}

#[must_use]
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A JSON request body, deserialised strictly: wrong types, unknown fields and bad enum values
/// are answered 422 naming the field; malformed JSON 400; a wrong content type 415; too large 413.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        // Every request body is an object; say so plainly rather than through serde's view of a struct.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            return Err(AppError::validation(vec![FieldError::body(
                "",
                "invalid_type",
                "the body must be a JSON object",
            )]));
        }
        parse_json(&bytes).map(AppJson)
    }
}

/// Checks the content type and reads the body within the configured limit.
pub async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> AppResult<Bytes> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !(mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the body as application/json (got {content_type:?})"),
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(e) if is_length_limit(&e) => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            "the request body exceeds the configured limit (CARE_HUB_MAX_BODY_BYTES)",
        ),
        other => AppError::bad_request("unreadable-body", other.body_text()),
    })
}

fn is_length_limit(err: &axum::extract::rejection::FailedToBufferBody) -> bool {
    matches!(err, axum::extract::rejection::FailedToBufferBody::LengthLimitError(_))
}

/// Parses JSON text into `T`, turning serde's error into a problem that names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        // JSON has one number type: 12.0 is the integer 12 (as JSON Schema says), though serde
        // refuses it for an integer field. Such bodies are read again with whole floats as integers.
        Err(e) if e.inner().to_string().starts_with("invalid type: floating point") => {
            let mut doc: Value = serde_json::from_slice(bytes)
                .map_err(|e| AppError::bad_request("malformed-json", format!("the body is not valid JSON: {e}")))?;
            whole_floats_as_integers(&mut doc);
            return from_value(&doc);
        }
        Err(e) => return Err(json_error(&e)),
    };
    de.end().map_err(|e| AppError::bad_request("malformed-json", format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Rewrites every number with no fractional part (such as `12.0`) as an integer.
fn whole_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            #[expect(clippy::float_cmp, reason = "exactly whole numbers only")]
            let whole = f.trunc() == f && f.abs() < 9.0e15;
            if whole {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

/// Deserialises an already-parsed JSON value (used after applying a merge patch).
pub fn from_value<T: DeserializeOwned>(value: &Value) -> AppResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| json_error(&e))
}

fn json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let pointer = pointer_of(err.path());
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return AppError::bad_request("malformed-json", format!("the body is not valid JSON: {inner}"));
    }
    let message = strip_position(&inner.to_string());
    field_error_from_serde(&pointer, &message)
}

fn field_error_from_serde(pointer: &str, message: &str) -> AppError {
    // serde reports unknown and missing fields against the enclosing object: point at the field itself.
    if let Some(name) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
        let field = child_pointer(pointer, name);
        return AppError::validation(vec![FieldError::body(
            field,
            "unknown_field",
            "is not a field of this resource (or cannot be written)",
        )]);
    }
    if let Some(name) = message.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        let field = child_pointer(pointer, name);
        return AppError::validation(vec![FieldError::body(field, "required", "is required")]);
    }
    let code = if message.starts_with("unknown variant") {
        "invalid_value"
    } else if message.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid_format"
    };
    AppError::validation(vec![FieldError::body(pointer, code, message)])
}

/// The pointer to field `name` of the object at `pointer` (which may already name it).
fn child_pointer(pointer: &str, name: &str) -> String {
    let last = format!("/{}", escape_pointer(name));
    if pointer.ends_with(&last) { pointer.to_owned() } else { format!("{pointer}{last}") }
}

/// serde_json appends " at line L column C" to data errors; the pointer says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape_pointer(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// Times are kept to whole microseconds, truncated, on both databases: PostgreSQL's precision,
/// applied where a time comes in so SQLite stores (and the API returns) the same instant, and so
/// no driver rounds a finer fraction its own way (sqlx truncates towards 1 January 2000, which
/// rounds earlier times up).
pub mod micros {
    use chrono::{DateTime, SubsecRound, Utc};
    use serde::{Deserialize, Deserializer};

    #[must_use]
    pub fn whole(t: DateTime<Utc>) -> DateTime<Utc> {
        t.trunc_subsecs(6)
    }

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d).map(whole)
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d).map(|t| t.map(whole))
    }
}

/// Query parameters, strict like bodies: unknown parameters and bad values are answered 400
/// naming the parameter.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(AppQuery).map_err(|err| {
            let name = err.path().to_string();
            let message = err.inner().to_string();
            let (name, code) =
                if let Some(n) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                    (n.to_owned(), "unknown_parameter")
                } else if let Some(n) = message.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                    (n.to_owned(), "required")
                } else {
                    (name, "invalid_value")
                };
            let mut e = AppError::bad_request("invalid-query", format!("query parameter {name}: {message}"));
            e.errors.push(FieldError::at(FieldLocation::Query, name, code, message));
            e
        })
    }
}

/// Path parameters; a segment that cannot be extracted is answered 400 as a problem.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

impl From<axum::extract::rejection::PathRejection> for AppError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        let mut e = AppError::bad_request("invalid-path-parameter", rejection.body_text());
        e.errors.push(FieldError::at(FieldLocation::Path, "path", "invalid_format", rejection.body_text()));
        e
    }
}

/// 400 for a path segment that does not parse (a bad id or reference).
#[must_use]
pub fn bad_path(name: &str, message: impl Into<String>) -> AppError {
    let message = message.into();
    let mut e = AppError::bad_request("invalid-path-parameter", format!("{name}: {message}"));
    e.errors.push(FieldError::at(FieldLocation::Path, name, "invalid_format", message));
    e
}

pub fn parse_uuid(name: &str, raw: &str) -> AppResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw)
        .map_err(|_| bad_path(name, "must be a UUID such as 0195f6a2-7c1e-7b3a-9d4e-2f1a6b8c9d0e"))
}

/// The version named by `If-Match`. A present but unparseable header can never match: 412.
pub struct IfMatch(pub Option<IfMatchValue>);

pub enum IfMatchValue {
    Version(i32),
    Unmatchable,
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let raw = raw.to_str().unwrap_or("").trim();
        if raw == "*" {
            // "*" would match any version and so defeat the lost-update check.
            return Err(
                AppError::precondition_required().with("hint", "If-Match: * is not accepted; send the ETag you read")
            );
        }
        let parsed = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).and_then(|v| v.parse::<i32>().ok());
        Ok(IfMatch(Some(parsed.map_or(IfMatchValue::Unmatchable, IfMatchValue::Version))))
    }
}

impl IfMatch {
    /// The version the client read, or 428 when it sent none; 412 when it cannot match `current`.
    pub fn require(&self, current: i32) -> AppResult<i32> {
        match self.0 {
            None => Err(AppError::precondition_required()),
            Some(IfMatchValue::Version(v)) if v == current => Ok(v),
            Some(_) => Err(AppError::precondition_failed(current)),
        }
    }
}

#[must_use]
pub fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

/// `200 OK` with an `ETag`.
pub fn with_etag<T: Serialize>(version: i32, body: &T) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(version));
    (headers, axum::Json(body)).into_response()
}

/// `201 Created` with `Location` (and an `ETag` when the resource is versioned).
pub fn created<T: Serialize>(location: &str, version: Option<i32>, body: &T) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, v);
    }
    if let Some(version) = version {
        headers.insert(header::ETAG, etag(version));
    }
    (StatusCode::CREATED, headers, axum::Json(body)).into_response()
}

/// Applies an RFC 7396 JSON merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let target_map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// A merge-patch body: must be a JSON object. Accepts `application/merge-patch+json` and `application/json`.
pub struct MergePatch(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        match parse_json::<Value>(&bytes)? {
            Value::Object(map) => Ok(MergePatch(map)),
            _ => Err(AppError::bad_request(
                "malformed-patch",
                "a merge patch must be a JSON object of the fields to change",
            )),
        }
    }
}

impl MergePatch {
    /// Refuses fields that exist on the resource but are not writable this way.
    pub fn refuse(&self, fields: &[(&str, &str)]) -> AppResult<()> {
        let errors: Vec<_> = fields
            .iter()
            .filter(|(name, _)| self.0.contains_key(*name))
            .map(|(name, why)| FieldError::body(format!("/{name}"), "read_only", *why))
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(AppError::validation(errors)) }
    }

    /// Applies the patch to the writable view of a resource and parses the result as its input type.
    pub fn apply<T: DeserializeOwned>(&self, mut current: Value) -> AppResult<T> {
        merge_patch(&mut current, &Value::Object(self.0.clone()));
        from_value(&current)
    }
}

/// `limit` and `cursor` for every list.
#[derive(Debug, Clone, Default, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const MAX_PAGE: u64 = 200;

impl PageParams {
    pub fn limit(&self) -> AppResult<u64> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(_) => {
                let mut e = AppError::bad_request("invalid-query", "limit must be between 1 and 200");
                e.errors.push(FieldError::at(
                    FieldLocation::Query,
                    "limit",
                    "out_of_range",
                    "must be between 1 and 200",
                ));
                Err(e)
            }
        }
    }

    /// The id after which the page starts.
    pub fn after(&self) -> AppResult<Option<uuid::Uuid>> {
        self.cursor_bytes()?.map(|b| uuid::Uuid::from_slice(&b).map_err(|_| invalid_cursor())).transpose()
    }

    /// The sequence number after which the page starts (for logs ordered by sequence).
    pub fn after_seq(&self) -> AppResult<Option<i64>> {
        self.cursor_bytes()?
            .map(|b| <[u8; 8]>::try_from(b.as_slice()).map(i64::from_be_bytes).map_err(|_| invalid_cursor()))
            .transpose()
    }

    fn cursor_bytes(&self) -> AppResult<Option<Vec<u8>>> {
        self.cursor.as_ref().map(|c| URL_SAFE_NO_PAD.decode(c).map_err(|_| invalid_cursor())).transpose()
    }
}

fn invalid_cursor() -> AppError {
    let mut e = AppError::bad_request("invalid-query", "cursor is not one this service issued");
    e.errors.push(FieldError::at(
        FieldLocation::Query,
        "cursor",
        "invalid_format",
        "use next_cursor from the previous page",
    ));
    e
}

#[must_use]
pub fn cursor_for(id: uuid::Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

#[must_use]
pub fn cursor_for_seq(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(seq.to_be_bytes())
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says another page exists.
    /// `cursor_of` gives the cursor that starts the page after a row.
    pub fn from_rows<R>(mut rows: Vec<R>, limit: u64, cursor_of: impl Fn(&R) -> String, map: impl Fn(R) -> T) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Page { items: rows.into_iter().map(map).collect(), next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        let mut doc = json!({"a": ["b"]});
        merge_patch(&mut doc, &json!({"a": "c"}));
        assert_eq!(doc, json!({"a": "c"}));
        let mut doc = json!({"e": null});
        merge_patch(&mut doc, &json!({"a": 1}));
        assert_eq!(doc, json!({"e": null, "a": 1}));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialised")]
    struct Inner {
        n: u8,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialised")]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[test]
    fn json_errors_point_at_the_field() {
        let e = parse_json::<Outer>(br#"{"inner":[{"n":1},{"n":"x"}]}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.errors[0].field, "/inner/1/n");
        assert_eq!(e.errors[0].code, "invalid_type");
        let e = parse_json::<Outer>(br#"{"inner":[{"n":1,"m":2}]}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "/inner/0/m");
        assert_eq!(e.errors[0].code, "unknown_field");
        let e = parse_json::<Outer>(br"{}").unwrap_err();
        assert_eq!(e.errors[0].field, "/inner");
        assert_eq!(e.errors[0].code, "required");
        let ok = parse_json::<Outer>(br#"{"inner":[{"n":12.0},{"n":1e1}]}"#).expect("whole floats are integers");
        assert_eq!(format!("{ok:?}"), "Outer { inner: [Inner { n: 12 }, Inner { n: 10 }] }");
        let e = parse_json::<Outer>(br#"{"inner":[{"n":12.5}]}"#).unwrap_err();
        assert_eq!((e.errors[0].field.as_str(), e.errors[0].code.as_str()), ("/inner/0/n", "invalid_type"));
        let e = parse_json::<Outer>(br#"{"inner": ["#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "malformed-json");
    }
}
