//! The security baseline over real HTTP on loopback: response headers, CORS, server errors that keep
//! their cause in the log, and logs that never hold a secret.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderValue;
use care_hub::config::Config;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::common::*;
use crate::db_test;

const ALLOWED: &str = "https://app.care-hub.example";
const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The app served on a loopback port until dropped.
struct Served {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn start(app: &TestApp) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = app.router.clone().into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Served { addr, task }
    }

    /// One HTTP/1.1 request on a connection of its own.
    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Wire {
        use std::fmt::Write as _;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (name, value) in headers {
            write!(head, "{name}: {value}\r\n").unwrap();
        }
        if !body.is_empty() {
            write!(head, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()).unwrap();
        }
        head.push_str("\r\n");
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        Wire::parse(&String::from_utf8_lossy(&raw))
    }

    async fn get(&self, path: &str, token: &str) -> Wire {
        let auth = format!("Bearer {token}");
        let headers: &[(&str, &str)] = if token.is_empty() { &[] } else { &[("Authorization", &auth)] };
        self.send("GET", path, headers, None).await
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> Wire {
        let auth = format!("Bearer {token}");
        let headers: &[(&str, &str)] = if token.is_empty() { &[] } else { &[("Authorization", &auth)] };
        self.send("POST", path, headers, Some(body)).await
    }

    /// A browser's CORS preflight for `method` from `origin`.
    async fn preflight(&self, path: &str, origin: &str, method: &str) -> Wire {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "authorization,if-match,content-type"),
        ];
        self.send("OPTIONS", path, &headers, None).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response as it came off the wire.
struct Wire {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Wire {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Wire { status, headers, body: body.to_owned() }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn cors_headers(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).filter(|n| n.starts_with("access-control-")).collect()
    }

    /// The comma-separated values of a header, in lower case.
    fn list(&self, name: &str) -> Vec<String> {
        self.header(name).unwrap_or_default().split(',').map(|v| v.trim().to_ascii_lowercase()).collect()
    }

    #[track_caller]
    fn assert_security_headers(&self, csp: &str) {
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("content-security-policy", csp),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(self.header(name), Some(value), "{name} on a {} response: {:?}", self.status, self.headers);
        }
    }
}

db_test!(security_headers_are_on_every_response, |app: TestApp| async move {
    let served = Served::start(&app).await;
    let victims = served.get("/api/v1/victims", &app.caseworker()).await;
    assert_eq!(victims.status, 200, "{}", victims.body);
    let unauthenticated = served.get("/api/v1/victims", "").await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.header("content-type"), Some("application/problem+json"));
    let missing = served.get("/api/v1/nowhere", &app.caseworker()).await;
    assert_eq!(missing.status, 404);
    let wrong_method = served.send("PUT", "/healthz", &[], None).await;
    assert_eq!(wrong_method.status, 405);
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let open = served.get(path, "").await;
        assert_eq!(open.status, 200, "{path}");
        open.assert_security_headers(JSON_CSP);
    }
    for r in [&victims, &unauthenticated, &missing, &wrong_method] {
        r.assert_security_headers(JSON_CSP);
        assert_eq!(r.header("strict-transport-security"), None, "HSTS is off unless configured");
    }
    // The one HTML page loads its own scripts and styles, and still cannot be framed.
    let docs = served.get("/docs/", "").await;
    assert_eq!(docs.status, 200);
    docs.assert_security_headers(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'",
    );
});

db_test!(hsts_is_sent_when_configured, configure = |c: &mut Config| c.hsts = true, |app: TestApp| async move {
    let served = Served::start(&app).await;
    for r in [served.get("/healthz", "").await, served.get("/api/v1/victims", "").await] {
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000; includeSubDomains"));
        r.assert_security_headers(JSON_CSP);
    }
});

db_test!(cors_is_off_by_default, |app: TestApp| async move {
    let served = Served::start(&app).await;
    let preflight = served.preflight("/api/v1/victims", ALLOWED, "POST").await;
    assert_eq!(preflight.cors_headers(), Vec::<&str>::new(), "{:?}", preflight.headers);
    let auth = format!("Bearer {}", app.caseworker());
    let get = served.send("GET", "/api/v1/victims", &[("Origin", ALLOWED), ("Authorization", &auth)], None).await;
    assert_eq!(get.status, 200);
    assert_eq!(get.cors_headers(), Vec::<&str>::new(), "{:?}", get.headers);
});

