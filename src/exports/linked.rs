//! The pseudonymised linked extract (issue 7; DOMAIN.md §5, §6): one row per victim–case journey
//! for analysts, the victim and the case each under a keyed pseudonym whose key exists only while
//! the request runs, so no two exports can be linked; an age band for the birth date, an area for
//! the address; no names, contact details, references or free text. Filtered like the attrition
//! reports (their filter code), streamed in batches, and audited as a disclosure before the first
//! byte leaves.
use std::collections::BTreeSet;

use axum::body::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, StreamTrait};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::encode::{Encoder, Pseudonymiser};
use crate::audit::{Actor, Event};
use crate::auth::Principal;
use crate::db::Db;
use crate::error::AppResult;
use crate::reports::attrition::{
    AgeBand, Dimension, EthnicityGroup, ReportParams, Sql, check_period, scope, statement,
};
use crate::vocab::{
    AuditAction, Disability, Ethnicity, LocationType, OffenceGroup, PriorityFlag, Relationship, Role, Sex,
};

/// Rows read and encoded at a time.
const BATCH: usize = 4096;

/// What the audit trail names the disclosed layout (`fields[0]` of the export's event).
pub const LAYOUT: &str = "linked_journeys_pseudonymised";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtractFormat {
    #[default]
    Csv,
    Parquet,
}

/// The attrition reports' filters, and the file format.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExtractParams {
    /// Cases reported on or after this day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Cases reported on or before this day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// A police force or BCU agency code (a force includes its BCUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offence_group: Option<OffenceGroup>,
    /// Cases carrying this priority flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_flag: Option<PriorityFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<AgeBand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<Ethnicity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity_group: Option<EthnicityGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disability: Option<Disability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_type: Option<LocationType>,
    /// Victims referred to a support service (true) or not (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// Victims with enhanced rights (true) or not (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced: Option<bool>,
    /// `csv` (default) or `parquet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ExtractFormat>,
}

impl ExtractParams {
    /// The same filters as report parameters, so the reports' filter code applies. Every field is
    /// named: a filter added to the reports and not here fails to compile.
    fn filters(&self) -> ReportParams {
        let p = self.clone();
        ReportParams {
            from: p.from,
            to: p.to,
            area: p.area,
            offence_group: p.offence_group,
            priority_flag: p.priority_flag,
            sex: p.sex,
            age_band: p.age_band,
            ethnicity: p.ethnicity,
            ethnicity_group: p.ethnicity_group,
            disability: p.disability,
            relationship: p.relationship,
            location_type: p.location_type,
            supported: p.supported,
            enhanced: p.enhanced,
            by: None,
            reference: None,
            format: None,
        }
    }

    /// The filters as `name=value`, for the audit trail.
    fn audit_fields(&self) -> Vec<String> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(Self { format: None, ..self.clone() }) else {
            return Vec::new();
        };
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect()
    }
}

/// How a column is typed in Parquet and written in CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    Int,
    /// A calendar day.
    Date,
    /// An instant, UTC.
    Time,
}

/// The extract's columns, in order. The first two are the pseudonyms.
pub const COLUMNS: &[(&str, Kind)] = &[
    ("victim_pseudonym", Kind::Text),
    ("case_pseudonym", Kind::Text),
    ("area", Kind::Text),
    ("offence_group", Kind::Text),
    ("priority_flags", Kind::Text),
    ("relationship", Kind::Text),
    ("location_type", Kind::Text),
    ("sex", Kind::Text),
    ("age_band", Kind::Text),
    ("ethnicity", Kind::Text),
    ("ethnicity_group", Kind::Text),
    ("disability", Kind::Text),
    ("enhanced_rights", Kind::Bool),
    ("reported_on", Kind::Date),
    ("reported_at", Kind::Time),
    ("arrested_at", Kind::Time),
    ("cps_referred_at", Kind::Time),
    ("decision_at", Kind::Time),
    ("charged_at", Kind::Time),
    ("first_hearing_at", Kind::Time),
    ("trial_listed_at", Kind::Time),
    ("trial_started_at", Kind::Time),
    ("court_outcome_at", Kind::Time),
    ("verdict_at", Kind::Time),
    ("sentenced_at", Kind::Time),
    ("ended_at", Kind::Time),
    ("support_referred_at", Kind::Time),
    ("current_stage", Kind::Text),
    ("furthest_stage", Kind::Text),
    ("flow_path", Kind::Text),
    ("final_outcome", Kind::Text),
    ("trial_result", Kind::Text),
    ("ineffective_count", Kind::Int),
    ("withdrawn", Kind::Bool),
    ("withdrawal_phase", Kind::Text),
    ("withdrawn_at", Kind::Time),
    ("withdrawal_stage", Kind::Text),
    ("withdrawal_reasons", Kind::Text),
    ("withdrawal_evidenced", Kind::Bool),
];

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

