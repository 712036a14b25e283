//! The load generator of `scripts/bench-load.sh`: concurrent caseworker sessions over keep-alive
//! HTTP/1.1 on loopback, with per-operation latency and errors by status.
//!
//! `loadgen seed ADDR TOKENS PER_CASEWORKER OUT`: for every caseworker in TOKENS (lines
//! `sub token`), creates PER_CASEWORKER victims assigned to them, each with one past contact so
//! the caseloads have due dates spread over weeks; writes `sub hub_ref family_name` lines to OUT.
//!
//! `loadgen run ADDR TOKENS REFS CONCURRENCY DURATION_S WARMUP_S LABEL`: CONCURRENCY clients,
//! client i acting as caseworker i on only that caseworker's victims (disjoint, so an ETag can go
//! stale only through a bug, and a 412 counts as an error), each looping a session: search, read,
//! update (If-Match from the read), add a contact, log a service issue, due work. Prints one JSON
//! line. No think time: a closed loop at the given concurrency.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPS: [&str; 6] = ["search", "read", "update", "add_contact", "log_issue", "due_work"];
const READS: [&str; 3] = ["search", "read", "due_work"];
const GIVEN: [&str; 12] =
    ["Amira", "Ben", "Chloe", "Dev", "Ewa", "Femi", "Grace", "Hassan", "Isla", "Jakub", "Kemi", "Liam"];
const FAMILY: [&str; 16] = [
    "Ashdown", "Begum", "Carter", "Dlamini", "Evans", "Fraser", "Green", "Hughes", "Iqbal", "Jones", "Khan", "Lewis",
    "Morgan", "Nowak", "Okafor", "Patel",
];

/// One keep-alive HTTP/1.1 connection; reconnects after an error or `Connection: close`.
struct Client {
    addr: String,
    token: String,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

struct Response {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Client {
    fn new(addr: &str, token: &str) -> Self {
        Client { addr: addr.to_owned(), token: token.to_owned(), conn: None, buf: Vec::with_capacity(16 * 1024) }
    }

    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Response {
        match self.try_send(method, path, headers, body).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                eprintln!("{method} {path}: {e}");
                Response { status: 0, etag: None, body: Vec::new() }
            }
        }
    }

    async fn try_send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> std::io::Result<Response> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.conn = Some(s);
        }
        let body = body.map(|b| serde_json::to_vec(b).expect("json"));
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\n",
            self.addr, self.token
        );
        for (k, v) in headers {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        if let Some(b) = &body {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                req.push_str("Content-Type: application/json\r\n");
            }
            let _ = write!(req, "Content-Length: {}\r\n", b.len());
        }
        req.push_str("\r\n");
        let mut out = req.into_bytes();
        out.extend_from_slice(body.as_deref().unwrap_or_default());
        let conn = self.conn.as_mut().expect("connected");
        conn.write_all(&out).await?;
        let resp = read_response(conn, &mut self.buf).await?;
        if resp.1 {
            self.conn = None;
        }
        Ok(resp.0)
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

/// Reads one response (Content-Length or chunked); also says whether the server closes.
async fn read_response(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(Response, bool)> {
    buf.clear();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        fill(conn, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head not UTF-8"))?.to_owned();
    let mut lines = head.split("\r\n");
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let (mut length, mut chunked, mut close, mut etag) = (0usize, false, false, None);
    for line in lines {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.parse().map_err(|_| bad("content-length"))?,
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" => close = v.eq_ignore_ascii_case("close"),
            "etag" => etag = Some(v.to_owned()),
            _ => {}
        }
    }
    let mut rest = buf.split_off(head_end);
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                fill(conn, &mut rest).await?;
            };
            let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            while rest.len() < line_end + 2 + size + 2 {
                fill(conn, &mut rest).await?;
            }
            body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break body;
            }
        }
    } else {
        while rest.len() < length {
            fill(conn, &mut rest).await?;
        }
        rest.truncate(length);
        rest
    };
    Ok((Response { status, etag, body }, close))
}

async fn fill(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.reserve(16 * 1024);
    if conn.read_buf(buf).await? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(())
}

