//! Configuration from `CARE_HUB_*` environment variables; a bad value stops start-up naming the variable.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

/// Where the development JWT secret lives when `CARE_HUB_JWT_SECRET` is not set.
const DEV_SECRET_FILE: &str = "jwt-secret";
/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How callers sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// This service signs its own HS256 tokens (`POST /api/v1/auth/login`).
    BuiltIn,
    /// An identity provider signs the tokens; `pem_keys` are (kid, algorithm, PEM file).
    External { pem_keys: Vec<(String, String, PathBuf)>, jwks_file: Option<PathBuf> },
}

/// Sign-in brute-force protection.
#[derive(Clone, Debug)]
pub struct LoginPolicy {
    pub max_failures_per_account: i32,
    pub max_failures_per_address: i32,
    pub window: Duration,
    pub lockout: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub db_max_connections: Option<u32>,
    /// SQLite: below this much free space on the database's file system the service reports
    /// not ready (`/readyz`), before writes start failing.
    pub min_free_disk_bytes: u64,
    pub bind: SocketAddr,
    pub public_url: String,
    pub jwt: JwtConfig,
    pub smtp_url: Option<SecretString>,
    pub log_format: LogFormat,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Requests per minute one token may make (0: no limit).
    pub rate_limit_per_minute: u32,
    pub login: LoginPolicy,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Benchmarks only: serve reads without writing their audit events.
    pub unsafe_skip_read_audit: bool,
    pub reminders: ReminderConfig,
    /// Reports for analysts withhold counts below this (DOMAIN.md §6; 0 turns it off).
    pub suppression_threshold: u64,
    /// Working days to resolve a service issue, by severity: critical, high, medium, low.
    pub issue_sla_days: [u32; 4],
    /// Browser origins allowed to call the API cross-origin (empty: CORS off, no CORS headers).
    pub cors_origins: Vec<HeaderValue>,
    /// Send `Strict-Transport-Security` (only when the service is reached over HTTPS).
    pub hsts: bool,
    /// The monthly board packs: when, and to whom for each area.
    pub board_packs: BoardPackConfig,
}

/// `CARE_HUB_BOARD_PACKS` and `CARE_HUB_BOARD_PACK_SCHEDULE`: each area's distribution list and
/// when the previous month's packs are built and queued (off when no area is listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardPackConfig {
    /// Cron expression (seconds first, Europe/London).
    pub schedule: String,
    /// (area code, recipients), in the order configured.
    pub areas: Vec<(String, Vec<String>)>,
}

impl Default for BoardPackConfig {
    fn default() -> Self {
        // 07:00 on the 1st of each month, London time.
        BoardPackConfig { schedule: "0 0 7 1 * *".into(), areas: Vec::new() }
    }
}

/// Contact cadence, reminder jobs and the notification outbox.
#[derive(Clone, Debug)]
pub struct ReminderConfig {
    /// Days between routine updates when a victim has agreed none (1 to 28).
    pub default_interval_days: i32,
    /// How many days ahead an update counts as due soon.
    pub due_soon_days: i32,
    /// Overdue by more than this many days: the team's supervisors are emailed.
    pub escalate_after_days: i32,
    /// Cron expression (seconds first, Europe/London) for the due scan.
    pub scan_schedule: String,
    /// London time from which the day's digest is queued (a scan after it queues any not yet queued).
    pub digest_at: chrono::NaiveTime,
    pub mail_from: String,
    /// Around every SMTP send (lettre's own timeout covers connecting only).
    pub smtp_timeout: Duration,
    /// Attempts before a notification is parked as failed.
    pub max_attempts: i32,
    /// How long a dispatcher holds a claimed notification before another may take it.
    pub lease: Duration,
    /// First retry delay; doubled per attempt, capped at an hour.
    pub retry_base: Duration,
    /// Sends in flight per dispatcher.
    pub dispatch_concurrency: usize,
}

