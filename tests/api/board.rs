//! The compliance report and the board pack on generated data: every compliance figure checked
//! against a computation written separately here (from the generator's extracts, and plain
//! queries of what the test itself added), small numbers never surviving; the pack in each format.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use axum::http::StatusCode;
use care_hub::entities::{agency_references, contact_schedule, contacts, obligation_rules, obligations};
use care_hub::entities::{service_issues, victims, withdrawals};
use care_hub::reports::facts::FactCache;
use care_hub::vocab::{
    Channel, ContactDirection, ContactKind, ContactOutcome, IssueStatus, ObligationStatus, RaisedBy, RefType, Role,
    Severity, WithdrawalReason, WithdrawalStatus,
};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::common::*;
use crate::db_test;

const THRESHOLD: u64 = 5;

/// One crime as the intake extract records it.
#[derive(Debug, Default)]
#[expect(clippy::struct_excessive_bools, reason = "one flag per fact the extracts record")]
struct Intake {
    area: String,
    sex_missing: bool,
    ethnicity_missing: bool,
    relationship_missing: bool,
    /// A victim-does-not-support outcome (14 or 16) is among its events.
    does_not_support: bool,
    /// A needs assessment is among its events.
    assessed: bool,
}

fn extracts(dir: &Path) -> BTreeMap<String, Intake> {
    let mut out: BTreeMap<String, Intake> = BTreeMap::new();
    let mut by_urn: HashMap<String, String> = HashMap::new();
    let mut intake = csv::Reader::from_path(dir.join("police-intake.csv")).unwrap();
    let h = intake.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (cr, urn, sex, eth, rel, area) =
        (col("crime_ref"), col("urn"), col("sex"), col("ethnicity"), col("relationship"), col("area"));
    for r in intake.records() {
        let r = r.unwrap();
        out.insert(
            r[cr].to_owned(),
            Intake {
                area: r[area].to_owned(),
                sex_missing: r[sex].is_empty(),
                ethnicity_missing: r[eth].is_empty(),
                relationship_missing: r[rel].is_empty(),
                does_not_support: false,
                assessed: false,
            },
        );
        if !r[urn].is_empty() {
            by_urn.insert(r[urn].to_owned(), r[cr].to_owned());
        }
    }
    for file in ["police-events.csv", "cps-events.csv", "court-events.csv"] {
        for r in csv::Reader::from_path(dir.join(file)).unwrap().records() {
            let r = r.unwrap();
            let (event_type, outcome, ref_type, value) = (&r[1], &r[4], &r[6], &r[7]);
            let key = if ref_type == "cps_urn" { by_urn[value].clone() } else { value.to_owned() };
            let t = out.get_mut(&key).unwrap();
            t.does_not_support |= outcome == "14" || outcome == "16";
            t.assessed |= event_type == "NEEDS_ASSESSED";
        }
    }
    out
}

async fn load(app: &TestApp, victims: u64) -> (tempfile::TempDir, BTreeMap<String, Intake>) {
    let dir = tempfile::tempdir().unwrap();
    care_hub::generate::generate(victims, 7, dir.path()).unwrap();
    care_hub::import::run_generated(&app.state.db, dir.path(), &app.state.config.reminders, app.clock.now_utc())
        .await
        .unwrap();
    let e = extracts(dir.path());
    (dir, e)
}

/// The case (and its one victim) a crime reference names.
async fn journey_of(app: &TestApp, crime_ref: &str) -> (Uuid, Uuid) {
    let db = app.state.db.read();
    let r = agency_references::Entity::find()
        .filter(agency_references::Column::RefType.eq(RefType::CrimeReference))
        .filter(agency_references::Column::Value.eq(crime_ref))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let case_id = r.case_id.unwrap();
    let victim: Uuid = care_hub::entities::case_victims::Entity::find()
        .filter(care_hub::entities::case_victims::Column::CaseId.eq(case_id))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .victim_id;
    (case_id, victim)
}

