//! Attrition reports over the live journeys: the flow between stages (a Sankey), withdrawal
//! rates by one victim or case characteristic, time between stages, and trial effectiveness.
//! Each counts the journeys its filters select from the in-memory journeys (`facts`, current to
//! the last committed write), and applies disclosure control (`sdc`) for every caller: the
//! outputs are meant to be handed to a board. No identifying field is ever read. The filters'
//! SQL form (`scope`) serves the reports that still read other tables (compliance, the extract).
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLockReadGuard;
use utoipa::{IntoParams, ToSchema};

use super::facts::{self, AGE_BANDS, Fact, FactCache, Facts, Filter, NONE, Names, bits};
use super::sdc::{is_small, suppress};
use crate::audit::{Actor, Event};
use crate::auth::Principal;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::journeys::stages::{self, EXIT_OPEN, EXIT_WITHDRAWN};
use crate::vocab::{
    AuditAction, Disability, Ethnicity, LocationType, OffenceGroup, PriorityFlag, Relationship, Role, Sex,
};

/// Rates whose denominator is below this are withheld as unreliable.
pub const RATE_MIN_DENOMINATOR: u64 = 20;

/// Age bands at the date of report (DOMAIN.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgeBand {
    #[serde(rename = "0_15")]
    Under16,
    #[serde(rename = "16_17")]
    From16To17,
    #[serde(rename = "18_24")]
    From18To24,
    #[serde(rename = "25_34")]
    From25To34,
    #[serde(rename = "35_44")]
    From35To44,
    #[serde(rename = "45_54")]
    From45To54,
    #[serde(rename = "55_64")]
    From55To64,
    #[serde(rename = "65_74")]
    From65To74,
    #[serde(rename = "75_plus")]
    From75,
    Unknown,
}

/// The five ethnic groups of the 2021 Census, with the gaps kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EthnicityGroup {
    White,
    Mixed,
    Asian,
    Black,
    Other,
    NotStated,
    Missing,
}

/// What a rates report breaks its figures down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    OffenceGroup,
    Area,
    Sex,
    AgeBand,
    Ethnicity,
    EthnicityGroup,
    Disability,
    Relationship,
    LocationType,
    Support,
    Enhanced,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

/// The filters every attrition report takes, and its output format.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Cases reported on or after this day.
    pub from: Option<NaiveDate>,
    /// Cases reported on or before this day.
    pub to: Option<NaiveDate>,
    /// A police force or BCU agency code (a force includes its BCUs).
    pub area: Option<String>,
    pub offence_group: Option<OffenceGroup>,
    /// Cases carrying this priority flag.
    pub priority_flag: Option<PriorityFlag>,
    pub sex: Option<Sex>,
    pub age_band: Option<AgeBand>,
    pub ethnicity: Option<Ethnicity>,
    pub ethnicity_group: Option<EthnicityGroup>,
    pub disability: Option<Disability>,
    pub relationship: Option<Relationship>,
    pub location_type: Option<LocationType>,
    /// Victims referred to a support service (true) or not (false).
    pub supported: Option<bool>,
    /// Victims with enhanced rights (true) or not (false).
    pub enhanced: Option<bool>,
    /// Rates only: the breakdown (default offence_group).
    pub by: Option<Dimension>,
    /// Rates only: the category others are compared with (default the largest).
    pub reference: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
}

/// What was withheld, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suppression {
    /// Counts from 1 to this are withheld.
    pub threshold: u64,
    /// Rates on denominators below this are withheld.
    pub rate_min_denominator: u64,
    /// How many figures were withheld (small numbers and the cells that would reveal them).
    pub withheld: u64,
    pub note: String,
}

impl Suppression {
    pub(crate) fn new(threshold: u64, withheld: u64) -> Self {
        Suppression {
            threshold,
            rate_min_denominator: RATE_MIN_DENOMINATOR,
            withheld,
            note: format!(
                "Counts from 1 to {threshold} are withheld (null), with further cells where a total would reveal \
                 them; rates on fewer than {RATE_MIN_DENOMINATOR} are withheld."
            ),
        }
    }
}

// ---- SQL ------------------------------------------------------------------------------------

/// A statement under construction, its placeholders numbered for the backend.
pub(crate) struct Sql {
    pub(crate) backend: DbBackend,
    pub(crate) values: Vec<Value>,
}

