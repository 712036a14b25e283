//! The whole victim record in one query: the database assembles it as JSON (references, cases
//! and merged references included), so a read is one round trip on either backend.
//!
//! On SQLite the document is already in the API's exact form (UUIDs hyphenated, times in UTC with
//! `Z`, as serde writes them), so a read passes it through untouched; PostgreSQL's JSON is parsed
//! and re-serialised. Lists are built in index order, (owner, id), rather than with `ORDER BY`
//! inside the aggregate, which would open a temporary sorter for every read on SQLite; `CROSS
//! JOIN` keeps `case_victims` as the outer loop so cases come out by id.
use std::sync::LazyLock;

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::dto::VictimView;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// Which record to read.
pub enum Key<'a> {
    Id(Uuid),
    /// A hub reference; a merged one reads the surviving record.
    HubRef(&'a str),
}

/// A record as read, with what the caller's access check needs.
pub struct Read {
    pub id: Uuid,
    pub hub_ref: String,
    pub team: String,
    pub version: i32,
    /// The record as the API answers it: a serialised [`VictimView`].
    pub json: String,
}

impl Read {
    pub fn view(&self) -> AppResult<VictimView> {
        serde_json::from_str(&self.json).map_err(|e| AppError::internal(e.into()))
    }
}

/// The query's one column: `[team, version, hub_ref, id, record]`.
#[derive(Deserialize)]
struct Envelope<'a>(String, i32, String, Uuid, #[serde(borrow)] &'a RawValue);

/// A UUID stored as a 16-byte blob, as the hyphenated text serde writes.
fn sqlite_uuid(col: &str) -> String {
    let part = |from: usize, len: usize| format!("substr(hex({col}), {from}, {len})");
    format!(
        "lower({}||'-'||{}||'-'||{}||'-'||{}||'-'||{})",
        part(1, 8),
        part(9, 4),
        part(13, 4),
        part(17, 4),
        part(21, 12)
    )
}

/// A stored UTC time (`...+00:00`) as serde writes it (`...Z`).
fn sqlite_time(col: &str) -> String {
    format!("replace({col}, '+00:00', 'Z')")
}

static SQLITE: LazyLock<String> = LazyLock::new(|| {
    let (v_id, r_id, c_id) = (sqlite_uuid("v.id"), sqlite_uuid("r.id"), sqlite_uuid("c.id"));
    let (r_at, v_created, v_updated) =
        (sqlite_time("r.created_at"), sqlite_time("v.created_at"), sqlite_time("v.updated_at"));
    format!(
        r"
SELECT json_array(v.team_code, v.version, v.hub_ref, {v_id}, json_object(
  'hub_ref', v.hub_ref, 'version', v.version, 'victim_type', v.victim_type,
  'given_name', v.given_name, 'family_name', v.family_name, 'preferred_name', v.preferred_name,
  'date_of_birth', v.date_of_birth,
  'contact', json_object('phone', v.phone, 'email', v.email,
    'address', json(CASE WHEN coalesce(v.address_line1, v.address_line2, v.address_town, v.address_postcode) IS NULL THEN NULL
      ELSE json_object('line1', v.address_line1, 'line2', v.address_line2, 'town', v.address_town, 'postcode', v.address_postcode) END),
    'preferred_channel', v.preferred_channel, 'restrictions', v.contact_restrictions),
  'language', v.language, 'interpreter_needed', json(CASE WHEN v.interpreter_needed THEN 'true' ELSE 'false' END),
  'communication_needs', v.communication_needs, 'ethnicity', v.ethnicity, 'sex', v.sex, 'disability', v.disability,
  'enhanced_rights', json(CASE WHEN v.enhanced_rights THEN 'true' ELSE 'false' END),
  'enhanced_reasons', json(v.enhanced_reasons),
  'needs_assessment', json(CASE WHEN v.needs_assessed_on IS NULL THEN NULL
    ELSE json_object('assessed_on', v.needs_assessed_on, 'assessed_by', v.needs_assessed_by, 'needs', json(v.identified_needs)) END),
  'assigned_caseworker', v.assigned_caseworker, 'team', v.team_code,
  'agency_references', (SELECT json_group_array(json_object('id', {r_id}, 'agency', r.agency_code, 'type', r.ref_type,
      'value', r.value, 'created_at', {r_at}, 'created_by', r.created_by))
    FROM (SELECT * FROM agency_references WHERE victim_id = v.id ORDER BY id) r),
  'cases', (SELECT json_group_array(json_object('id', {c_id}, 'role', cv.role, 'offence_group', c.offence_group,
      'date_reported', c.date_reported, 'status', c.status))
    FROM case_victims cv CROSS JOIN cases c ON c.id = cv.case_id WHERE cv.victim_id = v.id),
  'merged_refs', (SELECT json_group_array(m.hub_ref) FROM (SELECT hub_ref FROM victims WHERE merged_into_id = v.id ORDER BY id) m),
  'created_at', {v_created}, 'updated_at', {v_updated}
)) AS doc
FROM victims v WHERE v.id = "
    )
});