/// A measure as the report must show it: the denominator withheld when small, the numerator when
/// it or the rest of the denominator is small.
#[track_caller]
fn check(body: &Value, code: &str, num: u64, den: u64) {
    let m = body["measures"].as_array().unwrap().iter().find(|m| m["measure"] == code).unwrap();
    let small = |n: u64| (1..=THRESHOLD).contains(&n);
    if small(den) {
        assert!(m["denominator"].is_null(), "{code}: denominator {den} must be withheld: {m}");
    } else {
        assert_eq!(m["denominator"].as_u64(), Some(den), "{code} denominator: {m}");
    }
    if small(num) || small(den - num) || small(den) {
        assert!(m["numerator"].is_null(), "{code}: {num} of {den} must be withheld: {m}");
        assert!(m["rate"].is_null());
    } else {
        assert_eq!(m["numerator"].as_u64(), Some(num), "{code} numerator: {m}");
        if den >= 20 {
            let rate = m["rate"].as_f64().unwrap();
            assert!((rate - num as f64 / den as f64).abs() < 1e-12, "{code}");
            assert!(m["ci_low"].as_f64().unwrap() <= rate + 1e-12 && m["ci_high"].as_f64().unwrap() >= rate - 1e-12);
        }
    }
}

fn day(d: NaiveDate, hour: u32) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
}

