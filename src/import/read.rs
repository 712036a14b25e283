//! Reading an extract one record at a time: RFC 4180 CSV or JSON Lines, told apart into intake
//! and events files by the header (or the first record's fields), with each record's line number
//! and raw text kept for the rejects file. Memory stays flat whatever the file's size.
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::ImportFormat;

/// Which layout a file has (docs/import-formats.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Intake,
    Events,
}

impl FileKind {
    #[must_use]
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            FileKind::Intake => INTAKE_COLUMNS,
            FileKind::Events => EVENT_COLUMNS,
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            FileKind::Intake => {
                &["crime_ref", "victim_key", "team", "given_name", "family_name", "offence_group", "date_reported"]
            }
            FileKind::Events => {
                &["source_event_id", "event_type", "occurred_at", "ref_agency", "ref_type", "ref_value"]
            }
        }
    }
}

pub const INTAKE_COLUMNS: &[&str] = &[
    "crime_ref",
    "victim_key",
    "urn",
    "urn_agency",
    "team",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "ethnicity",
    "disability",
    "enhanced_reasons",
    "offence_group",
    "priority_flags",
    "relationship",
    "location_type",
    "area",
    "date_reported",
    "offence_date",
];

pub const EVENT_COLUMNS: &[&str] = &[
    "source_event_id",
    "event_type",
    "occurred_at",
    "received_at",
    "outcome_code",
    "ref_agency",
    "ref_type",
    "ref_value",
    "victim_key",
    "reason_code",
];

/// One record: its first line number, its text as in the file, and its values in the order of
/// [`FileKind::columns`] (`None` when empty or absent), or why it cannot be read.
pub struct Record {
    pub line: u64,
    pub raw: String,
    pub values: Result<Vec<Option<String>>, String>,
}

/// A quoted CSV field may run over lines; one still open after this many is taken as a stray
/// quote, and only its first line is rejected.
const MAX_RECORD_LINES: usize = 20;

pub struct Reader {
    input: BufReader<File>,
    format: ImportFormat,
    kind: FileKind,
    /// CSV: where each of the kind's columns is in the header.
    positions: Vec<Option<usize>>,
    width: usize,
    /// Physical lines read ahead and given back (a stray quote's lookahead).
    pending: VecDeque<(u64, Vec<u8>)>,
    next_line: u64,
    bytes: u64,
}

