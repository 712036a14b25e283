//! The monthly board packs: for each configured area, the previous calendar month's HTML pack
//! (cases reported in that month), queued through the outbox to the area's distribution list.
//! Idempotent through the outbox's dedupe key (recipient | `board_pack` | area | first day of the
//! month): a second run, or another replica ticking at the same time, queues nothing more, and a
//! run that finds every recipient already queued does not build the pack at all.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::{BoardFormat, BoardPackParams};
use crate::auth::Principal;
use crate::clock::london_date;
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::mail::Attachment;
use crate::reminders::outbox::{self, Notice};
use crate::reports::facts::FactCache;
use crate::vocab::Role;

/// The actor the job's report calls are audited as.
pub const ACTOR: &str = "system:board-pack";
pub const KIND: &str = "board_pack";

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The month the packs cover.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Packs built (areas with a recipient not yet queued).
    pub built: u64,
    /// Emails queued.
    pub queued: u64,
}

/// The calendar month before the one `today` falls in.
#[must_use]
pub fn previous_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let this_month = today.with_day(1).unwrap_or(today);
    let last = this_month - Duration::days(1);
    (last.with_day(1).unwrap_or(last), last)
}

/// Builds and queues the previous month's pack for every configured area that still needs it.
pub async fn run(db: &Db, facts: &FactCache, config: &Config, now: DateTime<Utc>) -> AppResult<RunReport> {
    let (from, to) = previous_month(london_date(now));
    let mut report = RunReport { from: Some(from), to: Some(to), ..RunReport::default() };
    for (area, recipients) in &config.board_packs.areas {
        let subject = format!("Board pack: {area}, cases reported {from} to {to}");
        let notices: Vec<Notice> = recipients
            .iter()
            .map(|r| Notice {
                kind: KIND,
                recipient: r.clone(),
                about: area.clone(),
                due: from,
                subject: subject.clone(),
                body: format!(
                    "The victim attrition board pack for {area}, for cases reported from {from} to {to}, is \
                     attached as one HTML page: open it in a web browser, and print it from there if you need \
                     paper.\n\nIt holds aggregates only; counts from 1 to {} are withheld, with any figure that \
                     would reveal one.\n\nCare Hub\n",
                    config.suppression_threshold
                ),
            })
            .collect();
        let done = outbox::queued_keys(db.read(), notices.iter().map(Notice::dedupe_key).collect()).await?;
        let missing: Vec<Notice> = notices.into_iter().filter(|n| !done.contains(&n.dedupe_key())).collect();
        if missing.is_empty() {
            continue;
        }
        let params = BoardPackParams {
            from: Some(from),
            to: Some(to),
            area: Some(area.clone()),
            format: Some(BoardFormat::Html),
            ..BoardPackParams::default()
        };
        let actor = Principal::service(ACTOR, Role::Admin, None);
        let pack = super::pack(db, facts, &actor, &params, config.suppression_threshold, now).await?;
        report.built += 1;
        let attachment = Attachment {
            filename: pack.filename,
            content_type: pack.content_type.to_owned(),
            body: String::from_utf8(pack.bytes)
                .map_err(|e| AppError::internal(anyhow::anyhow!("the HTML pack is not UTF-8: {e}")))?,
        };
        let tx = db.begin_write().await?;
        report.queued += outbox::queue_with(&tx, &missing, Some(&attachment), now).await?;
        tx.commit().await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_month_is_the_whole_calendar_month_before() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(previous_month(d("2026-12-01")), (d("2026-11-01"), d("2026-11-30")));
        assert_eq!(previous_month(d("2027-01-15")), (d("2026-12-01"), d("2026-12-31")));
        assert_eq!(previous_month(d("2028-03-31")), (d("2028-02-01"), d("2028-02-29")));
    }
}
