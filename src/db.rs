//! Database connections: SQLite (embedded default) or PostgreSQL, migrations, and write transactions.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

use crate::config::Config;
use crate::error::{AppError, AppResult};

pub mod bulk;

/// Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK_KEY: i64 = 0x00CA_12E0_0B1D;

/// The service's connections. On SQLite, writes go through a single-connection pool so writers
/// queue in-process instead of failing with "database is locked", and every write transaction
/// starts with `BEGIN IMMEDIATE`; reads use a separate pool and never block on writers (WAL).
/// On PostgreSQL both handles share one pool.
#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    fast: Option<std::sync::Arc<crate::fast_read::SqliteReader>>,
    /// SQLite: the database file, whose file system readiness checks.
    file: Option<std::sync::Arc<StorageCheck>>,
}

/// Why the service should not take traffic now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// The database does not answer.
    Unreachable,
    /// The database answers but cannot store changes; says why.
    Storage(String),
}

/// The SQLite file's storage: writable, and with room to grow.
#[derive(Debug)]
struct StorageCheck {
    file: std::path::PathBuf,
    min_free_bytes: u64,
}

impl StorageCheck {
    fn for_url(url: &str, min_free_bytes: u64) -> Option<Self> {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.contains(":memory:"))
            .then(|| StorageCheck { file: std::path::PathBuf::from(path), min_free_bytes })
    }

    /// Read-only mounts and files, and a nearly full disk; then a 4 KiB file made, synced and
    /// removed next to the database, which is what catches a file system the kernel has made
    /// read-only after an error (ext4 `errors=remount-ro` leaves the mount flags as they were).
    /// SQLite would take some writes on a full disk (its write-ahead log reuses its space), but
    /// not for long.
    fn check(&self) -> Result<(), String> {
        use rustix::fs::{Access, StatVfsMountFlags, access, statvfs};
        let dir = match self.file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let fs = statvfs(dir).map_err(|e| format!("cannot inspect the database's file system: {e}"))?;
        if fs.f_flag.contains(StatVfsMountFlags::RDONLY) {
            return Err("the database's file system is mounted read-only".into());
        }
        // The log and shared-memory files are made next to the database, so both must be writable.
        for path in [dir, self.file.as_path()] {
            access(path, Access::WRITE_OK).map_err(|e| format!("{} is not writable: {e}", path.display()))?;
        }
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        if free < self.min_free_bytes {
            return Err(format!(
                "the database's disk has {} KiB free, less than the {} KiB CARE_HUB_MIN_FREE_DISK_MB asks for",
                free / 1024,
                self.min_free_bytes / 1024
            ));
        }
        let name = self.file.file_name().map_or_else(|| "care-hub".into(), |n| n.to_string_lossy().into_owned());
        let probe = dir.join(format!(".{name}.ready-{}", uuid::Uuid::new_v4()));
        let written = std::fs::File::create_new(&probe).and_then(|mut f| {
            std::io::Write::write_all(&mut f, &[0u8; 4096])?;
            f.sync_all()
        });
        let _ = std::fs::remove_file(&probe);
        written.map_err(|e| format!("the database's directory cannot take a new file: {e}"))
    }
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Self, DbErr> {
        if config.is_sqlite() {
            let readers = config.db_max_connections.unwrap_or(8);
            let write = Database::connect(sqlite_options(&config.database_url, 1)).await?;
            // Without statistics SQLite's planner guesses, and for a caseworker's due work it
            // chose an index that reads every due row of the team over the caseworker's own.
            // SQLite's advice for long-lived connections: optimize when opening (it analyses the
            // tables that need it, each within a bounded number of rows). Before the readers open,
            // so they load the statistics with the schema. Only a planner's aid: a file that cannot
            // take the statistics (read-only) still opens, and readiness reports why.
            if let Err(e) = write.execute_unprepared("PRAGMA optimize=0x10002").await {
                tracing::warn!(error = %e, "could not refresh SQLite's planner statistics");
            }
            let read = Database::connect(sqlite_options(&config.database_url, readers)).await?;
            let fast = crate::fast_read::SqliteReader::open(&config.database_url)?.map(std::sync::Arc::new);
            let file = StorageCheck::for_url(&config.database_url, config.min_free_disk_bytes).map(std::sync::Arc::new);
            Ok(Db { read, write, fast, file })
        } else {
            let mut opts = ConnectOptions::new(config.database_url.clone());
            // A session that stays in a transaction or waits on a lock this long is stuck: PostgreSQL
            // ends it, so no abandoned transaction can hold the audit chain's head for long.
            opts.map_sqlx_postgres_opts(|o| {
                o.options([("idle_in_transaction_session_timeout", "15s"), ("lock_timeout", "10s")])
            });
            opts.max_connections(config.db_max_connections.unwrap_or(16))
                .min_connections(1)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(Duration::from_secs(5))
                .idle_timeout(Duration::from_mins(5))
                .sqlx_logging(false);
            let pool = Database::connect(opts).await?;
            Ok(Db { read: pool.clone(), write: pool, fast: None, file: None })
        }
    }

    /// The connection for reads (and for single statements that need no transaction).
    #[must_use]
    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    /// Runs a single-row query whose one column is text, on SQLite's fast read path when there
    /// is one (see `fast_read`), otherwise on the read pool.
    pub async fn query_text(&self, stmt: Statement, column: &str) -> Result<Option<String>, DbErr> {
        if let Some(fast) = &self.fast {
            return fast.query_text(&stmt);
        }
        match self.read.query_one_raw(stmt).await? {
            Some(row) => row.try_get("", column).map(Some),
            None => Ok(None),
        }
    }

    /// Starts a write transaction. Multi-row changes and their audit share it.
    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map(|tx| WriteTx(Some(tx)))
    }

    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.read.get_database_backend()
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock makes replicas that start
    /// together apply them once, one after the other.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        if self.backend() == DbBackend::Postgres {
            let tx = self.write.begin().await?;
            tx.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"),
            ))
            .await?;
            Migrator::up(&tx, None).await?;
            seed_calendar(&tx).await?;
            tx.commit().await
        } else {
            let tx = self.begin_write().await?;
            Migrator::up(&*tx, None).await?;
            seed_calendar(&*tx).await?;
            tx.commit().await
        }
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, DbErr> {
        Ok(Migrator::get_pending_migrations(&self.read).await?.iter().map(|m| m.name().to_owned()).collect())
    }

    /// Ready when a trivial query answers within two seconds and, on SQLite, the file can be
    /// written and its disk has room (PostgreSQL refuses writes itself when its disk fills; the
    /// error maps to 503 `storage-unavailable`).
    pub async fn readiness(&self) -> Result<(), NotReady> {
        let probe = self.read.execute_unprepared("SELECT 1");
        if !matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Ok(_))) {
            return Err(NotReady::Unreachable);
        }
        let Some(file) = self.file.clone() else { return Ok(()) };
        match tokio::task::spawn_blocking(move || file.check()).await {
            Ok(result) => result.map_err(NotReady::Storage),
            Err(e) => Err(NotReady::Storage(format!("the storage check failed: {e}"))),
        }
    }

    pub async fn close(self) {
        let _ = self.read.close().await;
        let _ = self.write.close().await;
    }
}

