//! The board pack: the flow, withdrawal rates, timeliness, trials and compliance reports for one
//! area and period, built from the same report functions (so the same disclosure control), as one
//! printable HTML page, a workbook or a PDF. Also the monthly job that emails each area's pack.
pub mod html;
pub mod pdf;
pub mod sankey;
pub mod schedule;
pub mod xlsx;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::attrition::{
    self, AgeBand, Dimension, EthnicityGroup, FlowReport, RatesReport, ReportParams, TimelinessReport, TrialsReport,
    label,
};
use super::compliance_summary::{self, ComplianceSummary};
use super::facts::FactCache;
use crate::auth::Principal;
use crate::db::Db;
use crate::entities::agencies;
use crate::error::{AppError, AppResult};
use crate::vocab::{Disability, Ethnicity, LocationType, OffenceGroup, PriorityFlag, Relationship, Sex};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoardFormat {
    /// One self-contained printable page (the default).
    #[default]
    Html,
    /// A workbook, one sheet per table.
    Xlsx,
    Pdf,
}

/// The attrition reports' filters, the rates' breakdown and the format.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardPackParams {
    /// Cases reported on or after this day.
    pub from: Option<NaiveDate>,
    /// Cases reported on or before this day.
    pub to: Option<NaiveDate>,
    /// A police force or BCU agency code (a force includes its BCUs).
    pub area: Option<String>,
    pub offence_group: Option<OffenceGroup>,
    pub priority_flag: Option<PriorityFlag>,
    pub sex: Option<Sex>,
    pub age_band: Option<AgeBand>,
    pub ethnicity: Option<Ethnicity>,
    pub ethnicity_group: Option<EthnicityGroup>,
    pub disability: Option<Disability>,
    pub relationship: Option<Relationship>,
    pub location_type: Option<LocationType>,
    pub supported: Option<bool>,
    pub enhanced: Option<bool>,
    /// The withdrawal rates' breakdown (default: offence group, then relationship).
    pub by: Option<Dimension>,
    /// `html` (default), `xlsx` or `pdf`.
    pub format: Option<BoardFormat>,
}

impl BoardPackParams {
    /// The filters as the attrition reports take them.
    #[must_use]
    pub fn filters(&self) -> ReportParams {
        ReportParams {
            from: self.from,
            to: self.to,
            area: self.area.clone(),
            offence_group: self.offence_group,
            priority_flag: self.priority_flag,
            sex: self.sex,
            age_band: self.age_band,
            ethnicity: self.ethnicity,
            ethnicity_group: self.ethnicity_group,
            disability: self.disability,
            relationship: self.relationship,
            location_type: self.location_type,
            supported: self.supported,
            enhanced: self.enhanced,
            by: None,
            reference: None,
            format: None,
        }
    }
}

/// Everything a pack shows.
#[derive(Debug, Clone)]
pub struct BoardPack {
    /// The area's code and name, when one was chosen.
    pub area: Option<(String, Option<String>)>,
    /// The filters used, as (what, value), in query order.
    pub filters: Vec<(String, String)>,
    pub generated_at: DateTime<Utc>,
    /// The latest agency event the hub holds: when it reached the hub and when it happened.
    pub latest_event_received: Option<DateTime<Utc>>,
    pub latest_event_occurred: Option<DateTime<Utc>>,
    pub flow: FlowReport,
    pub rates: Vec<RatesReport>,
    pub timeliness: TimelinessReport,
    pub trials: TrialsReport,
    pub compliance: ComplianceSummary,
    pub threshold: u64,
}

/// A file's bytes, as the OpenAPI document describes them (a binary string).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// A rendered pack.
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
}

