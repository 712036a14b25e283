//! `care-hub import`: intake then events, in CSV and JSON Lines. Malformed rows go to the rejects
//! file with their line numbers while the good rows land; an unknown reference waits in the
//! linkage queue; a re-run changes nothing; the journeys equal a rebuild and each new victim's
//! contact schedule equals what the API's refresh computes.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use care_hub::import::{FileKind, ImportFormat, Options, Summary};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

const INTAKE_HEADER: &str = "crime_ref,victim_key,urn,urn_agency,team,given_name,family_name,date_of_birth,sex,\
ethnicity,disability,enhanced_reasons,offence_group,priority_flags,relationship,location_type,area,date_reported,offence_date";

/// Intake: two victims of one crime (with a URN), one of another, and a row naming no real team.
const INTAKE_CSV: &[&str] = &[
    "CR-IMP-1,V1,01AB2345626,TEST-CPS,north-hub,Ada,Importer,1980-02-03,female,white_british,no,vulnerable,\
     violence_with_injury,domestic_abuse,partner_ex_partner,private_residence,TEST-POLICE-N,2026-10-01,2026-09-30",
    "CR-IMP-1,V2,,,north-hub,Bo,Importer,,,,,,violence_with_injury,,,,,2026-10-01,",
    r#"CR-IMP-2,V1,,,north-hub,Cy,"Importer, Jr",,,,,,robbery,,,,,2026-11-10,"#,
    "CR-IMP-3,V1,,,no-such-team,Di,Importer,,,,,,robbery,,,,,2026-11-10,",
];

const EVENTS_HEADER: &str =
    "source_event_id,event_type,occurred_at,received_at,outcome_code,ref_agency,ref_type,ref_value,victim_key";

/// Police events; lines 3, 4, 5 and 9 (of the CSV) cannot be read, line 7 names no case.
const EVENTS_CSV: &[&str] = &[
    "P1,REPORTED,2026-10-01T10:00:00Z,,,TEST-POLICE,crime_reference,CR-IMP-1,",
    "P2,ARREST_INTERVIEW,2026-13-45T10:00:00Z,,,TEST-POLICE,crime_reference,CR-IMP-1,",
    "P3,TELEPATHY,2026-10-03T10:00:00Z,,,TEST-POLICE,crime_reference,CR-IMP-1,",
    "P4,CHARGED,2026-10-04T10:00:00Z,,TEST-POLICE,crime_reference,CR-IMP-1",
    "P5,ARREST_INTERVIEW,2026-11-13T09:00:00Z,,,TEST-POLICE,crime_reference,cr-imp-1,V2",
    "P6,REPORTED,2026-10-05T10:00:00Z,,,TEST-POLICE,crime_reference,CR-NOWHERE,",
    "P7,OUTCOME,2026-11-14T10:00:00Z,,16,TEST-POLICE,crime_reference,CR-IMP-2,",
    r#"P8,"SUPPORT_REFERRED,2026-10-07T10:00:00Z,,,TEST-POLICE,crime_reference,CR-IMP-1,"#,
    "P9,SUPPORT_REFERRED,2026-10-07T11:00:00Z,,,TEST-POLICE,crime_reference,CR-IMP-1,",
];

