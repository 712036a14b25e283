//! Faults the service must ride out: an SMTP server that never answers, and SQLite storage that
//! fills up or turns read-only under a running service. (PostgreSQL restarts and `kill -9` of
//! the process are in tests/faults_process.rs.)
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use care_hub::mail::Mailer;
use care_hub::reminders::dispatch;
use care_hub::reminders::outbox::{self, Notice};
use care_hub::vocab::OutboxStatus;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::common::smtp::{Mode, SmtpSink};
use crate::common::*;
use crate::db_test;

const NOTICES: usize = 10;
const SEND_TIMEOUT: Duration = Duration::from_millis(500);

async fn queue_notices(app: &TestApp) {
    let now = app.clock.now_utc();
    let notices: Vec<Notice> = (0..NOTICES)
        .map(|i| Notice {
            kind: "overdue_escalation",
            recipient: format!("supervisor{i}@hub.example"),
            about: format!("victim-{i}"),
            due: now.date_naive(),
            subject: format!("Care Hub: update overdue for VCH-TEST-{i}"),
            body: "Hub references only.".into(),
        })
        .collect();
    let tx = app.state.db.begin_write().await.unwrap();
    assert_eq!(outbox::queue(&tx, &notices, now).await.unwrap(), NOTICES as u64);
    tx.commit().await.unwrap();
}

async fn outbox_rows(app: &TestApp) -> Vec<care_hub::entities::outbox::Model> {
    care_hub::entities::outbox::Entity::find().all(app.state.db.read()).await.unwrap()
}

db_test!(
    a_silent_smtp_server_holds_no_worker_past_its_timeout_and_the_backlog_drains_when_a_working_one_returns,
    configure = |c: &mut care_hub::config::Config| {
        c.reminders.dispatch_concurrency = 4;
        c.reminders.retry_base = Duration::from_secs(1);
    },
    |app: TestApp| async move {
        queue_notices(&app).await;
        let sink = SmtpSink::start().await;
        sink.set_mode(Mode::Silent);
        let mailer = Mailer::from_url(&sink.url(), "noreply@care-hub.test", "care-hub.test", SEND_TIMEOUT).unwrap();
        let cfg = app.state.config.reminders.clone();
        // 10 sends, 4 at a time, each abandoned at the timeout: three waves.
        let bound = SEND_TIMEOUT * 3 + Duration::from_secs(2);

        for round in 1..=2 {
            let started = Instant::now();
            let report = dispatch::drain(&app.state.db, &mailer, &cfg, &*app.clock).await.unwrap();
            let took = started.elapsed();
            assert_eq!((report.sent, report.retrying, report.failed), (0, NOTICES as u64, 0), "round {round}");
            assert!(took < bound, "round {round} took {took:?}: a worker waited past its timeout");
            for row in outbox_rows(&app).await {
                assert_eq!(row.status, OutboxStatus::Pending);
                assert_eq!(row.attempts, round);
                assert!(row.last_error.as_deref().unwrap_or_default().contains("no answer"), "{:?}", row.last_error);
            }
            // Past the backoff, so every row is due again.
            app.clock.advance(chrono::Duration::seconds(10));
        }
        assert!(sink.connections() >= NOTICES, "every send reached the server: {}", sink.connections());
        assert!(sink.messages().is_empty());

        sink.set_mode(Mode::Accept);
        let report = dispatch::drain(&app.state.db, &mailer, &cfg, &*app.clock).await.unwrap();
        assert_eq!((report.sent, report.retrying, report.failed), (NOTICES as u64, 0, 0));
        let mut copies: BTreeMap<String, usize> = BTreeMap::new();
        for m in sink.wait_for(NOTICES, Duration::from_secs(5)).await {
            *copies.entry(m.header("message-id").unwrap()).or_default() += 1;
        }
        assert_eq!(copies.len(), NOTICES, "every notice delivered");
        assert!(copies.values().all(|n| *n == 1), "none twice: {copies:?}");
        assert!(outbox_rows(&app).await.iter().all(|r| r.status == OutboxStatus::Sent));
    }
);

/// A file system mounted for one test, unmounted (lazily: the app's connections may still be
/// open) when dropped.
struct Mount {
    dir: tempfile::TempDir,
    image: Option<PathBuf>,
}

