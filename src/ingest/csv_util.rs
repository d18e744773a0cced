//! CSV/TSV plumbing shared by the readers: opening (plain or gzip), header lookup by column name,
//! and per-field UTF-8 decoding that reports file, line and field instead of failing the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, InputError, Position, Result};

/// Opens a file for reading, transparently decompressing `.gz`.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    if path.extension().is_some_and(|ext| ext == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Dialect {
    /// RFC-4180 comma-separated, quoted cells may hold line breaks (the ESCO download format).
    Csv,
    /// Tab-separated with quoting off (the label table, MELO files).
    Tsv,
}

/// Counts the double quotes that pass through: in RFC 4180 every quote opens or closes a
/// quoted field (an escaped `""` does both), so an odd count at the end of the file means it
/// ends inside a quoted field, cut short; the csv crate would hand out the chopped record as if
/// it were whole.
struct QuoteCounter {
    inner: Box<dyn Read + Send>,
    quotes: Arc<AtomicU64>,
}

impl Read for QuoteCounter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let quotes = buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
        self.quotes.fetch_add(quotes, Ordering::Relaxed);
        Ok(n)
    }
}

/// A CSV file being read record by record, with its header.
pub struct Table {
    path: PathBuf,
    reader: csv::Reader<BufReader<QuoteCounter>>,
    /// Quotes read so far, for [`Dialect::Csv`] (quoting is off in TSV files).
    quotes: Option<Arc<AtomicU64>>,
    columns: HashMap<String, usize>,
    /// Added to the csv crate's line numbers: in `\r\n` files it counts the `\n` of a record's
    /// terminator into the next record, so every record would be reported one line early.
    line_correction: u64,
}

/// One record: its line and raw cells.
pub struct Row<'t> {
    table: &'t Table,
    pub line: u64,
    record: &'t csv::ByteRecord,
}

impl Table {
    pub fn open(path: &Path, dialect: Dialect) -> Result<Table> {
        let mut builder = csv::ReaderBuilder::new();
        builder.flexible(true).has_headers(true);
        if let Dialect::Tsv = dialect {
            builder.delimiter(b'\t').quoting(false);
        }
        let quotes = Arc::new(AtomicU64::new(0));
        let counted = QuoteCounter {
            inner: open(path)?,
            quotes: quotes.clone(),
        };
        let mut raw = BufReader::with_capacity(1 << 16, counted);
        let head = raw.fill_buf().map_err(|e| Error::io("cannot read", path, e))?;
        if head.is_empty() {
            return Err(Error::Input(InputError {
                file: path.to_path_buf(),
                position: Position::Line(1),
                field: None,
                message: "the file is empty (no header)".into(),
            }));
        }
        let crlf = head
            .iter()
            .position(|&b| b == b'\n')
            .is_some_and(|end| end > 0 && head[end - 1] == b'\r');
        let mut reader = builder.from_reader(raw);
        let headers = reader.byte_headers().map_err(|e| csv_error(path, &e))?.clone();
        let columns = headers
            .iter()
            .enumerate()
            .map(|(index, name)| {
                (
                    String::from_utf8_lossy(name)
                        .trim()
                        .trim_start_matches('\u{feff}')
                        .to_string(),
                    index,
                )
            })
            .collect();
        Ok(Table {
            path: path.to_path_buf(),
            reader,
            quotes: matches!(dialect, Dialect::Csv).then_some(quotes),
            columns,
            line_correction: u64::from(crlf),
        })
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// Fails with a located error when a required column is absent from the header.
    pub fn require_columns(&self, names: &[&str]) -> Result<()> {
        match names.iter().find(|name| !self.has_column(name)) {
            None => Ok(()),
            Some(missing) => Err(Error::Input(InputError {
                file: self.path.clone(),
                position: Position::Line(1),
                field: Some((*missing).to_string()),
                message: "required column missing from the header".into(),
            })),
        }
    }

    /// Calls `each` for every record. A record the CSV parser rejects is reported to `errors`
    /// and reading goes on with the next one. Each record is handed out once the next one has
    /// been read, so that the last one can be held back when the file turns out to end inside
    /// a quoted field (a truncated file): it is reported at its line instead of being indexed
    /// with its field chopped.
    pub fn for_each(&mut self, errors: &mut Vec<InputError>, mut each: impl FnMut(&Row<'_>)) {
        let mut record = csv::ByteRecord::new();
        let mut previous = csv::ByteRecord::new();
        let mut previous_line: Option<u64> = None;
        let mut clean_end = false;
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => {
                    clean_end = true;
                    break;
                }
                Ok(true) => {
                    let line = record.position().map_or(0, csv::Position::line) + self.line_correction;
                    std::mem::swap(&mut record, &mut previous);
                    if let Some(line) = previous_line.replace(line) {
                        let table: &Table = self;
                        each(&Row {
                            table,
                            line,
                            record: &record,
                        });
                    }
                }
                Err(error) => {
                    let is_io = matches!(error.kind(), csv::ErrorKind::Io(_));
                    let mut located = located_csv_error(&self.path, &error);
                    if let Position::Line(line) = &mut located.position {
                        *line += self.line_correction;
                    }
                    errors.push(located);
                    if is_io {
                        break;
                    }
                }
            }
        }
        let Some(line) = previous_line else {
            return;
        };
        let truncated = clean_end
            && self
                .quotes
                .as_ref()
                .is_some_and(|quotes| quotes.load(Ordering::Relaxed) % 2 == 1);
        if truncated {
            errors.push(InputError {
                file: self.path.clone(),
                position: Position::Line(line),
                field: None,
                message: "the file ends inside a quoted field: it was cut short (an interrupted \
                          download or copy?); this last record is skipped"
                    .into(),
            });
        } else {
            let table: &Table = self;
            each(&Row {
                table,
                line,
                record: &previous,
            });
        }
    }
}

