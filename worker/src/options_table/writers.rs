//! Writes a set of batches as one CSV, Parquet (snappy) or Arrow IPC file, atomically:
//! into a temporary file in the target directory, fsync, rename, fsync the directory.
//! Returns the final path, the size and the SHA-256 computed while writing.
//!
//! CSV has a header row and no quoting tricks. Spreadsheet formula injection needs a
//! cell starting with `=`, `+`, `-` or `@` that a spreadsheet reads as a formula: the
//! chain's text cells are broker trading symbols, underlying names and `CE`/`PE`
//! (letters, digits, `&`, `-` inside), and a leading `-` only starts negative numbers,
//! which spreadsheets read as numbers, so no cell is escaped. This module knows nothing
//! about storage quotas or file records.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::options_table::TableError;
use crate::options_table::schema::READ_BATCH_ROWS;

/// A result file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet, snappy-compressed.
    Parquet,
    /// Arrow IPC file format (Feather v2).
    ArrowIpc,
}

impl ExportFormat {
    /// Every format, in the order result files are listed.
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::Csv,
        ExportFormat::Parquet,
        ExportFormat::ArrowIpc,
    ];

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
            ExportFormat::ArrowIpc => "arrow",
        }
    }

    /// The IANA media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
            ExportFormat::ArrowIpc => "application/vnd.apache.arrow.file",
        }
    }
}

/// A file that has been written and renamed into place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// `dir/stem.extension`.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the contents.
    pub sha256: String,
}

/// Writes `batches` (all of `schema`) as `dir/stem.<extension>` in `format`. `stem`
/// must be a plain file name (no separators, not starting with a dot). An existing
/// file of that name is replaced atomically; on error nothing is left behind.
pub fn write_batches(
    format: ExportFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    dir: &Path,
    stem: &str,
) -> Result<WrittenFile, TableError> {
    if stem.is_empty() || stem.starts_with('.') || stem.contains(['/', '\\', '\0']) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name").into());
    }
    let path = dir.join(format!("{stem}.{}", format.extension()));
    let (file, temp_path) = tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .tempfile_in(dir)?
        .into_parts();
    let sink = HashingWriter::new(file);
    let sink = match format {
        ExportFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(sink);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.into_inner()
        }
        ExportFormat::Parquet => {
            // Row groups are what readers decode in parallel (`schema::read_parquet`).
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(READ_BATCH_ROWS))
                .build();
            let mut writer = ArrowWriter::try_new(sink, schema.clone(), Some(props))?;
            for batch in batches {
                writer.write(batch)?;
            }
            // Writes the footer.
            writer.into_inner()?
        }
        ExportFormat::ArrowIpc => {
            let mut writer = arrow::ipc::writer::FileWriter::try_new(sink, schema)?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            writer.into_inner()?
        }
    };
    let (mut file, size, sha256) = sink.finish();
    file.flush()?;
    file.sync_all()?;
    temp_path.persist(&path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    Ok(WrittenFile { path, size, sha256 })
}

/// Counts and hashes the bytes on their way to a file.
struct HashingWriter {
    inner: File,
    hasher: Sha256,
    size: u64,
}

