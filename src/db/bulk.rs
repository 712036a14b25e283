//! Multi-row inserts and upserts of whole models, on either database: the import's batches and
//! the journeys recomputed for them.
//!
//! The statement text is written here rather than through the ORM's expression tree: building
//! and rendering an expression per value cost more than the database's own work for the row. The
//! rows travel as one JSON parameter, so a statement's text does not depend on how many rows there
//! are: prepared once, with no bound-parameter limit to chunk by and no bound value per cell
//! (on SQLite a statement per row count filled sqlx's statement cache with prepared statements of
//! thousands of parameters each, most of an import's peak memory: BENCHMARKS.md, "Import"; on
//! PostgreSQL a multi-row `VALUES` is planned anew per statement). PostgreSQL unpacks them
//! with `json_populate_recordset`, SQLite with `jsonb_each` and `->>` (`json_each` hands every row
//! to `->>` as text to parse again, which cost more than binding). Values are written as sqlx
//! binds them (times cut to the microsecond on PostgreSQL), so rows read back exactly as if the
//! ORM had stored them.
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, Value};
use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic, Iterable, ModelTrait,
    Statement,
};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

type Column<M> = <<M as ModelTrait>::Entity as EntityTrait>::Column;

/// What an insert does with a row whose unique key is stored already.
#[derive(Clone, Copy)]
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
    match insert_statement(db.get_database_backend(), rows, on_conflict)? {
        Some(statement) => Ok(db.execute_raw(statement).await?.rows_affected()),
        None => Ok(0),
    }
}

/// The statement [`insert`] runs (`None` for no rows), for a caller that builds it ahead of its
/// transaction.
pub fn insert_statement<M: ModelTrait>(
    backend: DbBackend,
    rows: &[M],
    on_conflict: OnConflict<'_, Column<M>>,
) -> AppResult<Option<Statement>> {
    if rows.is_empty() {
        return Ok(None);
    }
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
        return Ok(Some(Statement::from_sql_and_values(backend, sql, [payload.into()])));
    }
    // A column with the same value in every row is bound once, not repeated in each row: `->>`
    // walks a row's cells from the first, so every cell left out of the rows saves work on each
    // of them (an import batch's agency, author and time, and columns no row fills).
    let values: Vec<Vec<Value>> = rows.iter().map(|r| columns.iter().map(|c| r.get(*c)).collect()).collect();
    let shared: Vec<bool> = (0..columns.len()).map(|i| values.iter().all(|v| v[i] == values[0][i])).collect();
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.as_str())).collect();
    let mut params: Vec<Value> = Vec::new();
    let mut cells: Vec<String> = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        if shared[i] {
            params.push(values[0][i].clone());
            cells.push("?".to_owned());
            continue;
        }
        let at = i - params.len();
        cells.push(match c.def().get_column_type() {
            ColumnType::Uuid => format!("unhex(value ->> {at})"),
            _ => format!("value ->> {at}"),
        });
    }
    // `WHERE true`: an upsert's SELECT needs a WHERE clause, or SQLite reads ON CONFLICT as a join's ON.
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) SELECT {} FROM jsonb_each(?) WHERE true{conflict}",
        names.join(", "),
        cells.join(", ")
    );
    let mut payload = String::with_capacity(rows.len() * (columns.len() - params.len()) * 16);
    payload.push('[');
    for (n, row) in values.iter().enumerate() {
        if n > 0 {
            payload.push(',');
        }
        payload.push('[');
        let own = row.iter().zip(&shared).filter(|(_, shared)| !**shared);
        for (k, (v, _)) in own.enumerate() {
            if k > 0 {
                payload.push(',');
            }
            sqlite_cell(&mut payload, v)?;
        }
        payload.push(']');
    }
    payload.push(']');
    params.push(payload.into());
    Ok(Some(Statement::from_sql_and_values(backend, sql, params)))
}

/// Writes a value as a JSON cell that `value ->> i` reads back as sqlx would have bound it:
/// UUIDs as hex (the statement `unhex`es them into sqlx's 16-byte blobs), times in sqlx's RFC 3339
/// form, booleans as 1 or 0, JSON as its text.
fn sqlite_cell(out: &mut String, v: &Value) -> AppResult<()> {
    use std::fmt::Write as _;
    fn text(out: &mut String, s: &str) {
        out.push('"');
        if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < b' ') {
            out.push_str(s);
            out.push('"');
            return;
        }
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c < ' ' => write!(out, "\\u{:04x}", c as u32).unwrap_or(()),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    match v {
        Value::Bool(Some(b)) => out.push(if *b { '1' } else { '0' }),
        Value::TinyInt(Some(i)) => write!(out, "{i}").unwrap_or(()),
        Value::SmallInt(Some(i)) => write!(out, "{i}").unwrap_or(()),
        Value::Int(Some(i)) => write!(out, "{i}").unwrap_or(()),
        Value::BigInt(Some(i)) => write!(out, "{i}").unwrap_or(()),
        Value::String(Some(s)) => text(out, s),
        Value::Enum(e) => match e {
            sea_orm::sea_query::OptionEnum::Some(e) => text(out, &e.value),
            sea_orm::sea_query::OptionEnum::None(_) => out.push_str("null"),
        },
        Value::Json(Some(j)) => text(out, &j.to_string()),
        Value::Uuid(Some(u)) => write!(out, "\"{}\"", u.simple()).unwrap_or(()),
        Value::ChronoDate(Some(d)) => write!(out, "\"{}\"", d.format("%F")).unwrap_or(()),
        Value::ChronoDateTimeUtc(Some(t)) => {
            write!(out, "\"{}\"", t.to_rfc3339_opts(SecondsFormat::AutoSi, false)).unwrap_or(());
        }
        Value::Bool(None)
        | Value::TinyInt(None)
        | Value::SmallInt(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::String(None)
        | Value::Json(None)
        | Value::Uuid(None)
        | Value::ChronoDate(None)
        | Value::ChronoDateTimeUtc(None) => out.push_str("null"),
        other => {
            return Err(AppError::internal(anyhow::anyhow!("no SQLite form for {other:?} in a bulk insert")));
        }
    }
    Ok(())
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
