//! `care-hub import`: loads agency extracts (docs/import-formats.md) in batched transactions.
//!
//! A reader thread streams the file and checks each row; a task makes each batch ready (its
//! lookups, its rows) while the batch before is written, and the writer commits a batch whole
//! with one audit event, so a file that breaks off (or a failed write) never leaves half a batch
//! behind, and a re-run skips what is already loaded. Rows that cannot be
//! read go to `FILE.rejects.csv` with their line number and reason; the rest of the file loads.
mod events;
mod generated;
mod intake;
mod journeys;
mod read;

/// For the row checks' property tests: a cell empty, arbitrary text, or close to a valid value of
/// its column (`near`, a regex).
#[cfg(test)]
fn fuzz_cell(near: &'static str) -> impl proptest::strategy::Strategy<Value = Option<String>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        proptest::string::string_regex(near).expect("regex").prop_map(Some),
    ]
}

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

pub use generated::{GENERATED_AGENCIES, GENERATED_TEAM, run_generated};
pub use read::{EVENT_COLUMNS, FileKind, INTAKE_COLUMNS};

use crate::audit::{self, Actor, Event};
use crate::config::ReminderConfig;
use crate::db::{Db, WriteTx};
use crate::entities::agencies;
use crate::error::AppResult;
use crate::vocab::AuditAction;

/// The layout family of the files given (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Csv,
    Jsonl,
}

/// What one import run asks for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sending agency's code (`--agency`): events are stored as its own, intake references
    /// are held under it.
    pub agency: String,
    pub format: ImportFormat,
    /// Draw a progress bar on standard error.
    pub progress: bool,
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub file: PathBuf,
    pub kind: FileKind,
    /// Records read (blank lines aside).
    pub rows: u64,
    /// Intake: victims created. Events: events stored and linked to a case.
    pub loaded: u64,
    /// Rows already in the hub (or earlier in the same file): nothing changed.
    pub duplicates: u64,
    /// Events stored that match no case: they wait in the linkage queue.
    pub queued: u64,
    /// Rows written to the rejects file.
    pub rejected: u64,
    /// Intake: cases opened.
    pub cases_created: u64,
    /// Events: Victims' Code obligations created (those whose deadline has not passed).
    pub obligations: u64,
    pub rejects_file: Option<PathBuf>,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Summary {
    fn new(file: &Path, kind: FileKind) -> Self {
        Summary {
            file: file.to_owned(),
            kind,
            rows: 0,
            loaded: 0,
            duplicates: 0,
            queued: 0,
            rejected: 0,
            cases_created: 0,
            obligations: 0,
            rejects_file: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Rows per second over the whole file.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            FileKind::Intake => "intake",
            FileKind::Events => "events",
        };
        write!(f, "{} ({kind}): {} rows read, {} loaded", self.file.display(), self.rows, self.loaded)?;
        if self.kind == FileKind::Intake {
            write!(f, " ({} new cases)", self.cases_created)?;
        }
        write!(f, ", {} duplicates", self.duplicates)?;
        if self.kind == FileKind::Events {
            write!(f, ", {} queued for linkage, {} obligations", self.queued, self.obligations)?;
        }
        write!(f, ", {} rejected", self.rejected)?;
        if let Some(r) = &self.rejects_file {
            write!(f, " (see {})", r.display())?;
        }
        write!(f, "; {:.1}s, {:.0} rows/s", self.elapsed.as_secs_f64(), self.rate())
    }
}

/// A row that could not be loaded.
#[derive(Clone, Debug)]
pub struct Reject {
    pub line: u64,
    pub reason: String,
    pub raw: String,
}

/// A batch of checked rows from the reader thread.
struct Chunk<T> {
    rows: Vec<T>,
    rejects: Vec<Reject>,
    read: u64,
    first_line: u64,
    last_line: u64,
    bytes: u64,
}

