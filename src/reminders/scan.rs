//! The due scan. It works from state, not from ticks: whatever is overdue or due today when it
//! runs is queued, so reminders due while the service was down go out when it comes back, and
//! a scan that runs twice, or on two replicas at once, queues each notice once (outbox keys).
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Europe::London;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::dto::ScanReport;
use super::outbox::{self, Notice};
use crate::clock::london_date;
use crate::config::{Config, ReminderConfig};
use crate::contacts::service::hub_refs;
use crate::db::Db;
use crate::entities::{contact_schedule, obligation_rules, obligations, reminder_days, users};
use crate::error::AppResult;
use crate::recovery::service::{AutoIssue, auto_open};
use crate::vocab::{ContactState, ObligationStatus, Role};

const DIGEST_JOB: &str = "daily_digest";
/// Rows per transaction while queuing.
const BATCH: usize = 500;

/// Who is emailed about a team or a caseworker's caseload.
struct Directory {
    /// Active supervisors' (user id, email) by team.
    supervisors: HashMap<String, Vec<(Uuid, String)>>,
    /// Active users by id and by email (lower case): (user id, email).
    by_name: HashMap<String, (Uuid, String)>,
}

impl Directory {
    async fn load(db: &impl ConnectionTrait) -> AppResult<Self> {
        let all = users::Entity::find().filter(users::Column::Active.eq(true)).all(db).await?;
        let mut supervisors: HashMap<String, Vec<(Uuid, String)>> = HashMap::new();
        let mut by_name = HashMap::new();
        for u in all {
            if let (Role::Supervisor, Some(team)) = (u.role, &u.team_code) {
                supervisors.entry(team.clone()).or_default().push((u.id, u.email.clone()));
            }
            by_name.insert(u.id.to_string(), (u.id, u.email.clone()));
            by_name.insert(u.email.to_lowercase(), (u.id, u.email));
        }
        Ok(Directory { supervisors, by_name })
    }

    fn supervisors(&self, team: &str) -> &[(Uuid, String)] {
        self.supervisors.get(team).map_or(&[], Vec::as_slice)
    }

    /// A caseworker named on a record, when they are an active user.
    fn user(&self, name: Option<&str>) -> Option<&(Uuid, String)> {
        name.and_then(|n| self.by_name.get(&n.to_lowercase()).or_else(|| self.by_name.get(n)))
    }
}

