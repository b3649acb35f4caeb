//! Writing a job's result files into the owner's workspace: each goes to a temp file in
//! `temp/`, is fsynced and renamed to `<area>/<new id>`, with its size and SHA-256. The
//! files are registered by the completing transaction (`lease::finish`); until then a
//! [`ResultFiles`] set removes them when dropped, so a failed or abandoned attempt
//! leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use fairlane_shared::jobs::OutputFile;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::KindError;
use crate::options_table::{ExportFormat, write_batches};

/// Result files written by one attempt.
#[derive(Debug)]
pub struct ResultFiles {
    root: PathBuf,
    files: Vec<OutputFile>,
    kept: bool,
}

impl ResultFiles {
    /// An empty set in `user_id`'s workspace under `data_dir`.
    pub fn new(data_dir: &Path, user_id: Uuid) -> Result<Self, KindError> {
        let root = fairlane_shared::workspace::create(data_dir, user_id)
            .map_err(|e| KindError::retryable("workspace_unavailable", e.to_string()))?;
        Ok(Self {
            root,
            files: Vec::new(),
            kept: false,
        })
    }

    /// Writes one file: `write` fills it. Blocking I/O: call from a blocking context.
    pub fn write(
        &mut self,
        area: &'static str,
        name: &str,
        content_type: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<&OutputFile, KindError> {
        let io = |e: std::io::Error| KindError::retryable("write_failed", e.to_string());
        let id = Uuid::now_v7();
        let temp = self.root.join("temp").join(format!("{id}.part"));
        let result = (|| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            let mut hashing = HashingWriter {
                inner: std::io::BufWriter::new(file),
                hasher: Sha256::new(),
                size: 0,
            };
            write(&mut hashing)?;
            let HashingWriter {
                inner,
                hasher,
                size,
            } = hashing;
            let file = inner
                .into_inner()
                .map_err(std::io::IntoInnerError::into_error)?;
            file.sync_all()?;
            let target_dir = self.root.join(area);
            std::fs::rename(&temp, target_dir.join(id.to_string()))?;
            std::fs::File::open(&target_dir)?.sync_all()?;
            Ok::<_, std::io::Error>((size, hex::encode(hasher.finalize())))
        })();
        let (size, sha256) = result.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            io(e)
        })?;
        self.files.push(OutputFile {
            id,
            name: name.to_owned(),
            area,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            content_type: content_type.to_owned(),
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// Writes one table file, `<name_stem>.<extension>` for the client, with the format's
    /// writer (`options_table::write_batches`, which fsyncs and renames in `temp/`), then
    /// moves it to `<area>/<new id>`. Blocking I/O: call from a blocking context.
    pub fn write_table(
        &mut self,
        area: &'static str,
        name_stem: &str,
        format: ExportFormat,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<&OutputFile, KindError> {
        let id = Uuid::now_v7();
        let temp_dir = self.root.join("temp");
        let written = write_batches(format, schema, batches, &temp_dir, &id.to_string())
            .map_err(|e| KindError::retryable("write_failed", error_chain(&e)))?;
        let target_dir = self.root.join(area);
        let moved = std::fs::rename(&written.path, target_dir.join(id.to_string()))
            .and_then(|()| std::fs::File::open(&target_dir)?.sync_all());
        if let Err(e) = moved {
            let _ = std::fs::remove_file(&written.path);
            return Err(KindError::retryable("write_failed", e.to_string()));
        }
        self.files.push(OutputFile {
            id,
            name: format!("{name_stem}.{}", format.extension()),
            area,
            size_bytes: i64::try_from(written.size).unwrap_or(i64::MAX),
            sha256: written.sha256,
            content_type: format.media_type().to_owned(),
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// Hands the files over for registration; the caller's outcome now owns them.
    pub fn keep(mut self) -> Vec<OutputFile> {
        self.kept = true;
        std::mem::take(&mut self.files)
    }
}

impl Drop for ResultFiles {
    fn drop(&mut self) {
        if !self.kept {
            remove(&self.root, &self.files);
        }
    }
}

/// Removes written files (after a lost lease, when the completion did not commit).
pub fn remove(workspace_root: &Path, files: &[OutputFile]) {
    for file in files {
        let _ = std::fs::remove_file(workspace_root.join(file.area).join(file.id.to_string()));
    }
}

/// An error with its sources, `outer: inner: …`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