impl Sql {
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        if self.backend == DbBackend::Postgres { format!("${}", self.values.len()) } else { "?".to_owned() }
    }

    /// Age in whole years at the case's report date.
    fn age(&self) -> &'static str {
        if self.backend == DbBackend::Postgres {
            "CAST(date_part('year', age(c.date_reported, v.date_of_birth)) AS INTEGER)"
        } else {
            "(CAST(strftime('%Y', c.date_reported) AS INTEGER) - CAST(strftime('%Y', v.date_of_birth) AS INTEGER) \
             - (strftime('%m-%d', c.date_reported) < strftime('%m-%d', v.date_of_birth)))"
        }
    }

    pub(crate) fn dimension(&self, d: Dimension) -> String {
        match d {
            Dimension::OffenceGroup => "c.offence_group".into(),
            Dimension::Area => "COALESCE(c.area_code, 'unknown')".into(),
            Dimension::Sex => "COALESCE(v.sex, 'missing')".into(),
            Dimension::AgeBand => {
                let a = self.age();
                format!(
                    "CASE WHEN v.date_of_birth IS NULL THEN 'unknown' WHEN {a} < 16 THEN '0_15' WHEN {a} < 18 THEN '16_17' \
                     WHEN {a} < 25 THEN '18_24' WHEN {a} < 35 THEN '25_34' WHEN {a} < 45 THEN '35_44' \
                     WHEN {a} < 55 THEN '45_54' WHEN {a} < 65 THEN '55_64' WHEN {a} < 75 THEN '65_74' \
                     ELSE '75_plus' END"
                )
            }
            Dimension::Ethnicity => "COALESCE(v.ethnicity, 'missing')".into(),
            Dimension::EthnicityGroup => "CASE WHEN v.ethnicity IS NULL THEN 'missing' \
                 WHEN v.ethnicity = 'not_stated' THEN 'not_stated' WHEN v.ethnicity LIKE 'white%' THEN 'white' \
                 WHEN v.ethnicity LIKE 'mixed%' THEN 'mixed' WHEN v.ethnicity LIKE 'asian%' THEN 'asian' \
                 WHEN v.ethnicity LIKE 'black%' THEN 'black' ELSE 'other' END"
                .into(),
            Dimension::Disability => "COALESCE(v.disability, 'missing')".into(),
            Dimension::Relationship => "COALESCE(c.relationship, 'missing')".into(),
            Dimension::LocationType => "COALESCE(c.location_type, 'missing')".into(),
            Dimension::Support => {
                "CASE WHEN j.support_referred_at IS NULL THEN 'not_referred' ELSE 'referred' END".into()
            }
            Dimension::Enhanced => "CASE WHEN v.enhanced_rights THEN 'enhanced' ELSE 'standard' END".into(),
        }
    }
}

/// `FROM … WHERE …` for the filters, with its statement.
pub(crate) fn scope(db: &impl ConnectionTrait, p: &ReportParams) -> (Sql, String) {
    let mut sql = Sql { backend: db.get_database_backend(), values: Vec::new() };
    let mut w = vec!["1 = 1".to_owned()];
    if let Some(d) = p.from {
        w.push(format!("c.date_reported >= {}", sql.bind(d)));
    }
    if let Some(d) = p.to {
        w.push(format!("c.date_reported <= {}", sql.bind(d)));
    }
    if let Some(a) = &p.area {
        let (x, y) = (sql.bind(a.clone()), sql.bind(a.clone()));
        w.push(format!("c.area_code IN (SELECT code FROM agencies WHERE code = {x} OR parent_code = {y})"));
    }
    let mut eq = |sql: &mut Sql, expr: String, value: String| {
        let b = sql.bind(value);
        w.push(format!("{expr} = {b}"));
    };
    if let Some(v) = p.offence_group {
        eq(&mut sql, "c.offence_group".into(), v.as_str());
    }
    if let Some(v) = p.sex {
        eq(&mut sql, "v.sex".into(), v.as_str());
    }
    if let Some(v) = p.ethnicity {
        eq(&mut sql, "v.ethnicity".into(), v.as_str());
    }
    if let Some(v) = p.disability {
        eq(&mut sql, "v.disability".into(), v.as_str());
    }
    if let Some(v) = p.relationship {
        eq(&mut sql, "c.relationship".into(), v.as_str());
    }
    if let Some(v) = p.location_type {
        eq(&mut sql, "c.location_type".into(), v.as_str());
    }
    if let Some(v) = p.age_band {
        let expr = sql.dimension(Dimension::AgeBand);
        eq(&mut sql, expr, label(&v));
    }
    if let Some(v) = p.ethnicity_group {
        let expr = sql.dimension(Dimension::EthnicityGroup);
        eq(&mut sql, expr, label(&v));
    }
    if let Some(v) = p.priority_flag {
        let b = sql.bind(format!("%\"{}\"%", v.as_str()));
        w.push(format!("CAST(c.priority_flags AS TEXT) LIKE {b}"));
    }
    if let Some(s) = p.supported {
        w.push(format!("j.support_referred_at IS {}NULL", if s { "NOT " } else { "" }));
    }
    if let Some(e) = p.enhanced {
        w.push(format!("{}v.enhanced_rights", if e { "" } else { "NOT " }));
    }
    let from = format!("FROM journeys j{JOIN_CASES}{JOIN_VICTIMS} WHERE {}", w.join(" AND "));
    (sql, from)
}

/// A serde enum's wire name.
pub(crate) fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

const JOIN_CASES: &str = " JOIN cases c ON c.id = j.case_id";
const JOIN_VICTIMS: &str = " JOIN victims v ON v.id = j.victim_id";