db_test!(
    cors_answers_the_configured_origins_only,
    configure = |c: &mut Config| c.cors_origins = vec![HeaderValue::from_static(ALLOWED)],
    |app: TestApp| async move {
        let served = Served::start(&app).await;
        let hub_ref = app.any_victim().await;

        let preflight = served.preflight(&format!("/api/v1/victims/{hub_ref}"), ALLOWED, "PATCH").await;
        assert_eq!(preflight.status, 200);
        assert_eq!(preflight.header("access-control-allow-origin"), Some(ALLOWED));
        let methods = preflight.list("access-control-allow-methods");
        assert!(["get", "post", "put", "patch", "delete"].iter().all(|m| methods.contains(&(*m).to_owned())));
        let allowed_headers = preflight.list("access-control-allow-headers");
        for name in ["authorization", "content-type", "if-match", "x-access-reason"] {
            assert!(allowed_headers.contains(&name.to_owned()), "{name} in {allowed_headers:?}");
        }
        assert_eq!(preflight.header("access-control-allow-credentials"), None, "bearer tokens, not cookies");
        preflight.assert_security_headers(JSON_CSP);

        let auth = format!("Bearer {}", app.caseworker());
        let path = format!("/api/v1/victims/{hub_ref}");
        let read = served.send("GET", &path, &[("Origin", ALLOWED), ("Authorization", &auth)], None).await;
        assert_eq!(read.status, 200);
        assert_eq!(read.header("access-control-allow-origin"), Some(ALLOWED));
        let exposed = read.list("access-control-expose-headers");
        assert!(exposed.contains(&"etag".to_owned()) && exposed.contains(&"location".to_owned()), "{exposed:?}");

        for other in
            ["https://evil.example", "http://app.care-hub.example", "https://app.care-hub.example.evil.example"]
        {
            let preflight = served.preflight(&path, other, "PATCH").await;
            assert_eq!(preflight.cors_headers(), Vec::<&str>::new(), "{other}: {:?}", preflight.headers);
            let read = served.send("GET", &path, &[("Origin", other), ("Authorization", &auth)], None).await;
            assert_eq!(read.status, 200);
            assert_eq!(read.cors_headers(), Vec::<&str>::new(), "{other}: {:?}", read.headers);
        }
    }
);

/// Everything the process logs, at every level and from every thread, while any capture runs. One
/// global subscriber for the test binary: the service also logs from spawned tasks and SQLite's
/// worker threads, which a thread-local default would miss.
struct LogCapture {
    buffer: LogBuffer,
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();
static CAPTURING: AtomicUsize = AtomicUsize::new(0);

impl LogCapture {
    fn start() -> Self {
        let buffer = LOGS.get_or_init(|| {
            let buffer = LogBuffer::default();
            let writer = buffer.clone();
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(tracing_subscriber::filter::filter_fn(|_| CAPTURING.load(Ordering::SeqCst) > 0));
            tracing_subscriber::registry().with(layer).try_init().expect("the only global subscriber in the tests");
            buffer
        });
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        LogCapture { buffer: buffer.clone() }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.0.lock().unwrap()).into_owned()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}

db_test!(a_database_error_answers_a_generic_problem_and_logs_the_cause, |app: TestApp| async move {
    let served = Served::start(&app).await;
    let logs = LogCapture::start();
    {
        use sea_orm::ConnectionTrait;
        let tx = app.state.db.begin_write().await.unwrap();
        tx.execute_unprepared("ALTER TABLE issue_categories RENAME TO issue_categories_gone").await.unwrap();
        tx.commit().await.unwrap();
    }
    let request_id = format!("db-error-{:?}", app.backend);
    let auth = format!("Bearer {}", app.caseworker());
    let r = served
        .send(
            "GET",
            "/api/v1/service-issue-categories",
            &[("Authorization", &auth), ("X-Request-Id", &request_id)],
            None,
        )
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "type": "/problems/internal-error",
            "title": "Internal error",
            "status": 500,
            "detail": "the server could not complete the request; quote the instance id when reporting it",
            "code": "internal-error",
            "instance": request_id,
        })
    );
    r.assert_security_headers(JSON_CSP);
    let logged = logs.text();
    let event = logged.lines().position(|l| l.contains(&request_id) && l.contains("request failed"));
    let cause = event.map(|at| logged.lines().skip(at).take(8).collect::<Vec<_>>().join("\n"));
    assert!(cause.is_some_and(|c| c.contains("issue_categories")), "the cause is logged with the request id");
});