db_test!(compliance_figures_equal_an_independent_count, |app: TestApp| async move {
    let (_dir, truth) = load(&app, 600).await;
    let db = &app.state.db;
    let imported = app.clock.now_utc();
    let start = care_hub::clock::london_date(imported);

    // Withdrawal records on journeys with a 14/16 outcome: 4 with evidence, 3 confirmed with the
    // victim, 2 with neither, 1 evidenced but rejected; and one evidenced on a journey without.
    let dns: Vec<&String> = truth.iter().filter(|(_, t)| t.does_not_support).map(|(k, _)| k).collect();
    let other: Vec<&String> = truth.iter().filter(|(_, t)| !t.does_not_support).map(|(k, _)| k).collect();
    assert!(dns.len() > 30, "the sample has victims who did not support action: {}", dns.len());
    let evidence = serde_json::json!([{"type": "withdrawal_statement", "reference": "MG11-1"}]);
    let plan: Vec<(&String, bool, bool, WithdrawalStatus)> = (0..10)
        .map(|i| {
            let (evidenced, confirmed, status) = match i {
                0..4 => (true, false, WithdrawalStatus::Approved),
                4..7 => (false, true, WithdrawalStatus::Pending),
                7..9 => (false, false, WithdrawalStatus::Pending),
                _ => (true, false, WithdrawalStatus::Rejected),
            };
            (dns[i], evidenced, confirmed, status)
        })
        .chain([(other[0], true, true, WithdrawalStatus::Approved)])
        .collect();
    for (crime_ref, evidenced, confirmed, status) in plan {
        let (case_id, victim_id) = journey_of(&app, crime_ref).await;
        let row = withdrawals::Model {
            id: Uuid::now_v7(),
            case_id,
            victim_id,
            withdrawn_on: start,
            stage: "INVESTIGATION".into(),
            reasons: withdrawals::Reasons(vec![WithdrawalReason::Other]),
            felt_pressured: None,
            evidence: serde_json::from_value(if evidenced { evidence.clone() } else { serde_json::json!([]) }).unwrap(),
            confirmed_with_victim: confirmed,
            notes: None,
            status,
            recorded_by: "test".into(),
            recorded_at: imported,
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
            version: 1,
        };
        withdrawals::Entity::insert(row.into_active_model()).exec(db.read()).await.unwrap();
    }
    let expected_evidenced = 7;

    // Needs assessments recorded for 9 victims.
    for crime_ref in truth.keys().take(9) {
        let (_, victim_id) = journey_of(&app, crime_ref).await;
        let mut v = victims::Entity::find_by_id(victim_id).one(db.read()).await.unwrap().unwrap().into_active_model();
        v.needs_assessed_on = Set(Some(start));
        v.update(db.read()).await.unwrap();
    }

    // Service issues: 7 resolved by their target, 4 resolved late, 2 open past it, 1 not yet due.
    let now = imported + Duration::days(30);
    let today = care_hub::clock::london_date(now);
    for (i, crime_ref) in truth.keys().skip(20).take(14).enumerate() {
        let (case_id, victim_id) = journey_of(&app, crime_ref).await;
        let target = start + Duration::days(10);
        let (resolved, target) = match i {
            0..7 => (Some(day(target, 9)), target),
            7..11 => (Some(day(target + Duration::days(2), 9)), target),
            11..13 => (None, target),
            _ => (None, today + Duration::days(3)),
        };
        let issue = service_issues::Model {
            id: Uuid::now_v7(),
            victim_id,
            case_id: Some(case_id),
            team_code: care_hub::generate::TEAM.into(),
            category: "no_update".into(),
            description: "Test".into(),
            raised_by_kind: RaisedBy::Caseworker,
            raised_by: "test".into(),
            owner_agency: None,
            owner_person: None,
            severity: Severity::Medium,
            withdrawal_risk: false,
            code_right: None,
            opened_at: imported,
            target_on: target,
            status: if resolved.is_some() { IssueStatus::Resolved } else { IssueStatus::Open },
            resolution_outcome: None,
            victim_stayed_engaged: None,
            complaint_reference: None,
            complaint_ack_due: None,
            source_key: None,
            escalated_at: None,
            resolved_at: resolved,
            closed_at: None,
            version: 1,
            updated_at: imported,
        };
        service_issues::Entity::insert(issue.into_active_model()).exec(db.read()).await.unwrap();
    }

    // Thirty days on, 8 victims had a reached update on day 10; everyone else missed day 28.
    let updated: Vec<Uuid> = {
        let mut v = Vec::new();
        for crime_ref in truth.keys().skip(40).take(8) {
            v.push(journey_of(&app, crime_ref).await.1);
        }
        v
    };
    for victim_id in &updated {
        let contact = contacts::Model {
            id: Uuid::now_v7(),
            victim_id: *victim_id,
            case_id: None,
            occurred_at: imported + Duration::days(10),
            contact_by: "test".into(),
            agency_code: None,
            channel: Channel::Phone,
            direction: ContactDirection::Outbound,
            outcome: ContactOutcome::Reached,
            kind: ContactKind::RoutineUpdate,
            summary: None,
            discharges: contacts::Discharges(Vec::new()),
            recorded_at: imported + Duration::days(10),
            recorded_by: "test".into(),
        };
        contacts::Entity::insert(contact.into_active_model()).exec(db.read()).await.unwrap();
    }
    app.clock.set(now);

    let analyst = app.token(Role::Analyst, None, None);
    let r = app.get(&analyst, "/api/v1/reports/compliance").await;
    r.assert_status(StatusCode::OK);
    let all = truth.len() as u64;
    assert_eq!(r.body["journeys"].as_u64(), Some(all));
    assert_eq!(r.body["victims"].as_u64(), Some(all), "one victim per crime");

    // Data completeness and the 14/16 measure, from the extracts.
    let n = |f: &dyn Fn(&Intake) -> bool| truth.values().filter(|t| f(t)).count() as u64;
    check(&r.body, "sex_missing", n(&|t| t.sex_missing), all);
    check(&r.body, "ethnicity_missing", n(&|t| t.ethnicity_missing), all);
    check(&r.body, "relationship_missing", n(&|t| t.relationship_missing), all);
    check(&r.body, "withdrawals_evidenced", expected_evidenced, dns.len() as u64);
    check(&r.body, "needs_assessed", 9, all);
    check(&r.body, "needs_assessed_by_police", n(&|t| t.assessed), all);
    check(&r.body, "service_recovery_within_target", 7, 13);

    // Contact: each schedule replayed here from its interval and the one update we added.
    let schedules = contact_schedule::Entity::find().all(db.read()).await.unwrap();
    let (mut ok, mut due_n, mut met_n, mut with_due) = (0u64, 0u64, 0u64, 0u64);
    for s in &schedules {
        let mut base = start;
        let update = updated.contains(&s.victim_id).then_some(start + Duration::days(10));
        let (mut met, mut missed) = (0, 0);
        loop {
            let due = base + Duration::days(i64::from(s.interval_days));
            if due > today {
                break;
            }
            match update.filter(|u| *u > base) {
                Some(u) if u <= due => {
                    met += 1;
                    base = u;
                }
                _ => {
                    if due < today {
                        missed += 1;
                    }
                    break;
                }
            }
        }
        if met + missed > 0 {
            with_due += 1;
            ok += u64::from(missed == 0);
            met_n += met;
            due_n += met + missed;
        }
    }
    assert!(with_due > 500, "every imported victim has a due date passed: {with_due}");
    check(&r.body, "contact_victims_updated_within_interval", ok, with_due);
    check(&r.body, "contact_updates_on_time", met_n, due_n);

    // Obligations, from their rows: due by today or discharged; met when discharged by the due date.
    let key: HashMap<String, bool> = obligation_rules::Entity::find()
        .all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.code, r.key_decision))
        .collect();
    let (mut all_obl, mut all_met, mut key_obl, mut key_met) = (0u64, 0u64, 0u64, 0u64);
    for o in obligations::Entity::find().all(db.read()).await.unwrap() {
        let met = match (o.status, o.discharged_at) {
            (ObligationStatus::Discharged, Some(at)) => care_hub::clock::london_date(at) <= o.due_on,
            (ObligationStatus::Open, _) if o.due_on < today => false,
            _ => continue,
        };
        all_obl += 1;
        all_met += u64::from(met);
        if key[&o.rule_code] {
            key_obl += 1;
            key_met += u64::from(met);
        }
    }
    check(&r.body, "code_obligations_on_time", all_met, all_obl);
    check(&r.body, "code_key_decisions_on_time", key_met, key_obl);

    // The area filter narrows every figure to the area's journeys.
    let area = truth.values().next().unwrap().area.clone();
    let in_area: Vec<&Intake> = truth.values().filter(|t| t.area == area).collect();
    let r = app.get(&analyst, &format!("/api/v1/reports/compliance?area={area}")).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["journeys"].as_u64(), Some(in_area.len() as u64));
    let missing = in_area.iter().filter(|t| t.relationship_missing).count() as u64;
    check(&r.body, "relationship_missing", missing, in_area.len() as u64);

    // CSV: one row per measure.
    let csv = app.get(&analyst, "/api/v1/reports/compliance?format=csv").await;
    csv.assert_status(StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(csv.text.lines().count(), 1 + r.body["measures"].as_array().unwrap().len());
    assert!(csv.text.starts_with("measure,label,unit,numerator,denominator,rate"));
});