/// The statement, without the join to cases or to victims when nothing in it reads that table.
/// Every journey has its case and its victim (foreign keys), so dropping an unread join changes
/// no row; neither SQLite nor PostgreSQL drops an inner join by itself, and on a million
/// journeys the two lookups per row are most of an unfiltered flow or trials report.
pub(crate) fn statement(sql: Sql, text: &str) -> Statement {
    static CASES: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\bc\.").expect("a valid pattern"));
    static VICTIMS: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\bv\.").expect("a valid pattern"));
    let rest = text.replace(JOIN_CASES, "").replace(JOIN_VICTIMS, "");
    let mut text = text.to_owned();
    if !CASES.is_match(&rest) {
        text = text.replacen(JOIN_CASES, "", 1);
    }
    if !VICTIMS.is_match(&rest) {
        text = text.replacen(JOIN_VICTIMS, "", 1);
    }
    Statement::from_sql_and_values(sql.backend, text, sql.values)
}

/// The period's ends in order.
pub(crate) fn check_period(p: &ReportParams) -> AppResult<()> {
    if let (Some(f), Some(t)) = (p.from, p.to)
        && f > t
    {
        return Err(AppError::invalid_query("from", "after_to", "must not be after to"));
    }
    Ok(())
}

/// Common checks and the audit record of a report call.
pub(crate) async fn begin(
    db: &Db,
    user: &Principal,
    p: &ReportParams,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    user.require(&[Role::Analyst, Role::Supervisor, Role::Admin])?;
    check_period(p)?;
    audit(db, user, name, now).await
}

/// The audit record of a report call, committed.
async fn audit(db: &Db, user: &Principal, name: &str, now: DateTime<Utc>) -> AppResult<()> {
    let event = Event::new(AuditAction::Read, "report").resource(name).fields(["aggregates"]);
    // Committed: a write transaction dropped without a commit rolls back, audit record and all.
    let tx = db.begin_write().await?;
    crate::audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The journeys a report's filters select, from the in-memory journeys brought up to date.
pub struct Selection<'a> {
    facts: RwLockReadGuard<'a, Facts>,
    filter: Filter,
}

impl Selection<'_> {
    fn rows(&self) -> impl Iterator<Item = &Fact> {
        self.facts.select(&self.filter)
    }

    /// The selected journeys with their rows in [`Facts`].
    pub fn selected_rows(&self) -> impl Iterator<Item = (u32, &Fact)> {
        self.facts.select_rows(&self.filter)
    }

    /// Every journey held, selected or not, and the victims' records.
    #[must_use]
    pub fn facts(&self) -> &Facts {
        &self.facts
    }
}

/// The report call's checks, then its audit record committed while the journeys it reads are
/// brought up to date and selected (the answer waits for both; the figures need no audit).
pub async fn audited_select<'a>(
    db: &Db,
    cache: &'a FactCache,
    user: &Principal,
    p: &ReportParams,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<Selection<'a>> {
    user.require(&[Role::Analyst, Role::Supervisor, Role::Admin])?;
    check_period(p)?;
    let (audited, selected) = tokio::join!(audit(db, user, name, now), select(db, cache, p));
    audited?;
    selected
}

/// The journeys the filters `p` select, as of the last committed write.
pub async fn select<'a>(db: &Db, cache: &'a FactCache, p: &ReportParams) -> AppResult<Selection<'a>> {
    let areas = match &p.area {
        Some(code) => Some(area_codes(db.read(), code).await?),
        None => None,
    };
    let facts = cache.current(db).await?;
    let filter = facts.filter(p, areas.as_deref());
    Ok(Selection { facts, filter })
}

/// An area's code with the codes of the areas within it (a force's BCUs).
async fn area_codes(db: &impl ConnectionTrait, code: &str) -> AppResult<Vec<String>> {
    use crate::entities::agencies::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QuerySelect};
    Ok(Entity::find()
        .select_only()
        .column(Column::Code)
        .filter(Column::Code.eq(code).or(Column::ParentCode.eq(code)))
        .into_tuple()
        .all(db)
        .await?)
}

// ---- Flow -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowNode {
    /// A stage code, or an exit: `WITHDRAWN`, `OPEN` (still under way).
    pub id: String,
    pub label: String,
    /// `stage` or `exit` (terminal stages are both; they are `stage`).
    pub kind: String,
    /// Journeys that reached the node.
    pub journeys: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowLink {
    pub source: String,
    pub target: String,
    pub journeys: Option<u64>,
}

/// A Sankey-ready flow: nodes and weighted links forming a DAG (loops collapsed, DOMAIN.md §3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowReport {
    pub journeys: Option<u64>,
    pub nodes: Vec<FlowNode>,
    pub links: Vec<FlowLink>,
    pub suppression: Suppression,
    pub as_of: DateTime<Utc>,
}

