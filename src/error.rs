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
        match outage(&err) {
            Some(Outage::Transient) => {
                AppError::unavailable("the database is not reachable or is busy; try again shortly")
                    .with_source(err.into())
            }
            Some(Outage::Storage) => AppError::storage_unavailable().with_source(err.into()),
            None => AppError::internal(err.into()),
        }
    }
}

impl AppError {
    fn with_source(mut self, source: anyhow::Error) -> Self {
        self.source = Some(source);
        self
    }

    /// 503: the database answers but cannot store anything (its disk is full or read-only).
    #[must_use]
    pub fn storage_unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage-unavailable",
            "The database cannot store changes",
            "the database's storage is full or read-only, so nothing was changed; an operator has to free or \
             remount it, then try again",
        );
        e.headers.push((header::RETRY_AFTER, HeaderValue::from_static("30")));
        e
    }
}

/// Why the database could not do what a sound request asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Connection lost or refused, server restarting, pool exhausted, lock or deadlock: retry.
    Transient,
    /// The disk is full, read-only or failing: retrying soon will not help.
    Storage,
}

/// Sorts a database error into an outage (answered 503, the cause logged) or not (a bug: 500).
/// The driver's own error kinds and codes decide; the message text only for errors that reach
/// us as text (the SQLite fast read path, a failed commit task).
#[must_use]
pub fn outage(err: &DbErr) -> Option<Outage> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Some(Outage::Transient),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            if let Some(o) = sqlx_outage(e) {
                return Some(o);
            }
        }
        _ => {}
    }
    let text = err.to_string();
    let any = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if any(&[
        "attempt to write a readonly database",
        "database or disk is full",
        "disk I/O error",
        "unable to open database file",
    ]) {
        Some(Outage::Storage)
    } else if any(&[
        "database is locked",
        "Connection refused",
        "Connection reset",
        "connection closed",
        "Broken pipe",
        "pool timed out",
        "terminating connection",
        "the database system is",
    ]) {
        Some(Outage::Transient)
    } else {
        None
    }
}

fn sqlx_outage(err: &sea_orm::sqlx::Error) -> Option<Outage> {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::BeginFailed => {
            Some(Outage::Transient)
        }
        E::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
                postgres_outage(pg.code())
            } else if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
                sqlite_outage(db.code()?.parse().ok()?)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs (appendix A of its manual) that say the server, not the request, failed.
fn postgres_outage(sqlstate: &str) -> Option<Outage> {
    match sqlstate {
        // disk_full, io_error, read_only_sql_transaction (a standby)
        "53100" | "58030" | "25006" => Some(Outage::Storage),
        // connection exceptions, shutdown and start-up, too many connections, out of memory,
        // serialization failure, deadlock, lock_timeout, statement_timeout
        s if s.starts_with("08") => Some(Outage::Transient),
        "57P01" | "57P02" | "57P03" | "53300" | "53200" | "40001" | "40P01" | "55P03" | "57014" => {
            Some(Outage::Transient)
        }
        _ => None,
    }
}

/// SQLite result codes (the primary code is the low byte of the extended one).
fn sqlite_outage(code: i32) -> Option<Outage> {
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED
        5 | 6 => Some(Outage::Transient),
        // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
        8 | 10 | 13 | 14 => Some(Outage::Storage),
        _ => None,
    }
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

    #[test]
    fn outages_are_told_apart_from_bugs_by_the_drivers_codes() {
        use std::sync::Arc;

        use sea_orm::RuntimeErr;
        use sea_orm::sqlx::Error as SqlxError;
        let sqlx = |e: SqlxError| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(outage(&sqlx(SqlxError::Io(reset))), Some(Outage::Transient));
        assert_eq!(outage(&sqlx(SqlxError::PoolTimedOut)), Some(Outage::Transient));
        assert_eq!(outage(&sqlx(SqlxError::RowNotFound)), None);
        assert_eq!(outage(&DbErr::Custom("no such column: password_hash".into())), None);
        assert_eq!(outage(&DbErr::Custom("sqlite fast read: database is locked".into())), Some(Outage::Transient));
        for (code, expected) in [
            ("57P01", Some(Outage::Transient)),
            ("08006", Some(Outage::Transient)),
            ("40P01", Some(Outage::Transient)),
            ("53100", Some(Outage::Storage)),
            ("25006", Some(Outage::Storage)),
            ("23505", None),
            ("42703", None),
        ] {
            assert_eq!(postgres_outage(code), expected, "{code}");
        }
        // SQLITE_BUSY_SNAPSHOT, SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, SQLITE_FULL, SQLITE_CONSTRAINT_UNIQUE
        for (code, expected) in [
            (517, Some(Outage::Transient)),
            (1032, Some(Outage::Storage)),
            (778, Some(Outage::Storage)),
            (13, Some(Outage::Storage)),
            (2067, None),
        ] {
            assert_eq!(sqlite_outage(code), expected, "{code}");
        }
    }

    #[tokio::test]
    async fn a_full_or_read_only_database_answers_503_storage_unavailable() {
        let err = DbErr::Custom("Execution Error: (code: 13) database or disk is full".into());
        let response = AppError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "storage-unavailable");
    }
}
