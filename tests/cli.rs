//! The `care-hub` binary as an operator meets it: a fresh directory, no configuration.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "cli-test-secret-that-is-long-enough-for-hs256";

fn care_hub(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_care-hub"));
    cmd.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

fn http_get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Starts `serve`, returning the child and the address it logged.
fn start(dir: &Path, args: &[&str]) -> (Child, String) {
    let mut child = care_hub(dir)
        .args(["serve"])
        .args(args)
        .env("CARE_HUB_BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn care-hub serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_mins(1)).expect("serve logged its address");
    (child, addr)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_on_a_fresh_directory_creates_its_database_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path(), &["--demo"]);
    assert_eq!(http_get(&addr, "/healthz", None).0, 200);
    assert_eq!(http_get(&addr, "/readyz", None).0, 200);
    assert!(dir.path().join("data/care-hub.db").exists(), "SQLite database under ./data");
    assert!(dir.path().join("data/jwt-secret").exists(), "development secret kept under ./data");

    // A token from the CLI (same development secret) opens the demo data.
    let out = care_hub(dir.path())
        .args(["token", "--sub", "newcomer", "--role", "caseworker", "--team", "north-hub"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let (status, body) = http_get(&addr, "/api/v1/victims?limit=3", Some(token.trim()));
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_eq!(http_get(&addr, "/api/v1/victims", None).0, 401);

    assert!(terminate(&mut child).success(), "graceful shutdown exits 0");
    // A second start finds the database migrated and the demo already loaded.
    let (mut child, addr) = start(dir.path(), &["--demo"]);
    let (_, body) = http_get(&addr, "/api/v1/victims?limit=200", Some(token.trim()));
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 9, "demo data is loaded once");
    assert!(terminate(&mut child).success());
}

#[test]
fn token_prints_only_a_token_that_the_service_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = care_hub(dir.path())
        .env("CARE_HUB_JWT_SECRET", SECRET)
        .args(["token", "--sub", "u-1", "--role", "supervisor", "--team", "north-hub"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(stdout.trim().split('.').count(), 3);
    let config = care_hub::config::JwtConfig {
        mode: care_hub::config::AuthMode::BuiltIn,
        refresh_ttl: Duration::from_hours(1),
        secret: SECRET.to_owned().into(),
        generated: false,
        issuer: "care-hub".into(),
        audience: "care-hub".into(),
        ttl: Duration::from_mins(15),
    };
    let tokens = care_hub::auth::TokenService::new(&config, SECRET.as_bytes()).unwrap();
    let user = tokens.verify(stdout.trim(), chrono::Utc::now()).unwrap();
    assert_eq!(user.sub, "u-1");
    assert_eq!(user.team.as_deref(), Some("north-hub"));

    let out = care_hub(dir.path())
        .env("CARE_HUB_JWT_SECRET", SECRET)
        .args(["token", "--sub", "u", "--role", "caseworker"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--team"));
}

#[test]
fn an_invalid_setting_stops_start_up_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("CARE_HUB_BIND", "not-an-address"),
        ("CARE_HUB_DATABASE_URL", "mysql://localhost/hub"),
        ("CARE_HUB_JWT_SECRET", "too-short"),
        ("CARE_HUB_SMTP_URL", "ftp://mail.example"),
        ("CARE_HUB_LOG_FORMAT", "xml"),
        ("CARE_HUB_REQUEST_TIMEOUT_SECS", "soon"),
        ("CARE_HUB_MAX_BODY_BYTES", "12"),
    ] {
        let out = care_hub(dir.path()).env(var, value).args(["serve"]).output().unwrap();
        assert!(!out.status.success(), "{var}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

#[test]
fn migrate_applies_pending_migrations_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = care_hub(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let pending = <migration::Migrator as migration::MigratorTrait>::migrations().len();
    assert!(run(&["migrate", "--status"]).starts_with(&format!("{pending} pending")));
    assert!(run(&["migrate"]).contains("migrations applied"));
    assert!(run(&["migrate", "--status"]).starts_with("0 pending"));
    let spec = run(&["openapi"]);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/api-spec/openapi.yaml")).unwrap();
    assert_eq!(spec, committed, "`care-hub openapi` prints the committed spec");
}

#[test]
fn user_add_reads_the_password_from_stdin_and_audit_verify_checks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = care_hub(dir.path())
            .env("CARE_HUB_JWT_SECRET", SECRET)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    // The first admin needs no API call.
    let out = run(
        &["user", "add", "--email", "first.admin@hub.example", "--name", "First Admin", "--role", "admin"],
        "a long admin passphrase\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first.admin@hub.example"));
    let weak = run(&["user", "add", "--email", "weak@hub.example", "--name", "Weak", "--role", "analyst"], "short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"), "{}", String::from_utf8_lossy(&weak.stderr));
    let no_team = run(
        &["user", "add", "--email", "cw@hub.example", "--name", "Cw", "--role", "caseworker"],
        "a long enough passphrase\n",
    );
    assert!(!no_team.status.success());
    assert!(String::from_utf8_lossy(&no_team.stderr).contains("team"));

    let ok = run(&["audit", "verify"], "");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"ok\": true"));

    // Someone with the database file edits an event behind the service's back.
    let db = rusqlite::Connection::open(dir.path().join("data/care-hub.db")).unwrap();
    db.execute_batch("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET actor = 'nobody' WHERE seq = 1;")
        .unwrap();
    drop(db);
    let broken = run(&["audit", "verify"], "");
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("broken at event 1"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}

#[test]
fn report_board_pack_writes_each_format_and_is_audited_as_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = care_hub(dir.path()).env("USER", "ops").args(args).output().unwrap();
        assert!(out.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["generate", "--victims", "80", "--out", "extracts", "--load"]);
    let area = care_hub::generate::FORCE;
    let pack = |format: &str| {
        let file = format!("pack.{format}");
        let said = run(&[
            "report",
            "board-pack",
            "--area",
            area,
            "--from",
            "2000-01-01",
            "--to",
            "2030-12-31",
            "--format",
            format,
            "--out",
            &file,
        ]);
        assert!(said.starts_with(&format!("board pack written to {file}")), "{said}");
        std::fs::read(dir.path().join(file)).unwrap()
    };
    let html = String::from_utf8(pack("html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("data-node=\"REPORTED\""));
    assert!(html.contains(area), "the area is named");
    assert!(pack("xlsx").starts_with(b"PK"));
    assert!(pack("pdf").starts_with(b"%PDF-"));

    let bad = care_hub(dir.path()).args(["report", "board-pack", "--format", "docx", "--out", "x"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("html, xlsx or pdf"));
    let backwards = care_hub(dir.path())
        .args(["report", "board-pack", "--from", "2026-02-01", "--to", "2026-01-01", "--out", "x"])
        .output()
        .unwrap();
    assert!(!backwards.status.success());
    assert!(
        String::from_utf8_lossy(&backwards.stderr).contains("to"),
        "{}",
        String::from_utf8_lossy(&backwards.stderr)
    );

    let db = rusqlite::Connection::open(dir.path().join("data/care-hub.db")).unwrap();
    let actors: Vec<String> = db
        .prepare("SELECT actor FROM audit_events WHERE resource_id = 'board-pack' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actors, ["cli:ops", "cli:ops", "cli:ops"]);
}
