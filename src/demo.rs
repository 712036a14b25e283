//! A small synthetic data set so a newcomer can try every endpoint at once. No real person's data.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::agencies::dto::{AgencyInput, NewAgencyReference};
use crate::audit::Actor;
use crate::auth::Principal;
use crate::cases::dto::CaseInput;
use crate::db::Db;
use crate::entities::{agencies, victims};
use crate::teams::dto::TeamInput;
use crate::victims::dto::{ContactInput, CreateParams, VictimInput};
use crate::vocab::{AgencyKind, Channel, LocationType, OffenceGroup, PriorityFlag, RefType, Relationship, Role, Sex};

pub const DEMO_TEAM: &str = "north-hub";
const DEMO_FORCE: &str = "EXAMPLE-POLICE";

const GIVEN: [&str; 12] =
    ["Amira", "Ben", "Chloe", "Dev", "Ewa", "Farah", "George", "Hana", "Isaac", "Jade", "Kofi", "Lena"];
const FAMILY: [&str; 12] = [
    "Ashdown", "Brookes", "Carrow", "Dunmore", "Elston", "Fairley", "Garside", "Holloway", "Ingram", "Jessop",
    "Kirkby", "Lowther",
];
const OFFENCES: [(OffenceGroup, Option<PriorityFlag>, Relationship, LocationType); 6] = [
    (
        OffenceGroup::ViolenceWithInjury,
        Some(PriorityFlag::DomesticAbuse),
        Relationship::PartnerExPartner,
        LocationType::PrivateResidence,
    ),
    (OffenceGroup::Robbery, None, Relationship::Stranger, LocationType::PublicStreet),
    (OffenceGroup::Rape, Some(PriorityFlag::Rape), Relationship::FriendAcquaintance, LocationType::PrivateResidence),
    (OffenceGroup::CriminalDamage, None, Relationship::NotKnown, LocationType::PublicStreet),
    (
        OffenceGroup::StalkingAndHarassment,
        Some(PriorityFlag::Stalking),
        Relationship::PartnerExPartner,
        LocationType::Online,
    ),
    (
        OffenceGroup::PublicOrderOffences,
        Some(PriorityFlag::HateCrime),
        Relationship::Stranger,
        LocationType::PublicTransport,
    ),
];

/// Loads the demo set unless it is already there; returns how many demo victims exist.
pub async fn seed(db: &Db, cfg: &crate::config::ReminderConfig, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let system = Actor { id: "demo-loader".into(), ..Actor::default() };
    let loader = |team: &str| Principal::service("demo-loader", Role::Supervisor, Some(team));
    if agencies::Entity::find().filter(agencies::Column::Code.eq(DEMO_FORCE)).one(db.read()).await?.is_none() {
        for (code, name) in [(DEMO_TEAM, "North Victim Care Hub"), ("south-hub", "South Victim Care Hub")] {
            crate::teams::service::create(
                db,
                &system,
                &TeamInput { code: code.into(), name: name.into(), active: None },
                now,
            )
            .await?;
        }
        for (code, name, kind, parent) in [
            (DEMO_FORCE, "Example Police", AgencyKind::PoliceForce, None),
            ("EXAMPLE-POLICE-N", "Example Police, North BCU", AgencyKind::PoliceBcu, Some(DEMO_FORCE)),
            ("EXAMPLE-POLICE-S", "Example Police, South BCU", AgencyKind::PoliceBcu, Some(DEMO_FORCE)),
            ("CPS-EXAMPLE", "CPS Example Area", AgencyKind::CpsArea, None),
            ("EXAMPLE-CROWN", "Exampletown Crown Court", AgencyKind::Court, None),
            ("EXAMPLE-MAGS", "Exampletown Magistrates' Court", AgencyKind::Court, None),
            ("EXAMPLE-WCU", "Example Witness Care Unit", AgencyKind::WitnessCareUnit, None),
            ("EXAMPLE-PROBATION", "Example Probation Delivery Unit", AgencyKind::Probation, None),
            ("EXAMPLE-SUPPORT", "Example Victim Support Service", AgencyKind::SupportService, None),
        ] {
            let input = AgencyInput {
                code: code.into(),
                name: name.into(),
                kind,
                parent: parent.map(str::to_owned),
                liaison_email: Some(format!("liaison@{}.example", code.to_lowercase())),
                active: None,
            };
            crate::agencies::service::create(db, &system, input, now).await?;
        }
        for i in 0..GIVEN.len() {
            let team = if i % 4 == 3 { "south-hub" } else { DEMO_TEAM };
            seed_victim(db, &loader(team), team, i, cfg, now).await?;
        }
    }
    let count =
        victims::Entity::find().filter(victims::Column::CreatedBy.eq("demo-loader")).all(db.read()).await?.len();
    Ok(count)
}

async fn seed_victim(
    db: &Db,
    loader: &Principal,
    team: &str,
    i: usize,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let dob = NaiveDate::from_ymd_opt(1960 + (i as i32 * 3) % 45, 1 + (i as u32 % 12), 1 + (i as u32 * 7) % 28)
        .expect("date");
    let input = VictimInput {
        given_name: GIVEN[i].into(),
        family_name: FAMILY[i].into(),
        date_of_birth: Some(dob),
        contact: Some(ContactInput {
            phone: Some(format!("07700 900{:03}", 100 + i)),
            email: Some(format!("{}.{}@example.org", GIVEN[i].to_lowercase(), FAMILY[i].to_lowercase())),
            address: None,
            preferred_channel: Some(if i.is_multiple_of(2) { Channel::Phone } else { Channel::Email }),
            restrictions: i.is_multiple_of(5).then(|| "Do not leave voicemail".to_owned()),
        }),
        language: Some(if i % 6 == 4 { "pl".into() } else { "en".into() }),
        interpreter_needed: Some(i % 6 == 4),
        sex: Some(if i.is_multiple_of(2) { Sex::Female } else { Sex::Male }),
        team: Some(team.into()),
        assigned_caseworker: Some(format!("{team}-caseworker-{}", i % 3 + 1)),
        ..VictimInput::default()
    };
    let victim =
        crate::victims::service::create(db, loader, &input, &CreateParams { allow_duplicate: Some(true) }, cfg, now)
            .await?;
    let (offence, flag, relationship, location) = OFFENCES[i % OFFENCES.len()];
    let reported = now.date_naive() - Duration::days(10 + 17 * i as i64);
    let case = CaseInput {
        offence_group: offence,
        offence_description: None,
        priority_flags: Some(flag.into_iter().collect()),
        area: Some(if i.is_multiple_of(2) { "EXAMPLE-POLICE-N".into() } else { "EXAMPLE-POLICE-S".into() }),
        date_reported: reported,
        offence_date: Some(reported - Duration::days(1)),
        relationship: Some(relationship),
        location_type: Some(location),
        status: None,
        closed_on: None,
        role: None,
        agency_references: Some(vec![NewAgencyReference {
            agency: DEMO_FORCE.into(),
            ref_type: RefType::CrimeReference,
            value: format!("CRN-DEMO-{:05}", 100 + i),
        }]),
    };
    crate::cases::service::create(db, loader, &victim.hub_ref, &case, cfg, now).await?;
    Ok(())
}
