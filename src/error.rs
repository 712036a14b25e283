//! One error type for the API, answered as RFC 9457 `application/problem+json` with stable codes.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// Shown instead of a password or token in Debug output.
pub const REDACTED: &str = "[redacted]";

/// Where a field at fault was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldLocation {
    Body,
    Query,
    Path,
    Header,
}

/// One field at fault. For the body, `field` is a JSON Pointer (RFC 6901) such as `/contact/email`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    #[schema(example = "/date_of_birth")]
    pub field: String,
    #[serde(rename = "in")]
    pub location: FieldLocation,
    /// Stable, machine-readable reason, e.g. `required`, `invalid_format`, `unknown_field`.
    #[schema(example = "invalid_format")]
    pub code: String,
    #[schema(example = "must be a date in the form YYYY-MM-DD")]
    pub message: String,
}

impl FieldError {
    #[must_use]
    pub fn body(pointer: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError { field: pointer.into(), location: FieldLocation::Body, code: code.into(), message: message.into() }
    }

    #[must_use]
    pub fn at(location: FieldLocation, name: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError { field: name.into(), location, code: code.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document. `code` is the stable identifier clients branch on; `type` is
/// the same code as a URI reference.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation-failed")]
    pub problem_type: String,
    #[schema(example = "The request has invalid fields")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "2 fields are invalid")]
    pub detail: String,
    #[schema(example = "validation-failed")]
    pub code: String,
    /// The request id, to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members specific to the problem (for example `existing` on a duplicate).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// The error every handler and service returns.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extensions: Map<String, Value>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// The underlying cause of a 5xx; logged, never sent.
    pub source: Option<anyhow::Error>,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for AppError {}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    /// 422: the request is well-formed but fields are invalid.
    #[must_use]
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{} {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut e =
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", "The request has invalid fields", detail);
        e.errors = errors;
        e
    }

    /// 422 for one body field.
    #[must_use]
    pub fn invalid_field(pointer: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::body(pointer, code, message)])
    }

    /// 400: the request cannot be parsed at all (malformed JSON, bad path or query parameter).
    #[must_use]
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "The request is malformed", detail)
    }

    /// 400 for one query parameter.
    #[must_use]
    pub fn invalid_query(name: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::bad_request("invalid-query", format!("{name}: {message}"));
        e.errors.push(FieldError::at(FieldLocation::Query, name, code, message));
        e
    }

    #[must_use]
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", what)
    }

    #[must_use]
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict with the current state", detail)
    }

    #[must_use]
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail);
        e.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        e
    }

    #[must_use]
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed for your role", detail)
    }

    #[must_use]
    pub fn precondition_failed(current_version: i32) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
            "The resource has changed since you read it",
            format!(
                "If-Match does not match the current version ({current_version}); fetch the record again and reapply your change"
            ),
        )
        .with("current_version", current_version)
    }

    #[must_use]
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if-match-required",
            "If-Match is required",
            "send the ETag from your last read in If-Match so concurrent edits cannot overwrite each other",
        )
    }

    #[must_use]
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut e =
            Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service temporarily unavailable", detail);
        e.headers.push((header::RETRY_AFTER, HeaderValue::from_static("2")));
        e
    }

    #[must_use]
    pub fn internal(source: anyhow::Error) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal error",
            "the server could not complete the request; quote the instance id when reporting it",
        );
        e.source = Some(source);
        e
    }

    /// Adds an extension member to the problem document.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    #[must_use]
    pub fn to_problem(&self, instance: Option<String>) -> Problem {
        Problem {
            problem_type: format!("/problems/{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            instance,
            errors: self.errors.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            if let Some(source) = &self.source {
                tracing::error!(error = ?source, code = self.code, "request failed");
            } else {
                tracing::warn!(code = self.code, detail = %self.detail, "request failed");
            }
        }
        let mut problem = self.to_problem(crate::http::current_request_id());
        if self.status.is_server_error() {
            // A 5xx names only what failed and which request: causes (SQL, paths, panics) stay in the log.
            problem.errors.clear();
            problem.extensions.clear();
        }
        let mut response = (self.status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return AppError::conflict("already-exists", "a record with the same unique value already exists");
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return AppError::validation(vec![FieldError::body(
                    "",
                    "unknown_reference",
                    "refers to a record that does not exist",
                )]);
            }
            _ => {}
        }
        if is_unavailable(&err) {
            return AppError::unavailable("the database is not reachable or is busy; try again shortly")
                .with_source(err.into());
        }
        AppError::internal(err.into())
    }
}

impl AppError {
    fn with_source(mut self, source: anyhow::Error) -> Self {
        self.source = Some(source);
        self
    }
}

/// Connection loss, pool exhaustion and SQLite lock/disk conditions are transient or operational:
/// the client gets 503 and may retry; the cause is logged.
fn is_unavailable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let text = err.to_string();
    [
        "database is locked",
        "attempt to write a readonly database",
        "database or disk is full",
        "disk I/O error",
        "Connection refused",
        "connection closed",
        "Broken pipe",
        "pool timed out",
        "terminating connection",
        "the database system is",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        match err.downcast::<AppError>() {
            Ok(app) => app,
            Err(err) => match err.downcast::<DbErr>() {
                Ok(db) => db.into(),
                Err(other) => AppError::internal(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_server_error_answers_a_generic_problem_and_keeps_the_cause_out() {
        let cause = DbErr::Custom("SELECT given_name FROM victims: no such column password_hash".into());
        let response = AppError::from(cause).with("query", "SELECT 1").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "/problems/internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": "the server could not complete the request; quote the instance id when reporting it",
                "code": "internal-error",
            })
        );
    }
}