db_test!(compliance_withholds_small_numbers_and_is_audited, |app: TestApp| async move {
    let (_dir, truth) = load(&app, 60).await;
    let db = app.state.db.read();
    // Needs assessed for all but 3 victims (the 3 would be 60 − the numerator), and 2 evidenced
    // withdrawals among the journeys with outcome 14/16.
    for crime_ref in truth.keys().skip(3) {
        let (_, victim_id) = journey_of(&app, crime_ref).await;
        let mut v = victims::Entity::find_by_id(victim_id).one(db).await.unwrap().unwrap().into_active_model();
        v.needs_assessed_on = Set(Some(care_hub::clock::london_date(app.clock.now_utc())));
        v.update(db).await.unwrap();
    }
    for crime_ref in truth.iter().filter(|(_, t)| t.does_not_support).map(|(k, _)| k).take(2) {
        let (case_id, victim_id) = journey_of(&app, crime_ref).await;
        let row = withdrawals::Model {
            id: Uuid::now_v7(),
            case_id,
            victim_id,
            withdrawn_on: care_hub::clock::london_date(app.clock.now_utc()),
            stage: "INVESTIGATION".into(),
            reasons: withdrawals::Reasons(vec![WithdrawalReason::Delay]),
            felt_pressured: None,
            evidence: withdrawals::EvidenceList(Vec::new()),
            confirmed_with_victim: true,
            notes: None,
            status: WithdrawalStatus::Approved,
            recorded_by: "test".into(),
            recorded_at: app.clock.now_utc(),
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
            version: 1,
        };
        withdrawals::Entity::insert(row.into_active_model()).exec(db).await.unwrap();
    }
    let supervisor = app.supervisor();
    let r = app.get(&supervisor, "/api/v1/reports/compliance").await;
    r.assert_status(StatusCode::OK);
    check(&r.body, "needs_assessed", truth.len() as u64 - 3, truth.len() as u64);
    let m = |code: &str| r.body["measures"].as_array().unwrap().iter().find(|m| m["measure"] == code).unwrap().clone();
    assert!(m("needs_assessed")["numerator"].is_null() && m("needs_assessed")["denominator"].as_u64().is_some());
    assert!(m("withdrawals_evidenced")["numerator"].is_null(), "2 evidenced withdrawals are withheld");
    let small = |v: &Value| v.as_u64().is_some_and(|n| (1..=THRESHOLD).contains(&n));
    let mut withheld = 0;
    for m in r.body["measures"].as_array().unwrap() {
        assert!(!small(&m["numerator"]) && !small(&m["denominator"]), "a small number survived: {m}");
        // The rest of a denominator is shown by subtraction: it may not be small either.
        if let (Some(k), Some(n)) = (m["numerator"].as_u64(), m["denominator"].as_u64()) {
            assert!(!(1..=THRESHOLD).contains(&(n - k)), "the complement of {m} is small");
            if n < 20 {
                assert!(m["rate"].is_null(), "a rate on fewer than 20: {m}");
            }
        }
        withheld += usize::from(m["numerator"].is_null());
    }
    assert!(withheld > 0, "60 victims leave small cells: {}", r.body);
    assert!(r.body["suppression"]["withheld"].as_u64().unwrap() > 0);
    assert_eq!(r.body["journeys"].as_u64(), Some(truth.len() as u64));

    let audited = care_hub::entities::audit_events::Entity::find().all(app.state.db.read()).await.unwrap();
    assert!(audited.iter().any(|e| e.resource_id.as_deref() == Some("compliance")), "the call is audited");
    app.get(&app.caseworker(), "/api/v1/reports/compliance").await.assert_status(StatusCode::FORBIDDEN);
    app.get(&supervisor, "/api/v1/reports/compliance?team=x").await.assert_status(StatusCode::BAD_REQUEST);
    app.get(&supervisor, "/api/v1/reports/compliance?from=2026-02-01&to=2026-01-01")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
});