/// A write transaction that is rolled back even when the future using it is dropped part-way
/// (the client went away, the request ran out of time). sea-orm's own drop cannot always roll
/// back then, and a pooled connection left inside a transaction would keep its locks (the audit
/// chain's head among them) until the connection happened to be used again.
pub struct WriteTx(Option<DatabaseTransaction>);

impl WriteTx {
    fn inner(&self) -> &DatabaseTransaction {
        self.0.as_ref().expect("a write transaction is open until commit")
    }

    /// Commits in a task of its own, so that a caller cut off part-way cannot leave the
    /// connection between COMMIT and its answer (in a transaction as far as the pool knows).
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let tx = self.0.take().expect("a write transaction is open until commit");
        tokio::spawn(tx.commit()).await.map_err(|e| DbErr::Custom(format!("commit task failed: {e}")))?
    }

    pub async fn rollback(mut self) -> Result<(), DbErr> {
        self.0.take().expect("a write transaction is open until commit").rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        self.inner()
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let (Some(tx), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "could not roll back an abandoned transaction");
                }
            });
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTx {
    fn get_database_backend(&self) -> DbBackend {
        self.inner().get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.inner().execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.inner().execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.inner().query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.inner().query_all_raw(stmt).await
    }
}

/// The bank-holiday calendar shipped with the release fills an empty table.
async fn seed_calendar(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    crate::obligations::holidays::seed_if_empty(db).await.map(|_| ()).map_err(|e| DbErr::Custom(e.to_string()))
}

