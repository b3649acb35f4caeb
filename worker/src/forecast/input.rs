//! Reading a forecast's input CSV: finding the date and value columns (named or
//! detected) and parsing every row into a dated observation. Ordering, gaps and
//! frequency are the business of `series`, not of this module.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::forecast::calendar::parse_date;
use crate::forecast::error::{ForecastError, excerpt};
use crate::forecast::params::MAX_POINTS;

/// Rows looked at to detect the date and value columns.
const DETECTION_ROWS: usize = 10;

/// Which columns to read; `None` means detect.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnChoice<'a> {
    /// The date column's header.
    pub date_column: Option<&'a str>,
    /// The value column's header.
    pub value_column: Option<&'a str>,
}

/// One data row of the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The row's date (UTC when the file gave an offset).
    pub date: NaiveDateTime,
    /// The row's value.
    pub value: f64,
    /// 1-based line number in the file (the header is line 1), for error messages.
    pub line: u64,
}

/// The rows of the input in file order, with the columns they came from.
#[derive(Debug, Clone)]
pub struct Observations {
    /// The date column's header.
    pub date_column: String,
    /// The value column's header.
    pub value_column: String,
    /// Every data row, in file order.
    pub rows: Vec<Observation>,
}

/// Reads the CSV at `path` (a header line, then data rows).
pub fn read_csv(path: &Path, columns: ColumnChoice<'_>) -> Result<Observations, ForecastError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(csv_error)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        if records.len() == MAX_POINTS {
            return Err(ForecastError::TooManyPoints { limit: MAX_POINTS });
        }
        records.push(record);
    }
    if headers.iter().all(String::is_empty) || records.is_empty() {
        return Err(ForecastError::EmptyFile);
    }

    let sample = &records[..records.len().min(DETECTION_ROWS)];
    let date_index = match columns.date_column {
        Some(name) => named_column(&headers, name, "date")?,
        None => detect_column(&headers, sample, None, |cell| parse_date(cell).is_some())
            .ok_or_else(|| {
                not_found(&headers, "no column holds dates; name it with date_column")
            })?,
    };
    let value_index = match columns.value_column {
        Some(name) => named_column(&headers, name, "value")?,
        None => detect_column(&headers, sample, Some(date_index), |cell| {
            parse_value(cell).is_some()
        })
        .ok_or_else(|| {
            not_found(
                &headers,
                "no other column holds numbers; name it with value_column",
            )
        })?,
    };

    let date_column = headers[date_index].clone();
    let value_column = headers[value_index].clone();
    let rows = records
        .iter()
        .map(|record| {
            let line = record.position().map_or(0, csv::Position::line);
            let date_cell = record.get(date_index).unwrap_or_default();
            let date = parse_date(date_cell).ok_or_else(|| ForecastError::UnparseableDate {
                line,
                column: date_column.clone(),
                value: excerpt(date_cell),
            })?;
            let value_cell = record.get(value_index).unwrap_or_default();
            let value = parse_value(value_cell).ok_or_else(|| ForecastError::NonNumericValue {
                line,
                column: value_column.clone(),
                value: excerpt(value_cell),
            })?;
            Ok(Observation { date, value, line })
        })
        .collect::<Result<Vec<_>, ForecastError>>()?;
    Ok(Observations {
        date_column,
        value_column,
        rows,
    })
}

/// A finite number, or `None` (empty cells, words, `NaN` and infinities included).
fn parse_value(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|value| value.is_finite())
}

fn named_column(headers: &[String], name: &str, role: &str) -> Result<usize, ForecastError> {
    headers
        .iter()
        .position(|header| header == name.trim())
        .ok_or_else(|| {
            not_found(
                headers,
                &format!("{role} column '{}' not found", excerpt(name)),
            )
        })
}

/// The first column (other than `skip`) where most sample cells satisfy `accepts`, so a
/// stray bad cell is reported with its line instead of hiding the column.
fn detect_column(
    headers: &[String],
    sample: &[csv::StringRecord],
    skip: Option<usize>,
    accepts: impl Fn(&str) -> bool,
) -> Option<usize> {
    (0..headers.len())
        .filter(|&index| Some(index) != skip)
        .find(|&index| {
            let accepted = sample
                .iter()
                .filter(|record| record.get(index).is_some_and(&accepts))
                .count();
            accepted * 2 > sample.len()
        })
}