/// One journey as read: its two ids (pseudonymised on the way out) and the other columns' cells.
#[derive(Debug)]
pub struct Row {
    pub victim: Uuid,
    pub case: Uuid,
    pub cells: Vec<Cell>,
}

/// The SQL for a column. Withdrawal records not rejected give the reasons (every record's JSON
/// array, joined by `|`) and whether any is evidenced — evidence on file or confirmed with the
/// victim, as `withdrawals::service::is_evidenced` says; null when the journey has no record.
fn expression(name: &str, sql: &Sql) -> String {
    let pg = sql.backend == DbBackend::Postgres;
    let records = "FROM withdrawals w WHERE w.case_id = j.case_id AND w.victim_id = j.victim_id \
                   AND w.status <> 'rejected'";
    match name {
        "victim_pseudonym" => "j.victim_id".into(),
        "case_pseudonym" => "j.case_id".into(),
        "area" => "c.area_code".into(),
        "offence_group" | "relationship" | "location_type" => format!("c.{name}"),
        "priority_flags" => "CAST(c.priority_flags AS TEXT)".into(),
        "sex" | "ethnicity" | "disability" | "enhanced_rights" => format!("v.{name}"),
        "age_band" => sql.dimension(Dimension::AgeBand),
        "ethnicity_group" => sql.dimension(Dimension::EthnicityGroup),
        "reported_on" => "c.date_reported".into(),
        "ineffective_count" => "CAST(j.ineffective_count AS BIGINT)".into(),
        "withdrawal_reasons" if pg => format!("(SELECT string_agg(CAST(w.reasons AS TEXT), '|') {records})"),
        "withdrawal_reasons" => format!("(SELECT group_concat(w.reasons, '|') {records})"),
        "withdrawal_evidenced" if pg => {
            format!("(SELECT bool_or(w.confirmed_with_victim OR jsonb_array_length(w.evidence) > 0) {records})")
        }
        "withdrawal_evidenced" => {
            format!("(SELECT MAX(w.confirmed_with_victim OR json_array_length(w.evidence) > 0) {records})")
        }
        _ => format!("j.{name}"),
    }
}

/// A JSON array of codes as `a;b`, sorted: `[…]` or several joined by `|`.
fn codes(raw: &str) -> String {
    let mut set = BTreeSet::new();
    for part in raw.split('|') {
        if let Ok(list) = serde_json::from_str::<Vec<String>>(part) {
            set.extend(list);
        }
    }
    set.into_iter().collect::<Vec<_>>().join(";")
}