impl Default for ReminderConfig {
    fn default() -> Self {
        ReminderConfig {
            default_interval_days: 28,
            due_soon_days: 3,
            escalate_after_days: 7,
            scan_schedule: "0 */10 * * * *".into(),
            digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("a valid time"),
            mail_from: "Care Hub <care-hub@localhost>".into(),
            smtp_timeout: Duration::from_secs(30),
            max_attempts: 8,
            lease: Duration::from_mins(2),
            retry_base: Duration::from_secs(30),
            dispatch_concurrency: 8,
        }
    }
}

impl ReminderConfig {
    fn from_env() -> anyhow::Result<Self> {
        let d = ReminderConfig::default();
        let default_interval_days = parse_var("CARE_HUB_UPDATE_INTERVAL_DAYS", d.default_interval_days)?;
        if !(1..=28).contains(&default_interval_days) {
            bail!("CARE_HUB_UPDATE_INTERVAL_DAYS must be between 1 and 28 (the minimum standard is every 28 days)");
        }
        let due_soon_days = parse_var("CARE_HUB_DUE_SOON_DAYS", d.due_soon_days)?;
        if !(0..=28).contains(&due_soon_days) {
            bail!("CARE_HUB_DUE_SOON_DAYS must be between 0 and 28");
        }
        let escalate_after_days = parse_var("CARE_HUB_ESCALATE_AFTER_DAYS", d.escalate_after_days)?;
        if !(0..=365).contains(&escalate_after_days) {
            bail!("CARE_HUB_ESCALATE_AFTER_DAYS must be between 0 and 365");
        }
        let scan_schedule = var("CARE_HUB_DUE_SCAN_SCHEDULE").unwrap_or(d.scan_schedule);
        tokio_cron_scheduler::Job::new_tz(scan_schedule.as_str(), chrono_tz::Europe::London, |_, _| {}).map_err(
            |e| anyhow::anyhow!("CARE_HUB_DUE_SCAN_SCHEDULE={scan_schedule:?} is not a cron expression: {e}"),
        )?;
        let digest_at = match var("CARE_HUB_DIGEST_AT") {
            None => d.digest_at,
            Some(raw) => chrono::NaiveTime::parse_from_str(raw.trim(), "%H:%M")
                .map_err(|_| anyhow::anyhow!("CARE_HUB_DIGEST_AT must be HH:MM, London time (got {raw:?})"))?,
        };
        let mail_from = var("CARE_HUB_MAIL_FROM").unwrap_or(d.mail_from);
        mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("CARE_HUB_MAIL_FROM={mail_from:?} is not an address: {e}"))?;
        let smtp_timeout = parse_var("CARE_HUB_SMTP_TIMEOUT_SECS", 30u64)?;
        let lease = parse_var("CARE_HUB_OUTBOX_LEASE_SECS", 120u64)?;
        let max_attempts = parse_var("CARE_HUB_OUTBOX_MAX_ATTEMPTS", d.max_attempts)?;
        let concurrency = parse_var("CARE_HUB_DISPATCH_CONCURRENCY", d.dispatch_concurrency)?;
        if smtp_timeout == 0 || lease == 0 || max_attempts < 1 || concurrency == 0 {
            bail!(
                "CARE_HUB_SMTP_TIMEOUT_SECS, CARE_HUB_OUTBOX_LEASE_SECS, CARE_HUB_OUTBOX_MAX_ATTEMPTS and \
                 CARE_HUB_DISPATCH_CONCURRENCY must each be at least 1"
            );
        }
        if lease <= smtp_timeout {
            bail!(
                "CARE_HUB_OUTBOX_LEASE_SECS ({lease}) must be longer than CARE_HUB_SMTP_TIMEOUT_SECS ({smtp_timeout})"
            );
        }
        Ok(ReminderConfig {
            default_interval_days,
            due_soon_days,
            escalate_after_days,
            scan_schedule,
            digest_at,
            mail_from,
            smtp_timeout: Duration::from_secs(smtp_timeout),
            max_attempts,
            lease: Duration::from_secs(lease),
            retry_base: Duration::from_secs(parse_var("CARE_HUB_OUTBOX_RETRY_BASE_SECS", 30u64)?.max(1)),
            dispatch_concurrency: concurrency,
        })
    }
}

