//! Attrition reports on generated data: every figure checked against a computation written
//! separately here, straight from the generator's extracts; small numbers never survive.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use axum::http::{Method, StatusCode};
use care_hub::vocab::Role;
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

const THRESHOLD: u64 = 5;

/// One victim's journey as the extracts tell it.
#[derive(Default, Debug)]
struct Truth {
    offence_group: String,
    relationship: String,
    events: Vec<(DateTime<Utc>, String, Option<String>)>,
    /// The reason codes the court gave its ineffective listings.
    reasons: Vec<String>,
}

impl Truth {
    fn first(&self, f: impl Fn(&str, Option<&str>) -> bool) -> Option<DateTime<Utc>> {
        self.events.iter().filter(|(_, t, o)| f(t, o.as_deref())).map(|(at, ..)| *at).min()
    }
    fn charged(&self) -> Option<DateTime<Utc>> {
        self.first(|t, o| t == "CHARGED" || (t == "OUTCOME" && matches!(o, Some("1" | "1A"))))
    }
    fn withdrew(&self) -> Option<DateTime<Utc>> {
        self.first(|t, o| t == "VICTIM_DISENGAGED" || matches!(o, Some("14" | "16")))
    }
    fn pre_charge_withdrawal(&self) -> bool {
        self.withdrew().is_some_and(|w| self.charged().is_none_or(|c| w < c))
    }
    fn post_charge_withdrawal(&self) -> bool {
        matches!((self.withdrew(), self.charged()), (Some(w), Some(c)) if w >= c)
    }
}

/// Victims by crime reference, from the four files.
fn truth(dir: &Path) -> BTreeMap<String, Truth> {
    let mut out: BTreeMap<String, Truth> = BTreeMap::new();
    let mut by_urn: HashMap<String, String> = HashMap::new();
    let mut intake = csv::Reader::from_path(dir.join("police-intake.csv")).unwrap();
    let h = intake.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (cr, urn, og, rel) = (col("crime_ref"), col("urn"), col("offence_group"), col("relationship"));
    for r in intake.records() {
        let r = r.unwrap();
        let relationship = if r[rel].is_empty() { "missing".to_owned() } else { r[rel].to_owned() };
        out.insert(
            r[cr].to_owned(),
            Truth { offence_group: r[og].to_owned(), relationship, events: Vec::new(), reasons: Vec::new() },
        );
        if !r[urn].is_empty() {
            by_urn.insert(r[urn].to_owned(), r[cr].to_owned());
        }
    }
    for file in ["police-events.csv", "cps-events.csv", "court-events.csv"] {
        let mut events = csv::Reader::from_path(dir.join(file)).unwrap();
        for r in events.records() {
            let r = r.unwrap();
            let (event_type, at, outcome, ref_type, value) = (&r[1], &r[2], &r[4], &r[6], &r[7]);
            let key = if ref_type == "cps_urn" { by_urn[value].clone() } else { value.to_owned() };
            let outcome = (!outcome.is_empty()).then(|| outcome.to_owned());
            let t = out.get_mut(&key).unwrap();
            t.events.push((at.parse().unwrap(), event_type.to_owned(), outcome));
            if event_type == "TRIAL_INEFFECTIVE" && !r[9].is_empty() {
                t.reasons.push(r[9].to_owned());
            }
        }
    }
    out
}

/// A count as a report must show it: withheld (null) from 1 to the threshold.
fn check_count(shown: &Value, expected: u64, what: &str) {
    if (1..=THRESHOLD).contains(&expected) {
        assert_eq!(shown, &Value::Null, "{what}: {expected} is a small number and must be withheld");
    } else if !shown.is_null() {
        assert_eq!(shown.as_u64(), Some(expected), "{what}");
    }
}

fn nearest_rank(sorted: &[i64], q: f64) -> i64 {
    sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1]
}

async fn loaded(app: &TestApp, victims: u64) -> (tempfile::TempDir, BTreeMap<String, Truth>) {
    let dir = tempfile::tempdir().unwrap();
    care_hub::generate::generate(victims, 11, dir.path()).unwrap();
    care_hub::import::run_generated(&app.state.db, dir.path(), &app.state.config.reminders, app.clock.now_utc())
        .await
        .unwrap();
    let t = truth(dir.path());
    (dir, t)
}