/// The flow's node codes as the JSON report gives them.
async fn flow_nodes(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let flow = app.get(token, &format!("/api/v1/reports/attrition/flow?{query}")).await;
    flow.assert_status(StatusCode::OK);
    flow.body["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

db_test!(board_pack_comes_as_html_xlsx_and_pdf_from_the_same_figures, |app: TestApp| async move {
    let (_dir, truth) = load(&app, 300).await;
    let analyst = app.token(Role::Analyst, None, None);
    // An area whose name needs escaping.
    let area = truth.values().next().unwrap().area.clone();
    let db = app.state.db.read();
    let mut agency = care_hub::entities::agencies::Entity::find()
        .filter(care_hub::entities::agencies::Column::Code.eq(area.as_str()))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    agency.name = Set("North <i>& South</i>".into());
    agency.update(db).await.unwrap();

    let r = app.get(&analyst, &format!("/api/v1/reports/board-pack?area={area}&from=2020-01-01&to=2026-11-16")).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition").unwrap(),
        format!("inline; filename=\"board-pack-{area}_2020-01-01_2026-11-16.html\"")
    );
    let html = &r.text;
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
    assert!(html.contains("North &lt;i&gt;&amp; South&lt;/i&gt;") && !html.contains("<i>&"), "text is escaped");
    for forbidden in ["<script", "<link", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(forbidden), "the page is self-contained: {forbidden}");
    }
    for node in flow_nodes(&app, &analyst, &format!("area={area}&from=2020-01-01&to=2026-11-16")).await {
        assert!(html.contains(&format!("data-node=\"{node}\"")), "the Sankey has node {node}");
    }
    assert!(html.contains("id=\"suppression\"") && html.contains("Counts from 1 to 5 are withheld"));
    assert!(html.contains("Reported from") && html.contains("2020-01-01"), "the filters are shown");
    assert!(html.contains("Data current to the latest agency event"), "freshness is shown");
    assert!(html.contains("Withdrawal by offence group") && html.contains("Withdrawal by relationship"));
    // The compliance table shows the compliance report's figures.
    let report =
        app.get(&analyst, &format!("/api/v1/reports/compliance?area={area}&from=2020-01-01&to=2026-11-16")).await;
    let measure =
        report.body["measures"].as_array().unwrap().iter().find(|m| m["measure"] == "relationship_missing").unwrap();
    let shown = measure["denominator"].as_u64().map_or_else(|| "[c]".to_owned(), |n| n.to_string());
    assert!(html.contains(&format!("<td class=\"n\">{shown} journeys</td>")), "{shown}");

    let xlsx = app.get(&analyst, &format!("/api/v1/reports/board-pack?area={area}&format=xlsx")).await;
    xlsx.assert_status(StatusCode::OK);
    assert_eq!(xlsx.header("content-type"), Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    assert!(xlsx.header("content-disposition").unwrap().starts_with("attachment; filename=\"board-pack-"));
    let bytes = xlsx.text.as_bytes();
    assert!(bytes.starts_with(b"PK"), "a zip container");
    for part in ["xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet8.xml"] {
        assert!(xlsx.text.contains(part), "the workbook has {part}");
    }

    let p = app.get(&analyst, "/api/v1/reports/board-pack?format=pdf").await;
    p.assert_status(StatusCode::OK);
    assert_eq!(p.header("content-type"), Some("application/pdf"));
    assert!(p.text.starts_with("%PDF-") && p.text.trim_end().ends_with("%%EOF"));
    let pages = p.text.matches("/Type /Page").count() - p.text.matches("/Type /Pages").count();
    assert!(pages >= 2, "several pages: {pages}");

    let audited = care_hub::entities::audit_events::Entity::find().all(app.state.db.read()).await.unwrap();
    assert_eq!(audited.iter().filter(|e| e.resource_id.as_deref() == Some("board-pack")).count(), 3);
    app.get(&app.caseworker(), "/api/v1/reports/board-pack").await.assert_status(StatusCode::FORBIDDEN);
    app.get(&analyst, "/api/v1/reports/board-pack?format=docx").await.assert_status(StatusCode::BAD_REQUEST);
    app.get(&analyst, "/api/v1/reports/board-pack?reference=x").await.assert_status(StatusCode::BAD_REQUEST);
});

/// A multipart message's parts, each as a message of its own (headers and body).
fn parts(m: &crate::common::smtp::ReceivedMessage) -> Vec<crate::common::smtp::ReceivedMessage> {
    let kind = m.header("Content-Type").unwrap();
    let boundary = kind.split("boundary=").nth(1).unwrap().trim_matches('"').to_owned();
    m.data
        .split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| crate::common::smtp::ReceivedMessage {
            from: m.from.clone(),
            to: m.to.clone(),
            data: p.trim_start_matches("\r\n").to_owned(),
        })
        .collect()
}

