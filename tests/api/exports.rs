//! The pseudonymised linked extract: one row per journey, matching the journeys; pseudonyms
//! consistent within an export and unrelated between two; nothing identifying in the bytes; CSV
//! and Parquet alike; analysts only; every export on the audit trail.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use care_hub::entities::{agency_references, audit_events, cases, journeys, victims};
use care_hub::vocab::{AuditAction, Role};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use http_body_util::BodyExt;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;
use tower::ServiceExt;

use crate::common::*;
use crate::db_test;

const PATH: &str = "/api/v1/exports/linked-journeys";

/// The raw bytes of a GET, with its status and headers.
async fn fetch(app: &TestApp, token: &str, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// An extract's rows as column name → text (CSV's empty cell and Parquet's null are both "").
type Rows = Vec<BTreeMap<String, String>>;

fn csv_rows(bytes: &[u8]) -> Rows {
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
        .collect()
}

/// Parquet read back with the parquet crate's own reader, each value written as the CSV has it.
fn parquet_rows(bytes: Vec<u8>) -> Rows {
    let reader = SerializedFileReader::new(axum::body::Bytes::from(bytes)).expect("a readable Parquet file");
    let rows = reader.get_row_iter(None).unwrap();
    rows.map(|row| {
        row.unwrap()
            .get_column_iter()
            .map(|(name, field)| {
                let text = match field {
                    Field::Null => String::new(),
                    Field::Str(s) => s.clone(),
                    Field::Bool(b) => b.to_string(),
                    Field::Long(n) => n.to_string(),
                    Field::Date(d) => NaiveDate::from_num_days_from_ce_opt(d + 719_163).unwrap().to_string(),
                    Field::TimestampMicros(us) => DateTime::<Utc>::from_timestamp_micros(*us)
                        .unwrap()
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    other => panic!("{name}: unexpected Parquet value {other:?}"),
                };
                (name.clone(), text)
            })
            .collect()
    })
    .collect()
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)).unwrap_or_default()
}