/// The same events as JSON objects (no header: each sits one line higher).
fn events_jsonl() -> Vec<String> {
    let e = |id: &str, t: &str, at: &str, outcome: Option<&str>, value: &str, key: Option<&str>| {
        json!({"source_event_id": id, "event_type": t, "occurred_at": at, "received_at": null, "outcome_code": outcome,
               "ref_agency": FORCE, "ref_type": "crime_reference", "ref_value": value, "victim_key": key})
        .to_string()
    };
    vec![
        e("P1", "REPORTED", "2026-10-01T10:00:00Z", None, "CR-IMP-1", None),
        e("P2", "ARREST_INTERVIEW", "2026-13-45T10:00:00Z", None, "CR-IMP-1", None),
        e("P3", "TELEPATHY", "2026-10-03T10:00:00Z", None, "CR-IMP-1", None),
        r#"["P4", "CHARGED"]"#.to_owned(),
        e("P5", "ARREST_INTERVIEW", "2026-11-13T09:00:00Z", None, "cr-imp-1", Some("V2")),
        e("P6", "REPORTED", "2026-10-05T10:00:00Z", None, "CR-NOWHERE", None),
        e("P7", "OUTCOME", "2026-11-14T10:00:00Z", Some("16"), "CR-IMP-2", None),
        r#"{"source_event_id": "P8", "event_type": "SUPPORT_REFERRED""#.to_owned(),
        e("P9", "SUPPORT_REFERRED", "2026-10-07T11:00:00Z", None, "CR-IMP-1", None),
    ]
}

/// The intake as JSON objects, lists as arrays.
fn intake_jsonl() -> Vec<String> {
    let header: Vec<&str> = INTAKE_HEADER.split(',').collect();
    INTAKE_CSV
        .iter()
        .map(|line| {
            let mut cells = split_simple_csv(line);
            let mut o = serde_json::Map::new();
            for (name, cell) in header.iter().zip(cells.drain(..)) {
                let v = match (*name, cell.is_empty()) {
                    (_, true) => Value::Null,
                    ("enhanced_reasons" | "priority_flags", false) => json!(cell.split(';').collect::<Vec<_>>()),
                    _ => Value::String(cell),
                };
                o.insert((*name).to_owned(), v);
            }
            Value::Object(o).to_string()
        })
        .collect()
}

/// Cells of one CSV line (`""` inside quotes is a quote).
fn split_simple_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn write(dir: &Path, name: &str, header: Option<&str>, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for l in header.into_iter().map(str::to_owned).chain(lines.iter().cloned()) {
        text.push_str(&l);
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write file");
    path
}

async fn import(app: &TestApp, agency: &str, format: ImportFormat, path: &Path) -> Summary {
    let opts = Options { agency: agency.into(), format, progress: false };
    care_hub::import::import_file(&app.state.db, path, &opts, &app.state.config.reminders, app.clock.now_utc())
        .await
        .expect("the file is readable")
}

/// (line, reason, raw) of a rejects file.
fn rejects(path: &Path) -> Vec<(u64, String, String)> {
    let text = std::fs::read_to_string(path).expect("rejects file");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,reason,raw"));
    lines
        .map(|l| {
            let cells = split_simple_csv(l);
            assert_eq!(cells.len(), 3, "{l}");
            (cells[0].parse().expect("line number"), cells[1].clone(), cells[2].clone())
        })
        .collect()
}

/// Row counts of every table an import writes.
async fn counts(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let db = app.state.db.read();
    let mut out = BTreeMap::new();
    for table in [
        "victims",
        "cases",
        "case_victims",
        "agency_references",
        "contact_schedule",
        "journey_events",
        "journeys",
        "obligations",
        "withdrawal_flags",
        "audit_events",
    ] {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("row");
        out.insert(table, row.try_get::<i64>("", "n").expect("n"));
    }
    out
}

async fn case_id(app: &TestApp, crime_ref: &str) -> String {
    let r = app
        .get(&app.caseworker(), &format!("/api/v1/cases/lookup?agency={FORCE}&type=crime_reference&value={crime_ref}"))
        .await;
    r.assert_status(StatusCode::OK);
    r.body["id"].as_str().expect("case id").to_owned()
}

async fn rules_of(app: &TestApp, hub_ref: &str) -> Vec<String> {
    let r = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub_ref}/obligations")).await;
    r.assert_status(StatusCode::OK);
    let mut rules: Vec<String> =
        r.body.as_array().unwrap().iter().map(|o| o["rule"].as_str().unwrap().to_owned()).collect();
    rules.sort();
    rules
}

