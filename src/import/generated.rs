//! Loading what `care-hub generate` writes: its agencies and team, then its four files in order.
use std::io::IsTerminal;
use std::path::Path;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{ImportFormat, Options, Summary, import_file};
use crate::agencies::dto::AgencyInput;
use crate::config::ReminderConfig;
use crate::db::Db;
use crate::entities::{agencies, teams};
use crate::teams::dto::TeamInput;
use crate::vocab::AgencyKind;

/// The hub team generated victims belong to.
pub const GENERATED_TEAM: &str = "gen-hub";

/// The generator's agencies: code, name, kind, parent.
pub const GENERATED_AGENCIES: &[(&str, &str, AgencyKind, Option<&str>)] = &[
    ("GEN-POLICE", "Generated Police", AgencyKind::PoliceForce, None),
    ("GEN-POLICE-N", "Generated Police, North BCU", AgencyKind::PoliceBcu, Some("GEN-POLICE")),
    ("GEN-POLICE-S", "Generated Police, South BCU", AgencyKind::PoliceBcu, Some("GEN-POLICE")),
    ("GEN-POLICE-E", "Generated Police, East BCU", AgencyKind::PoliceBcu, Some("GEN-POLICE")),
    ("GEN-POLICE-W", "Generated Police, West BCU", AgencyKind::PoliceBcu, Some("GEN-POLICE")),
    ("GEN-POLICE-C", "Generated Police, Central BCU", AgencyKind::PoliceBcu, Some("GEN-POLICE")),
    ("GEN-CPS", "Generated CPS Area", AgencyKind::CpsArea, None),
    ("GEN-COURT", "Generated Court", AgencyKind::Court, None),
];

/// The files in load order, with the agency each comes from.
const FILES: [(&str, &str); 4] = [
    ("police-intake.csv", "GEN-POLICE"),
    ("police-events.csv", "GEN-POLICE"),
    ("cps-events.csv", "GEN-CPS"),
    ("court-events.csv", "GEN-COURT"),
];

/// Creates the generator's agencies and team when missing, then imports `DIR/police-intake.csv`,
/// `police-events.csv`, `cps-events.csv` and `court-events.csv`. Idempotent.
pub async fn run_generated(
    db: &Db,
    dir: &Path,
    reminders: &ReminderConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Summary>> {
    let system = crate::audit::Actor { id: "import:generated".into(), ..Default::default() };
    if teams::Entity::find().filter(teams::Column::Code.eq(GENERATED_TEAM)).one(db.read()).await?.is_none() {
        let team = TeamInput { code: GENERATED_TEAM.into(), name: "Generated Victim Care Hub".into(), active: None };
        crate::teams::service::create(db, &system, &team, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for (code, name, kind, parent) in GENERATED_AGENCIES {
        if agencies::Entity::find().filter(agencies::Column::Code.eq(*code)).one(db.read()).await?.is_some() {
            continue;
        }
        let input = AgencyInput {
            code: (*code).into(),
            name: (*name).into(),
            kind: *kind,
            parent: parent.map(str::to_owned),
            liaison_email: None,
            active: None,
        };
        crate::agencies::service::create(db, &system, input, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut out = Vec::with_capacity(FILES.len());
    for (file, agency) in FILES {
        let opts =
            Options { agency: agency.into(), format: ImportFormat::Csv, progress: std::io::stderr().is_terminal() };
        out.push(import_file(db, &dir.join(file), &opts, reminders, now).await?);
    }
    Ok(out)
}