fn read_row(r: &QueryResult) -> Result<Row, DbErr> {
    let victim: Uuid = r.try_get("", "victim_pseudonym")?;
    let case: Uuid = r.try_get("", "case_pseudonym")?;
    let mut cells = Vec::with_capacity(COLUMNS.len() - 2);
    for &(name, kind) in &COLUMNS[2..] {
        let cell = match kind {
            Kind::Text => r.try_get::<Option<String>>("", name)?.map(|s| {
                if matches!(name, "priority_flags" | "withdrawal_reasons") {
                    Cell::Text(codes(&s))
                } else {
                    Cell::Text(s)
                }
            }),
            Kind::Bool => r.try_get::<Option<bool>>("", name)?.map(Cell::Bool),
            Kind::Int => r.try_get::<Option<i64>>("", name)?.map(Cell::Int),
            Kind::Date => r.try_get::<Option<NaiveDate>>("", name)?.map(Cell::Date),
            Kind::Time => r.try_get::<Option<DateTime<Utc>>>("", name)?.map(Cell::Time),
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row { victim, case, cells })
}

/// An export under way: its format, how many rows it holds, and its bytes as they are made.
pub struct Extract {
    pub format: ExtractFormat,
    pub rows: u64,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

/// Checks the caller and the filters, counts the rows, records the disclosure, then starts
/// writing the file in a task of its own.
pub async fn export(db: &Db, user: &Principal, p: &ExtractParams, now: DateTime<Utc>) -> AppResult<Extract> {
    user.require(&[Role::Analyst])?;
    let filters = p.filters();
    check_period(&filters)?;
    let format = p.format.unwrap_or_default();

    let (sql, from) = scope(db.read(), &filters);
    let counted = db.read().query_one_raw(statement(sql, &format!("SELECT COUNT(*) AS n {from}"))).await?;
    let rows = counted.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0).max(0) as u64;

    // The disclosure is on the trail before anything leaves: the layout, the row count, the
    // format and the filters (never the key, which nothing keeps).
    let mut fields = vec![LAYOUT.to_owned(), format!("rows={rows}"), format!("format={}", label(format))];
    fields.extend(p.audit_fields());
    let event = Event::new(AuditAction::Export, "linked_journeys").resource("linked-journeys").fields(fields);
    let tx = db.begin_write().await?;
    crate::audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;

    let (sql, from) = scope(db.read(), &filters);
    let select: Vec<String> = COLUMNS.iter().map(|(name, _)| format!("{} AS {name}", expression(name, &sql))).collect();
    let stmt = statement(sql, &format!("SELECT {} {from}", select.join(", ")));
    let encoder = Encoder::new(format, Pseudonymiser::fresh());
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(produce(db.read().clone(), stmt, encoder, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(Extract { format, rows, body: Box::pin(body) })
}

fn label(f: ExtractFormat) -> &'static str {
    match f {
        ExtractFormat::Csv => "csv",
        ExtractFormat::Parquet => "parquet",
    }
}

type Chunks = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Streams the rows, encodes them a batch at a time off the async threads, and sends the bytes
/// on. A failure part-way ends the body with an error, so the client sees an incomplete file
/// rather than a short one; a client that goes away stops the work.
async fn produce(conn: DatabaseConnection, stmt: Statement, encoder: Encoder, tx: Chunks) {
    if let Err(e) = write_all(conn, stmt, encoder, &tx).await {
        tracing::error!(error = %e, "the linked-journey extract stopped part-way");
        let _ = tx.send(Err(std::io::Error::other("the extract could not be completed"))).await;
    }
}

async fn write_all(conn: DatabaseConnection, stmt: Statement, mut encoder: Encoder, tx: &Chunks) -> anyhow::Result<()> {
    let head = encoder.start()?;
    if tx.send(Ok(head)).await.is_err() {
        return Ok(());
    }
    let mut stream = conn.stream_raw(stmt).await?;
    let mut encoder = Some(encoder);
    while let Some(mut current) = encoder.take() {
        let mut batch = Vec::with_capacity(BATCH);
        let mut done = false;
        while batch.len() < BATCH {
            let Some(r) = stream.next().await else {
                done = true;
                break;
            };
            batch.push(read_row(&r?)?);
        }
        // Encoding (HMACs, compression) is CPU work: off the async threads.
        let (back, bytes) = tokio::task::spawn_blocking(move || {
            if done {
                (None, current.finish(batch))
            } else {
                let bytes = current.push(batch);
                (Some(current), bytes)
            }
        })
        .await?;
        encoder = back;
        let bytes = bytes?;
        if !bytes.is_empty() && tx.send(Ok(bytes)).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_deduplicated_across_records() {
        assert_eq!(codes(r#"["fear_of_reprisal","other"]|["other","childcare"]"#), "childcare;fear_of_reprisal;other");
        assert_eq!(codes("[]"), "");
    }

    #[test]
    fn every_column_has_an_expression_and_a_unique_name() {
        let sql = Sql { backend: DbBackend::Sqlite, values: Vec::new() };
        let names: BTreeSet<&str> = COLUMNS.iter().map(|c| c.0).collect();
        assert_eq!(names.len(), COLUMNS.len());
        for (name, _) in COLUMNS {
            assert!(!expression(name, &sql).is_empty());
        }
    }
}