/// Builds the pack (audited once, as `board-pack`) and renders it.
pub async fn pack(
    db: &Db,
    facts: &FactCache,
    user: &Principal,
    p: &BoardPackParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<Rendered> {
    attrition::begin(db, user, &p.filters(), "board-pack", now).await?;
    let pack = build(db, facts, p, threshold, now).await?;
    render(&pack, p.format.unwrap_or_default())
}

/// The pack's figures, unaudited: the caller has audited the call.
pub async fn build(
    db: &Db,
    facts: &FactCache,
    p: &BoardPackParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<BoardPack> {
    let filters = p.filters();
    let (flow, rates, timeliness, trials, compliance) = {
        let selected = attrition::select(db, facts, &filters).await?;
        let flow = attrition::flow_figures(&selected, threshold, now);
        let dims = p.by.map_or_else(|| vec![Dimension::OffenceGroup, Dimension::Relationship], |d| vec![d]);
        let rates: Vec<RatesReport> = dims
            .into_iter()
            .map(|by| {
                attrition::rates_figures(&selected, &ReportParams { by: Some(by), ..filters.clone() }, threshold, now)
            })
            .collect();
        (
            flow,
            rates,
            attrition::timeliness_figures(&selected, threshold, now),
            attrition::trials_figures(&selected, threshold, now),
            compliance_summary::figures(&selected, &filters, threshold, now),
        )
    };
    let db = db.read();
    let area = match &p.area {
        Some(code) => {
            let name = agencies::Entity::find()
                .filter(agencies::Column::Code.eq(code.as_str()))
                .one(db)
                .await?
                .map(|a| a.name);
            Some((code.clone(), name))
        }
        None => None,
    };
    let (received, occurred) = freshness(db).await?;
    Ok(BoardPack {
        area,
        filters: describe(p),
        generated_at: now,
        latest_event_received: received,
        latest_event_occurred: occurred,
        flow,
        rates,
        timeliness,
        trials,
        compliance,
        threshold,
    })
}

/// When the latest linked agency event reached the hub, and when the latest one happened.
async fn freshness(db: &impl ConnectionTrait) -> AppResult<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(received_at) AS received, MAX(occurred_at) AS occurred FROM journey_events \
             WHERE status = 'linked'",
        ))
        .await?;
    Ok(match row {
        Some(r) => (r.try_get("", "received")?, r.try_get("", "occurred")?),
        None => (None, None),
    })
}

/// The filters a pack was built with, for its readers.
fn describe(p: &BoardPackParams) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push((k.to_owned(), v));
        }
    };
    put("Reported from", p.from.map(|d| d.to_string()));
    put("Reported to", p.to.map(|d| d.to_string()));
    put("Area", p.area.clone());
    put("Offence group", p.offence_group.map(OffenceGroup::as_str));
    put("Priority flag", p.priority_flag.map(PriorityFlag::as_str));
    put("Sex", p.sex.map(Sex::as_str));
    put("Age band", p.age_band.map(|v| label(&v)));
    put("Ethnicity", p.ethnicity.map(Ethnicity::as_str));
    put("Ethnic group", p.ethnicity_group.map(|v| label(&v)));
    put("Disability", p.disability.map(Disability::as_str));
    put("Relationship", p.relationship.map(Relationship::as_str));
    put("Location type", p.location_type.map(LocationType::as_str));
    put("Referred to support", p.supported.map(|v| if v { "yes" } else { "no" }.to_owned()));
    put("Enhanced rights", p.enhanced.map(|v| if v { "yes" } else { "no" }.to_owned()));
    if out.is_empty() {
        out.push(("Filters".to_owned(), "none: every journey the hub holds".to_owned()));
    }
    out
}

/// The pack in `format`.
pub fn render(pack: &BoardPack, format: BoardFormat) -> AppResult<Rendered> {
    let (bytes, content_type, ext) = match format {
        BoardFormat::Html => (html::render(pack).into_bytes(), "text/html; charset=utf-8", "html"),
        BoardFormat::Xlsx => (
            xlsx::render(pack).map_err(|e| AppError::internal(anyhow::anyhow!("cannot write the workbook: {e}")))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        BoardFormat::Pdf => (pdf::render(pack), "application/pdf", "pdf"),
    };
    Ok(Rendered { bytes, content_type, filename: filename(pack, ext) })
}

/// `board-pack-AREA-FROM-TO.ext`, with only safe characters.
fn filename(pack: &BoardPack, ext: &str) -> String {
    let find = |k: &str| pack.filters.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let parts: Vec<String> = [
        pack.area.as_ref().map_or_else(|| "all".to_owned(), |a| a.0.clone()),
        find("Reported from").unwrap_or_else(|| "start".into()),
        find("Reported to").unwrap_or_else(|| "now".into()),
    ]
    .into_iter()
    .map(|s| s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect())
    .collect();
    format!("board-pack-{}.{ext}", parts.join("_"))
}

/// Text for HTML and SVG: the five markup characters escaped.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A count as shown: withheld ones as `[c]` (the ONS convention for a confidential cell).
#[must_use]
pub fn show_count(n: Option<u64>) -> String {
    n.map_or_else(|| "[c]".to_owned(), |n| n.to_string())
}

/// A share as a percentage with one decimal, or `[c]`/`–` when withheld or not defined.
#[must_use]
pub fn show_rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// The timeliness measures' names for readers.
#[must_use]
pub fn interval_label(measure: &str) -> &str {
    match measure {
        "report_to_arrest" => "Report to arrest or interview",
        "cps_referral_to_decision" => "Referral to CPS to charging decision",
        "charge_to_first_hearing" => "Charge to first hearing",
        "charge_to_trial" => "Charge to trial",
        "trial_listed_to_outcome" => "Trial listed to outcome",
        other => other,
    }
}

/// A rates breakdown's name for readers.
#[must_use]
pub fn dimension_label(d: Dimension) -> String {
    label(&d).replace('_', " ")
}