db_test!(
    monthly_board_packs_are_queued_once_and_arrive_with_the_pack_attached,
    configure = |c: &mut care_hub::config::Config| {
        c.board_packs.areas = vec![
            (FORCE.to_owned(), vec!["chair@board.example".to_owned(), "clerk@board.example".to_owned()]),
            (care_hub::generate::FORCE.to_owned(), vec!["lcjb@other.example".to_owned()]),
        ];
    },
    |app: TestApp| async move {
        let (_dir, _truth) = load(&app, 120).await;
        let (db, config) = (&app.state.db, &app.state.config);
        // 1 December: November's packs. Two replicas tick at once, then one again.
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 0).unwrap();
        app.clock.set(now);
        // Each replica holds its own in-memory journeys.
        let (facts_a, facts_b) = (FactCache::default(), FactCache::default());
        let (a, b) = tokio::join!(
            care_hub::reports::board::schedule::run(db, &facts_a, config, now),
            care_hub::reports::board::schedule::run(db, &facts_b, config, now)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.queued + b.queued, 3, "three recipients, each queued once: {a:?} {b:?}");
        let again = care_hub::reports::board::schedule::run(db, &facts_a, config, now).await.unwrap();
        assert_eq!((again.built, again.queued), (0, 0), "nothing is rebuilt or queued twice");
        assert_eq!(again.from, NaiveDate::from_ymd_opt(2026, 11, 1));

        let sink = crate::common::smtp::SmtpSink::start().await;
        let mailer = care_hub::mail::Mailer::from_url(
            &sink.url(),
            "Care Hub <noreply@care-hub.test>",
            "care-hub.test",
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let report =
            care_hub::reminders::dispatch::drain(db, &mailer, &config.reminders, app.clock.as_ref()).await.unwrap();
        assert_eq!(report.sent, 3);
        let mut received = sink.wait_for(3, std::time::Duration::from_secs(10)).await;
        received.sort_by(|x, y| x.to.cmp(&y.to));
        let to: Vec<&str> = received.iter().map(|m| m.to[0].as_str()).collect();
        assert_eq!(to, ["chair@board.example", "clerk@board.example", "lcjb@other.example"]);
        let m = &received[0];
        assert_eq!(
            m.header("Subject").unwrap(),
            format!("Board pack: {FORCE}, cases reported 2026-11-01 to 2026-11-30")
        );
        assert!(m.header("Content-Type").unwrap().starts_with("multipart/mixed"));
        let parts = parts(m);
        assert_eq!(parts.len(), 2, "the text and the pack");
        assert!(parts[0].body().contains("board pack for TEST-POLICE"), "{}", parts[0].body());
        let disposition = parts[1].header("Content-Disposition").unwrap();
        assert!(disposition.contains(&format!("board-pack-{FORCE}_2026-11-01_2026-11-30.html")), "{disposition}");
        assert!(parts[1].header("Content-Type").unwrap().starts_with("text/html"));
        let pack = parts[1].body();
        assert!(pack.starts_with("<!DOCTYPE html>") && pack.contains("Reported to") && pack.contains("2026-11-30"));
        assert!(pack.contains("class=\"sankey\""));

        let audited = care_hub::entities::audit_events::Entity::find().all(db.read()).await.unwrap();
        let packs: Vec<_> = audited.iter().filter(|e| e.resource_id.as_deref() == Some("board-pack")).collect();
        assert!(!packs.is_empty() && packs.iter().all(|e| e.actor == care_hub::reports::board::schedule::ACTOR));
    }
);