impl Reader {
    /// Opens a file and works out its kind; an error means the file cannot be read at all.
    pub fn open(path: &Path, format: ImportFormat) -> anyhow::Result<Reader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = Reader {
            input: BufReader::with_capacity(1 << 16, file),
            format,
            kind: FileKind::Events,
            positions: Vec::new(),
            width: 0,
            pending: VecDeque::new(),
            next_line: 1,
            bytes: 0,
        };
        match format {
            ImportFormat::Csv => reader.read_header(path)?,
            ImportFormat::Jsonl => reader.kind = detect_jsonl(path)?,
        }
        Ok(reader)
    }

    #[must_use]
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Bytes read so far (for progress).
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    fn read_header(&mut self, path: &Path) -> anyhow::Result<()> {
        let Some((_, bytes)) = self.physical()? else { bail!("{} is empty: no header row", path.display()) };
        let text = String::from_utf8(bytes).with_context(|| format!("{}: the header is not UTF-8", path.display()))?;
        let text = text.trim_start_matches('\u{feff}');
        let names: Vec<String> = match split_csv(text) {
            Ok(fields) => fields.into_iter().map(|f| f.trim().to_lowercase()).collect(),
            Err(why) => bail!("{}: the header row cannot be read: {why:?}", path.display()),
        };
        let has = |c: &str| names.iter().any(|n| n == c);
        self.kind = if has("source_event_id") {
            FileKind::Events
        } else if has("crime_ref") && has("victim_key") {
            FileKind::Intake
        } else {
            bail!(
                "{}: the header is neither an intake extract (crime_ref, victim_key, ...) nor an events extract \
                 (source_event_id, ...); see docs/import-formats.md",
                path.display()
            );
        };
        let missing: Vec<&str> = self.kind.required().iter().copied().filter(|c| !has(c)).collect();
        if !missing.is_empty() {
            bail!("{}: the header lacks the required column(s) {}", path.display(), missing.join(", "));
        }
        self.positions = self.kind.columns().iter().map(|c| names.iter().position(|n| n == c)).collect();
        self.width = names.len();
        Ok(())
    }

    /// The next physical line (without its line ending), with its number.
    fn physical(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        if let Some(p) = self.pending.pop_front() {
            return Ok(Some(p));
        }
        let mut buf = Vec::with_capacity(256);
        let n = self.input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = self.next_line;
        self.next_line += 1;
        Ok(Some((line, buf)))
    }

    /// The next record, skipping blank lines; `None` at the end of the file.
    pub fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        loop {
            let Some((line, bytes)) = self.physical()? else { return Ok(None) };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let raw = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    return Ok(Some(Record { line, raw, values: Err("the line is not valid UTF-8".into()) }));
                }
            };
            return Ok(Some(match self.format {
                ImportFormat::Jsonl => {
                    let values = jsonl_values(&text, self.kind.columns());
                    Record { line, raw: text, values }
                }
                ImportFormat::Csv => self.csv_record(line, text)?,
            }));
        }
    }

    fn csv_record(&mut self, line: u64, first: String) -> std::io::Result<Record> {
        let mut text = first;
        let mut taken: Vec<(u64, Vec<u8>)> = Vec::new();
        loop {
            match split_csv(&text) {
                Ok(fields) => {
                    let values = if fields.len() == self.width {
                        Ok(self.positions.iter().map(|p| p.and_then(|i| non_empty(&fields[i]))).collect())
                    } else {
                        Err(format!("wrong column count: expected {} fields, found {}", self.width, fields.len()))
                    };
                    return Ok(Record { line, raw: text, values });
                }
                Err(CsvError::OpenQuote) if taken.len() + 1 < MAX_RECORD_LINES => match self.physical()? {
                    Some((n, bytes)) => {
                        text.push('\n');
                        text.push_str(&String::from_utf8_lossy(&bytes));
                        taken.push((n, bytes));
                    }
                    None => break,
                },
                Err(CsvError::OpenQuote) => break,
                Err(CsvError::Malformed(why)) => {
                    return Ok(Record { line, raw: text, values: Err(why.into()) });
                }
            }
        }
        // A quote that never closes: reject its first line and read on from the next.
        let raw = text.split('\n').next().unwrap_or_default().to_owned();
        for p in taken.into_iter().rev() {
            self.pending.push_front(p);
        }
        Ok(Record { line, raw, values: Err("a quoted field is never closed".into()) })
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum CsvError {
    /// The record goes on past the end of the text (inside a quoted field).
    OpenQuote,
    Malformed(&'static str),
}

/// Splits one CSV record (RFC 4180: `"` quotes a field, `""` is a quote inside one).
fn split_csv(text: &str) -> Result<Vec<String>, CsvError> {
    let mut fields = Vec::with_capacity(20);
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(CsvError::OpenQuote),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err(CsvError::Malformed("text after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err(CsvError::Malformed("a quote inside an unquoted field")),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// One JSON Lines record's values in `columns` order. Strings are taken as they are, numbers as
/// written, lists joined with `;` (as in a CSV cell); `null` or absent is empty.
fn jsonl_values(text: &str, columns: &[&str]) -> Result<Vec<Option<String>>, String> {
    let map: serde_json::Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not valid JSON: {e}")),
    };
    columns
        .iter()
        .map(|c| match map.get(*c) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(non_empty(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Array(items)) => {
                let parts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                parts.map(|p| non_empty(&p.join(";"))).ok_or_else(|| format!("{c}: a list of strings was expected"))
            }
            Some(_) => Err(format!("{c}: a string was expected")),
        })
        .collect()
}

/// The kind of a JSON Lines file, from the fields of its first readable record.
fn detect_jsonl(path: &Path) -> anyhow::Result<FileKind> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&line) {
            if m.contains_key("source_event_id") {
                return Ok(FileKind::Events);
            }
            if m.contains_key("crime_ref") && m.contains_key("victim_key") {
                return Ok(FileKind::Intake);
            }
            bail!(
                "{}: the first record is neither an intake record (crime_ref, victim_key, ...) nor an event \
                 (source_event_id, ...); see docs/import-formats.md",
                path.display()
            );
        }
    }
    bail!("{}: no readable JSON record", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc_4180_quoting() {
        assert_eq!(split_csv("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split_csv(r#""x, y","say ""hi""",z"#).unwrap(), ["x, y", r#"say "hi""#, "z"]);
        assert_eq!(split_csv(r#"a,"open"#), Err(CsvError::OpenQuote));
        assert_eq!(split_csv(r#"a,"b"c"#), Err(CsvError::Malformed("text after a closing quote")));
        assert_eq!(split_csv(r#"a,b"c"#), Err(CsvError::Malformed("a quote inside an unquoted field")));
        assert_eq!(split_csv("").unwrap(), [""]);
    }

    #[test]
    fn jsonl_values_take_strings_numbers_and_lists() {
        let v = jsonl_values(r#"{"a":"x","b":7,"c":["p","q"],"d":null}"#, &["a", "b", "c", "d", "e"]).unwrap();
        assert_eq!(v, [Some("x".into()), Some("7".into()), Some("p;q".into()), None, None]);
        assert!(jsonl_values("[1]", &["a"]).is_err());
        assert!(jsonl_values("{", &["a"]).is_err());
    }

    /// Reads every record of `content` as a file of `format`; a file that cannot be opened at
    /// all (no header, say) is an error, never a panic.
    fn read_all(content: &[u8], format: ImportFormat) -> anyhow::Result<Vec<Record>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("extract");
        std::fs::write(&path, content)?;
        let mut reader = Reader::open(&path, format)?;
        let mut records = Vec::new();
        while let Some(r) = reader.next_record()? {
            records.push(r);
        }
        Ok(records)
    }

    fn line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..120),
            "[a-z0-9,\"; \r-]{0,80}".prop_map(String::into_bytes),
            any::<String>().prop_map(String::into_bytes),
            "\\{[a-z_\":, 0-9\\[\\]]{0,60}\\}?".prop_map(String::into_bytes),
        ]
    }

    proptest::proptest! {
        #[test]
        fn fuzz_any_bytes_read_as_records_or_reasons(
            header in 0usize..3,
            lines in proptest::collection::vec(line(), 0..12),
            jsonl in proptest::bool::ANY,
        ) {
            let head = [EVENT_COLUMNS.join(","), INTAKE_COLUMNS.join(","), String::new()][header].clone();
            let mut content = if jsonl { Vec::new() } else { format!("{head}\n").into_bytes() };
            for l in &lines {
                content.extend_from_slice(l);
                content.push(b'\n');
            }
            let format = if jsonl { ImportFormat::Jsonl } else { ImportFormat::Csv };
            if let Ok(records) = read_all(&content, format) {
                let mut last = 0;
                for r in records {
                    // Lines move forward; every record has its values in column order or a reason.
                    proptest::prop_assert!(r.line > last);
                    last = r.line;
                    match r.values {
                        Ok(values) => proptest::prop_assert!(values.len() == EVENT_COLUMNS.len() || values.len() == INTAKE_COLUMNS.len()),
                        Err(why) => proptest::prop_assert!(!why.is_empty()),
                    }
                }
            }
        }

        #[test]
        fn fuzz_csv_fields_written_by_the_csv_crate_read_back(fields in proptest::collection::vec("[^\r\n]{0,12}", EVENT_COLUMNS.len())) {
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record(EVENT_COLUMNS).unwrap();
            out.write_record(&fields).unwrap();
            let content = out.into_inner().unwrap();
            let records = read_all(&content, ImportFormat::Csv).unwrap();
            let expected: Vec<Option<String>> = fields.iter().map(|f| non_empty(f)).collect();
            proptest::prop_assert_eq!(records.len(), 1);
            proptest::prop_assert_eq!(records[0].values.as_ref().unwrap(), &expected);
        }
    }
}