#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub mode: AuthMode,
    pub secret: SecretString,
    /// True when the secret was generated for development rather than configured.
    pub generated: bool,
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    pub refresh_ttl: Duration,
}

/// Reads a variable, treating an empty value as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

impl Config {
    /// Builds the configuration from the environment. Creates the data directory (and, for
    /// development, a JWT secret in it) when needed.
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(var("CARE_HUB_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = if let Some(url) = var("CARE_HUB_DATABASE_URL") {
            url
        } else {
            ensure_dir(&data_dir)?;
            format!("sqlite://{}?mode=rwc", data_dir.join("care-hub.db").display())
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!(
                "CARE_HUB_DATABASE_URL must start with sqlite:, postgres:// or postgresql:// (got {})",
                redact_url(&database_url)
            );
        }
        let db_max_connections = if var("CARE_HUB_DB_MAX_CONNECTIONS").is_none() {
            None
        } else {
            let n: u32 = parse_var("CARE_HUB_DB_MAX_CONNECTIONS", 0)?;
            if n == 0 {
                bail!("CARE_HUB_DB_MAX_CONNECTIONS must be at least 1");
            }
            Some(n)
        };
        let bind: SocketAddr = parse_var("CARE_HUB_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let public_url = var("CARE_HUB_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("CARE_HUB_PUBLIC_URL must be an http:// or https:// URL (got {public_url:?})");
        }
        let smtp_url = match var("CARE_HUB_SMTP_URL") {
            None => None,
            Some(url) => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
                    .map_err(|e| anyhow::anyhow!("CARE_HUB_SMTP_URL={} is not valid: {e}", redact_url(&url)))?;
                Some(SecretString::from(url))
            }
        };
        let log_format = match var("CARE_HUB_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("CARE_HUB_LOG_FORMAT must be text or json (got {other:?})"),
        };
        let max_body_bytes = parse_var("CARE_HUB_MAX_BODY_BYTES", 1_048_576usize)?;
        if max_body_bytes < 1024 {
            bail!("CARE_HUB_MAX_BODY_BYTES must be at least 1024");
        }
        let timeout_secs = parse_var("CARE_HUB_REQUEST_TIMEOUT_SECS", 30u64)?;
        if timeout_secs == 0 {
            bail!("CARE_HUB_REQUEST_TIMEOUT_SECS must be at least 1");
        }
        let ttl_secs = parse_var("CARE_HUB_JWT_TTL_SECS", 900u64)?;
        if ttl_secs == 0 {
            bail!("CARE_HUB_JWT_TTL_SECS must be at least 1");
        }
        let mode = match var("CARE_HUB_AUTH_MODE").as_deref() {
            None | Some("builtin") => AuthMode::BuiltIn,
            Some("external") => AuthMode::External {
                pem_keys: parse_pem_keys(var("CARE_HUB_JWT_PUBLIC_KEYS").as_deref().unwrap_or(""))?,
                jwks_file: var("CARE_HUB_JWKS_FILE").map(PathBuf::from),
            },
            Some(other) => bail!("CARE_HUB_AUTH_MODE must be builtin or external (got {other:?})"),
        };
        let refresh_secs = parse_var("CARE_HUB_REFRESH_TTL_SECS", 14 * 24 * 3600u64)?;
        let login = LoginPolicy {
            max_failures_per_account: parse_var("CARE_HUB_LOGIN_MAX_FAILURES", 5i32)?.max(1),
            max_failures_per_address: parse_var("CARE_HUB_LOGIN_MAX_FAILURES_PER_ADDRESS", 20i32)?.max(1),
            window: Duration::from_secs(parse_var("CARE_HUB_LOGIN_WINDOW_SECS", 900u64)?),
            lockout: Duration::from_secs(parse_var("CARE_HUB_LOGIN_LOCKOUT_SECS", 900u64)?),
        };
        let (secret, generated) = match var("CARE_HUB_JWT_SECRET") {
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                bail!("CARE_HUB_JWT_SECRET must be at least {MIN_SECRET_BYTES} characters long")
            }
            Some(s) => (SecretString::from(s), false),
            None if mode != AuthMode::BuiltIn => (SecretString::from(String::new()), false),
            None => (dev_secret(&data_dir)?, true),
        };
        Ok(Config {
            data_dir,
            database_url,
            db_max_connections,
            min_free_disk_bytes: parse_var("CARE_HUB_MIN_FREE_DISK_MB", 64u64)?.saturating_mul(1024 * 1024),
            bind,
            public_url,
            jwt: JwtConfig {
                mode,
                secret,
                generated,
                issuer: var("CARE_HUB_JWT_ISSUER").unwrap_or_else(|| "care-hub".into()),
                audience: var("CARE_HUB_JWT_AUDIENCE").unwrap_or_else(|| "care-hub".into()),
                ttl: Duration::from_secs(ttl_secs),
                refresh_ttl: Duration::from_secs(refresh_secs),
            },
            smtp_url,
            log_format,
            max_body_bytes,
            request_timeout: Duration::from_secs(timeout_secs),
            rate_limit_per_minute: parse_var("CARE_HUB_RATE_LIMIT_PER_MINUTE", 600u32)?,
            login,
            trust_forwarded_for: parse_var("CARE_HUB_TRUST_FORWARDED_FOR", false)?,
            unsafe_skip_read_audit: parse_var("CARE_HUB_UNSAFE_SKIP_READ_AUDIT", false)?,
            reminders: ReminderConfig::from_env()?,
            suppression_threshold: parse_var("CARE_HUB_SUPPRESSION_THRESHOLD", 5u64)?,
            issue_sla_days: parse_sla(var("CARE_HUB_ISSUE_SLA_DAYS").as_deref())?,
            cors_origins: parse_cors_origins(var("CARE_HUB_CORS_ORIGINS").as_deref())?,
            hsts: parse_var("CARE_HUB_HSTS", false)?,
            board_packs: parse_board_packs(
                var("CARE_HUB_BOARD_PACKS").as_deref(),
                var("CARE_HUB_BOARD_PACK_SCHEDULE").as_deref(),
            )?,
        })
    }

    /// A configuration for tests: the given database, a fixed secret, nothing read from the environment.
    #[must_use]
    pub fn for_tests(database_url: String, data_dir: PathBuf) -> Self {
        Config {
            data_dir,
            database_url,
            db_max_connections: Some(4),
            min_free_disk_bytes: 1024 * 1024,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: "http://care-hub.test".into(),
            jwt: JwtConfig {
                mode: AuthMode::BuiltIn,
                secret: SecretString::from("test-secret-that-is-long-enough-for-hs256"),
                generated: false,
                issuer: "care-hub".into(),
                audience: "care-hub".into(),
                ttl: Duration::from_mins(15),
                refresh_ttl: Duration::from_hours(24),
            },
            smtp_url: None,
            log_format: LogFormat::Text,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            rate_limit_per_minute: 0,
            login: LoginPolicy {
                max_failures_per_account: 5,
                max_failures_per_address: 20,
                window: Duration::from_mins(15),
                lockout: Duration::from_mins(15),
            },
            trust_forwarded_for: false,
            unsafe_skip_read_audit: false,
            reminders: ReminderConfig::default(),
            suppression_threshold: 5,
            issue_sla_days: DEFAULT_ISSUE_SLA_DAYS,
            cors_origins: Vec::new(),
            hsts: false,
            board_packs: BoardPackConfig::default(),
        }
    }

    /// The mailer for `CARE_HUB_SMTP_URL`, if set. Message-IDs use the sender's domain.
    pub fn mailer(&self) -> anyhow::Result<Option<crate::mail::Mailer>> {
        let Some(url) = &self.smtp_url else { return Ok(None) };
        let r = &self.reminders;
        let domain = r
            .mail_from
            .parse::<lettre::message::Mailbox>()
            .map_or_else(|_| "care-hub.local".into(), |m| m.email.domain().to_owned());
        crate::mail::Mailer::from_url(url.expose_secret(), &r.mail_from, &domain, r.smtp_timeout).map(Some)
    }

    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The database URL with any password removed, for logs.
    #[must_use]
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }

    #[must_use]
    pub fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt.secret.expose_secret().as_bytes()
    }
}

