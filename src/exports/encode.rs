//! Writing the linked extract: keyed pseudonyms, and CSV or Parquet a batch at a time, so the
//! whole file never sits in memory (a Parquet row group at most).
use std::sync::Arc;

use axum::body::Bytes;
use chrono::SecondsFormat;
use hmac::{Hmac, KeyInit, Mac};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use rand::TryRngCore;
use sha2::Sha256;

use super::linked::{COLUMNS, Cell, ExtractFormat, Kind, Row};

/// Rows per Parquet row group: large enough for column statistics and fast scans, small enough
/// that a row group's buffers stay at tens of megabytes.
const ROW_GROUP: usize = 65_536;

/// HMAC-SHA-256 under a random 256-bit key made for one export and dropped with it: never
/// stored, returned or logged, so the pseudonyms of two exports cannot be matched.
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(key withheld)")
    }
}

impl Pseudonymiser {
    /// A fresh key from the operating system's generator.
    #[must_use]
    pub fn fresh() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut key).expect("the operating system's random generator works");
        Self::with_key(&key)
    }

    #[must_use]
    pub fn with_key(key: &[u8; 32]) -> Self {
        Pseudonymiser { mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length") }
    }

    /// The pseudonym of `id` in `domain` (`victim` or `case`, so a victim and a case never share
    /// one): the MAC's first 128 bits in hex.
    #[must_use]
    pub fn pseudonym(&self, domain: &str, id: uuid::Uuid) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(b":");
        mac.update(id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// The file being written.
pub enum Encoder {
    Csv(Pseudonymiser),
    Parquet(Box<ParquetFile>),
}

impl Encoder {
    #[must_use]
    pub fn new(format: ExtractFormat, keys: Pseudonymiser) -> Self {
        match format {
            ExtractFormat::Csv => Encoder::Csv(keys),
            ExtractFormat::Parquet => Encoder::Parquet(Box::new(ParquetFile::new(keys))),
        }
    }

    /// The file's first bytes: the CSV header, or Parquet's magic number.
    pub fn start(&mut self) -> anyhow::Result<Bytes> {
        match self {
            Encoder::Csv(_) => csv_records(vec![COLUMNS.iter().map(|c| c.0.to_owned()).collect()]),
            Encoder::Parquet(p) => p.take(),
        }
    }

    /// Encodes a batch; returns what is ready to send (a Parquet file sends whole row groups).
    pub fn push(&mut self, rows: Vec<Row>) -> anyhow::Result<Bytes> {
        match self {
            Encoder::Csv(keys) => csv_records(rows.into_iter().map(|r| csv_row(keys, r)).collect()),
            Encoder::Parquet(p) => p.push(rows),
        }
    }

    /// Encodes the last batch and ends the file.
    pub fn finish(self, rows: Vec<Row>) -> anyhow::Result<Bytes> {
        match self {
            Encoder::Csv(keys) => csv_records(rows.into_iter().map(|r| csv_row(&keys, r)).collect()),
            Encoder::Parquet(mut p) => {
                let mut out = p.push(rows)?.to_vec();
                out.extend_from_slice(&p.close()?);
                Ok(Bytes::from(out))
            }
        }
    }
}

fn csv_records(records: Vec<Vec<String>>) -> anyhow::Result<Bytes> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for r in records {
        w.write_record(&r)?;
    }
    Ok(Bytes::from(w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?))
}

fn csv_row(keys: &Pseudonymiser, row: Row) -> Vec<String> {
    let mut out = Vec::with_capacity(COLUMNS.len());
    out.push(keys.pseudonym("victim", row.victim));
    out.push(keys.pseudonym("case", row.case));
    out.extend(row.cells.into_iter().map(|c| match c {
        Cell::Null => String::new(),
        Cell::Text(s) => s,
        Cell::Bool(b) => b.to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Time(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }));
    out
}

/// One column's values for the row group being gathered, with Parquet definition levels (0 for
/// null, 1 for a value).
struct Buffer<T> {
    values: Vec<T>,
    defs: Vec<i16>,
}

impl<T> Buffer<T> {
    fn new() -> Self {
        Buffer { values: Vec::new(), defs: Vec::new() }
    }

    fn push(&mut self, v: Option<T>) {
        self.defs.push(i16::from(v.is_some()));
        self.values.extend(v);
    }

    fn clear(&mut self) {
        self.values.clear();
        self.defs.clear();
    }
}

enum Column {
    Text(Buffer<ByteArray>),
    Bool(Buffer<bool>),
    Int64(Buffer<i64>),
    Int32(Buffer<i32>),
}

/// Days since 1970-01-01, as Parquet's DATE stores them.
fn epoch_days(d: chrono::NaiveDate) -> i32 {
    d.signed_duration_since(chrono::NaiveDate::default()).num_days() as i32
}

/// A Parquet file written through the low-level column writers (no arrow): columns gathered a
/// row group at a time, each row group's bytes handed on as soon as it is written.
pub struct ParquetFile {
    keys: Pseudonymiser,
    writer: SerializedFileWriter<Vec<u8>>,
    columns: Vec<Column>,
    rows: usize,
}

impl ParquetFile {
    fn new(keys: Pseudonymiser) -> Self {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("care-hub linked-journey extract".to_owned())
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), schema(), Arc::new(props))
            .expect("the schema is valid and writing to memory cannot fail");
        let columns = COLUMNS
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Text => Column::Text(Buffer::new()),
                Kind::Bool => Column::Bool(Buffer::new()),
                Kind::Int | Kind::Time => Column::Int64(Buffer::new()),
                Kind::Date => Column::Int32(Buffer::new()),
            })
            .collect();
        ParquetFile { keys, writer, columns, rows: 0 }
    }

    fn push(&mut self, rows: Vec<Row>) -> anyhow::Result<Bytes> {
        for row in rows {
            let ids = [self.keys.pseudonym("victim", row.victim), self.keys.pseudonym("case", row.case)];
            let cells = ids.into_iter().map(Cell::Text).chain(row.cells);
            for (column, cell) in self.columns.iter_mut().zip(cells) {
                match (column, cell) {
                    (Column::Text(b), Cell::Text(s)) => b.push(Some(ByteArray::from(s.into_bytes()))),
                    (Column::Bool(b), Cell::Bool(v)) => b.push(Some(v)),
                    (Column::Int64(b), Cell::Int(v)) => b.push(Some(v)),
                    (Column::Int64(b), Cell::Time(t)) => b.push(Some(t.timestamp_micros())),
                    (Column::Int32(b), Cell::Date(d)) => b.push(Some(epoch_days(d))),
                    (Column::Text(b), _) => b.push(None),
                    (Column::Bool(b), _) => b.push(None),
                    (Column::Int64(b), _) => b.push(None),
                    (Column::Int32(b), _) => b.push(None),
                }
            }
            self.rows += 1;
        }
        if self.rows >= ROW_GROUP {
            self.write_row_group()?;
            return self.take();
        }
        Ok(Bytes::new())
    }

    fn write_row_group(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for column in &mut self.columns {
            let mut w = group.next_column()?.ok_or_else(|| anyhow::anyhow!("fewer Parquet columns than buffers"))?;
            match column {
                Column::Text(b) => w.typed::<ByteArrayType>().write_batch(&b.values, Some(&b.defs), None)?,
                Column::Bool(b) => w.typed::<BoolType>().write_batch(&b.values, Some(&b.defs), None)?,
                Column::Int64(b) => w.typed::<Int64Type>().write_batch(&b.values, Some(&b.defs), None)?,
                Column::Int32(b) => w.typed::<Int32Type>().write_batch(&b.values, Some(&b.defs), None)?,
            };
            w.close()?;
            match column {
                Column::Text(b) => b.clear(),
                Column::Bool(b) => b.clear(),
                Column::Int64(b) => b.clear(),
                Column::Int32(b) => b.clear(),
            }
        }
        group.close()?;
        self.rows = 0;
        Ok(())
    }

    /// The bytes written so far and not yet handed on.
    fn take(&mut self) -> anyhow::Result<Bytes> {
        self.writer.flush()?;
        Ok(Bytes::from(std::mem::take(self.writer.inner_mut())))
    }

    /// The last row group and the footer.
    fn close(mut self: Box<Self>) -> anyhow::Result<Bytes> {
        self.write_row_group()?;
        Ok(Bytes::from(self.writer.into_inner()?))
    }
}