db_test!(attrition_figures_equal_an_independent_count_of_the_extracts, |app: TestApp| async move {
    let (_dir, truth) = loaded(&app, 1500).await;
    let analyst = app.token(Role::Analyst, None, None);

    // Rates by offence group and by relationship.
    for (by, key) in [("offence_group", 0), ("relationship", 1)] {
        let r = app.get(&analyst, &format!("/api/v1/reports/attrition/rates?by={by}")).await;
        r.assert_status(StatusCode::OK);
        let mut expected: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
        for t in truth.values() {
            let cat = if key == 0 { t.offence_group.as_str() } else { t.relationship.as_str() };
            let e = expected.entry(cat).or_default();
            e[0] += 1;
            e[1] += u64::from(t.pre_charge_withdrawal());
            e[2] += u64::from(t.charged().is_some());
            e[3] += u64::from(t.post_charge_withdrawal());
        }
        let rows = r.body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), expected.len(), "{by}: one row per category");
        for row in rows {
            let cat = row["category"].as_str().unwrap();
            let e = expected[cat];
            check_count(&row["pre_charge"]["denominator"], e[0], &format!("{by}={cat} journeys"));
            check_count(&row["pre_charge"]["numerator"], e[1], &format!("{by}={cat} pre-charge withdrawals"));
            check_count(&row["post_charge"]["denominator"], e[2], &format!("{by}={cat} charged"));
            check_count(&row["post_charge"]["numerator"], e[3], &format!("{by}={cat} post-charge withdrawals"));
            if let (Some(k), Some(n)) =
                (row["pre_charge"]["numerator"].as_u64(), row["pre_charge"]["denominator"].as_u64())
                && n >= 20
            {
                let rate = row["pre_charge"]["rate"].as_f64().unwrap();
                assert!((rate - k as f64 / n as f64).abs() < 1e-12);
                assert!(row["pre_charge"]["ci_low"].as_f64().unwrap() <= rate);
                assert!(row["pre_charge"]["ci_high"].as_f64().unwrap() >= rate);
            }
        }
        let all = truth.len() as u64;
        let pre: u64 = expected.values().map(|e| e[1]).sum();
        assert_eq!(r.body["total"]["pre_charge"]["denominator"].as_u64(), Some(all));
        assert_eq!(r.body["total"]["pre_charge"]["numerator"].as_u64(), Some(pre));
    }

    // The flow: every journey starts once and ends once; the withdrawal exit counts them all.
    let flow = app.get(&analyst, "/api/v1/reports/attrition/flow").await;
    flow.assert_status(StatusCode::OK);
    assert_eq!(flow.body["journeys"].as_u64(), Some(truth.len() as u64));
    let withdrawn = truth.values().filter(|t| t.withdrew().is_some()).count() as u64;
    let node = |id: &str| flow.body["nodes"].as_array().unwrap().iter().find(|n| n["id"] == id).cloned();
    check_count(&node("WITHDRAWN").unwrap()["journeys"], withdrawn, "withdrawn exit");
    for l in flow.body["links"].as_array().unwrap() {
        assert!(l["journeys"].is_null() || l["journeys"].as_u64().unwrap() > THRESHOLD, "{l}");
    }

    // Charge to first hearing, in whole days.
    let mut days: Vec<i64> = truth
        .values()
        .filter_map(|t| Some((t.charged()?, t.first(|e, _| e == "FIRST_HEARING")?)))
        .filter(|(c, h)| h >= c)
        .map(|(c, h)| (h - c).num_seconds().div_euclid(86_400))
        .collect();
    days.sort_unstable();
    let timeliness = app.get(&analyst, "/api/v1/reports/timeliness").await;
    timeliness.assert_status(StatusCode::OK);
    let m = timeliness.body["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["measure"] == "charge_to_first_hearing")
        .unwrap()
        .clone();
    assert!(days.len() as u64 > THRESHOLD, "the sample has charged cases with hearings");
    assert_eq!(m["journeys"].as_u64(), Some(days.len() as u64));
    assert_eq!(m["median_days"].as_i64(), Some(nearest_rank(&days, 0.5)));
    assert_eq!(m["p90_days"].as_i64(), Some(nearest_rank(&days, 0.9)));

    // Trials: each listed trial's first result, and every ineffective listing.
    let listed: Vec<&Truth> = truth.values().filter(|t| t.first(|e, _| e == "TRIAL_LISTED").is_some()).collect();
    let first_result = |t: &Truth| {
        let mut results: Vec<&(DateTime<Utc>, String, Option<String>)> =
            t.events.iter().filter(|(_, e, _)| e == "TRIAL_EFFECTIVE" || e == "TRIAL_CRACKED").collect();
        results.sort_by_key(|e| e.0);
        results.first().map(|e| e.1.clone())
    };
    let effective = listed.iter().filter(|t| first_result(t).as_deref() == Some("TRIAL_EFFECTIVE")).count() as u64;
    let cracked = listed.iter().filter(|t| first_result(t).as_deref() == Some("TRIAL_CRACKED")).count() as u64;
    let ineffective: u64 =
        listed.iter().map(|t| t.events.iter().filter(|(_, e, _)| e == "TRIAL_INEFFECTIVE").count() as u64).sum();
    let trials = app.get(&analyst, "/api/v1/reports/trials").await;
    trials.assert_status(StatusCode::OK);
    check_count(&trials.body["journeys_with_trial"], listed.len() as u64, "trials");
    check_count(&trials.body["effective"], effective, "effective");
    check_count(&trials.body["cracked"], cracked, "cracked");
    check_count(&trials.body["ineffective"], ineffective, "ineffective");
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for t in &listed {
        for r in &t.reasons {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    let recorded: u64 = reasons.values().sum();
    assert!(recorded > 0 && recorded < ineffective, "the sample has listings with and without a reason");
    reasons.insert("unrecorded".into(), ineffective - recorded);
    let shown = trials.body["ineffective_reasons"].as_array().unwrap();
    assert_eq!(shown.len(), reasons.len(), "one row per reason: {shown:?}");
    for row in shown {
        let code = row["code"].as_str().unwrap();
        check_count(&row["listings"], reasons[code], &format!("ineffective listings for {code}"));
    }

    // CSV of the same figures.
    let csv = app.get(&analyst, "/api/v1/reports/attrition/rates?by=offence_group&format=csv").await;
    csv.assert_status(StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
});

db_test!(small_numbers_never_survive_and_totals_do_not_reveal_them, |app: TestApp| async move {
    let (_dir, truth) = loaded(&app, 300).await;
    let supervisor = app.supervisor();
    for by in ["offence_group", "area", "sex", "age_band", "ethnicity", "ethnicity_group", "relationship", "support"] {
        let r = app.get(&supervisor, &format!("/api/v1/reports/attrition/rates?by={by}")).await;
        r.assert_status(StatusCode::OK);
        let rows = r.body["rows"].as_array().unwrap();
        for (side, num, den) in
            [("pre_charge", "numerator", "denominator"), ("post_charge", "numerator", "denominator")]
        {
            for field in [num, den] {
                let mut column: Vec<Option<u64>> = rows.iter().map(|row| row[side][field].as_u64()).collect();
                for v in column.iter().flatten() {
                    assert!(*v == 0 || *v > THRESHOLD, "{by} {side} {field}: {v} survived");
                }
                // With the total shown, a column may not hide exactly one cell.
                column.push(r.body["total"][side][field].as_u64());
                let hidden = column.iter().filter(|v| v.is_none()).count();
                assert_ne!(hidden, 1, "{by} {side} {field}: a lone hidden cell is recoverable from the total");
            }
        }
    }
    let flow = app.get(&supervisor, "/api/v1/reports/attrition/flow?format=json").await;
    let links = flow.body["links"].as_array().unwrap();
    for n in flow.body["nodes"].as_array().unwrap() {
        let id = n["id"].as_str().unwrap();
        for (end, other) in [("source", "target"), ("target", "source")] {
            let group: Vec<&Value> = links.iter().filter(|l| l[end] == id).collect();
            if group.is_empty() {
                continue;
            }
            let hidden =
                group.iter().filter(|l| l["journeys"].is_null()).count() + usize::from(n["journeys"].is_null());
            assert_ne!(hidden, 1, "node {id} with its links by {other}: one hidden cell is recoverable");
        }
    }
    assert!(flow.body["suppression"]["withheld"].as_u64().unwrap() > 0, "300 victims leave small cells");
    assert!(!truth.is_empty());

    // Every report call is on the audit trail.
    let audited = care_hub::entities::audit_events::Entity::find().all(app.state.db.read()).await.unwrap();
    assert!(audited.iter().any(|e| e.resource_id.as_deref() == Some("attrition-flow")), "the flow call is audited");

    // Caseworkers see no reports; unknown parameters are refused, naming the parameter.
    app.get(&app.caseworker(), "/api/v1/reports/attrition/flow").await.assert_status(StatusCode::FORBIDDEN);
    app.get(&supervisor, "/api/v1/reports/attrition/rates?by=shoe_size").await.assert_status(StatusCode::BAD_REQUEST);
    app.get(&supervisor, "/api/v1/reports/trials?colour=red").await.assert_status(StatusCode::BAD_REQUEST);
});

db_test!(reports_stay_current_an_event_posted_shows_in_the_next_report_call, |app: TestApp| async move {
    use care_hub::entities::{agency_references, journeys};
    use sea_orm::{ColumnTrait, QueryFilter};

    let (_dir, _truth) = loaded(&app, 300).await;
    let analyst = app.token(Role::Analyst, None, None);
    let figures = || async {
        let rates = app.get(&analyst, "/api/v1/reports/attrition/rates").await;
        rates.assert_status(StatusCode::OK);
        let flow = app.get(&analyst, "/api/v1/reports/attrition/flow").await;
        let withdrawn =
            flow.body["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "WITHDRAWN").unwrap()["journeys"]
                .as_u64();
        let total = &rates.body["total"];
        (total["pre_charge"]["numerator"].as_u64(), total["post_charge"]["denominator"].as_u64(), withdrawn)
    };
    let (pre, charged, withdrawn) = figures().await;
    let (pre, charged, withdrawn) = (pre.unwrap(), charged.unwrap(), withdrawn.unwrap());

    // Two journeys still under investigation: one victim withdraws (outcome 16), the other's
    // suspect is charged.
    let db = app.state.db.read();
    let open: Vec<journeys::Model> = journeys::Entity::find()
        .filter(journeys::Column::Withdrawn.eq(false))
        .filter(journeys::Column::ChargedAt.is_null())
        .filter(journeys::Column::EndedAt.is_null())
        .all(db)
        .await
        .unwrap();
    assert!(open.len() >= 2, "the sample has open investigations");
    let mut events = Vec::new();
    for (i, (j, event_type, outcome)) in
        [(&open[0], "OUTCOME", Some("16")), (&open[1], "CHARGED", None)].into_iter().enumerate()
    {
        let crime_ref = agency_references::Entity::find()
            .filter(agency_references::Column::CaseId.eq(j.case_id))
            .filter(agency_references::Column::RefType.eq(care_hub::vocab::RefType::CrimeReference))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .value;
        events.push(serde_json::json!({
            "source_agency": "GEN-POLICE", "source_event_id": format!("LIVE-{i}"), "event_type": event_type,
            "outcome_code": outcome, "occurred_at": app.clock.now_utc(),
            "case": {"agency": "GEN-POLICE", "type": "crime_reference", "value": crime_ref}
        }));
    }
    let liaison = app.token(Role::AgencyLiaison, None, Some("GEN-POLICE"));
    let posted = app.post(&liaison, "/api/v1/journey-events", serde_json::json!({"events": events})).await;
    posted.assert_status(StatusCode::OK);
    assert_eq!(posted.body["linked"].as_u64(), Some(2), "{}", posted.body);

    // The very next report calls count them.
    assert_eq!(figures().await, (Some(pre + 1), Some(charged + 1), Some(withdrawn + 1)));
});

db_test!(
    compliance_is_current_to_the_last_write,
    configure = |c: &mut care_hub::config::Config| c.suppression_threshold = 0,
    |app: TestApp| async move {
        let measures = || compliance(&app);
        let (hub, case) = reported(&app, "CR-CMP-1").await;
        let m = measures().await;
        assert_eq!(m["withdrawals_evidenced"], (0, 0));
        assert_eq!(m["needs_assessed"], (0, 1));
        assert_eq!(m["contact_victims_updated_within_interval"], (0, 0), "nothing is due yet");

        // Outcome 16 with no record: flagged, unevidenced.
        let liaison = app.token(Role::AgencyLiaison, None, Some(FORCE));
        let e = json!({"source_agency": FORCE, "source_event_id": "CR-CMP-1-2", "event_type": "OUTCOME",
                       "outcome_code": "16", "occurred_at": "2026-10-05T10:00:00Z",
                       "case": {"agency": FORCE, "type": "crime_reference", "value": "CR-CMP-1"}});
        app.post(&liaison, "/api/v1/journey-events", json!({"events": [e]})).await.assert_status(StatusCode::OK);
        let m = measures().await;
        assert_eq!((m["withdrawals_evidenced"], m["withdrawals_flagged_unevidenced"]), ((0, 1), (1, 1)));

        // An evidenced withdrawal record clears the flag.
        app.post(
            &app.caseworker(),
            &format!("/api/v1/cases/{case}/withdrawals"),
            json!({"victim": hub, "withdrawn_on": "2026-10-05", "reasons": ["delay"], "confirmed_with_victim": false,
                   "evidence": [{"type": "recorded_call", "reference": "CALL-CMP-1"}]}),
        )
        .await
        .assert_status(StatusCode::CREATED);
        let m = measures().await;
        assert_eq!((m["withdrawals_evidenced"], m["withdrawals_flagged_unevidenced"]), ((1, 1), (0, 1)));

        // A needs assessment on the hub record.
        assess_needs(&app, &hub).await;
        assert_eq!(measures().await["needs_assessed"], (1, 1));

        // A month on, the first routine update was missed; one made in time counts as met.
        app.clock.advance(chrono::Duration::days(30));
        assert_eq!(measures().await["contact_victims_updated_within_interval"], (0, 1));
        routine_update_on_day_10(&app, &hub).await;
        let m = measures().await;
        assert_eq!((m["contact_victims_updated_within_interval"], m["contact_updates_on_time"]), ((1, 1), (1, 1)));

        // A service issue counts once resolved (within its target).
        let issue = app
            .post(
                &app.caseworker(),
                "/api/v1/service-issues",
                json!({"victim": hub, "case_id": case, "category": "no_update", "description": "No call back",
                       "severity": "medium"}),
            )
            .await;
        issue.assert_status(StatusCode::CREATED);
        assert_eq!(measures().await["service_recovery_within_target"], (0, 0));
        let resolve = json!({"to": "resolved", "note": "Called back",
                             "resolution": {"outcome": "resolved", "victim_stayed_engaged": true}});
        let id = issue.body["id"].as_str().unwrap();
        app.call(
            Method::POST,
            &format!("/api/v1/service-issues/{id}/transitions"),
            &app.caseworker(),
            Some(resolve),
            &[("if-match", &issue.etag())],
        )
        .await
        .assert_status(StatusCode::OK);
        assert_eq!(measures().await["service_recovery_within_target"], (1, 1));
    }
);

db_test!(
    change_logs_compacted_keep_every_change_a_refresh_needs,
    configure = |c: &mut care_hub::config::Config| c.suppression_threshold = 0,
    |app: TestApp| async move {
        use sea_orm::{ConnectionTrait, Statement};
        let db = &app.state.db;
        let backend = db.backend();
        let count = move |sql: &'static str| async move {
            let row = db.read().query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        };
        let (hub, _) = reported(&app, "CR-LOG-1").await;
        assert_eq!(compliance(&app).await["needs_assessed"], (0, 1), "the cache is loaded before the writes");

        // Two writes to the victim's records after the cache's last refresh, a month on: two log
        // entries (a needs assessment; the routine update that met the first due date).
        app.clock.advance(chrono::Duration::days(30));
        assess_needs(&app, &hub).await;
        routine_update_on_day_10(&app, &hub).await;
        // And a deleted journey's tombstone written three times (two share a number).
        let (case, victim) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        for rev in [1_i64, 2, 2] {
            let sql = if backend == sea_orm::DbBackend::Postgres {
                "INSERT INTO journey_tombstones (case_id, victim_id, rev) VALUES ($1, $2, $3)"
            } else {
                "INSERT INTO journey_tombstones (case_id, victim_id, rev) VALUES (?, ?, ?)"
            };
            let values = [case.into(), victim.into(), rev.into()];
            let tx = db.begin_write().await.unwrap();
            tx.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
            tx.commit().await.unwrap();
        }
        let entries = "SELECT COUNT(*) FROM report_victim_changes";
        let per_victim = "SELECT COUNT(*) FROM (SELECT DISTINCT victim_id FROM report_victim_changes) d";
        let tombstones = "SELECT COUNT(*) FROM journey_tombstones";
        let (before, victims) = (count(entries).await, count(per_victim).await);
        assert!(before > victims, "{before} entries for {victims} victims");

        let deleted = care_hub::reports::facts::compact_change_logs(db).await.unwrap();
        assert_eq!(count(entries).await, victims, "one entry per victim is left");
        assert_eq!(count(tombstones).await, 1, "one tombstone per journey is left");
        assert_eq!(i64::try_from(deleted).unwrap(), before - victims + 2);
        assert_eq!(care_hub::reports::facts::compact_change_logs(db).await.unwrap(), 0, "nothing more to drop");

        // The refresh after the compaction still sees both writes.
        let m = compliance(&app).await;
        assert_eq!(m["needs_assessed"], (1, 1));
        assert_eq!(m["contact_victims_updated_within_interval"], (1, 1), "the update is counted");
    }
);

/// Records a needs assessment on the hub record.
async fn assess_needs(app: &TestApp, hub: &str) {
    let read = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}")).await;
    let needs = json!({"needs_assessment": {"assessed_on": "2026-11-16", "assessed_by": "PC 1 Example", "needs": []}});
    app.patch(&app.caseworker(), &format!("/api/v1/victims/{hub}"), &read.etag(), needs)
        .await
        .assert_status(StatusCode::OK);
}

/// A reached routine update ten days after the clock's start (before the first one is due).
async fn routine_update_on_day_10(app: &TestApp, hub: &str) {
    let when = (start_time() + chrono::Duration::days(10)).to_rfc3339();
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{hub}/contacts"),
        json!({"occurred_at": when, "channel": "phone", "outcome": "reached", "kind": "routine_update"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
}

/// (numerator, denominator) of each compliance measure.
async fn compliance(app: &TestApp) -> BTreeMap<String, (u64, u64)> {
    let r = app.get(&app.supervisor(), "/api/v1/reports/compliance").await;
    r.assert_status(StatusCode::OK);
    let n = |v: &Value| v.as_u64().unwrap();
    r.body["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["measure"].as_str().unwrap().to_owned(), (n(&m["numerator"]), n(&m["denominator"]))))
        .collect()
}

/// A victim with a case known to the force by `crime_ref`, and the force's REPORTED event.
async fn reported(app: &TestApp, crime_ref: &str) -> (String, String) {
    let v = app.victim(json!({"given_name": "Report", "family_name": format!("Current {crime_ref}")})).await;
    let hub = v.body["hub_ref"].as_str().unwrap().to_owned();
    let case = app
        .post(
            &app.caseworker(),
            &format!("/api/v1/victims/{hub}/cases"),
            json!({"offence_group": "violence_with_injury", "date_reported": "2026-10-01",
                   "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": crime_ref}]}),
        )
        .await;
    case.assert_status(StatusCode::CREATED);
    event(app, crime_ref, &format!("{crime_ref}-1"), "REPORTED").await;
    (hub, case.body["id"].as_str().unwrap().to_owned())
}

async fn event(app: &TestApp, crime_ref: &str, id: &str, event_type: &str) {
    let liaison = app.token(Role::AgencyLiaison, None, Some(FORCE));
    let e = json!({"source_agency": FORCE, "source_event_id": id, "event_type": event_type,
                   "occurred_at": "2026-10-02T10:00:00Z",
                   "case": {"agency": FORCE, "type": "crime_reference", "value": crime_ref}});
    app.post(&liaison, "/api/v1/journey-events", json!({"events": [e]})).await.assert_status(StatusCode::OK);
}

/// The rates report's journeys (and pre-charge withdrawals) in each category of `by`.
async fn by_category(app: &TestApp, by: &str) -> BTreeMap<String, (u64, u64)> {
    let r = app.get(&app.supervisor(), &format!("/api/v1/reports/attrition/rates?by={by}")).await;
    r.assert_status(StatusCode::OK);
    let n = |v: &Value| v.as_u64().unwrap();
    r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let pre = &row["pre_charge"];
            (row["category"].as_str().unwrap().to_owned(), (n(&pre["denominator"]), n(&pre["numerator"])))
        })
        .collect()
}