/// Service-issue targets in working days: critical, high, medium, low.
pub const DEFAULT_ISSUE_SLA_DAYS: [u32; 4] = [1, 3, 5, 10];

/// `critical=1,high=3,medium=5,low=10` (any subset; the rest keep their defaults).
fn parse_sla(raw: Option<&str>) -> anyhow::Result<[u32; 4]> {
    let mut days = DEFAULT_ISSUE_SLA_DAYS;
    for entry in raw.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("CARE_HUB_ISSUE_SLA_DAYS entries are severity=days (got {entry:?})"))?;
        let i = ["critical", "high", "medium", "low"]
            .iter()
            .position(|s| *s == name.trim())
            .ok_or_else(|| anyhow::anyhow!("CARE_HUB_ISSUE_SLA_DAYS: {name:?} is not critical, high, medium or low"))?;
        days[i] = value
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=60).contains(d))
            .ok_or_else(|| anyhow::anyhow!("CARE_HUB_ISSUE_SLA_DAYS: {name} must be 1 to 60 working days"))?;
    }
    Ok(days)
}

/// `AREA1=a@x.example,b@x.example;AREA2=c@y.example`: each area's board distribution list.
fn parse_board_packs(raw: Option<&str>, schedule: Option<&str>) -> anyhow::Result<BoardPackConfig> {
    let mut config = BoardPackConfig::default();
    if let Some(s) = schedule {
        tokio_cron_scheduler::Job::new_tz(s, chrono_tz::Europe::London, |_, _| {})
            .map_err(|e| anyhow::anyhow!("CARE_HUB_BOARD_PACK_SCHEDULE={s:?} is not a cron expression: {e}"))?;
        s.clone_into(&mut config.schedule);
    }
    for entry in raw.unwrap_or("").split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (area, list) = entry.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("CARE_HUB_BOARD_PACKS entries are AREA=address,address separated by ';' (got {entry:?})")
        })?;
        let area = area.trim();
        anyhow::ensure!(
            !area.is_empty() && area.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "CARE_HUB_BOARD_PACKS: {area:?} is not an agency code"
        );
        anyhow::ensure!(!config.areas.iter().any(|(a, _)| a == area), "CARE_HUB_BOARD_PACKS lists {area} twice");
        let mut recipients = Vec::new();
        for address in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            address
                .parse::<lettre::Address>()
                .map_err(|e| anyhow::anyhow!("CARE_HUB_BOARD_PACKS: {address:?} ({area}) is not an address: {e}"))?;
            recipients.push(address.to_owned());
        }
        anyhow::ensure!(!recipients.is_empty(), "CARE_HUB_BOARD_PACKS: {area} has no recipients");
        config.areas.push((area.to_owned(), recipients));
    }
    Ok(config)
}