impl HashingWriter {
    fn new(inner: File) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (File, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use arrow::compute::concat_batches;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::options_table::calculated::{CalcSettings, add_calculated_columns};
    use crate::options_table::fixtures::{chain, today};
    use crate::options_table::schema::{filtered_chain_schema, processed_chain_schema};
    use crate::options_table::{read_csv, read_parquet};

    fn filtered() -> RecordBatch {
        let settings = CalcSettings::new(today(), 0.065).unwrap();
        add_calculated_columns(&chain(), &settings).unwrap()
    }

    fn read_back(format: ExportFormat, path: &Path, schema: &SchemaRef) -> RecordBatch {
        let file = File::open(path).unwrap();
        let batches: Vec<RecordBatch> = match format {
            ExportFormat::Csv => arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(file)
                .unwrap()
                .map(Result::unwrap)
                .collect(),
            ExportFormat::Parquet => ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect(),
            ExportFormat::ArrowIpc => arrow::ipc::reader::FileReader::try_new(file, None)
                .unwrap()
                .map(Result::unwrap)
                .collect(),
        };
        concat_batches(schema, &batches).unwrap()
    }

    #[test]
    fn every_format_round_trips_the_filtered_chain() {
        let dir = tempfile::tempdir().unwrap();
        let batch = filtered();
        let schema = filtered_chain_schema();
        // Two batches to show they end up in one file.
        let halves = [batch.slice(0, 3), batch.slice(3, 4)];
        for format in ExportFormat::ALL {
            let written = write_batches(format, &schema, &halves, dir.path(), "chain").unwrap();
            assert_eq!(
                written.path,
                dir.path().join(format!("chain.{}", format.extension()))
            );
            let bytes = std::fs::read(&written.path).unwrap();
            assert_eq!(written.size, bytes.len() as u64);
            assert_eq!(written.sha256, hex::encode(Sha256::digest(&bytes)));
            assert_eq!(
                read_back(format, &written.path, &schema),
                batch,
                "{format:?}"
            );
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file is left: {names:?}");
    }

    #[test]
    fn csv_has_a_header_row_of_api_column_names() {
        let dir = tempfile::tempdir().unwrap();
        let schema = filtered_chain_schema();
        let written =
            write_batches(ExportFormat::Csv, &schema, &[filtered()], dir.path(), "c").unwrap();
        let text = std::fs::read_to_string(written.path).unwrap();
        let header = text.lines().next().unwrap();
        assert!(header.starts_with("tradingsymbol,underlying,expiry,strike,option_type,"));
        assert!(header.ends_with(",iv,delta,gamma,theta,vega"));
        assert_eq!(text.lines().count(), 8);
    }

    #[test]
    fn the_processed_chain_readers_load_what_the_writers_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let schema = processed_chain_schema();
        let batch = chain();
        let csv = write_batches(
            ExportFormat::Csv,
            &schema,
            std::slice::from_ref(&batch),
            dir.path(),
            "p",
        )
        .unwrap();
        let parquet = write_batches(
            ExportFormat::Parquet,
            &schema,
            std::slice::from_ref(&batch),
            dir.path(),
            "p",
        )
        .unwrap();
        assert_eq!(read_csv(&csv.path).unwrap(), vec![batch.clone()]);
        assert_eq!(
            read_parquet(&parquet.path, NonZeroUsize::MIN).unwrap(),
            vec![batch.clone()]
        );
        // A filtered chain read as a processed chain keeps only the processed columns.
        let wide = write_batches(
            ExportFormat::Parquet,
            &filtered_chain_schema(),
            &[filtered()],
            dir.path(),
            "wide",
        )
        .unwrap();
        assert_eq!(
            read_parquet(&wide.path, NonZeroUsize::MIN).unwrap(),
            vec![batch]
        );
    }

    #[test]
    fn a_large_chain_is_cut_into_row_groups_that_read_back_in_order_on_any_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        let small = chain();
        let copies = 2 * READ_BATCH_ROWS / small.num_rows() + 1;
        let big = concat_batches(&small.schema(), &vec![small; copies]).unwrap();
        let written = write_batches(
            ExportFormat::Parquet,
            &processed_chain_schema(),
            std::slice::from_ref(&big),
            dir.path(),
            "big",
        )
        .unwrap();
        let groups = ParquetRecordBatchReaderBuilder::try_new(File::open(&written.path).unwrap())
            .unwrap()
            .metadata()
            .num_row_groups();
        assert_eq!(groups, 3);
        let one = read_parquet(&written.path, NonZeroUsize::MIN).unwrap();
        let three = read_parquet(&written.path, NonZeroUsize::new(3).unwrap()).unwrap();
        assert_eq!(one, three);
        assert_eq!(concat_batches(&big.schema(), &three).unwrap(), big);
    }

    #[test]
    fn a_file_missing_a_column_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let batch = chain();
        let narrow = batch.project(&[0, 1, 2]).unwrap();
        let written = write_batches(
            ExportFormat::Parquet,
            &narrow.schema(),
            &[narrow],
            dir.path(),
            "narrow",
        )
        .unwrap();
        let err = read_parquet(&written.path, NonZeroUsize::MIN).unwrap_err();
        assert!(err.to_string().contains("\"strike\""), "{err}");
    }

    #[test]
    fn the_stem_must_be_a_plain_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let schema = filtered_chain_schema();
        for stem in ["", "../x", "a/b", ".hidden"] {
            assert!(
                write_batches(ExportFormat::Csv, &schema, &[], dir.path(), stem).is_err(),
                "{stem}"
            );
        }
    }
}