/// The first browser found on PATH; CI installs Chromium (`.ci/run`), so its absence is a failure.
fn chromium() -> String {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return name.to_owned();
        }
    }
    panic!("Chromium is not installed: `apt-get install -y chromium` (.ci/run installs it when missing)");
}

/// Runs headless Chromium on `page` with `args`, at most two minutes; returns stdout and stderr.
fn headless(profile: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &profile_arg,
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "chromium failed ({}): {stderr}", out.status);
    // Console messages (script errors, resources that failed to load) are logged as CONSOLE lines.
    for line in stderr.lines() {
        assert!(
            !(line.contains(":CONSOLE") || line.contains("net::ERR_") || line.contains("Failed to load resource")),
            "the page logged an error: {line}"
        );
    }
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_pack_renders_in_headless_chromium_with_every_stage_node() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (_dir, _truth) = load(&app, 400).await;
    let analyst = app.token(Role::Analyst, None, None);
    let r = app.get(&analyst, "/api/v1/reports/board-pack").await;
    r.assert_status(StatusCode::OK);
    let nodes = flow_nodes(&app, &analyst, "").await;
    assert!(nodes.len() > 10, "the generated flow has many stages: {nodes:?}");
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("board-pack.html");
    std::fs::write(&page, &r.text).unwrap();

    // The DOM after rendering: every stage node of the flow is an element of the Sankey.
    let (dom, _) = headless(&work.path().join("profile-dom"), &page, &["--dump-dom"]);
    assert!(dom.contains("<svg") && dom.contains("class=\"sankey\""), "the Sankey SVG is in the DOM");
    assert!(!dom.contains("parsererror"));
    for node in &nodes {
        assert!(dom.contains(&format!("data-node=\"{node}\"")), "the rendered Sankey lacks node {node}");
    }
    assert_eq!(dom.matches("data-node=\"").count(), nodes.len(), "one element per node, no more");

    // The screenshot: a PNG of the window's size with something drawn in it.
    let png = work.path().join("board-pack.png");
    let shot = format!("--screenshot={}", png.display());
    headless(&work.path().join("profile-shot"), &page, &[&shot, "--window-size=1280,2000", "--hide-scrollbars"]);
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let (w, h) =
        (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1280, 2000));
    assert!(bytes.len() > 40_000, "a blank page compresses to a few kilobytes; this one is {} bytes", bytes.len());
    if let Ok(keep) = std::env::var("CARE_HUB_BOARD_PACK_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