impl Row<'_> {
    /// The trimmed cell of `column`, `None` when the column is absent or the cell is empty.
    pub fn get(&self, column: &str) -> std::result::Result<Option<&str>, InputError> {
        let Some(&index) = self.table.columns.get(column) else {
            return Ok(None);
        };
        let Some(bytes) = self.record.get(index) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes).map_err(|_| self.error(column, "not valid UTF-8"))?;
        let text = text.trim();
        Ok((!text.is_empty()).then_some(text))
    }

    /// Like [`Row::get`] but an empty or missing cell is an error.
    pub fn required(&self, column: &str) -> std::result::Result<&str, InputError> {
        self.get(column)?.ok_or_else(|| self.error(column, "empty"))
    }

    /// A multi-valued cell: one value per line, trailing commas trimmed (the ESCO convention).
    /// The collection files (`*Collection_*.csv`) join values with ` | ` instead, in `altLabels`
    /// as in `broaderConceptUri`, so that separator splits too (no ESCO label contains it).
    pub fn list(&self, column: &str) -> std::result::Result<Vec<String>, InputError> {
        Ok(self
            .get(column)?
            .map(|cell| {
                cell.lines()
                    .flat_map(|line| line.split(" | "))
                    .map(|value| value.trim().trim_end_matches(',').trim().to_string())
                    .filter(|value| !value.is_empty())
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        InputError {
            file: self.table.path.clone(),
            position: Position::Line(self.line),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

fn located_csv_error(path: &Path, error: &csv::Error) -> InputError {
    let line = error.position().map_or(0, csv::Position::line);
    InputError {
        file: path.to_path_buf(),
        position: Position::Line(line),
        field: None,
        message: error.to_string(),
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> Error {
    Error::Input(located_csv_error(path, error))
}

/// Checks that a cell holds an absolute http(s) URI, as ESCO ids are.
pub fn check_uri<'a>(row: &Row<'_>, column: &str, value: &'a str) -> std::result::Result<&'a str, InputError> {
    if (value.starts_with("http://") || value.starts_with("https://")) && !value.contains(char::is_whitespace) {
        Ok(value)
    } else {
        Err(row.error(column, format!("not an URI: {value:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reports_bad_utf8_with_line_and_field_and_keeps_going() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"a,b\r\n1,\"x\ny\"\r\n2,\xff\xfe\r\n3,ok\r\n").unwrap();
        let mut table = Table::open(file.path(), Dialect::Csv).unwrap();
        let mut errors = Vec::new();
        let mut good = Vec::new();
        table.for_each(&mut errors, |row| match row.get("b") {
            Ok(value) => good.push((row.line, value.map(str::to_string))),
            Err(error) => good.push((row.line, Some(error.to_string()))),
        });
        assert_eq!(good[0], (2, Some("x\ny".to_string())));
        assert!(
            good[1]
                .1
                .as_deref()
                .unwrap()
                .contains("line 4: field `b`: not valid UTF-8"),
            "{:?}",
            good[1]
        );
        assert_eq!(good[2], (5, Some("ok".to_string())));
        assert!(errors.is_empty());
    }

    #[test]
    fn lines_are_right_with_plain_newlines_too() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"a,b\n1,\"x\ny\"\n2,z\n").unwrap();
        let mut table = Table::open(file.path(), Dialect::Csv).unwrap();
        let mut lines = Vec::new();
        table.for_each(&mut Vec::new(), |row| lines.push(row.line));
        assert_eq!(lines, vec![2, 4]);
    }

    #[test]
    fn list_splits_lines_and_trailing_commas() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"inScheme\n\"uri1,\nuri2\n\"\n").unwrap();
        let mut table = Table::open(file.path(), Dialect::Csv).unwrap();
        let mut errors = Vec::new();
        let mut values = Vec::new();
        table.for_each(&mut errors, |row| values = row.list("inScheme").unwrap());
        assert_eq!(values, vec!["uri1", "uri2"]);
    }

    #[test]
    fn list_splits_the_pipes_of_collection_files() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"altLabels\n\"Datenwissenschaftlerin | Data Scientist | Datenwissenschaftler\"\n")
            .unwrap();
        let mut table = Table::open(file.path(), Dialect::Csv).unwrap();
        let mut errors = Vec::new();
        let mut values = Vec::new();
        table.for_each(&mut errors, |row| values = row.list("altLabels").unwrap());
        assert_eq!(
            values,
            vec!["Datenwissenschaftlerin", "Data Scientist", "Datenwissenschaftler"]
        );
    }

    #[test]
    fn a_file_cut_inside_a_quoted_field_is_reported_at_the_line_and_its_record_held_back() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"id,text\n1,\"whole \"\"quoted\"\" text\"\n2,plain\n3,\"cut in the mid")
            .unwrap();
        let mut table = Table::open(file.path(), Dialect::Csv).unwrap();
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        table.for_each(&mut errors, |row| ids.push(row.get("id").unwrap().unwrap().to_string()));
        assert_eq!(ids, vec!["1", "2"], "the chopped record is not handed out");
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.contains("line 4") && message.contains("cut short"), "{message}");
        // The same file whole reads every record, with no error.
        let mut whole = tempfile::NamedTempFile::new().unwrap();
        whole.write_all(b"id,text\n1,\"a \"\"b\"\"\"\n2,c\n").unwrap();
        let mut table = Table::open(whole.path(), Dialect::Csv).unwrap();
        let mut errors = Vec::new();
        let mut count = 0;
        table.for_each(&mut errors, |_| count += 1);
        assert_eq!((count, errors.len()), (2, 0));
    }

    #[test]
    fn an_empty_file_is_a_located_error() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let error = Table::open(file.path(), Dialect::Csv).err().unwrap().to_string();
        assert!(error.contains("line 1") && error.contains("empty"), "{error}");
    }
}