/// The age band at the report date, computed here from the birth date.
fn age_band(dob: Option<NaiveDate>, reported: NaiveDate) -> String {
    let Some(dob) = dob else { return "unknown".into() };
    let mut age = reported.year() - dob.year();
    if (reported.month(), reported.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    let band = match age {
        ..16 => "0_15",
        16..18 => "16_17",
        18..25 => "18_24",
        25..35 => "25_34",
        35..45 => "35_44",
        45..55 => "45_54",
        55..65 => "55_64",
        65..75 => "65_74",
        _ => "75_plus",
    };
    band.into()
}

/// What each journey should look like in the extract, without its pseudonyms.
const COMPARED: [&str; 12] = [
    "area",
    "offence_group",
    "sex",
    "age_band",
    "reported_on",
    "reported_at",
    "charged_at",
    "withdrawn",
    "withdrawal_phase",
    "flow_path",
    "trial_result",
    "final_outcome",
];

struct World {
    journeys: Vec<journeys::Model>,
    cases: HashMap<uuid::Uuid, cases::Model>,
    victims: HashMap<uuid::Uuid, victims::Model>,
    references: Vec<String>,
}

impl World {
    fn expected(&self, keep: impl Fn(&journeys::Model) -> bool) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = self
            .journeys
            .iter()
            .filter(|j| keep(j))
            .map(|j| {
                let (c, v) = (&self.cases[&j.case_id], &self.victims[&j.victim_id]);
                vec![
                    c.area_code.clone().unwrap_or_default(),
                    c.offence_group.as_str(),
                    v.sex.map(care_hub::vocab::Sex::as_str).unwrap_or_default(),
                    age_band(v.date_of_birth, c.date_reported),
                    c.date_reported.to_string(),
                    time(j.reported_at),
                    time(j.charged_at),
                    j.withdrawn.to_string(),
                    j.withdrawal_phase.clone().unwrap_or_default(),
                    j.flow_path.clone().unwrap_or_default(),
                    j.trial_result.clone().unwrap_or_default(),
                    j.final_outcome.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.sort();
        out
    }
}

fn seen(rows: &Rows) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = rows.iter().map(|r| COMPARED.iter().map(|c| r[*c].clone()).collect()).collect();
    out.sort();
    out
}

/// Generated victims and journeys, with the contact details and free text the generator leaves
/// out filled in, so the extract has them to leave out too.
async fn world(app: &TestApp, victims_n: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    care_hub::generate::generate(victims_n, 5, dir.path()).unwrap();
    care_hub::import::run_generated(&app.state.db, dir.path(), &app.state.config.reminders, app.clock.now_utc())
        .await
        .unwrap();
    let db = app.state.db.read();
    for (i, v) in victims::Entity::find().all(db).await.unwrap().into_iter().enumerate() {
        let mut m = v.into_active_model();
        m.email = Set(Some(format!("person.{i}@example.org")));
        m.phone = Set(Some(format!("07700 9{i:05}")));
        m.address_line1 = Set(Some(format!("{i} Imaginary Road")));
        m.address_postcode = Set(Some(format!("ZZ9 {i}XX")));
        m.communication_needs = Set(Some(format!("Free text about needs {i}")));
        m.update(db).await.unwrap();
    }
    for c in cases::Entity::find().all(db).await.unwrap() {
        let mut m = c.into_active_model();
        m.offence_description = Set(Some("Free text describing the offence".into()));
        m.update(db).await.unwrap();
    }
    World {
        journeys: journeys::Entity::find().all(db).await.unwrap(),
        cases: cases::Entity::find().all(db).await.unwrap().into_iter().map(|c| (c.id, c)).collect(),
        victims: victims::Entity::find().all(db).await.unwrap().into_iter().map(|v| (v.id, v)).collect(),
        references: agency_references::Entity::find().all(db).await.unwrap().into_iter().map(|r| r.value).collect(),
    }
}

/// Strings that must not appear in an extract, and the birth dates that can be checked (those
/// that are not also some journey's date, which may appear).
fn identifying(w: &World) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    for v in w.victims.values() {
        out.extend([v.given_name.clone(), v.family_name.clone(), v.hub_ref.clone(), v.id.to_string()]);
        out.extend(v.id.simple().to_string().get(..12).map(str::to_owned));
        out.extend(
            [&v.email, &v.phone, &v.address_line1, &v.address_postcode, &v.communication_needs]
                .into_iter()
                .flatten()
                .cloned(),
        );
    }
    for c in w.cases.values() {
        out.push(c.id.to_string());
        out.extend(c.offence_description.clone());
    }
    out.extend(w.references.iter().cloned());
    let dates: BTreeSet<String> = w
        .journeys
        .iter()
        .flat_map(|j| {
            [
                j.reported_at,
                j.charged_at,
                j.arrested_at,
                j.decision_at,
                j.first_hearing_at,
                j.trial_listed_at,
                j.trial_started_at,
                j.court_outcome_at,
                j.verdict_at,
                j.sentenced_at,
                j.ended_at,
                j.support_referred_at,
                j.cps_referred_at,
                j.withdrawn_at,
            ]
        })
        .flatten()
        .map(|t| t.date_naive().to_string())
        .chain(w.cases.values().map(|c| c.date_reported.to_string()))
        .collect();
    let births = w
        .victims
        .values()
        .filter_map(|v| v.date_of_birth)
        .map(|d| d.to_string())
        .filter(|d| !dates.contains(d))
        .collect();
    (out, births)
}

fn assert_nothing_identifying(text: &str, w: &World, what: &str) {
    let (strings, births) = identifying(w);
    let with_birth = w.victims.values().filter(|v| v.date_of_birth.is_some()).count();
    assert!(with_birth > 0 && births.len() * 10 >= with_birth * 9, "most birth dates are checkable");
    for s in strings.iter().chain(&births) {
        assert!(!text.contains(s.as_str()), "{what}: {s:?} appears in the extract");
    }
    if what != "parquet bytes" {
        // Compressed binary holds any byte; its decoded values are checked apart.
        assert!(!text.contains('@'), "{what}: no email address");
    }
}

db_test!(linked_extract_matches_the_journeys_and_identifies_no_one, |app: TestApp| async move {
    let w = world(&app, 250).await;
    let analyst = app.token(Role::Analyst, None, None);
    // A withdrawal on record for one journey, with evidence: its reasons and "evidenced" go out,
    // its evidence reference and notes do not.
    let withdrawn = w.journeys.iter().find(|j| j.withdrawn).expect("some generated victims withdrew");
    let victim = &w.victims[&withdrawn.victim_id];
    let caseworker = app.token(Role::Caseworker, Some("gen-hub"), None);
    app.post(
        &caseworker,
        &format!("/api/v1/cases/{}/withdrawals", withdrawn.case_id),
        json!({"victim": victim.hub_ref, "withdrawn_on": "2026-06-01", "reasons": ["lack_of_updates", "delay"],
               "evidence": [{"type": "withdrawal_statement", "reference": "MG11-SECRET-REF"}],
               "confirmed_with_victim": false, "notes": "Private note about the withdrawal"}),
    )
    .await
    .assert_status(StatusCode::CREATED);

    let (status, headers, csv_bytes) = fetch(&app, &analyst, PATH).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(headers["x-row-count"].to_str().unwrap(), w.journeys.len().to_string());
    let csv_text = String::from_utf8(csv_bytes.clone()).unwrap();
    let csv = csv_rows(&csv_bytes);
    assert_eq!(csv.len(), w.journeys.len(), "one row per journey");
    assert_eq!(seen(&csv), w.expected(|_| true), "the rows are the journeys");
    assert_nothing_identifying(&csv_text, &w, "csv");
    for forbidden in ["MG11-SECRET-REF", "Private note", "Free text"] {
        assert!(!csv_text.contains(forbidden), "{forbidden}");
    }
    let with_record: Vec<&BTreeMap<String, String>> =
        csv.iter().filter(|r| !r["withdrawal_reasons"].is_empty()).collect();
    assert_eq!(with_record.len(), 1);
    assert_eq!(with_record[0]["withdrawal_reasons"], "delay;lack_of_updates");
    assert_eq!(with_record[0]["withdrawal_evidenced"], "true");
    assert_eq!(csv.iter().filter(|r| r["withdrawal_evidenced"].is_empty()).count(), csv.len() - 1);

    // Pseudonyms: one per victim and one per case, each journey its own pair.
    let victims_seen: BTreeSet<&str> = csv.iter().map(|r| r["victim_pseudonym"].as_str()).collect();
    let cases_seen: BTreeSet<&str> = csv.iter().map(|r| r["case_pseudonym"].as_str()).collect();
    let pairs: BTreeSet<(&str, &str)> =
        csv.iter().map(|r| (r["victim_pseudonym"].as_str(), r["case_pseudonym"].as_str())).collect();
    let victim_ids: BTreeSet<uuid::Uuid> = w.journeys.iter().map(|j| j.victim_id).collect();
    let case_ids: BTreeSet<uuid::Uuid> = w.journeys.iter().map(|j| j.case_id).collect();
    assert_eq!((victims_seen.len(), cases_seen.len(), pairs.len()), (victim_ids.len(), case_ids.len(), csv.len()));
    assert!(victims_seen.iter().chain(&cases_seen).all(|p| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit())));
    assert!(victims_seen.is_disjoint(&cases_seen));

    // Parquet: the same rows, under other pseudonyms (a new key), nothing identifying in any value.
    let (status, headers, pq_bytes) = fetch(&app, &analyst, &format!("{PATH}?format=parquet")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/vnd.apache.parquet");
    assert!(pq_bytes.starts_with(b"PAR1") && pq_bytes.ends_with(b"PAR1"));
    let pq = parquet_rows(pq_bytes.clone());
    assert_eq!(pq.len(), w.journeys.len());
    assert_eq!(seen(&pq), w.expected(|_| true));
    let every_value: String = pq.iter().flat_map(|r| r.values().cloned()).collect::<Vec<_>>().join("\n");
    assert_nothing_identifying(&every_value, &w, "parquet values");
    assert_nothing_identifying(&String::from_utf8_lossy(&pq_bytes), &w, "parquet bytes");
    assert_eq!(
        pq.iter().map(|r| r.keys().cloned().collect::<Vec<_>>()).next(),
        csv_rows(&csv_bytes).first().map(|r| r.keys().cloned().collect())
    );
    let pq_victims: BTreeSet<&str> = pq.iter().map(|r| r["victim_pseudonym"].as_str()).collect();
    assert_eq!(pq_victims.len(), victims_seen.len());
    assert!(pq_victims.is_disjoint(&victims_seen), "two exports cannot be linked by pseudonym");
    // Within an export a pseudonym always stands for the same journey's victim: match rows by
    // everything else and the pseudonyms line up one to one.
    let second = csv_rows(&fetch(&app, &analyst, PATH).await.2);
    let by_content = |rows: &Rows| -> BTreeMap<Vec<String>, Vec<String>> {
        let mut m: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        for r in rows {
            let key: Vec<String> =
                r.iter().filter(|(k, _)| !k.ends_with("pseudonym")).map(|(_, v)| v.clone()).collect();
            m.entry(key).or_default().push(r["victim_pseudonym"].clone());
        }
        m
    };
    let (a, b) = (by_content(&csv), by_content(&second));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a.values().zip(b.values()).all(|(x, y)| x.len() == y.len() && x.iter().all(|p| !y.contains(p))));

    // Filters are the reports': an offence group and an area give exactly their journeys.
    let group = w.cases.values().next().unwrap().offence_group;
    let (_, _, some) = fetch(&app, &analyst, &format!("{PATH}?offence_group={}", group.as_str())).await;
    let some = csv_rows(&some);
    assert!(!some.is_empty() && some.len() < csv.len());
    assert_eq!(seen(&some), w.expected(|j| w.cases[&j.case_id].offence_group == group));

    // The disclosure is on the trail: layout, rows, format and filters; never a key.
    let trail = audit_events::Entity::find().all(app.state.db.read()).await.unwrap();
    let exports: Vec<&audit_events::Model> =
        trail.iter().filter(|e| e.action == AuditAction::Export && e.resource_type == "linked_journeys").collect();
    assert_eq!(exports.len(), 4, "every export is recorded");
    let filtered = exports.iter().find(|e| e.fields.0.iter().any(|f| f.starts_with("offence_group="))).unwrap();
    assert_eq!(filtered.fields.0[0], "linked_journeys_pseudonymised");
    assert_eq!(filtered.fields.0[1], format!("rows={}", some.len()));
    assert_eq!(filtered.fields.0[2], "format=csv");
    assert_eq!(filtered.actor_role.as_deref(), Some("analyst"));
    assert!(exports.iter().any(|e| e.fields.0.contains(&"format=parquet".to_owned())));
    for e in &exports {
        assert!(e.fields.0.iter().all(|f| f.len() < 60), "no key material: {:?}", e.fields);
    }
});