/// Loads the intake, the police events and a CPS events file in `format`, then checks what landed.
async fn intake_then_events(app: TestApp, format: ImportFormat) {
    let dir = tempfile::tempdir().unwrap();
    let header_lines = u64::from(format == ImportFormat::Csv);
    let (intake, events, cps) = match format {
        ImportFormat::Csv => {
            let lines = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            (
                write(dir.path(), "intake.csv", Some(INTAKE_HEADER), &lines(INTAKE_CSV)),
                write(dir.path(), "events.csv", Some(EVENTS_HEADER), &lines(EVENTS_CSV)),
                write(
                    dir.path(),
                    "cps.csv",
                    Some(EVENTS_HEADER),
                    &lines(&[
                        "C1,CPS_PRECHARGE,2026-10-06T10:00:00Z,,,TEST-CPS,cps_urn,01AB2345626,",
                        "C2,CHARGED,2026-10-08T10:00:00Z,2026-10-08T12:00:00Z,,TEST-CPS,cps_urn,01 ab 2345626,",
                    ]),
                ),
            )
        }
        ImportFormat::Jsonl => (
            write(dir.path(), "intake.jsonl", None, &intake_jsonl()),
            write(dir.path(), "events.jsonl", None, &events_jsonl()),
            write(
                dir.path(),
                "cps.jsonl",
                None,
                &[
                    json!({"source_event_id": "C1", "event_type": "CPS_PRECHARGE", "occurred_at": "2026-10-06T10:00:00Z",
                           "ref_agency": "TEST-CPS", "ref_type": "cps_urn", "ref_value": "01AB2345626"})
                    .to_string(),
                    json!({"source_event_id": "C2", "event_type": "CHARGED", "occurred_at": "2026-10-08T10:00:00Z",
                           "received_at": "2026-10-08T12:00:00Z", "ref_agency": "TEST-CPS", "ref_type": "cps_urn",
                           "ref_value": "01 ab 2345626"})
                    .to_string(),
                ],
            ),
        ),
    };

    let s = import(&app, FORCE, format, &intake).await;
    assert_eq!(s.kind, FileKind::Intake);
    assert_eq!((s.rows, s.loaded, s.cases_created, s.duplicates, s.rejected), (4, 3, 2, 0, 1), "{s}");
    let bad_team = rejects(s.rejects_file.as_deref().expect("a rejects file"));
    assert_eq!(bad_team.len(), 1);
    assert_eq!(bad_team[0].0, 4 + header_lines);
    assert!(bad_team[0].1.contains("no team has code no-such-team"), "{bad_team:?}");

    let s = import(&app, FORCE, format, &events).await;
    assert_eq!(s.kind, FileKind::Events);
    assert_eq!((s.rows, s.loaded, s.queued, s.duplicates, s.rejected), (9, 4, 1, 0, 4), "{s}");
    let rejected = rejects(s.rejects_file.as_deref().expect("a rejects file"));
    let lines: Vec<u64> = rejected.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 3, 4, 8].map(|l| l + header_lines));
    assert!(rejected[0].1.starts_with("occurred_at:"), "{rejected:?}");
    assert!(rejected[1].1.contains("unknown stage \"TELEPATHY\""), "{rejected:?}");
    match format {
        ImportFormat::Csv => {
            assert_eq!(rejected[2].1, "wrong column count: expected 9 fields, found 7");
            assert_eq!(rejected[2].2, EVENTS_CSV[3]);
            assert_eq!(rejected[3].1, "a quoted field is never closed");
        }
        ImportFormat::Jsonl => {
            assert_eq!(rejected[2].1, "not a JSON object");
            assert!(rejected[3].1.starts_with("not valid JSON"), "{rejected:?}");
        }
    }
    assert_eq!(
        rejected[1].2,
        if format == ImportFormat::Csv { EVENTS_CSV[2].to_owned() } else { events_jsonl()[2].clone() }
    );

    let s = import(&app, "TEST-CPS", format, &cps).await;
    assert_eq!((s.rows, s.loaded, s.queued, s.rejected, s.rejects_file.clone()), (2, 2, 0, 0, None), "{s}");

    // The good rows are in the case's journey, as the API shows it.
    let first = case_id(&app, "CR-IMP-1").await;
    let j = app.get(&app.caseworker(), &format!("/api/v1/cases/{first}/journey")).await;
    j.assert_status(StatusCode::OK);
    let timeline: Vec<&str> =
        j.body["timeline"].as_array().unwrap().iter().map(|e| e["source_event_id"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["P1", "C1", "P9", "C2", "P5"]);
    assert_eq!(j.body["timeline"][0]["case_ref"], "TEST-POLICE/crime_reference/CR-IMP-1");
    assert_eq!(j.body["timeline"][0]["status"], "linked");
    let case = app.get(&app.caseworker(), &format!("/api/v1/cases/{first}")).await;
    case.assert_status(StatusCode::OK);
    let journeys = j.body["journeys"].as_array().unwrap();
    assert_eq!(journeys.len(), 2);
    for journey in journeys {
        assert_eq!(journey["furthest_stage"], "CHARGED");
        assert_eq!(journey["reported_at"], "2026-10-01T10:00:00Z");
        assert_eq!(journey["charged_at"], "2026-10-08T10:00:00Z");
    }
    let stage_of = |hub_ref: &str| {
        journeys.iter().find(|j| j["hub_ref"] == hub_ref).map(|j| j["current_stage"].clone()).unwrap_or_default()
    };

    // Victims, case and references as the intake gave them.
    assert_eq!(case.body["offence_group"], "violence_with_injury");
    assert_eq!(case.body["area"], "TEST-POLICE-N");
    assert_eq!(case.body["priority_flags"], json!(["domestic_abuse"]));
    let refs: Vec<String> = case.body["agency_references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}/{}",
                r["agency"].as_str().unwrap(),
                r["type"].as_str().unwrap(),
                r["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(refs, ["TEST-POLICE/crime_reference/CR-IMP-1", "TEST-CPS/cps_urn/01AB2345626"]);
    let on_case = case.body["victims"].as_array().unwrap();
    assert!(on_case.iter().all(|v| v["linked_by"] == "import:TEST-POLICE" && v["role"] == "victim"));
    let people: Vec<String> = on_case.iter().map(|v| v["hub_ref"].as_str().unwrap().to_owned()).collect();
    let mut by_name = BTreeMap::new();
    for h in &people {
        let v = app.get(&app.caseworker(), &format!("/api/v1/victims/{h}")).await;
        v.assert_status(StatusCode::OK);
        by_name.insert(v.body["given_name"].as_str().unwrap().to_owned(), v.body.clone());
    }
    let ada = &by_name["Ada"];
    assert_eq!(ada["family_name"], "Importer");
    assert_eq!(ada["date_of_birth"], "1980-02-03");
    assert_eq!(ada["enhanced_rights"], true);
    assert_eq!(ada["team"], TEAM);
    let refs: Vec<&str> =
        ada["agency_references"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(refs, ["VK/CR-IMP-1/V1"]);
    let bo = by_name["Bo"]["hub_ref"].as_str().unwrap().to_owned();
    // The arrest concerns only the second victim.
    assert_eq!(stage_of(ada["hub_ref"].as_str().unwrap()), "CHARGED");
    assert_eq!(stage_of(&bo), "ARREST_INTERVIEW");

    // Obligations only where the deadline is still ahead: the historic report (1 October) starts
    // none; the arrest on 13 November concerns Bo; the outcome 16 on 14 November concerns Cy.
    assert_eq!(rules_of(&app, ada["hub_ref"].as_str().unwrap()).await, Vec::<String>::new());
    assert_eq!(rules_of(&app, &bo).await, ["R6_ARREST"]);
    let second = case_id(&app, "CR-IMP-2").await;
    let case2 = app.get(&app.caseworker(), &format!("/api/v1/cases/{second}")).await;
    let cy = case2.body["victims"][0]["hub_ref"].as_str().unwrap().to_owned();
    assert_eq!(rules_of(&app, &cy).await, ["R6_NFA"]);
    let j2 = app.get(&app.caseworker(), &format!("/api/v1/cases/{second}/journey")).await;
    assert_eq!(j2.body["journeys"][0]["withdrawn"], true);
    assert_eq!(j2.body["journeys"][0]["final_outcome"], "16");
    let flags = care_hub::entities::withdrawal_flags::Entity::find().all(app.state.db.read()).await.unwrap();
    assert_eq!(flags.len(), 1, "outcome 16 without evidence raises a flag");

    // The unknown reference waits in the linkage queue, like an API event.
    let queue = app.get(&app.supervisor(), "/api/v1/linkage-exceptions").await;
    queue.assert_status(StatusCode::OK);
    let queued = queue.body.as_array().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["source_event_id"], "P6");
    assert_eq!(queued[0]["status"], "unlinked");
    assert_eq!(queued[0]["case_ref"], "TEST-POLICE/crime_reference/CR-NOWHERE");
    assert_eq!(queued[0]["linkage_reason"], "no case has the reference TEST-POLICE/crime_reference/CR-NOWHERE");

    // Re-running every file changes nothing.
    let before = counts(&app).await;
    let again = import(&app, FORCE, format, &intake).await;
    assert_eq!((again.loaded, again.duplicates, again.rejected, again.cases_created), (0, 3, 1, 0), "{again}");
    let again = import(&app, FORCE, format, &events).await;
    assert_eq!((again.loaded, again.queued, again.duplicates, again.rejected), (0, 0, 5, 4), "{again}");
    let again = import(&app, "TEST-CPS", format, &cps).await;
    assert_eq!((again.loaded, again.duplicates), (0, 2), "{again}");
    assert_eq!(counts(&app).await, before);

    // Journeys are what a rebuild derives; schedules are what the API's refresh computes.
    let db = &app.state.db;
    let kept = care_hub::journeys::service::snapshot(db.read()).await.unwrap();
    care_hub::journeys::service::rebuild(db, app.clock.now_utc()).await.unwrap();
    assert_eq!(care_hub::journeys::service::snapshot(db.read()).await.unwrap(), kept);
    let stored = care_hub::entities::contact_schedule::Entity::find().all(db.read()).await.unwrap();
    assert_eq!(stored.len(), 3);
    let tx = db.begin_write().await.unwrap();
    for s in &stored {
        let fresh =
            care_hub::contacts::schedule::refresh(&*tx, s.victim_id, &app.state.config.reminders, app.clock.now_utc())
                .await
                .unwrap();
        assert_eq!(
            fresh,
            care_hub::entities::contact_schedule::Model { refreshed_at: fresh.refreshed_at, ..s.clone() }
        );
    }
    tx.rollback().await.unwrap();
}

db_test!(csv_intake_then_events_land_and_malformed_rows_are_reported_by_line, |app: TestApp| async move {
    intake_then_events(app, ImportFormat::Csv).await;
});

db_test!(jsonl_files_load_the_same_way, |app: TestApp| async move {
    intake_then_events(app, ImportFormat::Jsonl).await;
});

db_test!(a_file_that_cannot_be_read_is_an_error_and_changes_nothing, |app: TestApp| async move {
    let dir = tempfile::tempdir().unwrap();
    let before = counts(&app).await;
    let opts = |agency: &str, format| Options { agency: agency.into(), format, progress: false };
    let cfg = &app.state.config.reminders;
    let now = app.clock.now_utc();
    let db = &app.state.db;
    let odd = write(dir.path(), "odd.csv", Some("name,when"), &["x,y".to_owned()]);
    let e = care_hub::import::import_file(db, &odd, &opts(FORCE, ImportFormat::Csv), cfg, now).await.unwrap_err();
    assert!(e.to_string().contains("neither an intake extract"), "{e:#}");
    let short = write(dir.path(), "short.csv", Some("source_event_id,event_type"), &[]);
    let e = care_hub::import::import_file(db, &short, &opts(FORCE, ImportFormat::Csv), cfg, now).await.unwrap_err();
    assert!(e.to_string().contains("occurred_at"), "{e:#}");
    let missing = dir.path().join("missing.csv");
    assert!(care_hub::import::import_file(db, &missing, &opts(FORCE, ImportFormat::Csv), cfg, now).await.is_err());
    let events = write(dir.path(), "events.csv", Some(EVENTS_HEADER), &[EVENTS_CSV[0].to_owned()]);
    let e = care_hub::import::import_file(db, &events, &opts("NO-SUCH-AGENCY", ImportFormat::Csv), cfg, now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no agency has code NO-SUCH-AGENCY"), "{e:#}");
    // A file of only unreadable rows loads nothing and says why, line by line.
    let junk = write(dir.path(), "junk.jsonl", None, &["{\"source_event_id\": 1}".to_owned(), "oops".to_owned()]);
    let s = import(&app, FORCE, ImportFormat::Jsonl, &junk).await;
    assert_eq!((s.rows, s.loaded, s.rejected), (2, 0, 2), "{s}");
    let r = rejects(s.rejects_file.as_deref().unwrap());
    assert_eq!(r[0].0, 1);
    assert_eq!(r[0].1, "event_type is required");
    assert_eq!(r[1].0, 2);
    assert_eq!(counts(&app).await, before);
});

db_test!(an_event_repeated_in_a_later_batch_counts_once_on_a_first_load_and_after, |app: TestApp| async move {
    // A batch is 10,000 rows, and the import makes each batch ready while the one before is
    // written, so a repeat in the next batch is not yet stored when its batch looks: the insert
    // catches it and the journey is recomputed from what is stored. On an agency's first load
    // nothing is looked up before inserting; on a later one, events stored by an earlier file are.
    let dir = tempfile::tempdir().unwrap();
    let intake = write(dir.path(), "intake.csv", Some(INTAKE_HEADER), &[INTAKE_CSV[2].to_owned()]);
    import(&app, FORCE, ImportFormat::Csv, &intake).await;
    let event =
        |i: usize, stage: &str| format!("E{i},{stage},2026-11-10T10:00:00Z,,,{FORCE},crime_reference,CR-IMP-2,");
    let mut first: Vec<String> = (0..10_000).map(|i| event(i, "SUPPORT_REFERRED")).collect();
    first.push(event(0, "CHARGED")); // the same event id again: the first one counts
    first.push(event(10_001, "ARREST_INTERVIEW"));
    let events = write(dir.path(), "events.csv", Some(EVENTS_HEADER), &first);
    let s = import(&app, FORCE, ImportFormat::Csv, &events).await;
    assert_eq!((s.rows, s.loaded, s.duplicates, s.rejected), (10_002, 10_001, 1, 0), "{s}");

    let mut second: Vec<String> = (20_000..30_000).map(|i| event(i, "SUPPORT_REFERRED")).collect();
    second.push(event(20_000, "CHARGED")); // in this file's first batch, not yet committed
    second.push(event(5, "CHARGED")); // stored by the first file
    let events = write(dir.path(), "more.csv", Some(EVENTS_HEADER), &second);
    let s = import(&app, FORCE, ImportFormat::Csv, &events).await;
    assert_eq!((s.rows, s.loaded, s.duplicates, s.rejected), (10_002, 10_000, 2, 0), "{s}");

    let db = &app.state.db;
    let kept = care_hub::journeys::service::snapshot(db.read()).await.unwrap();
    assert_eq!(kept.len(), 1);
    let journey = kept.values().next().unwrap();
    assert_eq!(journey.event_count, 20_001, "{journey:?}");
    assert_eq!(journey.charged_at, None, "no repeat landed: {journey:?}");
    care_hub::journeys::service::rebuild(db, app.clock.now_utc()).await.unwrap();
    assert_eq!(care_hub::journeys::service::snapshot(db.read()).await.unwrap(), kept);
});
