//! Faults around the running processes: PostgreSQL restarted under `care-hub serve` while it
//! answers requests and dispatches reminders, `care-hub import` killed (SIGKILL) mid-file, and
//! three `serve` replicas on one PostgreSQL dispatching reminders while one of them is killed
//! every few seconds.
//! The restart test starts a private PostgreSQL server (initdb into a temporary directory; as the
//! `postgres` user when run as root), never the shared one; it does not run where the PostgreSQL
//! server binaries are missing (it says so). The import test runs on SQLite, and on PostgreSQL
//! when `CARE_HUB_TEST_POSTGRES_URL` is set.
#![allow(dead_code)]

#[path = "api/common/outbox_fill.rs"]
mod outbox_fill;
#[path = "api/common/smtp.rs"]
mod smtp;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use care_hub::config::Config;
use care_hub::db::Db;
use care_hub::vocab::{OutboxStatus, Role};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Statement};
use smtp::{Mode, SmtpSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEAM: &str = "north-hub";

// ------------------------------------------------------------------------------------ helpers

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The PostgreSQL server binaries: `CARE_HUB_TEST_PG_BIN`, else the newest /usr/lib/postgresql/*/bin.
fn pg_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CARE_HUB_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    found.pop()
}

/// A PostgreSQL server of this test's own, on a free port, its socket in its data directory.
struct PrivatePostgres {
    root: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn start() -> Option<Self> {
        let Some(bin) = pg_bin() else {
            eprintln!("no PostgreSQL server binaries (set CARE_HUB_TEST_PG_BIN): this test did not run");
            return None;
        };
        let root = tempfile::Builder::new().prefix("care-hub-pg-").tempdir().unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            // initdb refuses to run as root.
            assert!(Command::new("chown").arg("postgres:postgres").arg(root.path()).status().unwrap().success());
        }
        let pg = PrivatePostgres { root, bin, port: free_port(), as_postgres };
        let data = pg.data();
        let out = pg.tool("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.up();
        Some(pg)
    }

    fn data(&self) -> String {
        self.root.path().join("data").display().to_string()
    }

    fn tool(&self, name: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).stdin(Stdio::null()).output().unwrap()
    }

    fn up(&self) {
        let log = self.root.path().join("server.log").display().to_string();
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.root.path().display());
        let out = self.tool("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Fast shutdown: open sessions are ended, as in a restart for maintenance or a failover.
    fn down(&self) {
        let out = self.tool("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    async fn create_database(&self, name: &str) -> String {
        let admin = Database::connect(self.url("postgres")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
        admin.close().await.unwrap();
        self.url(name)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.tool("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

/// One HTTP exchange as the client saw it.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    content_type: String,
    body: serde_json::Value,
    took: Duration,
}

/// A plain HTTP/1.1 request on a new connection (`Connection: close`); `Err` when no answer
/// came at all within a minute (a hang) or the connection failed.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> Result<Reply, String> {
    let started = Instant::now();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        let payload = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let auth = if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
        let content = if body.is_some() {
            format!("Content-Type: application/json\r\nContent-Length: {}\r\n", payload.len())
        } else {
            String::new()
        };
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}{content}\r\n");
        stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        stream.write_all(&payload).await.map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(raw)
    };
    let raw =
        tokio::time::timeout(Duration::from_mins(1), exchange).await.map_err(|_| "no answer in 60 s".to_owned())??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| format!("not HTTP: {text:?}"))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status: {head}"))?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Reply {
        status,
        content_type: header("content-type").unwrap_or_default(),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        took: started.elapsed(),
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// `care-hub serve` on `port`, its log in `log`; `settings` override the environment below.
fn serve(url: &str, port: u16, secret: &str, smtp: &str, log: &Path, settings: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_care-hub"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CARE_HUB_DATABASE_URL", url)
        .env("CARE_HUB_BIND", format!("127.0.0.1:{port}"))
        .env("CARE_HUB_JWT_SECRET", secret)
        .env("CARE_HUB_SMTP_URL", smtp)
        .env("CARE_HUB_DISPATCH_CONCURRENCY", "4")
        .env("CARE_HUB_SMTP_TIMEOUT_SECS", "5")
        .env("CARE_HUB_OUTBOX_LEASE_SECS", "30")
        .env("CARE_HUB_OUTBOX_RETRY_BASE_SECS", "1")
        .env("CARE_HUB_REQUEST_TIMEOUT_SECS", "10")
        .env("CARE_HUB_RATE_LIMIT_PER_MINUTE", "0")
        .env("CARE_HUB_LOG", "info,sqlx=warn,sea_orm=warn")
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::options().create(true).append(true).open(log).unwrap());
    cmd.spawn().unwrap()
}

async fn wait_ready(port: u16, within: Duration, log: &Path) {
    let deadline = Instant::now() + within;
    loop {
        if http(port, "GET", "/readyz", "", None).await.is_ok_and(|r| r.status == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready in {within:?}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------- PostgreSQL restarted

const REMINDERS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_gives_clean_503s_then_recovery_and_no_reminder_is_lost_or_doubled() {
    let Some(pg) = PrivatePostgres::start() else { return };
    let url = pg.create_database("care_hub").await;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(url.clone(), dir.path().into());
    let secret = String::from_utf8(config.jwt_secret_bytes().to_vec()).unwrap();
    let tokens = care_hub::auth::TokenService::new(&config.jwt, config.jwt_secret_bytes()).unwrap();
    let now = chrono::Utc::now();
    let caseworker = tokens.issue("cw-1", Role::Caseworker, Some(TEAM), None, now, None).unwrap();

    // The team, and reminders queued as the due scan queues them.
    let db = Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    let system = care_hub::audit::Actor { id: "test-setup".into(), ..Default::default() };
    let team = care_hub::teams::dto::TeamInput { code: TEAM.into(), name: "North Hub".into(), active: None };
    care_hub::teams::service::create(&db, &system, &team, now).await.unwrap();
    outbox_fill::queue_reminders(&db, REMINDERS, now).await;
    db.close().await;

    // A mail server slow enough that the restart lands mid-dispatch.
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Slow(Duration::from_millis(40)));
    let port = free_port();
    let log = dir.path().join("serve.log");
    let mut service = serve(&url, port, &secret, &sink.url(), &log, &[]);
    wait_ready(port, Duration::from_mins(1), &log).await;

    // Caseworkers at work: create a record, read it back, over and over.
    let stop = Arc::new(AtomicBool::new(false));
    let replies = Arc::new(std::sync::Mutex::new(Vec::<(Instant, &'static str, Result<Reply, String>)>::new()));
    let mut workers = Vec::new();
    for w in 0..6 {
        let (stop, replies, token) = (stop.clone(), replies.clone(), caseworker.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let body = serde_json::json!({"given_name": "Restart", "family_name": format!("Worker{w}x{n}")});
                let created = http(port, "POST", "/api/v1/victims", &token, Some(&body)).await;
                let hub_ref = created.as_ref().ok().and_then(|r| r.body["hub_ref"].as_str().map(str::to_owned));
                replies.lock().unwrap().push((Instant::now(), "create", created));
                if let Some(hub_ref) = hub_ref {
                    let read = http(port, "GET", &format!("/api/v1/victims/{hub_ref}"), &token, None).await;
                    replies.lock().unwrap().push((Instant::now(), "read", read));
                }
                let ready = http(port, "GET", "/readyz", "", None).await;
                replies.lock().unwrap().push((Instant::now(), "ready", ready));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    let started = Instant::now();
    while sink.messages().len() < 30 {
        assert!(started.elapsed() < Duration::from_mins(1), "dispatch did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent_before = sink.messages().len();
    pg.down();
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    pg.up();
    let up_at = Instant::now();
    assert!(sent_before < REMINDERS, "the restart came after dispatch had finished");

    // Recovery: a record is created after the restart, by the same process.
    let recovered = loop {
        let ok = replies
            .lock()
            .unwrap()
            .iter()
            .any(|(at, what, r)| *at > up_at && *what == "create" && r.as_ref().is_ok_and(|r| r.status == 201));
        if ok {
            break up_at.elapsed();
        }
        assert!(up_at.elapsed() < Duration::from_secs(30), "no write succeeded within 30 s of the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(service.try_wait().unwrap().is_none(), "the service kept running");

    // Every reminder delivered once: wait until the outbox says all are sent, then count at the server.
    let db = Db::connect(&config).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = care_hub::entities::outbox::Entity::find().all(db.read()).await.unwrap();
        if rows.iter().all(|r| r.status == OutboxStatus::Sent) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all sent: {:?}",
            rows.iter().filter(|r| r.status != OutboxStatus::Sent).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.close().await;
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        *copies.entry(m.header("message-id").unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    service.kill().unwrap();
    service.wait().unwrap();

    let replies = replies.lock().unwrap().clone();
    let during: Vec<_> = replies.iter().filter(|(at, _, _)| *at > down_at && *at < up_at).collect();
    let unclean: Vec<_> = replies
        .iter()
        .filter(|(_, _, r)| match r {
            Ok(r) if r.status == 200 || r.status == 201 => false,
            Ok(r) if r.status == 503 => {
                !(r.content_type == "application/problem+json"
                    && ["unavailable", "storage-unavailable"].contains(&r.body["code"].as_str().unwrap_or_default()))
            }
            _ => true,
        })
        .collect();
    let refused = replies.iter().filter(|(_, _, r)| r.as_ref().is_ok_and(|r| r.status == 503)).count();
    let slowest = replies.iter().filter_map(|(_, _, r)| r.as_ref().ok().map(|r| r.took)).max().unwrap();
    eprintln!(
        "{} requests ({} during the outage), {refused} answered 503, slowest {slowest:?}; writes again {recovered:?} \
         after the restart; {} reminders sent, {sent_before} before the outage",
        replies.len(),
        during.len(),
        copies.len()
    );
    assert!(unclean.is_empty(), "answers other than 2xx or a 503 problem: {unclean:#?}");
    assert!(refused > 0, "the outage was never seen by a client");
    assert!(slowest < Duration::from_secs(15), "a request hung for {slowest:?}");
    assert_eq!(copies.len(), REMINDERS, "every reminder delivered");
    assert!(twice.is_empty(), "reminders sent twice: {twice:?}");
}

// -------------------------------------------------------------------- import killed mid-file

/// The database for one run of the import test and how to reach it.
struct Target {
    url: String,
    dir: tempfile::TempDir,
    drop_pg: Option<(String, String)>,
}

impl Target {
    async fn new(backend: &str, name: &str) -> Option<Target> {
        let dir = tempfile::tempdir().unwrap();
        if backend == "sqlite" {
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("care-hub.db").display());
            return Some(Target { url, dir, drop_pg: None });
        }
        let Some(base) = std::env::var("CARE_HUB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty()) else {
            eprintln!("CARE_HUB_TEST_POSTGRES_URL is not set: this PostgreSQL variant did not run");
            return None;
        };
        let name = format!("care_hub_{name}_{}", std::process::id());
        let admin = Database::connect(&base).await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
        admin.close().await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        Some(Target { url: format!("{prefix}/{name}"), dir, drop_pg: Some((base, name)) })
    }

    async fn db(&self) -> Db {
        let db = Db::connect(&Config::for_tests(self.url.clone(), self.dir.path().into())).await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    fn care_hub(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_care-hub"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CARE_HUB_DATABASE_URL", &self.url)
            .env("CARE_HUB_JWT_SECRET", "import-fault-test-secret-long-enough-for-hs256")
            .env("CARE_HUB_LOG", "warn")
            .stdin(Stdio::null());
        cmd
    }

    async fn finish(self) {
        if let Some((base, name)) = self.drop_pg {
            let admin = Database::connect(&base).await.unwrap();
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
            admin.close().await.unwrap();
        }
    }
}

async fn query_strings(db: &Db, sql: &str) -> Vec<String> {
    let rows = db.read().query_all_raw(Statement::from_string(db.backend(), sql.to_owned())).await.unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// Rows of `table`, which may carry a `WHERE` clause.
async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
    let row = db.read().query_one_raw(Statement::from_string(db.backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Every journey, as text, without the time it was last written.
async fn journeys_snapshot(db: &Db) -> Vec<String> {
    let rows = care_hub::entities::journeys::Entity::find().all(db.read()).await.unwrap();
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|mut j| {
            j.updated_at = chrono::DateTime::from_timestamp(0, 0).unwrap();
            j.rev = 0;
            format!("{j:?}")
        })
        .collect();
    out.sort();
    out
}

/// The lines `care-hub import` has committed from `file`, from the audit events each batch writes.
async fn committed_lines(db: &Db, file: &str) -> Vec<(u64, u64)> {
    let sql = format!(
        "SELECT resource_id FROM audit_events WHERE resource_type = 'import' AND resource_id LIKE '{file} lines %'"
    );
    let mut out: Vec<(u64, u64)> = query_strings(db, &sql)
        .await
        .iter()
        .map(|r| {
            let (a, b) = r.rsplit_once(' ').unwrap().1.split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    out.sort_unstable();
    out
}

/// Starts an import, waits until at least one batch of it is committed, and kills it (SIGKILL).
async fn kill_mid_import(t: &Target, db: &Db, agency: &str, file: &Path) -> Vec<(u64, u64)> {
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    let mut child = t
        .care_hub(&["import", "--agency", agency, "--format", "csv", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if !committed_lines(db, &name).await.is_empty() {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the import ended before a batch was committed");
        assert!(started.elapsed() < Duration::from_mins(2), "no batch committed in 2 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    committed_lines(db, &name).await
}

fn import_to_the_end(t: &Target, agency: &str, file: &Path) -> String {
    let out = t.care_hub(&["import", "--agency", agency, "--format", "csv", file.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// `source_event_id` by the file line its record starts on.
fn event_ids_by_line(file: &Path) -> Vec<(u64, String)> {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let column = reader.headers().unwrap().iter().position(|h| h == "source_event_id").unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r.position().unwrap().line(), r[column].to_owned())
        })
        .collect()
}

async fn import_survives_kill(backend: &str) {
    let Some(t) = Target::new(backend, "import_kill").await else { return };
    let generated = t.dir.path().join("gen");
    let out = t
        .care_hub(&["generate", "--victims", "6000", "--seed", "7", "--out", generated.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = t.db().await;
    let system = care_hub::audit::Actor { id: "test-setup".into(), ..Default::default() };
    let now = chrono::Utc::now();
    let team = care_hub::teams::dto::TeamInput {
        code: care_hub::import::GENERATED_TEAM.into(),
        name: "Generated hub".into(),
        active: None,
    };
    care_hub::teams::service::create(&db, &system, &team, now).await.unwrap();
    for (code, name, kind, parent) in care_hub::import::GENERATED_AGENCIES {
        let input = care_hub::agencies::dto::AgencyInput {
            code: (*code).into(),
            name: (*name).into(),
            kind: *kind,
            parent: parent.map(str::to_owned),
            liaison_email: None,
            active: None,
        };
        care_hub::agencies::service::create(&db, &system, input, now).await.unwrap();
    }

    // Intake killed part-way: whole batches only, each victim with its case link and schedule,
    // and exactly the victims the committed batches' audit events name.
    let intake = generated.join("police-intake.csv");
    let batches = kill_mid_import(&t, &db, "GEN-POLICE", &intake).await;
    let victims = count(&db, "victims").await;
    assert!(victims > 0 && victims < 6000, "killed part-way: {victims} victims, batches {batches:?}");
    assert_eq!(count(&db, "contact_schedule").await, victims, "a schedule per victim");
    let linked = count(&db, "(SELECT DISTINCT victim_id FROM case_victims) linked").await;
    assert_eq!(linked, victims, "every victim on a case");
    let audited: BTreeSet<String> = care_hub::entities::audit_events::Entity::find()
        .all(db.read())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.resource_type == "import")
        .flat_map(|e| e.subjects.0.into_iter().chain(e.victim_id).map(|id| id.to_string()))
        .collect();
    let stored: BTreeSet<String> = care_hub::entities::victims::Entity::find()
        .all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id.to_string())
        .collect();
    assert_eq!(audited, stored, "the victims stored are those of the committed batches");
    eprintln!("{backend}: intake killed with {victims} of 6000 victims in, batches {batches:?}");
    let summary = import_to_the_end(&t, "GEN-POLICE", &intake);
    assert!(summary.contains(&format!("{victims} duplicates")), "the re-run skips what was loaded: {summary}");
    assert_eq!(count(&db, "victims").await, 6000, "{summary}");
    assert_eq!(count(&db, "contact_schedule").await, 6000);

    // Events killed part-way: the events stored are exactly those of the committed lines, and
    // the journeys are what their events say (a rebuild changes nothing).
    let events = generated.join("police-events.csv");
    let batches = kill_mid_import(&t, &db, "GEN-POLICE", &events).await;
    let last = batches.iter().map(|b| b.1).max().unwrap();
    let expected: BTreeSet<String> =
        event_ids_by_line(&events).into_iter().filter(|(line, _)| *line <= last).map(|(_, id)| id).collect();
    let stored: BTreeSet<String> =
        query_strings(&db, "SELECT source_event_id FROM journey_events WHERE source_agency = 'GEN-POLICE'")
            .await
            .into_iter()
            .collect();
    let total = event_ids_by_line(&events).len();
    assert!(!stored.is_empty() && stored.len() < total, "killed part-way: {} of {total} events", stored.len());
    assert_eq!(stored, expected, "whole batches only, up to line {last}");
    let before = journeys_snapshot(&db).await;
    assert!(!before.is_empty());
    eprintln!(
        "{backend}: events killed with {} of {total} in (lines up to {last}), {} journeys",
        stored.len(),
        before.len()
    );
    let rebuilt = t.care_hub(&["journeys", "rebuild"]).output().unwrap();
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert_eq!(journeys_snapshot(&db).await, before, "a rebuild changes nothing");

    let summary = import_to_the_end(&t, "GEN-POLICE", &events);
    assert!(summary.contains(&format!("{} duplicates", stored.len())), "{summary}");
    let all: BTreeSet<String> =
        query_strings(&db, "SELECT source_event_id FROM journey_events WHERE source_agency = 'GEN-POLICE'")
            .await
            .into_iter()
            .collect();
    let in_file: BTreeSet<String> = event_ids_by_line(&events).into_iter().map(|(_, id)| id).collect();
    assert_eq!(all, in_file, "nothing lost: every event of the file is in");
    let before = journeys_snapshot(&db).await;
    let rebuilt = t.care_hub(&["journeys", "rebuild"]).output().unwrap();
    assert!(rebuilt.status.success());
    assert_eq!(journeys_snapshot(&db).await, before, "a rebuild after the re-run changes nothing");
    db.close().await;
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_file_leaves_whole_batches_and_a_rerun_completes_it_sqlite() {
    import_survives_kill("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_file_leaves_whole_batches_and_a_rerun_completes_it_postgres() {
    import_survives_kill("postgres").await;
}

// ------------------------------------------------------------- replicas killed while sending

/// Dispatch concurrency of each replica: at most this many messages are in flight when one dies.
const REPLICA_CONCURRENCY: usize = 4;

/// Three `care-hub serve` replicas on one PostgreSQL database, every one running the scheduler and
/// the dispatcher, with 10,000 reminders due (`CARE_HUB_TEST_REPLICA_REMINDERS` changes the
/// number) and one replica killed (SIGKILL) and restarted every 1.5 s until all are delivered.
/// Counted by Message-ID at a loopback SMTP server: every reminder arrives, and a reminder
/// arrives twice only when a replica died holding it (at most its dispatch concurrency per kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_killed_in_turn_deliver_every_reminder_and_repeat_only_those_in_flight() {
    let Some(t) = Target::new("postgres", "replicas").await else { return };
    let reminders: usize =
        std::env::var("CARE_HUB_TEST_REPLICA_REMINDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let db = t.db().await;
    let now = chrono::Utc::now();
    outbox_fill::queue_reminders(&db, reminders, now).await;

    let sink = SmtpSink::start().await;
    let secret = "replica-test-secret-that-is-long-enough-for-hs256";
    let concurrency = REPLICA_CONCURRENCY.to_string();
    let settings = [
        ("CARE_HUB_DISPATCH_CONCURRENCY", concurrency.as_str()),
        ("CARE_HUB_SMTP_TIMEOUT_SECS", "2"),
        ("CARE_HUB_OUTBOX_LEASE_SECS", "3"),
        ("CARE_HUB_LOG", "warn"),
    ];
    let start = |i: usize| {
        let port = free_port();
        let log = t.dir.path().join(format!("replica-{i}.log"));
        serve(&t.url, port, secret, &sink.url(), &log, &settings)
    };
    let mut replicas: Vec<Child> = (0..3).map(start).collect();

    // Kill one replica in turn every 1.5 s (the first kill once sending has begun) and start it again.
    let started = Instant::now();
    let mut kills = 0;
    let mut kills_mid_send = 0;
    let distinct = || sink.messages().iter().filter_map(|m| m.header("message-id")).collect::<BTreeSet<_>>().len();
    loop {
        // Copies count too, so the distinct Message-IDs are counted only once enough have arrived.
        if sink.count() >= reminders && distinct() >= reminders {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_mins(5),
            "{} of {reminders} delivered after 5 minutes and {kills} kills",
            distinct()
        );
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let before = sink.count();
        if before == 0 {
            continue;
        }
        let victim = kills % replicas.len();
        replicas[victim].kill().unwrap();
        replicas[victim].wait().unwrap();
        kills += 1;
        if before < reminders {
            kills_mid_send += 1;
        }
        replicas[victim] = start(victim);
    }
    let took = started.elapsed();

    // The outbox agrees: every row sent; then no replica sends anything more.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = count(&db, "outbox WHERE status <> 'sent'").await;
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} outbox rows not sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for r in &mut replicas {
        r.kill().unwrap();
        r.wait().unwrap();
    }
    db.close().await;

    let messages = sink.messages();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        *copies.entry(m.header("message-id").unwrap()).or_default() += 1;
    }
    let repeated: usize = copies.values().map(|n| n - 1).sum();
    eprintln!(
        "{reminders} reminders, 3 replicas, {kills} kills ({kills_mid_send} while sending): {} distinct \
         Message-IDs, {} messages, {repeated} repeats, all delivered in {took:?}",
        copies.len(),
        messages.len()
    );
    assert_eq!(copies.len(), reminders, "every reminder delivered");
    assert!(kills_mid_send >= 2, "the kills came after sending had finished ({kills_mid_send} mid-send)");
    assert!(
        repeated <= kills_mid_send * REPLICA_CONCURRENCY,
        "{repeated} repeats from {kills_mid_send} kills of replicas sending at most {REPLICA_CONCURRENCY} at once"
    );
    t.finish().await;
}