/// `https://a.example,https://b.example:8443`: exact origins as browsers send them in `Origin`
/// (scheme, host, optional port; no path, no wildcard). Hosts are compared in lower case.
fn parse_cors_origins(raw: Option<&str>) -> anyhow::Result<Vec<HeaderValue>> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let invalid = |why: &str| {
                anyhow::anyhow!(
                    "CARE_HUB_CORS_ORIGINS: {origin:?} is not an origin ({why}); give exact origins such as \
                     https://app.example.org, separated by commas"
                )
            };
            let lower = origin.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("https://")
                .or_else(|| lower.strip_prefix("http://"))
                .ok_or_else(|| invalid("it must start with https:// or http://"))?;
            if rest.is_empty() {
                return Err(invalid("the host is missing"));
            }
            if rest.contains(['/', '?', '#', '@', '*']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("no path, query, user, wildcard or spaces"));
            }
            let authority = rest.parse::<axum::http::uri::Authority>().map_err(|_| invalid("the host is not valid"))?;
            if authority.host().is_empty() {
                return Err(invalid("the host is missing"));
            }
            HeaderValue::from_str(&lower).map_err(|_| invalid("it has characters not allowed in a header"))
        })
        .collect()
}

/// `kid=ALG:path[,kid=ALG:path...]`, e.g. `k1=RS256:/etc/care-hub/idp-2026.pem`.
fn parse_pem_keys(raw: &str) -> anyhow::Result<Vec<(String, String, PathBuf)>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (kid, rest) = entry
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("CARE_HUB_JWT_PUBLIC_KEYS entries are kid=ALG:path (got {entry:?})"))?;
            let (alg, path) = rest
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("CARE_HUB_JWT_PUBLIC_KEYS entries are kid=ALG:path (got {entry:?})"))?;
            Ok((kid.trim().to_owned(), alg.trim().to_owned(), PathBuf::from(path.trim())))
        })
        .collect()
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create CARE_HUB_DATA_DIR {}", dir.display()))
}

