//! Multi-row inserts and upserts of whole models, on either database: the import's batches and
//! the journeys recomputed for them.
//!
//! The statement text is written here rather than through the ORM's expression tree: building
//! and rendering an expression per value cost more than SQLite's own work for the row. On
//! SQLite, rows are bound as a multi-row `INSERT … VALUES` within SQLite's 32,766 parameters, one
//! text per row count, so the driver's statement cache prepares it once. PostgreSQL plans a
//! multi-row `VALUES` anew for every set of thousands of parameters, which costs more than the
//! insert itself; there the rows travel as one JSON parameter unpacked by
//! `json_populate_recordset`. Values are written as sqlx binds them (times cut to the
//! microsecond on PostgreSQL), so rows read back exactly as if the ORM had stored them.
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, Value};
use sea_orm::{ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic, Iterable, ModelTrait, Statement};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Bound parameters per SQLite statement.
const SQLITE_PARAMETERS: usize = 30_000;

type Column<M> = <<M as ModelTrait>::Entity as EntityTrait>::Column;

/// What an insert does with a row whose unique key is stored already.
pub enum OnConflict<'a, C> {
    /// Fails the statement (a unique violation).
    Fail,
    /// Skips the row.
    Skip(&'a [C]),
    /// Overwrites `columns` of the stored row.
    Update { key: &'a [C], columns: &'a [C] },
}

impl<C: IdenStatic> OnConflict<'_, C> {
    fn clause(&self) -> String {
        let names = |cs: &[C]| cs.iter().map(|c| format!("\"{}\"", c.as_str())).collect::<Vec<_>>().join(", ");
        match self {
            OnConflict::Fail => String::new(),
            OnConflict::Skip(key) => format!(" ON CONFLICT ({}) DO NOTHING", names(key)),
            OnConflict::Update { key, columns } => {
                let set: Vec<String> =
                    columns.iter().map(|c| format!("\"{0}\" = excluded.\"{0}\"", c.as_str())).collect();
                format!(" ON CONFLICT ({}) DO UPDATE SET {}", names(key), set.join(", "))
            }
        }
    }
}

/// A time in whole microseconds, truncated, as PostgreSQL keeps it (times that come in are
/// already whole microseconds: `http::micros`).
#[must_use]
pub fn postgres_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Inserts `rows` (every column); returns how many rows were stored (or updated).
pub async fn insert<M: ModelTrait>(
    db: &impl ConnectionTrait,
    rows: &[M],
    on_conflict: OnConflict<'_, Column<M>>,
) -> AppResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let table = <M::Entity as Default>::default().table_name().to_owned();
    let columns: Vec<Column<M>> = Column::<M>::iter().collect();
    let conflict = on_conflict.clause();
    if backend == DbBackend::Postgres {
        let mut objects = Vec::with_capacity(rows.len());
        for row in rows {
            let mut object = Map::with_capacity(columns.len());
            for c in &columns {
                object.insert(c.as_str().to_owned(), json(&row.get(*c))?);
            }
            objects.push(Json::Object(object));
        }
        let sql = format!(
            "INSERT INTO \"{table}\" SELECT * FROM json_populate_recordset(NULL::\"{table}\", $1::json){conflict}"
        );
        let payload = serde_json::to_string(&objects).map_err(|e| AppError::internal(e.into()))?;
        let result = db.execute_raw(Statement::from_sql_and_values(backend, sql, [payload.into()])).await?;
        return Ok(result.rows_affected());
    }
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.as_str())).collect();
    let head = format!("INSERT INTO \"{table}\" ({}) VALUES ", names.join(", "));
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut written = 0;
    for chunk in rows.chunks((SQLITE_PARAMETERS / columns.len()).max(1)) {
        let mut sql = String::with_capacity(head.len() + chunk.len() * (placeholders.len() + 1) + conflict.len());
        sql.push_str(&head);
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&placeholders);
        }
        sql.push_str(&conflict);
        let values: Vec<Value> = chunk.iter().flat_map(|row| columns.iter().map(|c| row.get(*c))).collect();
        written += db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected();
    }
    Ok(written)
}

/// `column IN (ids)`, the ids travelling as one JSON array parameter: the statement's text is
/// the same however many ids there are, so it is prepared once, and no bound-parameter limit
/// applies. (An `IN` list of a thousand bound values cost more to render and prepare than the
/// lookup itself: BENCHMARKS.md, "Import".)
#[must_use]
pub fn uuid_in(backend: DbBackend, column: impl IdenStatic, ids: &[Uuid]) -> Expr {
    // UUIDs are stored as 16-byte blobs on SQLite.
    let list = match backend {
        DbBackend::Postgres => "SELECT value::uuid FROM json_array_elements_text($1::json)",
        _ => "SELECT unhex(value) FROM json_each(?)",
    };
    let json = Json::Array(ids.iter().map(|id| Json::String(id.simple().to_string())).collect()).to_string();
    Expr::cust_with_values(format!("\"{}\" IN ({list})", column.as_str()), [json])
}

/// `column IN (values)` for text, as [`uuid_in`].
#[must_use]
pub fn text_in<'a>(backend: DbBackend, column: impl IdenStatic, values: impl IntoIterator<Item = &'a str>) -> Expr {
    let list = text_list(backend, "$1");
    Expr::cust_with_values(format!("\"{}\" IN ({list})", column.as_str()), [text_array(values)])
}

/// A subquery of the texts in the JSON array parameter `placeholder` (PostgreSQL's `$n`; SQLite's
/// is `?`), made by [`text_array`].
#[must_use]
pub fn text_list(backend: DbBackend, placeholder: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("SELECT json_array_elements_text({placeholder}::json)"),
        _ => "SELECT value FROM json_each(?)".to_owned(),
    }
}

/// Texts as one JSON array parameter, for [`text_list`].
#[must_use]
pub fn text_array<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    Json::Array(values.into_iter().map(|v| Json::String(v.to_owned())).collect()).to_string()
}

/// A value as `json_populate_recordset` reads it into its column's type.
fn json(v: &Value) -> AppResult<Json> {
    Ok(match v {
        Value::Bool(b) => b.map_or(Json::Null, Json::Bool),
        Value::Int(i) => i.map_or(Json::Null, Json::from),
        Value::BigInt(i) => i.map_or(Json::Null, Json::from),
        Value::String(s) => s.as_ref().map_or(Json::Null, |s| Json::String(s.clone())),
        Value::Json(j) => j.as_ref().map_or(Json::Null, |j| (**j).clone()),
        Value::Uuid(u) => u.map_or(Json::Null, |u| Json::String(u.to_string())),
        Value::ChronoDate(d) => d.map_or(Json::Null, |d| Json::String(d.format("%Y-%m-%d").to_string())),
        Value::ChronoDateTimeUtc(t) => {
            t.map_or(Json::Null, |t| Json::String(postgres_time(t).to_rfc3339_opts(SecondsFormat::Micros, true)))
        }
        Value::Enum(_) => sea_orm::sea_query::sea_value_to_json_value(v),
        other => {
            return Err(AppError::internal(anyhow::anyhow!("no JSON form for {other:?} in a bulk insert")));
        }
    })
}