impl Mount {
    /// `mount ARGS... DIR`; `None` (the test says why and does not run) without root or mount.
    fn new(args: &[&str], image: Option<PathBuf>) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount").args(args).arg(dir.path()).output();
        match out {
            Ok(o) if o.status.success() => Some(Mount { dir, image }),
            Ok(o) => {
                eprintln!("cannot mount (root and mount(8) are needed): {}", String::from_utf8_lossy(&o.stderr));
                None
            }
            Err(e) => {
                eprintln!("cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

/// An app whose SQLite file lives in `dir` (a copy of the migrated template).
async fn app_in(dir: &Path) -> TestApp {
    let target = dir.join("care-hub.db");
    TestApp::with_config(Backend::Sqlite, |c| {
        let template = c.database_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        std::fs::copy(template, &target).unwrap();
        c.database_url = format!("sqlite://{}?mode=rwc", target.display());
    })
    .await
}

fn new_victim(n: u32) -> serde_json::Value {
    json!({"given_name": "Storage", "family_name": format!("Fault{n}")})
}

/// Writes until the file system refuses: the disk is full.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xA5u8; 64 * 1024];
    loop {
        if f.write_all(&chunk).and_then(|()| f.sync_all()).is_err() {
            break;
        }
    }
    // The last pages, smaller than a chunk.
    while f.write_all(&[0xA5u8; 512]).and_then(|()| f.sync_all()).is_ok() {}
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_service_not_ready_and_writes_a_clear_503_until_space_returns() {
    let Some(mount) = Mount::new(&["-t", "tmpfs", "-o", "size=8m", "tmpfs"], None) else { return };
    let app = app_in(mount.path()).await;
    let cw = app.caseworker();
    let before = app.post(&cw, "/api/v1/victims", new_victim(0)).await;
    before.assert_status(StatusCode::CREATED);
    let hub_ref = before.body["hub_ref"].as_str().unwrap().to_owned();
    app.get("", "/readyz").await.assert_status(StatusCode::OK);

    let filler = fill(mount.path());

    let ready = app.get("", "/readyz").await;
    ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable");
    assert!(ready.body["detail"].as_str().unwrap().contains("free"), "{}", ready.text);
    let refused = app.post(&cw, "/api/v1/victims", new_victim(1)).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable");
    assert!(refused.header("retry-after").is_some());
    // A read of a victim is audited, and the audit trail cannot be written either.
    let read = app.get(&cw, &format!("/api/v1/victims/{hub_ref}")).await;
    read.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    app.get("", "/healthz").await.assert_status(StatusCode::OK);

    std::fs::remove_file(filler).unwrap();

    app.get("", "/readyz").await.assert_status(StatusCode::OK);
    // Writes go through again, and what they write is visible on other connections (the failed
    // writes left the pooled write connection inside a transaction nobody would commit, until
    // db.rs closed such connections).
    app.post(&cw, "/api/v1/victims", new_victim(2)).await.assert_status(StatusCode::CREATED);
    app.get(&cw, &format!("/api/v1/victims/{hub_ref}")).await.assert_status(StatusCode::OK);
    let names: Vec<String> = care_hub::entities::victims::Entity::find()
        .all(app.state.db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.family_name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Fault2".to_owned()), "the write after recovery is visible: {names:?}");
    assert!(!names.contains(&"Fault1".to_owned()), "the refused write left nothing: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_turned_read_only_makes_the_service_not_ready_and_writes_a_clear_503() {
    // What the kernel does to an ext4 file system after an I/O error (errors=remount-ro), with
    // the database open: a loop-mounted image and ext4's own fault trigger.
    let image = std::env::temp_dir().join(format!("care-hub-ro-{}.img", uuid::Uuid::new_v4()));
    let made = Command::new("truncate").args(["-s", "32M"]).arg(&image).status().is_ok_and(|s| s.success())
        && Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image).status().is_ok_and(|s| s.success());
    if !made {
        eprintln!("cannot make an ext4 image (truncate and mkfs.ext4 are needed): this test did not run");
        let _ = std::fs::remove_file(&image);
        return;
    }
    let image_arg = image.display().to_string();
    let Some(mount) = Mount::new(&["-o", "loop,errors=remount-ro", &image_arg], Some(image.clone())) else {
        return;
    };
    let app = app_in(mount.path()).await;
    let cw = app.caseworker();
    app.post(&cw, "/api/v1/victims", new_victim(0)).await.assert_status(StatusCode::CREATED);
    app.get("", "/readyz").await.assert_status(StatusCode::OK);

    let source = Command::new("findmnt").args(["-n", "-o", "SOURCE"]).arg(mount.path()).output().unwrap();
    let device = String::from_utf8_lossy(&source.stdout).trim().trim_start_matches("/dev/").to_owned();
    std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "care-hub read-only test\n").unwrap();

    let ready = app.get("", "/readyz").await;
    ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable");
    assert!(ready.body["detail"].as_str().unwrap().contains("Read-only"), "{}", ready.text);
    let refused = app.post(&cw, "/api/v1/victims", new_victim(1)).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable");
    app.get("", "/healthz").await.assert_status(StatusCode::OK);
    drop(app);
}