/// Loads the development secret from the data directory, generating it on first use.
fn dev_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join(DEV_SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= MIN_SECRET_BYTES {
            return Ok(SecretString::from(existing));
        }
    }
    ensure_dir(data_dir)?;
    let bytes: [u8; 48] = rand::random();
    let secret = STANDARD.encode(bytes);
    write_private(&path, &secret)
        .with_context(|| format!("cannot write the development JWT secret to {}", path.display()))?;
    Ok(SecretString::from(secret))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Hides the password part of a URL such as `postgres://user:secret@host/db`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let sep = if tail.is_empty() && !rest.contains('/') { "" } else { "/" };
    format!("{scheme}://{user}:***@{host}{sep}{tail}")
}

#[cfg(test)]
mod tests {
    use super::{parse_cors_origins, redact_url};

    #[test]
    fn cors_origins_are_exact_origins() {
        let parsed = parse_cors_origins(Some(" https://App.example.org , http://127.0.0.1:5173,")).unwrap();
        assert_eq!(parsed, ["https://app.example.org", "http://127.0.0.1:5173"]);
        assert!(parse_cors_origins(None).unwrap().is_empty());
        for bad in ["*", "app.example.org", "https://app.example.org/", "https://a.example/path", "https://", "null"] {
            let err = parse_cors_origins(Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("CARE_HUB_CORS_ORIGINS: "), "{bad}: {err}");
        }
    }

    #[test]
    fn passwords_are_hidden_from_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/hub"), "postgres://app:***@db:5432/hub");
        assert_eq!(redact_url("smtp://u:p@mail"), "smtp://u:***@mail");
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}

#[cfg(test)]
mod board_pack_tests {
    use super::*;

    #[test]
    fn board_packs_read_areas_and_lists_and_refuse_bad_entries() {
        let c = parse_board_packs(Some(" AREA1=a@x.example, b@x.example ; AREA-2=c@y.example "), None).unwrap();
        assert_eq!(c.schedule, "0 0 7 1 * *");
        assert_eq!(
            c.areas,
            vec![
                ("AREA1".to_owned(), vec!["a@x.example".to_owned(), "b@x.example".to_owned()]),
                ("AREA-2".to_owned(), vec!["c@y.example".to_owned()]),
            ]
        );
        assert!(parse_board_packs(None, None).unwrap().areas.is_empty());
        assert_eq!(parse_board_packs(None, Some("0 30 6 2 * *")).unwrap().schedule, "0 30 6 2 * *");
        for bad in ["AREA1", "AREA1=", "AREA1=not-an-address", "A B=a@x.example", "A=a@x.example;A=b@x.example"] {
            assert!(parse_board_packs(Some(bad), None).is_err(), "{bad}");
        }
        assert!(parse_board_packs(None, Some("monthly")).is_err());
    }
}