fn schema() -> Arc<Type> {
    let fields = COLUMNS
        .iter()
        .map(|&(name, kind)| {
            let (physical, logical) = match kind {
                Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Kind::Bool => (Physical::BOOLEAN, None),
                Kind::Int => (Physical::INT64, None),
                Kind::Date => (Physical::INT32, Some(LogicalType::Date)),
                Kind::Time => (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS))),
            };
            Arc::new(
                Type::primitive_type_builder(name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical)
                    .build()
                    .expect("a valid column"),
            )
        })
        .collect();
    Arc::new(Type::group_type_builder("linked_journey").with_fields(fields).build().expect("a valid schema"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_kept_apart_by_domain() {
        let id = uuid::Uuid::from_u128(42);
        let a = Pseudonymiser::with_key(&[1; 32]);
        let b = Pseudonymiser::with_key(&[2; 32]);
        assert_eq!(a.pseudonym("victim", id), a.pseudonym("victim", id));
        assert_ne!(a.pseudonym("victim", id), b.pseudonym("victim", id));
        assert_ne!(a.pseudonym("victim", id), a.pseudonym("case", id));
        assert_eq!(a.pseudonym("victim", id).len(), 32);
        // HMAC-SHA-256, not a plain hash: RFC 4231 test case 2 ("Jefe"), checked through the same type.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(!format!("{a:?}").contains("01"));
    }

    #[test]
    fn fresh_keys_differ() {
        let id = uuid::Uuid::from_u128(7);
        assert_ne!(Pseudonymiser::fresh().pseudonym("victim", id), Pseudonymiser::fresh().pseudonym("victim", id));
    }
}