const JWT_SECRET: &str = "jwt-secret-that-must-never-be-logged-4f9c2a";
const PASSWORD: &str = "password-never-logged-7d1e";
const WRONG_PASSWORD: &str = "wrong-password-never-logged-c3b8";
const NEW_PASSWORD: &str = "new-password-never-logged-a61f";
const ADMIN_SET_PASSWORD: &str = "admin-set-password-never-logged-92de";

db_test!(
    secrets_never_reach_the_logs,
    configure = |c: &mut Config| c.jwt.secret = SecretString::from(JWT_SECRET),
    |app: TestApp| async move {
        let served = Served::start(&app).await;
        let logs = LogCapture::start();
        let email = format!("secrets-{:?}@hub.example", app.backend).to_lowercase();

        let user =
            json!({"email": email, "name": "Sasha Secret", "role": "caseworker", "team": TEAM, "password": PASSWORD});
        let created = served.post("/api/v1/users", &app.admin(), &user).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_str().unwrap().to_owned();

        let signed_in = served.post("/api/v1/auth/login", "", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.body);
        let access = signed_in.json()["access_token"].as_str().unwrap().to_owned();
        let refresh = signed_in.json()["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(served.get("/api/v1/me", &access).await.status, 200);
        let victim = json!({"given_name": "Logged", "family_name": "Nowhere"});
        assert_eq!(served.post("/api/v1/victims", &access, &victim).await.status, 201);
        // Another token's signature on this token's claims.
        let forged = format!("{}.{}", access.rsplit_once('.').unwrap().0, app.caseworker().rsplit_once('.').unwrap().1);
        assert_eq!(served.get("/api/v1/me", &forged).await.status, 401);

        let rotated = served.post("/api/v1/auth/refresh", "", &json!({"refresh_token": refresh})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        let access2 = rotated.json()["access_token"].as_str().unwrap().to_owned();
        let reused = served.post("/api/v1/auth/refresh", "", &json!({"refresh_token": refresh})).await;
        assert_eq!(reused.status, 401);

        let failed = served.post("/api/v1/auth/login", "", &json!({"email": email, "password": WRONG_PASSWORD})).await;
        assert_eq!(failed.status, 401, "{}", failed.body);
        let signed_in = served.post("/api/v1/auth/login", "", &json!({"email": email, "password": PASSWORD})).await;
        let access3 = signed_in.json()["access_token"].as_str().unwrap().to_owned();
        let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        assert_eq!(served.post("/api/v1/me/password", &access3, &change).await.status, 204);
        let set = json!({"password": ADMIN_SET_PASSWORD});
        assert_eq!(served.post(&format!("/api/v1/users/{id}/password"), &app.admin(), &set).await.status, 204);
        let signed_in =
            served.post("/api/v1/auth/login", "", &json!({"email": email, "password": ADMIN_SET_PASSWORD})).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.body);

        let logged = logs.text();
        drop(logs);
        assert!(
            logged.contains("/api/v1/auth/login") && logged.contains("started processing request"),
            "the capture holds the service's debug logs"
        );
        for (what, secret) in [
            ("the JWT secret", JWT_SECRET),
            ("a password", PASSWORD),
            ("a wrong password", WRONG_PASSWORD),
            ("a changed password", NEW_PASSWORD),
            ("a password set by an admin", ADMIN_SET_PASSWORD),
            ("an access token", access.as_str()),
            ("a rotated access token", access2.as_str()),
            ("a refresh token", refresh.as_str()),
        ] {
            assert!(!logged.contains(secret), "{what} was logged");
        }
    }
);

#[test]
fn passwords_and_tokens_are_redacted_from_debug_output() {
    use care_hub::auth::signin::{LoginRequest, RefreshRequest};
    use care_hub::users::dto::{NewPassword, UserInput};
    let login = LoginRequest { email: "sam@hub.example".into(), password: PASSWORD.into() };
    let refresh = RefreshRequest { refresh_token: PASSWORD.into() };
    let new = NewPassword { password: PASSWORD.into() };
    let user = UserInput {
        email: "sam@hub.example".into(),
        name: "Sam".into(),
        role: care_hub::vocab::Role::Caseworker,
        team: Some(TEAM.into()),
        agency: None,
        password: Some(PASSWORD.into()),
        active: None,
    };
    for debug in [format!("{login:?}"), format!("{refresh:?}"), format!("{new:?}"), format!("{user:?}")] {
        assert!(!debug.contains(PASSWORD) && debug.contains("[redacted]"), "{debug}");
    }
    assert!(format!("{login:?}").contains("sam@hub.example"), "only the secret is hidden");
}
