//! Command-line interface: one binary, one subcommand per job.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, LogFormat};
use crate::db::Db;
use crate::vocab::Role;

#[derive(Parser, Debug)]
#[command(name = "care-hub", version, about = "Victim Care Hub: one record per victim across agencies")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP service (applies pending migrations first).
    Serve {
        /// Load a small synthetic data set so every endpoint can be tried at once.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations, or list them with --status.
    Migrate {
        #[arg(long)]
        status: bool,
    },
    /// Print a signed access token (only the token, on one line) for development and tests.
    Token {
        /// User id (the `sub` claim).
        #[arg(long)]
        sub: String,
        /// caseworker, supervisor, agency_liaison, analyst or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Team code (required for caseworkers and supervisors).
        #[arg(long)]
        team: Option<String>,
        /// Agency code (required for agency liaisons).
        #[arg(long)]
        agency: Option<String>,
        /// Lifetime in minutes (default: CARE_HUB_JWT_TTL_SECS).
        #[arg(long)]
        ttl_minutes: Option<i64>,
    },
    /// Load the synthetic demo data set into the configured database.
    SeedDemo,
    /// Print the OpenAPI document as YAML (the committed api-spec/openapi.yaml).
    Openapi,
    /// Manage users of the built-in sign-in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Retention of closed records.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Update reminders: the due scan and the email dispatcher, on demand.
    Reminders {
        #[command(subcommand)]
        command: RemindersCommand,
    },
    /// Journeys derived from agency events.
    Journeys {
        #[command(subcommand)]
        command: JourneysCommand,
    },
    /// The bank-holiday calendar working-day deadlines are counted on.
    Holidays {
        #[command(subcommand)]
        command: HolidaysCommand,
    },
    /// Write synthetic, linked police, CPS and court extracts calibrated to published figures.
    Generate {
        /// How many victims (one case each).
        #[arg(long)]
        victims: u64,
        /// The same seed gives the same files, byte for byte.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory the four CSV files are written to (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Also create the generator's agencies and team and import the files.
        #[arg(long)]
        load: bool,
    },
    /// Reports from the command line, audited as the operator.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Load agency extracts (docs/import-formats.md): intake or events files, CSV or JSON Lines.
    /// Rejected rows go to FILE.rejects.csv; re-running a file changes nothing.
    Import {
        /// Code of the agency the files come from.
        #[arg(long)]
        agency: String,
        #[arg(long, value_enum)]
        format: crate::import::ImportFormat,
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RemindersCommand {
    /// Run the due scan, then send everything queued (what serve's jobs do), and print what was done.
    Run {
        /// Only scan (queue notifications; send nothing).
        #[arg(long, conflicts_with = "dispatch_only")]
        scan_only: bool,
        /// Only send what is already queued.
        #[arg(long)]
        dispatch_only: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Write a board pack to a file: what GET /api/v1/reports/board-pack returns, with the same
    /// disclosure control.
    BoardPack {
        /// A police force or BCU agency code (default: every area).
        #[arg(long)]
        area: Option<String>,
        /// First day of the period (cases reported on or after it).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of the period.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// html, xlsx or pdf.
        #[arg(long, default_value = "html", value_parser = parse_board_format)]
        format: crate::reports::board::BoardFormat,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum JourneysCommand {
    /// Recompute every journey from its events (the same derivation as when each event lands).
    Rebuild,
}

#[derive(Subcommand, Debug)]
pub enum HolidaysCommand {
    /// Replace the calendar with a GOV.UK bank-holidays.json file (England and Wales).
    Import { file: std::path::PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Anonymise closed records past their retention now, and print what was done.
    Run {
        /// Print what would be anonymised without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (prompted for on a terminal).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero naming the first altered, missing or reordered event.
    Verify,
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "expected caseworker, supervisor, agency_liaison, analyst or admin".to_owned())
}

fn parse_board_format(s: &str) -> Result<crate::reports::board::BoardFormat, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| "expected html, xlsx or pdf".to_owned())
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CARE_HUB_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // A local .env is a development convenience; real deployments set the environment.
    let _ = dotenvy::dotenv();
    match cli.command {
        Command::Openapi => {
            let yaml = crate::openapi::to_yaml(&crate::app::openapi_doc())?;
            std::io::stdout().write_all(yaml.as_bytes())?;
            Ok(())
        }
        Command::Serve { demo } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            crate::app::serve(config, demo).await
        }
        Command::Migrate { status } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            if status {
                let pending = db.pending_migrations().await?;
                println!("{} pending migration(s)", pending.len());
                for name in pending {
                    println!("  {name}");
                }
            } else {
                db.migrate().await.context("cannot apply database migrations")?;
                println!("migrations applied to {}", config.database_url_redacted());
            }
            db.close().await;
            Ok(())
        }
        Command::Token { sub, role, team, agency, ttl_minutes } => {
            if matches!(role, Role::Caseworker | Role::Supervisor) && team.is_none() {
                anyhow::bail!("--team is required for the {} role", role.as_str());
            }
            if role == Role::AgencyLiaison && agency.is_none() {
                anyhow::bail!("--agency is required for the agency_liaison role");
            }
            let config = Config::from_env()?;
            let tokens = crate::auth::TokenService::new(&config.jwt, config.jwt_secret_bytes())?;
            let ttl = ttl_minutes.map(chrono::Duration::minutes);
            let token = tokens.issue(&sub, role, team.as_deref(), agency.as_deref(), SystemClock.now(), ttl)?;
            println!("{token}");
            Ok(())
        }
        Command::User { command: UserCommand::Add { email, name, role, team, agency } } => {
            let config = Config::from_env()?;
            let password = read_password()?;
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let input = crate::users::dto::UserInput {
                email,
                name,
                role,
                team,
                agency,
                password: Some(password),
                active: None,
            };
            let actor = crate::audit::Actor {
                id: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
                ..Default::default()
            };
            let user = crate::users::service::create(&db, &actor, &input, SystemClock.now()).await.map_err(describe)?;
            println!("created user {} ({}, {})", user.id, user.email, user.role.as_str());
            db.close().await;
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let config = Config::from_env()?;
            let db = connect(&config).await?;
            let result = crate::audit::verify(db.read()).await.map_err(describe)?;
            db.close().await;
            println!("{}", serde_json::to_string_pretty(&result)?);
            match result.first_break {
                None => Ok(()),
                Some(b) => anyhow::bail!("the audit trail is broken at event {}: {} ({})", b.seq, b.problem, b.detail),
            }
        }
        Command::Retention { command: RetentionCommand::Run { dry_run } } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let report = crate::retention::service::run(&db, SystemClock.now(), dry_run).await.map_err(describe)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            db.close().await;
            Ok(())
        }
        Command::Reminders { command: RemindersCommand::Run { scan_only, dispatch_only } } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let r = &config.reminders;
            if !dispatch_only {
                crate::contacts::schedule::backfill(&db, r, SystemClock.now()).await.map_err(describe)?;
                let report = crate::reminders::scan::run(&db, &config, SystemClock.now()).await.map_err(describe)?;
                println!("scan: {}", serde_json::to_string(&report)?);
            }
            if !scan_only {
                match config.mailer()? {
                    Some(mailer) => {
                        let report =
                            crate::reminders::dispatch::drain(&db, &mailer, r, &SystemClock).await.map_err(describe)?;
                        println!("dispatch: {}", serde_json::to_string(&report)?);
                    }
                    None => println!("dispatch: CARE_HUB_SMTP_URL is not set; notifications stay queued"),
                }
            }
            db.close().await;
            Ok(())
        }
        Command::Holidays { command: HolidaysCommand::Import { file } } => {
            let config = Config::from_env()?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let calendar = crate::calendar::Calendar::from_govuk_json(&text)
                .with_context(|| format!("{} is not a GOV.UK bank-holidays file", file.display()))?;
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let tx = db.begin_write().await?;
            let n = crate::obligations::holidays::replace(&tx, &calendar).await.map_err(describe)?;
            let actor = crate::audit::Actor {
                id: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
                ..Default::default()
            };
            let event = crate::audit::Event::new(crate::vocab::AuditAction::Admin, "bank_holidays")
                .resource(format!("{n} days"))
                .fields(["events"]);
            crate::audit::record(&tx, &actor, SystemClock.now(), event).await.map_err(describe)?;
            tx.commit().await?;
            let range = calendar.coverage().map_or_else(String::new, |(a, b)| format!(" covering {a} to {b}"));
            println!("{n} bank holidays imported{range}");
            db.close().await;
            Ok(())
        }
        Command::Journeys { command: JourneysCommand::Rebuild } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let started = std::time::Instant::now();
            let n = crate::journeys::service::rebuild(&db, SystemClock.now()).await.map_err(describe)?;
            println!("rebuilt the journeys of {n} cases in {:.1}s", started.elapsed().as_secs_f64());
            db.close().await;
            Ok(())
        }
        Command::Report { command: ReportCommand::BoardPack { area, from, to, format, out } } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let actor = crate::auth::Principal::service(
                &format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
                Role::Admin,
                None,
            );
            let params =
                crate::reports::board::BoardPackParams { area, from, to, format: Some(format), ..Default::default() };
            let pack = crate::reports::board::pack(
                &db,
                &crate::reports::facts::FactCache::default(),
                &actor,
                &params,
                config.suppression_threshold,
                SystemClock.now(),
            )
            .await
            .map_err(describe);
            db.close().await;
            let pack = pack?;
            std::fs::write(&out, &pack.bytes).with_context(|| format!("cannot write {}", out.display()))?;
            println!("board pack written to {} ({} bytes, {})", out.display(), pack.bytes.len(), pack.content_type);
            Ok(())
        }
        Command::Import { agency, format, files } => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let opts = crate::import::Options {
                agency,
                format,
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let result = crate::import::run_files(&db, &files, &opts, &config.reminders, SystemClock.now()).await;
            db.close().await;
            result.map(|_| ())
        }
        Command::Generate { victims, seed, out, load } => {
            let started = std::time::Instant::now();
            let summary = crate::generate::generate(victims, seed, &out)?;
            println!(
                "{} synthetic victims written to {} in {:.1}s: {} police, {} CPS and {} court events",
                summary.victims,
                out.display(),
                started.elapsed().as_secs_f64(),
                summary.police_events,
                summary.cps_events,
                summary.court_events,
            );
            if load {
                let config = Config::from_env()?;
                init_logging(config.log_format);
                let db = connect(&config).await?;
                db.migrate().await.context("cannot apply database migrations")?;
                let summaries = crate::import::run_generated(&db, &out, &config.reminders, SystemClock.now()).await?;
                for s in summaries {
                    println!("{s}");
                }
                db.close().await;
            }
            Ok(())
        }
        Command::SeedDemo => {
            let config = Config::from_env()?;
            init_logging(config.log_format);
            let db = connect(&config).await?;
            db.migrate().await.context("cannot apply database migrations")?;
            let n = crate::demo::seed(&db, &config.reminders, SystemClock.now()).await?;
            println!("demo data loaded: {n} synthetic victims in team {}", crate::demo::DEMO_TEAM);
            db.close().await;
            Ok(())
        }
    }
}

/// An API error as a command-line message (with the fields at fault).
#[expect(clippy::needless_pass_by_value, reason = "used as map_err(describe)")]
fn describe(e: crate::error::AppError) -> anyhow::Error {
    let fields: Vec<String> =
        e.errors.iter().map(|f| format!("{} {}", f.field.trim_start_matches('/'), f.message)).collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", e.detail)
    } else {
        anyhow::anyhow!("{}: {}", e.detail, fields.join("; "))
    }
}

/// The password for `user add`: prompted for without echo on a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn connect(config: &Config) -> anyhow::Result<Db> {
    Db::connect(config)
        .await
        .with_context(|| format!("cannot connect to CARE_HUB_DATABASE_URL={}", config.database_url_redacted()))
}