pub async fn flow(
    db: &Db,
    cache: &FactCache,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<FlowReport> {
    let selected = audited_select(db, cache, user, p, "attrition-flow", now).await?;
    Ok(flow_figures(&selected, threshold, now))
}

/// The flow's figures, unaudited: for callers that audited the call themselves (the board pack).
#[must_use]
pub fn flow_figures(s: &Selection<'_>, threshold: u64, now: DateTime<Utc>) -> FlowReport {
    let mut by_path = vec![0u64; s.facts.paths.len()];
    for f in s.rows() {
        if f.path != 0 {
            by_path[f.path as usize] += 1;
        }
    }
    let mut links: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut reached: HashMap<String, u64> = HashMap::new();
    let mut total = 0;
    for (id, &n) in by_path.iter().enumerate().filter(|(_, n)| **n > 0) {
        let path = s.facts.paths.name(id as u32).unwrap_or_default();
        total += n;
        let nodes: Vec<&str> = path.split('>').collect();
        for node in &nodes {
            *reached.entry((*node).to_owned()).or_default() += n;
        }
        for pair in nodes.windows(2) {
            *links.entry((pair[0].to_owned(), pair[1].to_owned())).or_default() += n;
        }
    }
    flow_from(links, reached, total, threshold, now)
}

/// The flow report from its link weights and node totals, with disclosure control: a node's
/// total is the sum of its links in, and of its links out, so each is a group with the node.
fn flow_from(
    links: BTreeMap<(String, String), u64>,
    reached: HashMap<String, u64>,
    total: u64,
    threshold: u64,
    now: DateTime<Utc>,
) -> FlowReport {
    let links: Vec<((String, String), u64)> = links.into_iter().collect();
    let mut nodes: Vec<(String, u64)> = reached.into_iter().collect();
    let rank = |id: &str| stages::find(id).map_or(u8::MAX, |s| s.rank);
    // Readable order: by rank, then code (several stages share a rank); exits last.
    nodes.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    let node_index: HashMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.0.as_str(), links.len() + i)).collect();
    let mut values: Vec<u64> = links.iter().map(|(_, n)| *n).collect();
    values.extend(nodes.iter().map(|(_, n)| *n));
    let mut groups: HashMap<(bool, &str), Vec<usize>> = HashMap::new();
    for (i, ((s, t), _)) in links.iter().enumerate() {
        groups.entry((false, s.as_str())).or_insert_with(|| vec![node_index[s.as_str()]]).push(i);
        groups.entry((true, t.as_str())).or_insert_with(|| vec![node_index[t.as_str()]]).push(i);
    }
    let groups: Vec<Vec<usize>> = groups.into_values().collect();
    let hidden = suppress(&values, &groups, threshold);
    let small_total = is_small(total, threshold);
    let withheld = hidden.iter().filter(|h| **h).count() as u64 + u64::from(small_total);
    let n_links = links.len();
    let nodes = nodes
        .into_iter()
        .enumerate()
        .map(|(i, (id, n))| {
            let (label, kind) = match stages::find(&id) {
                Some(s) => (s.name.to_owned(), "stage"),
                None if id == EXIT_WITHDRAWN => ("Victim withdrew".to_owned(), "exit"),
                None if id == EXIT_OPEN => ("Still under way".to_owned(), "exit"),
                None => (id.clone(), "exit"),
            };
            FlowNode { id, label, kind: kind.to_owned(), journeys: (!hidden[n_links + i]).then_some(n) }
        })
        .collect();
    let links = links
        .into_iter()
        .zip(hidden)
        .map(|(((source, target), n), h)| FlowLink { source, target, journeys: (!h).then_some(n) })
        .collect();
    FlowReport {
        journeys: (!small_total).then_some(total),
        nodes,
        links,
        suppression: Suppression::new(threshold, withheld),
        as_of: now,
    }
}

// ---- Rates ----------------------------------------------------------------------------------

