//! SQLite's fast read path for the hottest single-statement reads (the victim record).
//!
//! sqlx runs each SQLite connection on its own worker thread and hands every statement and row
//! across a channel; on a busy two-core machine those hand-offs cost several times the query
//! itself (BENCHMARKS.md). Here a few read-only rusqlite connections run the statement inline:
//! a cached, indexed single-row read takes microseconds, less than a thread hand-off. Writes and
//! everything else keep using sea-orm. Both paths read the same WAL file, so a read sees every
//! committed write.
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};
use sea_orm::{DbErr, Statement, Value};

pub struct SqliteReader {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("connections", &self.conns.len()).finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("sqlite fast read: {e}"))
}

impl SqliteReader {
    /// Opens the reader for a file database; `None` for in-memory databases, which a second
    /// connection cannot share.
    pub fn open(url: &str) -> Result<Option<Self>, DbErr> {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") {
            return Ok(None);
        }
        // Statements run inline, so no more can run at once than there are threads to run them.
        let n = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).max(2);
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(err)?;
            conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
            conn.set_prepared_statement_cache_capacity(32);
            conns.push(Mutex::new(conn));
        }
        Ok(Some(SqliteReader { conns, next: AtomicUsize::new(0) }))
    }

    /// Runs `stmt` and returns the first column of its first row as text.
    pub fn query_text(&self, stmt: &Statement) -> Result<Option<String>, DbErr> {
        let params: Vec<rusqlite::types::Value> = stmt
            .values
            .as_ref()
            .map(|v| v.0.iter().map(to_sqlite).collect::<Result<_, _>>())
            .transpose()?
            .unwrap_or_default();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        // Take a free connection if there is one; otherwise wait for ours (held for microseconds).
        let guard = (0..self.conns.len())
            .find_map(|i| self.conns[(start + i) % self.conns.len()].try_lock().ok())
            .map_or_else(|| self.conns[start % self.conns.len()].lock(), Ok)
            .map_err(|_| err("a connection lock was poisoned"))?;
        let mut prepared = guard.prepare_cached(&stmt.sql).map_err(err)?;
        prepared
            .query_row(params_from_iter(params), |row| row.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(err)
    }
}

fn to_sqlite(v: &Value) -> Result<rusqlite::types::Value, DbErr> {
    use rusqlite::types::Value as S;
    Ok(match v {
        Value::String(Some(s)) => S::Text(s.clone()),
        Value::Uuid(Some(u)) => S::Blob(u.as_bytes().to_vec()),
        Value::Int(Some(i)) => S::Integer(i64::from(*i)),
        Value::BigInt(Some(i)) => S::Integer(*i),
        Value::Bool(Some(b)) => S::Integer(i64::from(*b)),
        Value::String(None) | Value::Uuid(None) | Value::Int(None) | Value::BigInt(None) | Value::Bool(None) => S::Null,
        other => return Err(err(format!("unsupported parameter {other:?}"))),
    })
}