/// Checks a readable row (its line number, raw text and values); `Err` is the reject reason.
type Checker<T> = Box<dyn FnMut(u64, &str, Vec<Option<String>>) -> Result<T, String> + Send>;

/// Where a batch came from in the file, and the rows the reader refused in it.
struct Lines {
    first: u64,
    last: u64,
    bytes: u64,
    rejects: Vec<Reject>,
}

/// What a batch wrote, for its audit event.
struct Written {
    subjects: Vec<Uuid>,
    fields: &'static [&'static str],
}

/// One kind of extract: how a row is checked (on the reader thread), made ready for its
/// transaction, and written.
trait Loader: Send + Sync + 'static {
    type Row: Send + 'static;
    /// What [`Loader::prepare`] remembers from batch to batch (lookups already made).
    type Cache: Default + Send + 'static;
    /// A batch made ready to write.
    type Ready: Send + 'static;
    /// Rows per transaction.
    const BATCH: usize;

    fn checker(&self) -> Checker<Self::Row>;

    /// Does the work a batch needs before its transaction, reading outside it (`db.read()`): the
    /// import runs it while the batch before is written, so it may read only what the import's
    /// own writes leave unchanged.
    fn prepare(
        &self,
        cache: &mut Self::Cache,
        db: &Db,
        rows: Vec<Self::Row>,
    ) -> impl Future<Output = AppResult<Self::Ready>> + Send;

    /// Writes a batch in `tx`; returns rows it refused (with their reasons), and what it wrote
    /// when it wrote anything.
    async fn write(
        &self,
        tx: &WriteTx,
        ready: Self::Ready,
        summary: &mut Summary,
    ) -> AppResult<(Vec<Reject>, Option<Written>)>;
}

/// The actor imports are recorded as.
#[must_use]
pub fn actor(agency: &str) -> Actor {
    Actor { id: format!("import:{agency}"), agency: Some(agency.to_owned()), ..Actor::default() }
}