/// A proportion with its 95% Wilson score interval.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rate {
    pub numerator: Option<u64>,
    pub denominator: Option<u64>,
    pub rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// This rate over the reference category's.
    pub relative_to_reference: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RateRow {
    pub category: String,
    /// Withdrawal before a charging decision, among all journeys.
    pub pre_charge: Rate,
    /// Withdrawal after charge, among charged journeys.
    pub post_charge: Rate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeeksBucket {
    /// Weeks after report: `[from, to)`; `to` null for the last.
    pub from_week: u32,
    pub to_week: Option<u32>,
    pub withdrawals: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatesReport {
    pub by: Dimension,
    pub reference: Option<String>,
    pub rows: Vec<RateRow>,
    pub total: RateRow,
    /// Time from report to withdrawal.
    pub weeks_to_withdrawal: Vec<WeeksBucket>,
    pub suppression: Suppression,
    pub as_of: DateTime<Utc>,
}

/// The 95% Wilson score interval of `k` in `n`.
#[must_use]
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

const WEEK_BUCKETS: [u32; 8] = [0, 1, 2, 4, 8, 13, 26, 52];

pub async fn rates(
    db: &Db,
    cache: &FactCache,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<RatesReport> {
    let selected = audited_select(db, cache, user, p, "attrition-rates", now).await?;
    Ok(rates_figures(&selected, p, threshold, now))
}

/// The rates' figures by `p.by`, unaudited (see [`flow_figures`]).
#[must_use]
pub fn rates_figures(s: &Selection<'_>, p: &ReportParams, threshold: u64, now: DateTime<Utc>) -> RatesReport {
    let by = p.by.unwrap_or(Dimension::OffenceGroup);
    let names = &s.facts.names;
    let id = |name: &str| names.get(name).map(|id| id as u16);
    let (pre, post) = (id("pre_charge"), id("post_charge"));
    let mut counts = vec![[0u64; 4]; names.len().max(AGE_BANDS.len())];
    let mut weeks = [0u64; WEEK_BUCKETS.len()];
    for f in s.rows() {
        let c = &mut counts[category(f, by)];
        c[0] += 1;
        c[1] += u64::from(pre == Some(f.phase));
        c[2] += u64::from(f.bits & bits::CHARGED != 0);
        c[3] += u64::from(post == Some(f.phase));
        if f.to_withdrawal != NONE {
            let week = (f.to_withdrawal / 7) as u32;
            weeks[WEEK_BUCKETS.iter().rposition(|&b| week >= b).unwrap_or(0)] += 1;
        }
    }
    let mut cells: Vec<(String, [u64; 4])> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c[0] > 0)
        .map(|(k, c)| (category_label(names, by, k), c))
        .collect();
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    rates_from(by, p.reference.clone(), &cells, weeks, threshold, now)
}

/// A journey's category of `by`, as a small number ([`category_label`] names it).
fn category(f: &Fact, by: Dimension) -> usize {
    usize::from(match by {
        Dimension::OffenceGroup => f.offence,
        Dimension::Area => f.area,
        Dimension::Sex => f.sex,
        Dimension::AgeBand => u16::from(f.age_band),
        Dimension::Ethnicity => f.ethnicity,
        Dimension::EthnicityGroup => u16::from(f.ethnicity_group),
        Dimension::Disability => f.disability,
        Dimension::Relationship => f.relationship,
        Dimension::LocationType => f.location,
        Dimension::Support => u16::from(f.bits & bits::SUPPORTED != 0),
        Dimension::Enhanced => u16::from(f.bits & bits::ENHANCED != 0),
    })
}

fn category_label(names: &Names, by: Dimension, k: usize) -> String {
    let text = |missing: &str| names.name(k as u32).unwrap_or(missing).to_owned();
    match by {
        Dimension::Area => text("unknown"),
        Dimension::AgeBand => facts::age_band_label(k as u8),
        Dimension::EthnicityGroup => facts::ethnicity_group_label(k as u8),
        Dimension::Support => if k == 1 { "referred" } else { "not_referred" }.to_owned(),
        Dimension::Enhanced => if k == 1 { "enhanced" } else { "standard" }.to_owned(),
        Dimension::OffenceGroup
        | Dimension::Sex
        | Dimension::Ethnicity
        | Dimension::Disability
        | Dimension::Relationship
        | Dimension::LocationType => text("missing"),
    }
}

fn rates_from(
    by: Dimension,
    reference: Option<String>,
    cells: &[(String, [u64; 4])],
    weeks: [u64; WEEK_BUCKETS.len()],
    threshold: u64,
    now: DateTime<Utc>,
) -> RatesReport {
    let mut totals = [0u64; 4];
    for (_, c) in cells {
        for k in 0..4 {
            totals[k] += c[k];
        }
    }
    // Column k holds cells k*(n+1) .. k*(n+1)+n, its total last: each column adds up to it.
    let rows_n = cells.len();
    let values: Vec<u64> = (0..4).flat_map(|k| cells.iter().map(move |(_, c)| c[k]).chain([totals[k]])).collect();
    let groups: Vec<Vec<usize>> = (0..4).map(|k| (k * (rows_n + 1)..(k + 1) * (rows_n + 1)).collect()).collect();
    let hidden = suppress(&values, &groups, threshold);
    let withheld = hidden.iter().filter(|h| **h).count() as u64;
    let value = |k: usize, i: usize| if i == rows_n { totals[k] } else { cells[i].1[k] };
    let shown = |k: usize, i: usize| (!hidden[k * (rows_n + 1) + i]).then_some(value(k, i));

    let reference = reference
        .or_else(|| cells.iter().max_by_key(|(c, n)| (n[0], std::cmp::Reverse(c.clone()))).map(|c| c.0.clone()));
    let rate = |num: Option<u64>, den: Option<u64>| -> Option<(f64, f64, f64)> {
        let (k, n) = (num?, den?);
        (n >= RATE_MIN_DENOMINATOR).then(|| {
            let (lo, hi) = wilson(k, n);
            (k as f64 / n as f64, lo, hi)
        })
    };
    let make = |num: Option<u64>, den: Option<u64>, reference: Option<f64>| {
        let r = rate(num, den);
        Rate {
            numerator: num,
            denominator: den,
            rate: r.map(|x| x.0),
            ci_low: r.map(|x| x.1),
            ci_high: r.map(|x| x.2),
            relative_to_reference: match (r, reference) {
                (Some((x, ..)), Some(base)) if base > 0.0 => Some(x / base),
                _ => None,
            },
        }
    };
    let ref_index = reference.as_ref().and_then(|r| cells.iter().position(|(c, _)| c == r));
    let ref_pre = ref_index.and_then(|i| rate(shown(1, i), shown(0, i))).map(|x| x.0);
    let ref_post = ref_index.and_then(|i| rate(shown(3, i), shown(2, i))).map(|x| x.0);
    let rows = (0..rows_n)
        .map(|i| RateRow {
            category: cells[i].0.clone(),
            pre_charge: make(shown(1, i), shown(0, i), ref_pre),
            post_charge: make(shown(3, i), shown(2, i), ref_post),
        })
        .collect();
    let total = RateRow {
        category: "total".into(),
        pre_charge: make(shown(1, rows_n), shown(0, rows_n), None),
        post_charge: make(shown(3, rows_n), shown(2, rows_n), None),
    };

    let week_hidden = suppress(&weeks, &[(0..weeks.len()).collect()], threshold);
    let withheld = withheld + week_hidden.iter().filter(|h| **h).count() as u64;
    let weeks_to_withdrawal = WEEK_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, &from_week)| WeeksBucket {
            from_week,
            to_week: WEEK_BUCKETS.get(i + 1).copied(),
            withdrawals: (!week_hidden[i]).then_some(weeks[i]),
        })
        .collect();
    RatesReport {
        by,
        reference,
        rows,
        total,
        weeks_to_withdrawal,
        suppression: Suppression::new(threshold, withheld),
        as_of: now,
    }
}