/// Writes `changes` to row `id` only while it still has `version`: the optimistic lock behind
/// If-Match. When someone else wrote first, nothing is written and the answer is 412 naming the
/// current version. (On PostgreSQL a concurrent writer waits for the row lock, then matches nothing.)
pub async fn update_if_version<E>(
    db: &impl ConnectionTrait,
    changes: E::ActiveModel,
    (id_column, id): (E::Column, uuid::Uuid),
    (version_column, version): (E::Column, i32),
) -> AppResult<()>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let result = versioned_update::<E>(changes, (id_column, id), (version_column, version)).exec(db).await?;
    if result.rows_affected > 0 {
        return Ok(());
    }
    let latest: Option<i32> =
        E::find().select_only().column(version_column).filter(id_column.eq(id)).into_tuple().one(db).await?;
    Err(AppError::precondition_failed(latest.unwrap_or(version)))
}

/// The UPDATE behind [`update_if_version`]. The key only names the row: it is left out of SET,
/// because writing a referenced key, even unchanged, makes SQLite check every table that refers to
/// it, by a full scan where the referring column has no index (a victim's update scanned all
/// `journey_events` twice, 40 ms on 20,000 victims).
fn versioned_update<E>(
    mut changes: E::ActiveModel,
    (id_column, id): (E::Column, uuid::Uuid),
    (version_column, version): (E::Column, i32),
) -> sea_orm::UpdateMany<E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    changes.not_set(id_column);
    E::update_many().set(changes).filter(id_column.eq(id)).filter(version_column.eq(version))
}

fn sqlite_options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // A local file cannot drop the connection: no ping before each checkout.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_before_acquire(|conn, _| Box::pin(async move { Ok(outside_transaction(conn)) }))
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable in WAL mode except for the last commits on power loss.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    opts
}

/// A pooled SQLite connection must come out of the pool outside any transaction; one that does
/// not is closed instead. After SQLITE_FULL or an I/O error SQLite may roll a transaction back by
/// itself; sqlx's own ROLLBACK then fails and it goes on counting a transaction that is gone, so
/// the next "transaction" on that connection became a savepoint inside an outer one that was
/// never committed: writes seemed to succeed and no other connection ever saw them (the full-disk
/// test in tests/api/faults.rs found it). A connection whose transaction was dropped unfinished
/// may also still be rolling back; closing it costs one reconnect.
fn outside_transaction(conn: &mut sea_orm::sqlx::SqliteConnection) -> bool {
    use sqlx_core::transaction::TransactionManager as _;
    let depth = <sea_orm::sqlx::Sqlite as sea_orm::sqlx::Database>::TransactionManager::get_transaction_depth(conn);
    if depth > 0 {
        tracing::warn!(depth, "closing a database connection left inside a transaction");
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, DbBackend, IntoActiveModel, QueryTrait};

    use super::versioned_update;
    use crate::entities::teams;

    #[test]
    fn a_versioned_update_sets_every_column_but_the_key() {
        let now = chrono::Utc::now();
        let id = uuid::Uuid::now_v7();
        let row = teams::Model {
            id,
            code: "north".into(),
            name: "North".into(),
            active: true,
            version: 2,
            created_at: now,
            updated_at: now,
        };
        let changes = row.into_active_model().reset_all();
        let sql = versioned_update::<teams::Entity>(changes, (teams::Column::Id, id), (teams::Column::Version, 1))
            .build(DbBackend::Sqlite)
            .to_string();
        let (set, filter) = sql.split_once(" WHERE ").expect("a WHERE clause");
        assert!(!set.contains("\"id\" ="), "the key is not written: {sql}");
        for column in ["code", "name", "active", "version", "created_at", "updated_at"] {
            assert!(set.contains(&format!("\"{column}\" =")), "{column} is written: {sql}");
        }
        assert!(filter.contains("\"id\" =") && filter.contains("\"version\" = 1"), "{sql}");
    }
}