db_test!(
    reports_are_current_to_the_last_write,
    configure = |c: &mut care_hub::config::Config| c.suppression_threshold = 0,
    |app: TestApp| async move {
        let journeys = || async {
            let r = app.get(&app.supervisor(), "/api/v1/reports/attrition/flow").await;
            r.assert_status(StatusCode::OK);
            r.body["journeys"].as_u64().unwrap_or(0)
        };
        assert_eq!(journeys().await, 0);
        let (a, a_case) = reported(&app, "CR-NOW-1").await;
        assert_eq!(journeys().await, 1, "the first call reads every journey");
        let (b, _) = reported(&app, "CR-NOW-2").await;
        assert_eq!(journeys().await, 2, "a later call reads the journey an event made");

        // An event changes a journey.
        assert_eq!(by_category(&app, "offence_group").await["violence_with_injury"], (2, 0));
        event(&app, "CR-NOW-1", "CR-NOW-1-2", "VICTIM_DISENGAGED").await;
        assert_eq!(by_category(&app, "offence_group").await["violence_with_injury"], (2, 1));

        // A victim's and a case's fields the reports break down by.
        let read = app.get(&app.caseworker(), &format!("/api/v1/victims/{a}")).await;
        app.patch(&app.caseworker(), &format!("/api/v1/victims/{a}"), &read.etag(), json!({"sex": "female"}))
            .await
            .assert_status(StatusCode::OK);
        let sexes = by_category(&app, "sex").await;
        assert_eq!((sexes["female"], sexes["missing"]), ((1, 1), (1, 0)), "{sexes:?}");
        let case = app.get(&app.caseworker(), &format!("/api/v1/cases/{a_case}")).await;
        app.patch(
            &app.caseworker(),
            &format!("/api/v1/cases/{a_case}"),
            &case.etag(),
            json!({"offence_group": "robbery"}),
        )
        .await
        .assert_status(StatusCode::OK);
        let groups = by_category(&app, "offence_group").await;
        assert_eq!((groups["robbery"], groups["violence_with_injury"]), ((1, 1), (1, 0)), "{groups:?}");

        // A merge deletes the duplicate's journey and makes the survivor's.
        app.post(
            &app.supervisor(),
            &format!("/api/v1/victims/{a}/merge"),
            json!({"duplicate": b, "reason": "Same person"}),
        )
        .await
        .assert_status(StatusCode::OK);
        assert_eq!(journeys().await, 2, "the duplicate's journey is gone, the survivor's is there");
        let sexes = by_category(&app, "sex").await;
        assert_eq!(sexes.get("female"), Some(&(2, 1)), "both journeys are the survivor's now: {sexes:?}");
    }
);