const POSTGRES: &str = r"
SELECT json_build_array(v.team_code, v.version, v.hub_ref, v.id, json_build_object(
  'hub_ref', v.hub_ref, 'version', v.version, 'victim_type', v.victim_type,
  'given_name', v.given_name, 'family_name', v.family_name, 'preferred_name', v.preferred_name,
  'date_of_birth', v.date_of_birth,
  'contact', json_build_object('phone', v.phone, 'email', v.email,
    'address', CASE WHEN coalesce(v.address_line1, v.address_line2, v.address_town, v.address_postcode) IS NULL THEN NULL
      ELSE json_build_object('line1', v.address_line1, 'line2', v.address_line2, 'town', v.address_town, 'postcode', v.address_postcode) END,
    'preferred_channel', v.preferred_channel, 'restrictions', v.contact_restrictions),
  'language', v.language, 'interpreter_needed', v.interpreter_needed,
  'communication_needs', v.communication_needs, 'ethnicity', v.ethnicity, 'sex', v.sex, 'disability', v.disability,
  'enhanced_rights', v.enhanced_rights, 'enhanced_reasons', v.enhanced_reasons,
  'needs_assessment', CASE WHEN v.needs_assessed_on IS NULL THEN NULL
    ELSE json_build_object('assessed_on', v.needs_assessed_on, 'assessed_by', v.needs_assessed_by, 'needs', v.identified_needs) END,
  'assigned_caseworker', v.assigned_caseworker, 'team', v.team_code,
  'agency_references', (SELECT coalesce(json_agg(json_build_object('id', r.id, 'agency', r.agency_code, 'type', r.ref_type,
      'value', r.value, 'created_at', r.created_at, 'created_by', r.created_by) ORDER BY r.id), '[]')
    FROM agency_references r WHERE r.victim_id = v.id),
  'cases', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'role', cv.role, 'offence_group', c.offence_group,
      'date_reported', c.date_reported, 'status', c.status) ORDER BY c.id), '[]')
    FROM case_victims cv JOIN cases c ON c.id = cv.case_id WHERE cv.victim_id = v.id),
  'merged_refs', (SELECT coalesce(json_agg(m.hub_ref ORDER BY m.id), '[]') FROM victims m WHERE m.merged_into_id = v.id),
  'created_at', v.created_at, 'updated_at', v.updated_at
))::text AS doc
FROM victims v WHERE v.id = ";

/// The key as a SQL condition on `v.id` and its bound value.
fn key_sql(key: &Key<'_>, backend: DbBackend) -> (String, Value) {
    let p = if backend == DbBackend::Postgres { "$1" } else { "?" };
    match key {
        Key::Id(id) => (p.to_owned(), Value::from(*id)),
        Key::HubRef(r) => (
            format!("(SELECT coalesce(merged_into_id, id) FROM victims WHERE hub_ref = {p})"),
            Value::from((*r).to_owned()),
        ),
    }
}

/// The SQL text and values to read `key` on `backend`.
#[must_use]
pub fn statement(key: &Key<'_>, backend: DbBackend) -> Statement {
    let (condition, value) = key_sql(key, backend);
    let sql = if backend == DbBackend::Postgres { POSTGRES } else { SQLITE.as_str() };
    Statement::from_sql_and_values(backend, format!("{sql}{condition}"), [value])
}

/// Unpacks the query's document; PostgreSQL's record is normalised through [`VictimView`].
pub fn parse(doc: &str, backend: DbBackend) -> AppResult<Read> {
    let shape = |e: serde_json::Error| {
        AppError::internal(anyhow::anyhow!("victim record query returned an unexpected shape: {e}"))
    };
    let Envelope(team, version, hub_ref, id, record) = serde_json::from_str(doc).map_err(shape)?;
    let json = if backend == DbBackend::Postgres {
        let view: VictimView = serde_json::from_str(record.get()).map_err(shape)?;
        serde_json::to_string(&view).map_err(shape)?
    } else {
        record.get().to_owned()
    };
    Ok(Read { id, hub_ref, team, version, json })
}

/// Reads one record (following a merge), or `None`, on the fastest read path.
pub async fn read(db: &Db, key: Key<'_>) -> AppResult<Option<Read>> {
    let stmt = statement(&key, db.backend());
    db.query_text(stmt, "doc").await?.as_deref().map(|doc| parse(doc, db.backend())).transpose()
}

/// Reads one record within `db` (for example a transaction that has just changed it).
pub async fn read_in(db: &impl ConnectionTrait, key: Key<'_>) -> AppResult<Option<Read>> {
    let backend = db.get_database_backend();
    match db.query_one_raw(statement(&key, backend)).await? {
        None => Ok(None),
        Some(row) => parse(&row.try_get::<String>("", "doc")?, backend).map(Some),
    }
}
