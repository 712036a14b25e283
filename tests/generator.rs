//! `care-hub generate`: calibrated to the published figures, and the same bytes for the same seed.
use std::path::Path;
use std::time::Instant;

use care_hub::generate::{self, measure};

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_hundred_thousand_victims_reproduce_every_calibration_target() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let summary = generate::generate(100_000, 20_261_122, dir.path()).unwrap();
    let generated = started.elapsed();
    let measuring = Instant::now();
    let calibration = measure(dir.path()).unwrap();
    let measured = measuring.elapsed();
    let table = calibration.table();
    println!(
        "generated {} victims ({} police, {} CPS, {} court events) in {:.1}s, measured in {:.1}s\n{table}",
        summary.victims,
        summary.police_events,
        summary.cps_events,
        summary.court_events,
        generated.as_secs_f64(),
        measured.as_secs_f64(),
    );
    assert_eq!(calibration.victims, 100_000);
    let failed: Vec<String> = calibration.check().into_iter().filter(|c| !c.ok).map(|c| c.name).collect();
    assert!(failed.is_empty(), "outside tolerance: {failed:?}\n{table}");
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let [a, b, c] = [(), (), ()].map(|()| tempfile::tempdir().unwrap());
    generate::generate(2_000, 7, a.path()).unwrap();
    generate::generate(2_000, 7, b.path()).unwrap();
    generate::generate(2_000, 8, c.path()).unwrap();
    let (a, b, c) = (read_all(a.path()), read_all(b.path()), read_all(c.path()));
    assert_eq!(a.len(), 4);
    assert!(a == b, "two runs with seed 7 differ");
    for ((name, x), (_, y)) in a.iter().zip(&c) {
        assert_ne!(x, y, "{name} is the same for seeds 7 and 8");
    }
}

#[test]
fn a_smaller_run_is_the_start_of_a_larger_one() {
    let (small, large) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate::generate(300, 3, small.path()).unwrap();
    generate::generate(600, 3, large.path()).unwrap();
    let intake = |d: &Path| std::fs::read_to_string(d.join(generate::INTAKE_FILE)).unwrap();
    assert!(intake(large.path()).starts_with(&intake(small.path())));
}

#[test]
fn nothing_is_dated_after_the_anchor_and_every_reference_is_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    generate::generate(3_000, 11, dir.path()).unwrap();
    let anchor = chrono::DateTime::from_timestamp(generate::ANCHOR, 0).unwrap();
    for file in [generate::POLICE_EVENTS_FILE, generate::CPS_EVENTS_FILE, generate::COURT_EVENTS_FILE] {
        let mut reader = csv::Reader::from_path(dir.path().join(file)).unwrap();
        let mut ids = std::collections::HashSet::new();
        for row in reader.records() {
            let row = row.unwrap();
            assert!(ids.insert(row[0].to_owned()), "{file}: source_event_id {} repeats", &row[0]);
            let at: chrono::DateTime<chrono::Utc> = row[2].parse().unwrap();
            assert!(at <= anchor, "{file}: {} is after the anchor", &row[2]);
            let ref_type = serde_json::from_value(serde_json::Value::String(row[6].to_owned())).unwrap();
            let value = care_hub::agencies::references::normalise_value(ref_type, &row[7]);
            assert_eq!(value.as_deref(), Ok(&row[7]), "{file}: reference {}", &row[7]);
        }
    }
}
