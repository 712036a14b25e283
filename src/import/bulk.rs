//! Multi-row inserts for an import's batches, on either database.
//!
//! PostgreSQL plans a multi-row `INSERT … VALUES` anew for every set of thousands of parameters,
//! which costs more than the insert itself; there the rows travel as one JSON parameter unpacked
//! by `json_populate_recordset`. Values are written as sqlx binds them (times cut to the
//! microsecond), so rows read back exactly as if the ORM had stored them. On SQLite, where a JSON
//! text would be parsed again for every value taken out of it, rows are bound as a multi-row
//! insert within SQLite's 32,766 parameters.
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{OnConflict, Value};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic, Iterable, Statement};
use serde_json::{Map, Value as Json};

use crate::error::{AppError, AppResult};

/// Bound parameters per SQLite statement.
const SQLITE_PARAMETERS: usize = 30_000;

/// A time as sqlx sends it to PostgreSQL: whole microseconds, truncated.
pub(super) fn postgres_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
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

/// Inserts `rows` (every column set), skipping any that would repeat a unique `unique` (when
/// given); returns how many rows were stored.
pub(super) async fn insert<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    unique: &[<A::Entity as EntityTrait>::Column],
) -> AppResult<u64>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let columns: Vec<<A::Entity as EntityTrait>::Column> = <A::Entity as EntityTrait>::Column::iter().collect();
    if backend != DbBackend::Postgres {
        let per_statement = (SQLITE_PARAMETERS / columns.len()).max(1);
        let mut written = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut insert = <A::Entity as EntityTrait>::insert_many(rows.by_ref().take(per_statement));
            if !unique.is_empty() {
                insert = insert.on_conflict(OnConflict::columns(unique.iter().copied()).do_nothing().to_owned());
            }
            written += insert.exec_without_returning(db).await?;
        }
        return Ok(written);
    }
    let mut objects = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut object = Map::with_capacity(columns.len());
        for c in &columns {
            let value = row.get(*c).into_value().unwrap_or(Value::String(None));
            object.insert(c.as_str().to_owned(), json(&value)?);
        }
        objects.push(Json::Object(object));
    }
    let table = <A::Entity as Default>::default().table_name().to_owned();
    let conflict = if unique.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = unique.iter().map(|c| format!("\"{}\"", c.as_str())).collect();
        format!(" ON CONFLICT ({}) DO NOTHING", names.join(", "))
    };
    let sql =
        format!("INSERT INTO \"{table}\" SELECT * FROM json_populate_recordset(NULL::\"{table}\", $1::json){conflict}");
    let payload = serde_json::to_string(&objects).map_err(|e| AppError::internal(e.into()))?;
    let result = db.execute_raw(Statement::from_sql_and_values(backend, sql, [payload.into()])).await?;
    Ok(result.rows_affected())
}