/// Runs the scan at `now`: escalations for updates overdue by more than the threshold and for
/// breached key-decision obligations, then (from the digest time, once a day) the digests.
pub async fn run(db: &Db, config: &Config, now: DateTime<Utc>) -> AppResult<ScanReport> {
    let (cfg, public_url, sla) = (&config.reminders, config.public_url.as_str(), config.issue_sla_days);
    let today = london_date(now);
    let directory = Directory::load(db.read()).await?;
    let mut report = ScanReport::default();
    escalate_overdue(db, cfg, sla, &directory, public_url, today, now, &mut report).await?;
    escalate_breaches(db, sla, &directory, public_url, today, now, &mut report).await?;
    let (escalated, queued) = crate::recovery::service::escalate_overdue(db, public_url, now).await?;
    report.issues_escalated = escalated;
    report.escalations_queued += queued;
    report.digest_due = now.with_timezone(&London).time() >= cfg.digest_at;
    if report.digest_due {
        digests(db, cfg, &directory, public_url, today, now, &mut report).await?;
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn escalate_overdue(
    db: &Db,
    cfg: &ReminderConfig,
    sla: [u32; 4],
    directory: &Directory,
    public_url: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> AppResult<()> {
    let threshold = today - Duration::days(i64::from(cfg.escalate_after_days));
    let rows: Vec<(Uuid, String, NaiveDate, Option<NaiveDate>)> = contact_schedule::Entity::find()
        .select_only()
        .columns([
            contact_schedule::Column::VictimId,
            contact_schedule::Column::TeamCode,
            contact_schedule::Column::NextDueOn,
            contact_schedule::Column::EscalatedFor,
        ])
        .filter(contact_schedule::Column::State.eq(ContactState::Active))
        .filter(contact_schedule::Column::NextDueOn.lt(threshold))
        .into_tuple()
        .all(db.read())
        .await?;
    report.overdue_victims = rows.len() as u64;
    let todo: Vec<_> = rows.into_iter().filter(|(_, _, due, done)| *done != Some(*due)).collect();
    for chunk in todo.chunks(BATCH) {
        let refs = hub_refs(db.read(), chunk.iter().map(|r| r.0).collect()).await?;
        let mut notices = Vec::new();
        for (victim_id, team, due, _) in chunk {
            let hub_ref = refs.get(victim_id).map_or("(unknown)", String::as_str);
            let days = (today - *due).num_days();
            for (_, email) in directory.supervisors(team) {
                notices.push(Notice {
                    kind: "overdue_escalation",
                    recipient: email.clone(),
                    about: victim_id.to_string(),
                    due: *due,
                    subject: format!("Care Hub: update overdue {days} days for {hub_ref}"),
                    body: format!(
                        "The routine update for {hub_ref} (team {team}) was due on {due} and is {days} days overdue.\n\n\
                         Open the record in Care Hub: {public_url}/api/v1/victims/{hub_ref}/contact-plan\n\n\
                         This message holds hub references only. Do not forward it outside the hub.\n"
                    ),
                });
            }
        }
        let issues = chunk
            .iter()
            .map(|(victim_id, team, due, _)| AutoIssue {
                victim_id: *victim_id,
                case_id: None,
                team: team.clone(),
                category: "no_update",
                description: format!("Routine update due on {due} not made"),
                code_right: Some(6),
                source_key: format!("overdue:{victim_id}:{due}"),
            })
            .collect();
        let tx = db.begin_write().await?;
        report.escalations_queued += outbox::queue(&tx, &notices, now).await?;
        report.issues_opened += auto_open(&tx, issues, sla, now).await?;
        for (victim_id, _, due, _) in chunk {
            contact_schedule::Entity::update_many()
                .col_expr(contact_schedule::Column::EscalatedFor, Some(*due).into())
                .filter(contact_schedule::Column::VictimId.eq(*victim_id))
                .filter(contact_schedule::Column::NextDueOn.eq(*due))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn escalate_breaches(
    db: &Db,
    sla: [u32; 4],
    directory: &Directory,
    public_url: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> AppResult<()> {
    let key_rules: HashMap<String, String> = obligation_rules::Entity::find()
        .filter(obligation_rules::Column::KeyDecision.eq(true))
        .all(db.read())
        .await?
        .into_iter()
        .map(|r| (r.code, r.description))
        .collect();
    let breached: Vec<obligations::Model> = obligations::Entity::find()
        .filter(obligations::Column::Status.eq(ObligationStatus::Open))
        .filter(obligations::Column::DueOn.lt(today))
        .filter(obligations::Column::EscalatedAt.is_null())
        .filter(obligations::Column::RuleCode.is_in(key_rules.keys().cloned()))
        .order_by_asc(obligations::Column::DueOn)
        .all(db.read())
        .await?;
    report.breached_obligations = breached.len() as u64;
    for chunk in breached.chunks(BATCH) {
        let ids: Vec<Uuid> = chunk.iter().map(|o| o.victim_id).collect();
        let refs = hub_refs(db.read(), ids.clone()).await?;
        let teams: HashMap<Uuid, String> = contact_schedule::Entity::find()
            .select_only()
            .columns([contact_schedule::Column::VictimId, contact_schedule::Column::TeamCode])
            .filter(contact_schedule::Column::VictimId.is_in(ids))
            .into_tuple()
            .all(db.read())
            .await?
            .into_iter()
            .collect();
        let mut notices = Vec::new();
        for o in chunk {
            let hub_ref = refs.get(&o.victim_id).map_or("(unknown)", String::as_str);
            let Some(team) = teams.get(&o.victim_id) else { continue };
            let what = key_rules.get(&o.rule_code).map_or("", String::as_str);
            for (_, email) in directory.supervisors(team) {
                notices.push(Notice {
                    kind: "obligation_breach",
                    recipient: email.clone(),
                    about: o.id.to_string(),
                    due: o.due_on,
                    subject: format!("Care Hub: Victims' Code deadline missed for {hub_ref} ({})", o.rule_code),
                    body: format!(
                        "{hub_ref} (team {team}): {what} ({}) was due by {} and has not been done.\n\n\
                         Open the record in Care Hub: {public_url}/api/v1/victims/{hub_ref}/obligations\n\n\
                         This message holds hub references only. Do not forward it outside the hub.\n",
                        o.rule_code, o.due_on
                    ),
                });
            }
        }
        let issues = chunk
            .iter()
            .filter_map(|o| {
                Some(AutoIssue {
                    victim_id: o.victim_id,
                    case_id: o.case_id,
                    team: teams.get(&o.victim_id)?.clone(),
                    category: "victims_code_deadline_missed",
                    description: format!(
                        "{} ({}) due by {} not done",
                        key_rules.get(&o.rule_code).map_or("", String::as_str),
                        o.rule_code,
                        o.due_on
                    ),
                    code_right: o.rule_code.trim_start_matches('R').split('_').next().and_then(|n| n.parse().ok()),
                    source_key: format!("obligation:{}", o.id),
                })
            })
            .collect();
        let tx = db.begin_write().await?;
        report.escalations_queued += outbox::queue(&tx, &notices, now).await?;
        report.issues_opened += auto_open(&tx, issues, sla, now).await?;
        obligations::Entity::update_many()
            .col_expr(obligations::Column::EscalatedAt, Some(now).into())
            .filter(obligations::Column::Id.is_in(chunk.iter().map(|o| o.id)))
            .exec(&tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// What one person's digest lists.
#[derive(Default)]
struct Digest {
    overdue: Vec<(String, NaiveDate)>,
    due_today: Vec<(String, NaiveDate)>,
    due_soon: Vec<(String, NaiveDate)>,
    obligations: Vec<(String, NaiveDate, String)>,
}

impl Digest {
    fn body(&self, public_url: &str, today: NaiveDate) -> String {
        use std::fmt::Write as _;
        let mut out = format!("Your Care Hub due work for {today}.\n");
        let mut section = |title: &str, items: &[(String, NaiveDate)]| {
            if !items.is_empty() {
                let _ = write!(out, "\n{title} ({}):\n", items.len());
                for (r, d) in items {
                    let _ = writeln!(out, "  {r}  due {d}");
                }
            }
        };
        section("Updates overdue", &self.overdue);
        section("Updates due today", &self.due_today);
        section("Updates due soon", &self.due_soon);
        if !self.obligations.is_empty() {
            let _ = write!(out, "\nVictims' Code deadlines ({}):\n", self.obligations.len());
            for (r, d, rule) in &self.obligations {
                let _ = writeln!(out, "  {r}  {rule}  due {d}");
            }
        }
        let _ = write!(
            out,
            "\nOpen your due work in Care Hub: {public_url}/api/v1/me/due-work\n\n\
             This message holds hub references only. Do not forward it outside the hub.\n"
        );
        out
    }

    fn is_empty(&self) -> bool {
        self.overdue.is_empty() && self.due_today.is_empty() && self.due_soon.is_empty() && self.obligations.is_empty()
    }
}

async fn digests(
    db: &Db,
    cfg: &ReminderConfig,
    directory: &Directory,
    public_url: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> AppResult<()> {
    if reminder_days::Entity::find_by_id((DIGEST_JOB.to_owned(), today)).one(db.read()).await?.is_some() {
        return Ok(());
    }
    let horizon = today + Duration::days(i64::from(cfg.due_soon_days));
    let due: Vec<(Uuid, String, Option<String>, NaiveDate)> = contact_schedule::Entity::find()
        .select_only()
        .columns([
            contact_schedule::Column::VictimId,
            contact_schedule::Column::TeamCode,
            contact_schedule::Column::Caseworker,
            contact_schedule::Column::NextDueOn,
        ])
        .filter(contact_schedule::Column::State.eq(ContactState::Active))
        .filter(contact_schedule::Column::NextDueOn.lte(horizon))
        .into_tuple()
        .all(db.read())
        .await?;
    let open: Vec<(Uuid, NaiveDate, String)> = obligations::Entity::find()
        .select_only()
        .columns([obligations::Column::VictimId, obligations::Column::DueOn, obligations::Column::RuleCode])
        .filter(obligations::Column::Status.eq(ObligationStatus::Open))
        .filter(obligations::Column::DueOn.lte(horizon))
        .into_tuple()
        .all(db.read())
        .await?;
    // Owners of victims with open obligations who are not in the due set.
    let mut owners: HashMap<Uuid, (String, Option<String>)> =
        due.iter().map(|(v, team, cw, _)| (*v, (team.clone(), cw.clone()))).collect();
    let missing: Vec<Uuid> = open.iter().map(|o| o.0).filter(|v| !owners.contains_key(v)).collect();
    for chunk in missing.chunks(BATCH) {
        let rows: Vec<(Uuid, String, Option<String>)> = contact_schedule::Entity::find()
            .select_only()
            .columns([
                contact_schedule::Column::VictimId,
                contact_schedule::Column::TeamCode,
                contact_schedule::Column::Caseworker,
            ])
            .filter(contact_schedule::Column::VictimId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db.read())
            .await?;
        owners.extend(rows.into_iter().map(|(v, t, c)| (v, (t, c))));
    }
    let refs = hub_refs(db.read(), owners.keys().copied().collect()).await?;
    // Recipients: the named caseworker when they are a user; otherwise the team's supervisors.
    let recipients = |victim: &Uuid| -> Vec<(Uuid, String)> {
        let Some((team, caseworker)) = owners.get(victim) else { return Vec::new() };
        match directory.user(caseworker.as_deref()) {
            Some(u) => vec![u.clone()],
            None => directory.supervisors(team).to_vec(),
        }
    };
    let mut by_recipient: BTreeMap<(Uuid, String), Digest> = BTreeMap::new();
    for (victim, _, _, due_on) in &due {
        let Some(hub_ref) = refs.get(victim) else { continue };
        for r in recipients(victim) {
            let d = by_recipient.entry(r).or_default();
            let item = (hub_ref.clone(), *due_on);
            match due_on.cmp(&today) {
                std::cmp::Ordering::Less => d.overdue.push(item),
                std::cmp::Ordering::Equal => d.due_today.push(item),
                std::cmp::Ordering::Greater => d.due_soon.push(item),
            }
        }
    }
    for (victim, due_on, rule) in &open {
        let Some(hub_ref) = refs.get(victim) else { continue };
        for r in recipients(victim) {
            by_recipient.entry(r).or_default().obligations.push((hub_ref.clone(), *due_on, rule.clone()));
        }
    }
    let notices: Vec<Notice> = by_recipient
        .into_iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|((user_id, email), mut d)| {
            d.overdue.sort_by_key(|i| i.1);
            d.due_soon.sort_by_key(|i| i.1);
            d.obligations.sort_by_key(|i| i.1);
            Notice {
                kind: DIGEST_JOB,
                recipient: email,
                about: user_id.to_string(),
                due: today,
                subject: format!(
                    "Care Hub daily digest {today}: {} overdue, {} due today, {} due soon, {} deadlines",
                    d.overdue.len(),
                    d.due_today.len(),
                    d.due_soon.len(),
                    d.obligations.len()
                ),
                body: d.body(public_url, today),
            }
        })
        .collect();
    for chunk in notices.chunks(BATCH) {
        let tx = db.begin_write().await?;
        report.digests_queued += outbox::queue(&tx, chunk, now).await?;
        tx.commit().await?;
    }
    let tx = db.begin_write().await?;
    reminder_days::Entity::insert(
        reminder_days::Model { job: DIGEST_JOB.to_owned(), day: today, done_at: now }.into_active_model(),
    )
    .on_conflict(OnConflict::columns([reminder_days::Column::Job, reminder_days::Column::Day]).do_nothing().to_owned())
    .exec_without_returning(&tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