db_test!(only_analysts_may_take_the_linked_extract, |app: TestApp| async move {
    for token in [app.caseworker(), app.supervisor(), app.admin(), app.token(Role::AgencyLiaison, None, Some(FORCE))] {
        app.get(&token, PATH).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let analyst = app.token(Role::Analyst, None, None);
    app.get(&analyst, &format!("{PATH}?by=area")).await.assert_status(StatusCode::BAD_REQUEST);
    app.get(&analyst, &format!("{PATH}?format=xlsx")).await.assert_status(StatusCode::BAD_REQUEST);
    app.get(&analyst, &format!("{PATH}?from=2026-02-01&to=2026-01-01")).await.assert_status(StatusCode::BAD_REQUEST);
    // Nothing was disclosed, so nothing is recorded as an export.
    let trail = audit_events::Entity::find().all(app.state.db.read()).await.unwrap();
    assert!(!trail.iter().any(|e| e.action == AuditAction::Export));
    // An empty extract is a header (CSV) or a valid file with no rows (Parquet).
    let (status, _, bytes) = fetch(&app, &analyst, PATH).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_rows(&bytes).len(), 0);
    assert!(String::from_utf8(bytes).unwrap().starts_with("victim_pseudonym,case_pseudonym,"));
    let (_, _, bytes) = fetch(&app, &analyst, &format!("{PATH}?format=parquet")).await;
    assert_eq!(parquet_rows(bytes).len(), 0);
});