fn not_found(headers: &[String], message: &str) -> ForecastError {
    ForecastError::ColumnNotFound {
        message: message.to_owned(),
        available: headers.iter().map(|header| excerpt(header)).collect(),
    }
}

fn csv_error(error: csv::Error) -> ForecastError {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(io) => ForecastError::UnreadableFile {
            reason: io.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ForecastError::MalformedCsv {
            line,
            reason: format!("{len} fields where the header has {expected_len}"),
        },
        csv::ErrorKind::Utf8 { .. } => ForecastError::MalformedCsv {
            line,
            reason: "the text is not UTF-8".into(),
        },
        other => ForecastError::MalformedCsv {
            line,
            reason: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read(text: &str, columns: ColumnChoice<'_>) -> Result<Observations, ForecastError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        read_csv(file.path(), columns)
    }

    #[test]
    fn columns_are_detected_past_text_and_numbers() {
        let text = "id,store,day,sales,price\n1,a,2020-01-01,10,2\n2,a,2020-01-02,11.5,2\n";
        let observations = read(text, ColumnChoice::default()).unwrap();
        assert_eq!(observations.date_column, "day");
        // `id` is numeric too and comes first: detection takes the first numeric column.
        assert_eq!(observations.value_column, "id");
        let named = read(
            text,
            ColumnChoice {
                date_column: None,
                value_column: Some("sales"),
            },
        )
        .unwrap();
        assert_eq!(named.rows[1].value, 11.5);
        assert_eq!(named.rows[1].line, 3);
    }

    #[test]
    fn named_columns_must_exist() {
        let error = read(
            "date,value\n2020-01-01,1\n",
            ColumnChoice {
                date_column: Some("when"),
                value_column: None,
            },
        )
        .unwrap_err();
        assert_eq!(error.code(), "column_not_found");
        assert!(error.to_string().contains("'when'"), "{error}");
        assert!(error.to_string().contains("date, value"), "{error}");
    }

    #[test]
    fn bad_cells_name_their_line() {
        let check = |text: &str, code: &str, line: u64| {
            let error = read(text, ColumnChoice::default()).unwrap_err();
            assert_eq!(error.code(), code, "{error}");
            assert!(
                error.to_string().starts_with(&format!("line {line}")),
                "{error}"
            );
        };
        let head = "date,value\n2020-01-01,1\n2020-01-02,2\n";
        check(&format!("{head}2020-01-03,abc\n"), "non_numeric_value", 4);
        check(&format!("{head}2020-01-04,\n"), "non_numeric_value", 4);
        check(&format!("{head}2020-01-04,NaN\n"), "non_numeric_value", 4);
        check(&format!("{head}04/01/2020,3\n"), "unparseable_date", 4);
        check(&format!("{head}2020-01-04,3,9\n"), "malformed_csv", 4);
    }

    #[test]
    fn empty_files_and_missing_columns_are_rejected() {
        for text in ["", "date,value\n", "\n"] {
            let error = read(text, ColumnChoice::default()).unwrap_err();
            assert_eq!(error.code(), "empty_file", "{text:?}");
        }
        let no_dates = read("a,b\n1,2\n", ColumnChoice::default()).unwrap_err();
        assert_eq!(no_dates.code(), "column_not_found");
        let no_values = read("date,note\n2020-01-01,x\n", ColumnChoice::default()).unwrap_err();
        assert_eq!(no_values.code(), "column_not_found");
    }

    #[test]
    fn too_many_rows_are_rejected_while_reading() {
        let mut text = String::from("date,value\n");
        let start = chrono::NaiveDate::from_ymd_opt(1800, 1, 1).unwrap();
        for day in 0..=MAX_POINTS as u64 {
            let date = start + chrono::Days::new(day);
            text.push_str(&format!("{date},1\n"));
        }
        let error = read(&text, ColumnChoice::default()).unwrap_err();
        assert_eq!(error.code(), "too_many_points");
    }

    #[test]
    fn unreadable_paths_are_reported_without_the_path() {
        let error =
            read_csv(Path::new("/nonexistent/input.csv"), ColumnChoice::default()).unwrap_err();
        assert_eq!(error.code(), "unreadable_file");
        assert!(!error.to_string().contains("nonexistent"), "{error}");
    }
}