// ---- Timeliness -----------------------------------------------------------------------------

/// The measured intervals: name, from column, to column.
pub const INTERVALS: [(&str, &str, &str); 5] = [
    ("report_to_arrest", "reported_at", "arrested_at"),
    ("cps_referral_to_decision", "cps_referred_at", "decision_at"),
    ("charge_to_first_hearing", "charged_at", "first_hearing_at"),
    ("charge_to_trial", "charged_at", "trial_started_at"),
    ("trial_listed_to_outcome", "trial_listed_at", "court_outcome_at"),
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Interval {
    pub measure: String,
    /// Journeys with both dates (the second not before the first).
    pub journeys: Option<u64>,
    /// In whole days elapsed.
    pub median_days: Option<u64>,
    pub p90_days: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelinessReport {
    pub intervals: Vec<Interval>,
    pub suppression: Suppression,
    pub as_of: DateTime<Utc>,
}

/// The smallest value with at least `q` of the counted values at or below it (nearest rank).
fn quantile(histogram: &BTreeMap<u64, u64>, total: u64, q: f64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (value, n) in histogram {
        seen += n;
        if seen >= rank {
            return Some(*value);
        }
    }
    None
}

pub async fn timeliness(
    db: &Db,
    cache: &FactCache,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<TimelinessReport> {
    let selected = audited_select(db, cache, user, p, "timeliness", now).await?;
    Ok(timeliness_figures(&selected, threshold, now))
}

/// The intervals, unaudited (see [`flow_figures`]).
#[must_use]
pub fn timeliness_figures(s: &Selection<'_>, threshold: u64, now: DateTime<Utc>) -> TimelinessReport {
    // Whole days elapsed, counted by day.
    let mut by_day: [Vec<u64>; INTERVALS.len()] = Default::default();
    for f in s.rows() {
        for (k, &d) in f.intervals.iter().enumerate() {
            if d != NONE {
                let d = d as usize;
                if by_day[k].len() <= d {
                    by_day[k].resize(d + 1, 0);
                }
                by_day[k][d] += 1;
            }
        }
    }
    let mut intervals = Vec::new();
    let mut withheld = 0;
    for ((measure, ..), days) in INTERVALS.iter().zip(by_day) {
        let histogram: BTreeMap<u64, u64> =
            days.into_iter().enumerate().filter(|(_, n)| *n > 0).map(|(d, n)| (d as u64, n)).collect();
        let total: u64 = histogram.values().sum();
        let small = is_small(total, threshold);
        withheld += u64::from(small);
        intervals.push(Interval {
            measure: (*measure).to_owned(),
            journeys: (!small).then_some(total),
            median_days: if small { None } else { quantile(&histogram, total, 0.5) },
            p90_days: if small { None } else { quantile(&histogram, total, 0.9) },
        });
    }
    TimelinessReport { intervals, suppression: Suppression::new(threshold, withheld), as_of: now }
}

// ---- Trials ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IneffectiveReason {
    /// An HMCTS reason code (DOMAIN.md §3.2), or `unrecorded`.
    pub code: String,
    /// `court`, `defence`, `prosecution`, `other` or `unrecorded`.
    pub party: String,
    pub label: String,
    pub listings: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrialsReport {
    /// Journeys with a trial listed.
    pub journeys_with_trial: Option<u64>,
    /// Listings: each relisting after an ineffective trial counts again.
    pub listings: Option<u64>,
    pub effective: Option<u64>,
    pub cracked: Option<u64>,
    pub ineffective: Option<u64>,
    pub effective_rate: Option<f64>,
    pub cracked_rate: Option<f64>,
    pub ineffective_rate: Option<f64>,
    /// Ineffective listings by the reason the court recorded (they add up to `ineffective`),
    /// most frequent first; listings without a code count under `unrecorded`.
    pub ineffective_reasons: Vec<IneffectiveReason>,
    pub suppression: Suppression,
    pub as_of: DateTime<Utc>,
}

pub async fn trials(
    db: &Db,
    cache: &FactCache,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<TrialsReport> {
    let selected = audited_select(db, cache, user, p, "trials", now).await?;
    Ok(trials_figures(&selected, threshold, now))
}

/// The trials' figures, unaudited (see [`flow_figures`]).
#[must_use]
pub fn trials_figures(s: &Selection<'_>, threshold: u64, now: DateTime<Utc>) -> TrialsReport {
    let id = |name: &str| s.facts.names.get(name).map(|id| id as u16);
    let (effective_id, cracked_id) = (id("effective"), id("cracked"));
    let (mut journeys, mut effective, mut cracked, mut ineffective) = (0, 0, 0, 0);
    let mut by_list = vec![0u64; s.facts.reasons.len()];
    for f in s.rows().filter(|f| f.bits & bits::TRIAL_LISTED != 0) {
        journeys += 1;
        effective += u64::from(effective_id == Some(f.trial_result));
        cracked += u64::from(cracked_id == Some(f.trial_result));
        ineffective += f.ineffective.max(0) as u64;
        by_list[f.reasons as usize] += 1;
    }
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for (id, &n) in by_list.iter().enumerate().filter(|(id, n)| *id > 0 && **n > 0) {
        for code in s.facts.reasons.name(id as u32).unwrap_or_default().split('>') {
            *reasons.entry(code).or_default() += n;
        }
    }
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().map(|(c, n)| (c.to_owned(), n)).collect();
    let recorded: u64 = reasons.iter().map(|r| r.1).sum();
    if ineffective > recorded {
        reasons.push((UNRECORDED.to_owned(), ineffective - recorded));
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    trials_from(journeys, effective, cracked, ineffective, &reasons, threshold, now)
}

/// The reason of ineffective listings without a code.
const UNRECORDED: &str = "unrecorded";

fn trials_from(
    journeys: u64,
    effective: u64,
    cracked: u64,
    ineffective: u64,
    reasons: &[(String, u64)],
    threshold: u64,
    now: DateTime<Utc>,
) -> TrialsReport {
    let listings = effective + cracked + ineffective;
    // The three outcomes add up to the listings, and the reasons to the ineffective ones.
    let mut values = vec![effective, cracked, ineffective, listings, journeys];
    values.extend(reasons.iter().map(|r| r.1));
    let by_reason: Vec<usize> = [2].into_iter().chain(5..values.len()).collect();
    let hidden = suppress(&values, &[vec![0, 1, 2, 3], by_reason], threshold);
    let ineffective_reasons = reasons
        .iter()
        .enumerate()
        .map(|(i, (code, n))| {
            let (party, label) = stages::ineffective_reason(code).map_or_else(
                || (UNRECORDED.to_owned(), "No reason recorded".to_owned()),
                |(party, label)| (party.as_str().to_owned(), label),
            );
            IneffectiveReason { code: code.clone(), party, label, listings: (!hidden[5 + i]).then_some(*n) }
        })
        .collect();
    let shown = |i: usize| (!hidden[i]).then_some(values[i]);
    let rate = |i: usize| {
        (!hidden[i] && !hidden[3] && listings >= RATE_MIN_DENOMINATOR).then(|| values[i] as f64 / listings as f64)
    };
    TrialsReport {
        journeys_with_trial: shown(4),
        listings: shown(3),
        effective: shown(0),
        cracked: shown(1),
        ineffective: shown(2),
        effective_rate: rate(0),
        cracked_rate: rate(1),
        ineffective_rate: rate(2),
        ineffective_reasons,
        suppression: Suppression::new(threshold, hidden.iter().filter(|h| **h).count() as u64),
        as_of: now,
    }
}

// ---- CSV ------------------------------------------------------------------------------------

/// A report as CSV: one header row, then one row per figure.
pub trait Csv {
    fn csv(&self) -> String;
}

pub(crate) fn csv_of(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

pub(crate) fn cell<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl Csv for FlowReport {
    fn csv(&self) -> String {
        let mut rows: Vec<Vec<String>> =
            self.nodes.iter().map(|n| vec!["node".into(), n.id.clone(), String::new(), cell(n.journeys)]).collect();
        rows.extend(
            self.links.iter().map(|l| vec!["link".into(), l.source.clone(), l.target.clone(), cell(l.journeys)]),
        );
        csv_of(&["kind", "source", "target", "journeys"], rows)
    }
}

impl Csv for RatesReport {
    fn csv(&self) -> String {
        let row = |r: &RateRow| {
            let mut out = vec![r.category.clone()];
            for x in [&r.pre_charge, &r.post_charge] {
                out.extend([
                    cell(x.numerator),
                    cell(x.denominator),
                    cell(x.rate),
                    cell(x.ci_low),
                    cell(x.ci_high),
                    cell(x.relative_to_reference),
                ]);
            }
            out
        };
        let mut rows: Vec<Vec<String>> = self.rows.iter().map(row).collect();
        rows.push(row(&self.total));
        csv_of(
            &[
                "category",
                "pre_charge_withdrawn",
                "journeys",
                "pre_charge_rate",
                "pre_charge_ci_low",
                "pre_charge_ci_high",
                "pre_charge_relative",
                "post_charge_withdrawn",
                "charged",
                "post_charge_rate",
                "post_charge_ci_low",
                "post_charge_ci_high",
                "post_charge_relative",
            ],
            rows,
        )
    }
}

impl Csv for TimelinessReport {
    fn csv(&self) -> String {
        let rows = self
            .intervals
            .iter()
            .map(|i| vec![i.measure.clone(), cell(i.journeys), cell(i.median_days), cell(i.p90_days)])
            .collect();
        csv_of(&["measure", "journeys", "median_days", "p90_days"], rows)
    }
}

impl Csv for TrialsReport {
    fn csv(&self) -> String {
        let mut rows = vec![
            vec!["listings".into(), cell(self.listings), String::new()],
            vec!["effective".into(), cell(self.effective), cell(self.effective_rate)],
            vec!["cracked".into(), cell(self.cracked), cell(self.cracked_rate)],
            vec!["ineffective".into(), cell(self.ineffective), cell(self.ineffective_rate)],
        ];
        rows.extend(
            self.ineffective_reasons
                .iter()
                .map(|r| vec![format!("ineffective:{}", r.code), cell(r.listings), String::new()]),
        );
        csv_of(&["outcome", "count", "rate_of_listings"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_published_values() {
        // 40 of 100: 0.3094 to 0.4980 (Newcombe 1998's method 3).
        let (lo, hi) = wilson(40, 100);
        assert!((lo - 0.3094).abs() < 1e-4 && (hi - 0.4980).abs() < 1e-4, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 0.0));
    }

    #[test]
    fn unread_joins_are_dropped_and_read_ones_kept() {
        let sql = || Sql { backend: DbBackend::Sqlite, values: Vec::new() };
        let from = format!("FROM journeys j{JOIN_CASES}{JOIN_VICTIMS} WHERE 1 = 1");
        let text = |s: &str| statement(sql(), s).sql;
        assert_eq!(text(&format!("SELECT COUNT(*) {from}")), "SELECT COUNT(*) FROM journeys j WHERE 1 = 1");
        let by_sex = text(&format!("SELECT v.sex {from} AND j.decision_at IS NULL"));
        assert!(by_sex.contains(JOIN_VICTIMS) && !by_sex.contains(JOIN_CASES), "{by_sex}");
        let both = text(&format!("SELECT c.offence_group {from} AND v.sex = 'female'"));
        assert!(both.contains(JOIN_CASES) && both.contains(JOIN_VICTIMS));
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let h: BTreeMap<u64, u64> = [(1, 5), (3, 4), (10, 1)].into_iter().collect();
        assert_eq!(quantile(&h, 10, 0.5), Some(1));
        assert_eq!(quantile(&h, 10, 0.9), Some(3));
        assert_eq!(quantile(&h, 10, 1.0), Some(10));
    }

    #[test]
    fn no_small_link_survives_and_node_totals_do_not_reveal_one() {
        let mut links = BTreeMap::new();
        links.insert(("REPORTED".to_owned(), "INVESTIGATION".to_owned()), 100);
        links.insert(("REPORTED".to_owned(), EXIT_WITHDRAWN.to_owned()), 3);
        links.insert(("REPORTED".to_owned(), EXIT_OPEN.to_owned()), 40);
        links.insert(("INVESTIGATION".to_owned(), EXIT_OPEN.to_owned()), 100);
        let reached: HashMap<String, u64> =
            [("REPORTED", 143), ("INVESTIGATION", 100), (EXIT_WITHDRAWN, 3), (EXIT_OPEN, 140)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        let r = flow_from(links, reached, 143, 5, Utc::now());
        // The 3 is withheld, and enough besides that no node's links in or out, with the node's
        // total, hide exactly one figure.
        let withdrew = r.links.iter().find(|l| l.target == EXIT_WITHDRAWN).unwrap();
        assert_eq!(withdrew.journeys, None);
        for n in &r.nodes {
            for out in [true, false] {
                let group: Vec<&FlowLink> =
                    r.links.iter().filter(|l| if out { l.source == n.id } else { l.target == n.id }).collect();
                let hidden = group.iter().filter(|l| l.journeys.is_none()).count() + usize::from(n.journeys.is_none());
                assert!(group.is_empty() || hidden != 1, "{} {out}: {group:?}", n.id);
            }
        }
        assert!(r.links.iter().all(|l| l.journeys.is_none_or(|n| n > 5)));
        assert!(r.nodes.iter().all(|n| n.journeys.is_none_or(|n| n > 5)));
        assert!(r.suppression.withheld >= 3);
    }
}