fn read_lines(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn now_minus(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Creates `per` victims for one caseworker; returns `sub hub_ref family` lines.
async fn seed_one(addr: String, sub: String, token: String, per: usize) -> String {
    let mut c = Client::new(&addr, &token);
    let mut out = String::new();
    for i in 0..per {
        let (given, family, days_ago, dob_year) = {
            let mut rng = rand::rng();
            (
                *GIVEN.choose(&mut rng).unwrap(),
                *FAMILY.choose(&mut rng).unwrap(),
                rng.random_range(0..40i64),
                rng.random_range(1940..2008),
            )
        };
        let body = json!({
            "given_name": given, "family_name": family, "date_of_birth": format!("{dob_year}-0{}-1{}", 1 + i % 9, i % 10),
            "contact": {"phone": "07700 900123", "preferred_channel": "phone"},
            "language": "en", "assigned_caseworker": sub,
        });
        let r = c.send("POST", "/api/v1/victims?allow_duplicate=true", &[], Some(&body)).await;
        assert_eq!(r.status, 201, "create victim: {}", String::from_utf8_lossy(&r.body));
        let v: Value = serde_json::from_slice(&r.body).expect("victim json");
        let hub = v["hub_ref"].as_str().expect("hub_ref").to_owned();
        let contact = json!({"occurred_at": now_minus(days_ago * 1440 + 60), "channel": "phone", "outcome": "reached", "kind": "routine_update"});
        let r = c.send("POST", &format!("/api/v1/victims/{hub}/contacts"), &[], Some(&contact)).await;
        assert_eq!(r.status, 201, "seed contact: {}", String::from_utf8_lossy(&r.body));
        let _ = writeln!(out, "{sub} {hub} {family}");
    }
    out
}

#[derive(Default)]
struct Tally {
    micros: BTreeMap<&'static str, Vec<u32>>,
    statuses: BTreeMap<&'static str, BTreeMap<u16, u64>>,
    sessions: u64,
}

impl Tally {
    fn record(&mut self, op: &'static str, started: Instant, status: u16, measuring: bool) {
        if !measuring {
            return;
        }
        self.micros.entry(op).or_default().push(started.elapsed().as_micros() as u32);
        *self.statuses.entry(op).or_default().entry(status).or_default() += 1;
    }
}

/// One client's loop of caseworker sessions over its own victims until `end`.
async fn session_loop(
    addr: String,
    token: String,
    victims: Vec<(String, String)>,
    warm_end: Instant,
    end: Instant,
) -> Tally {
    let mut client = Client::new(&addr, &token);
    let mut tally = Tally::default();
    let mut session = 0u64;
    while Instant::now() < end {
        let measuring = Instant::now() >= warm_end;
        let (hub, family) = &victims[rand::rng().random_range(0..victims.len())];
        session += 1;

        let started = Instant::now();
        let resp = client.send("GET", &format!("/api/v1/victims?name={family}&limit=20"), &[], None).await;
        tally.record("search", started, resp.status, measuring);

        let started = Instant::now();
        let resp = client.send("GET", &format!("/api/v1/victims/{hub}"), &[], None).await;
        tally.record("read", started, resp.status, measuring);
        let etag = resp.etag.unwrap_or_else(|| "\"none\"".to_owned());

        let patch = json!({"communication_needs": format!("Prefers calls after 10am (session {session})")});
        let started = Instant::now();
        let resp = client
            .send(
                "PATCH",
                &format!("/api/v1/victims/{hub}"),
                &[("If-Match", &etag), ("Content-Type", "application/merge-patch+json")],
                Some(&patch),
            )
            .await;
        tally.record("update", started, resp.status, measuring);

        let contact = json!({"occurred_at": now_minus(1), "channel": "phone", "outcome": "reached", "kind": "routine_update", "summary": "Explained the investigation is ongoing."});
        let started = Instant::now();
        let resp = client.send("POST", &format!("/api/v1/victims/{hub}/contacts"), &[], Some(&contact)).await;
        tally.record("add_contact", started, resp.status, measuring);

        let issue = json!({"victim": hub, "category": "other", "description": "Letter went to an old address.", "severity": "low"});
        let started = Instant::now();
        let resp = client.send("POST", "/api/v1/service-issues", &[], Some(&issue)).await;
        tally.record("log_issue", started, resp.status, measuring);

        let started = Instant::now();
        let resp = client.send("GET", "/api/v1/me/due-work?limit=50", &[], None).await;
        tally.record("due_work", started, resp.status, measuring);
        if measuring {
            tally.sessions += 1;
        }
    }
    tally
}

/// Exact nearest-rank percentile of sorted samples, in milliseconds.
fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    f64::from(sorted[rank - 1]) / 1000.0
}

fn summary(sorted: &mut [u32]) -> Value {
    sorted.sort_unstable();
    let mean = if sorted.is_empty() {
        0.0
    } else {
        sorted.iter().map(|&v| f64::from(v)).sum::<f64>() / sorted.len() as f64 / 1000.0
    };
    json!({"count": sorted.len(), "p50_ms": pct(sorted, 50.0), "p90_ms": pct(sorted, 90.0), "p99_ms": pct(sorted, 99.0),
           "max_ms": pct(sorted, 100.0), "mean_ms": (mean * 1000.0).round() / 1000.0})
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loadgen seed ADDR TOKENS PER_CASEWORKER OUT | loadgen run ADDR TOKENS REFS CONCURRENCY DURATION_S WARMUP_S LABEL";
    match args.first().map(String::as_str) {
        Some("seed") if args.len() == 5 => {
            let per: usize = args[3].parse().expect("PER_CASEWORKER");
            let tasks: Vec<_> = read_lines(&args[2])
                .into_iter()
                .map(|l| tokio::spawn(seed_one(args[1].clone(), l[0].clone(), l[1].clone(), per)))
                .collect();
            let mut out = String::new();
            for t in tasks {
                out.push_str(&t.await.expect("seed task"));
            }
            std::fs::write(&args[4], out).expect("write refs");
        }
        Some("run") if args.len() == 8 => run(&args).await,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

async fn run(args: &[String]) {
    let (addr, tokens, refs) = (&args[1], read_lines(&args[2]), read_lines(&args[3]));
    let concurrency: usize = args[4].parse().expect("CONCURRENCY");
    let duration = Duration::from_secs_f64(args[5].parse().expect("DURATION_S"));
    let warmup = Duration::from_secs_f64(args[6].parse().expect("WARMUP_S"));
    assert!(tokens.len() >= concurrency, "need a caseworker token per client ({} < {concurrency})", tokens.len());
    let start = Instant::now();
    let (warm_end, end) = (start + warmup, start + warmup + duration);
    let mut tasks = Vec::new();
    for line in &tokens[..concurrency] {
        let victims: Vec<(String, String)> =
            refs.iter().filter(|r| r[0] == line[0]).map(|r| (r[1].clone(), r[2].clone())).collect();
        assert!(!victims.is_empty(), "no victims for caseworker {}", line[0]);
        tasks.push(tokio::spawn(session_loop(addr.clone(), line[1].clone(), victims, warm_end, end)));
    }
    let mut all = Tally::default();
    let mut finished = Vec::new();
    for t in tasks {
        finished.push(t.await.expect("client task"));
    }
    // The last sessions end a little after `end`: throughput is over the time actually measured.
    let secs = warm_end.elapsed().as_secs_f64();
    for t in finished {
        all.sessions += t.sessions;
        for (op, v) in t.micros {
            all.micros.entry(op).or_default().extend(v);
        }
        for (op, m) in t.statuses {
            for (s, n) in m {
                *all.statuses.entry(op).or_default().entry(s).or_default() += n;
            }
        }
    }
    let (mut reads, mut writes, mut ops, mut errors) =
        (Vec::new(), Vec::new(), serde_json::Map::new(), BTreeMap::new());
    for op in OPS {
        let mut v = all.micros.remove(op).unwrap_or_default();
        if READS.contains(&op) {
            reads.extend_from_slice(&v);
        } else {
            writes.extend_from_slice(&v);
        }
        let statuses = all.statuses.remove(op).unwrap_or_default();
        let op_errors: u64 = statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum();
        for (s, n) in statuses.iter().filter(|(s, _)| !(200..300).contains(*s)) {
            *errors.entry(s.to_string()).or_insert(0u64) += n;
        }
        let mut o = summary(&mut v);
        o["errors"] = json!(op_errors);
        o["statuses"] = json!(statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<_, _>>());
        ops.insert(op.to_owned(), o);
    }
    let requests = reads.len() + writes.len();
    let line = json!({
        "label": args[7], "concurrency": concurrency, "duration_s": secs, "warmup_s": warmup.as_secs_f64(),
        "requests": requests, "sessions": all.sessions,
        "throughput_rps": (requests as f64 / secs).round(),
        "reads": summary(&mut reads), "writes": summary(&mut writes),
        "loadavg": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" ")),
        "errors": errors.values().sum::<u64>(), "errors_by_status": errors, "ops": ops,
    });
    println!("{line}");
}