/// Imports one file; an error means it could not be read (or written) at all.
pub async fn import_file(
    db: &Db,
    path: &Path,
    opts: &Options,
    reminders: &ReminderConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Summary> {
    let agency = opts.agency.trim().to_uppercase();
    let known = agencies::Entity::find().filter(agencies::Column::Code.eq(agency.as_str())).one(db.read()).await?;
    match known {
        Some(a) if a.active => {}
        Some(_) => anyhow::bail!("agency {agency} is inactive"),
        None => anyhow::bail!("no agency has code {agency}; an admin creates agencies with POST /api/v1/agencies"),
    }
    let reader = read::Reader::open(path, opts.format)?;
    match reader.kind() {
        FileKind::Events => {
            let loader = events::EventLoader::new(db, &agency, now).await?;
            run(db, path, reader, loader, &agency, opts.progress, now).await
        }
        FileKind::Intake => {
            let loader = intake::IntakeLoader::new(db, &agency, reminders, now).await?;
            run(db, path, reader, loader, &agency, opts.progress, now).await
        }
    }
}

/// Imports each file in turn, printing a summary line per file on standard output. Fails (after
/// trying every file) when a file could not be read at all.
pub async fn run_files(
    db: &Db,
    files: &[PathBuf],
    opts: &Options,
    reminders: &ReminderConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Summary>> {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for file in files {
        match import_file(db, file, opts, reminders, now).await {
            Ok(s) => {
                println!("{s}");
                done.push(s);
            }
            Err(e) => {
                eprintln!("care-hub: {}: {e:#}", file.display());
                failed.push(file.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} of {} file(s) could not be imported: {}", failed.len(), files.len(), failed.join(", "));
    }
    Ok(done)
}

async fn run<L: Loader>(
    db: &Db,
    path: &Path,
    mut reader: read::Reader,
    loader: L,
    agency: &str,
    progress: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary::new(path, reader.kind());
    let mut rejects = RejectsFile::new(path)?;
    let bar = progress_bar(path, progress);
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());

    let (send, mut receive) = tokio::sync::mpsc::channel::<Chunk<L::Row>>(2);
    let mut check = loader.checker();
    let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut chunk = empty_chunk(0);
        while let Some(record) = reader.next_record()? {
            let read::Record { line, raw, values } = record;
            if chunk.read == 0 {
                chunk.first_line = line;
            }
            chunk.read += 1;
            chunk.last_line = line;
            match values.and_then(|v| check(line, &raw, v)) {
                Ok(row) => chunk.rows.push(row),
                Err(reason) => chunk.rejects.push(Reject { line, reason, raw }),
            }
            if chunk.rows.len() >= L::BATCH || chunk.rejects.len() >= L::BATCH {
                chunk.bytes = reader.bytes_read();
                if send.blocking_send(std::mem::replace(&mut chunk, empty_chunk(0))).is_err() {
                    return Ok(()); // the writer stopped; it reports why
                }
            }
        }
        if chunk.read > 0 {
            chunk.bytes = reader.bytes_read();
            let _ = send.blocking_send(chunk);
        }
        Ok(())
    });

    let actor = actor(agency);
    let loader = std::sync::Arc::new(loader);
    let mut analyse_at = 0;
    let mut cache = L::Cache::default();
    // Each round makes a batch ready in a task of its own while it writes the batch made ready in
    // the round before.
    let mut ready: Option<(Lines, Option<L::Ready>)> = None;
    loop {
        let next = receive.recv().await;
        if next.is_none() && ready.is_none() {
            break;
        }
        if db.backend() == DbBackend::Postgres && summary.rows >= analyse_at {
            analyse(db).await;
            analyse_at = (summary.rows * 2).max(ANALYZE_FIRST);
        }
        let preparing = next.map(|chunk| {
            summary.rows += chunk.read;
            let lines =
                Lines { first: chunk.first_line, last: chunk.last_line, bytes: chunk.bytes, rejects: chunk.rejects };
            let (loader, db, mut cache) = (loader.clone(), db.clone(), std::mem::take(&mut cache));
            tokio::spawn(async move {
                let ready = if chunk.rows.is_empty() {
                    Ok(None)
                } else {
                    loader.prepare(&mut cache, &db, chunk.rows).await.map(Some)
                };
                (cache, lines, ready)
            })
        });
        if let Some((lines, batch)) = ready.take() {
            let mut refused = match batch {
                Some(batch) => {
                    let resource = format!("{name} lines {}-{}", lines.first, lines.last);
                    write_batch(db, &*loader, batch, &mut summary, &actor, &resource, now).await.with_context(|| {
                        format!("writing lines {}-{} of {}", lines.first, lines.last, path.display())
                    })?
                }
                None => Vec::new(),
            };
            let mut all = lines.rejects;
            all.append(&mut refused);
            all.sort_by_key(|r| r.line);
            summary.rejected += all.len() as u64;
            rejects.write(&all)?;
            bar.set_position(lines.bytes);
            bar.set_message(format!(
                "{} rows, {:.0} rows/s",
                summary.rows,
                summary.rows as f64 / started.elapsed().as_secs_f64().max(1e-9)
            ));
        }
        if let Some(task) = preparing {
            let (c, lines, made) = task.await.context("preparing a batch failed")?;
            cache = c;
            let made = made
                .map_err(describe)
                .with_context(|| format!("preparing lines {}-{} of {}", lines.first, lines.last, path.display()))?;
            ready = Some((lines, made));
        }
    }
    producer
        .await
        .context("the reader thread failed")?
        .with_context(|| format!("cannot read {} after line {}", path.display(), summary.rows))?;
    bar.finish_and_clear();
    summary.rejects_file = rejects.finish()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Writes one batch made ready and its audit event in one transaction; returns the rows it refused.
async fn write_batch<L: Loader>(
    db: &Db,
    loader: &L,
    batch: L::Ready,
    summary: &mut Summary,
    actor: &Actor,
    resource: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Reject>> {
    let tx = db.begin_write().await?;
    let (refused, written) = loader.write(&tx, batch, summary).await.map_err(describe)?;
    match written {
        Some(w) => {
            let event = Event::new(AuditAction::Create, "import")
                .resource(clip(resource, 100))
                .subjects(w.subjects)
                .fields(w.fields.iter().copied());
            audit::record(&tx, actor, now, event).await.map_err(describe)?;
            tx.commit().await?;
        }
        None => tx.rollback().await?,
    }
    Ok(refused)
}

/// Rows read before the second `ANALYZE` of an import on PostgreSQL; each later one waits for
/// twice as many rows as the one before.
const ANALYZE_FIRST: u64 = 20_000;

/// Brings PostgreSQL's statistics up to date, as after any bulk load: without them (autovacuum
/// off, or behind a fast import) the planner takes the lookups by agency reference and source
/// event id for scans of every row an agency has, plans cached while the tables were small stay
/// in use, and an import slows as it grows the tables. Only tables never analysed, or changed by
/// more than a fifth since, are analysed: analysing all of them at every step cost a 1,000,000
/// event import 16 s (BENCHMARKS.md, "Import").
async fn analyse(db: &Db) {
    let stale = "SELECT string_agg(quote_ident(relname), ', ') FROM pg_stat_user_tables \
        WHERE schemaname = current_schema() \
        AND relname IN ('journey_events', 'journeys', 'agency_references', 'case_victims', 'cases', 'victims', \
        'withdrawals') \
        AND ((last_analyze IS NULL AND last_autoanalyze IS NULL) OR n_mod_since_analyze > greatest(1000, n_live_tup / 5))";
    let found = db.read().query_one_raw(Statement::from_string(DbBackend::Postgres, stale)).await;
    let tables = match found.and_then(|row| row.map(|r| r.try_get::<Option<String>>("", "string_agg")).transpose()) {
        Ok(Some(Some(tables))) => tables,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not read PostgreSQL's table statistics; lookups may be slow");
            return;
        }
    };
    if let Err(e) = db.read().execute_unprepared(&format!("ANALYZE {tables}")).await {
        tracing::warn!(error = %e, "could not ANALYZE before importing; lookups may be slow");
    }
}

fn empty_chunk<T>(first_line: u64) -> Chunk<T> {
    Chunk { rows: Vec::new(), rejects: Vec::new(), read: 0, first_line, last_line: first_line, bytes: 0 }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().skip(s.chars().count() - max).collect() }
}

fn describe(e: crate::error::AppError) -> anyhow::Error {
    match e.source {
        Some(cause) => cause.context(e.detail),
        None => anyhow::anyhow!("{}", e.detail),
    }
}

fn progress_bar(path: &Path, wanted: bool) -> ProgressBar {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let target = if wanted && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}, ETA {eta}")
    {
        bar.set_style(style);
    }
    bar.set_prefix(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar
}

/// `FILE.rejects.csv`: line, reason, raw. Made on the first reject; one left by an earlier run
/// of the same file is removed first, so it always describes the last run.
struct RejectsFile {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl RejectsFile {
    fn new(source: &Path) -> anyhow::Result<Self> {
        let mut name = source.as_os_str().to_owned();
        name.push(".rejects.csv");
        let path = PathBuf::from(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
        }
        Ok(RejectsFile { path, out: None })
    }

    fn write(&mut self, rejects: &[Reject]) -> anyhow::Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        if self.out.is_none() {
            let file =
                std::fs::File::create(&self.path).with_context(|| format!("cannot create {}", self.path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            out.write_all(b"line,reason,raw\n")?;
            self.out = Some(out);
        }
        let out = self.out.as_mut().expect("opened above");
        for r in rejects {
            writeln!(out, "{},{},{}", r.line, csv_field(&r.reason), csv_field(&r.raw))?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        match self.out {
            Some(mut out) => {
                out.flush().with_context(|| format!("cannot write {}", self.path.display()))?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}
