//! A dispatcher process killed mid-send (SIGKILL, not a dropped task) loses nothing and sends
//! again at most the message it had in flight. Runs on SQLite, and on PostgreSQL when
//! `CARE_HUB_TEST_POSTGRES_URL` is set.
#![allow(dead_code)]

#[path = "api/common/outbox_fill.rs"]
mod outbox_fill;
#[path = "api/common/smtp.rs"]
mod smtp;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use care_hub::config::Config;
use care_hub::db::Db;
use sea_orm::{ConnectionTrait, Database, EntityTrait};
use smtp::{Mode, SmtpSink};

const SECRET: &str = "dispatcher-test-secret-that-is-long-enough";
const NOTICES: usize = 30;

fn dispatcher(dir: &Path, url: &str, sink: &SmtpSink) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_care-hub"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CARE_HUB_DATABASE_URL", url)
        .env("CARE_HUB_JWT_SECRET", SECRET)
        .env("CARE_HUB_SMTP_URL", sink.url())
        .env("CARE_HUB_DISPATCH_CONCURRENCY", "1")
        .env("CARE_HUB_SMTP_TIMEOUT_SECS", "20")
        .env("CARE_HUB_OUTBOX_LEASE_SECS", "21")
        .args(["reminders", "run", "--dispatch-only"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

async fn kill_mid_send(url: &str, dir: &Path) {
    let db = Db::connect(&Config::for_tests(url.to_owned(), dir.into())).await.unwrap();
    db.migrate().await.unwrap();
    let now = chrono::Utc::now();
    outbox_fill::queue_reminders(&db, NOTICES, now).await;

    // The server takes the first message and never answers: the dispatcher is mid-send when killed.
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::StallAfterData);
    let mut first = dispatcher(dir, url, &sink).spawn().unwrap();
    sink.wait_for(1, Duration::from_secs(30)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(sink.messages().len(), 1);

    // Another dispatcher takes over once the dead one's lease has run out, and sends everything.
    sink.set_mode(Mode::Accept);
    tokio::time::sleep(Duration::from_secs(22)).await;
    let out = dispatcher(dir, url, &sink).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains(&format!("\"sent\":{NOTICES}")), "{report}");

    let messages = sink.wait_for(NOTICES + 1, Duration::from_secs(10)).await;
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        *copies.entry(m.header("message-id").unwrap()).or_default() += 1;
    }
    assert_eq!(copies.len(), NOTICES, "every notice delivered");
    assert_eq!(copies.values().filter(|n| **n > 1).count(), 1, "only the message in flight went twice");
    assert_eq!(messages.len(), NOTICES + 1);
    let rows = care_hub::entities::outbox::Entity::find().all(db.read()).await.unwrap();
    assert!(rows.iter().all(|r| r.status == care_hub::vocab::OutboxStatus::Sent));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_loses_nothing_and_repeats_at_most_the_message_in_flight_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("care-hub.db").display());
    kill_mid_send(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_loses_nothing_and_repeats_at_most_the_message_in_flight_postgres() {
    let Some(base) = std::env::var("CARE_HUB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty()) else {
        eprintln!("CARE_HUB_TEST_POSTGRES_URL is not set: this PostgreSQL variant did not run");
        return;
    };
    let name = format!("care_hub_dispatch_{}", std::process::id());
    let admin = Database::connect(&base).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{name}");
    let dir = tempfile::tempdir().unwrap();
    kill_mid_send(&url, dir.path()).await;
    admin.execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await.unwrap();
}
