//! The security baseline over real HTTP on loopback: response headers and CORS.
use std::net::SocketAddr;

use axum::http::HeaderValue;
use care_hub::config::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
