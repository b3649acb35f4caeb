//! Receiving an upload: the multipart `file` field is streamed to a temp file in the
//! user's workspace (never buffered whole), counted against the per-upload limit and the
//! remaining storage quota as it arrives, hashed, type-checked, fsynced and renamed into
//! `uploads/<id>`. Whatever happens — a limit, bad content, the client disconnecting —
//! the partial file is removed (a drop guard), and nothing was charged.
//!
//! Accepted types, by extension and checked against the content: `.csv`, `.tsv`,
//! `.txt` (UTF-8 text without NUL), `.json` (UTF-8), `.parquet` (PAR1 magic at both ends).

use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::naming;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over the per-upload limit (413).
    #[error("the file is larger than the upload limit of {0} bytes")]
    TooLarge(u64),
    /// Over the remaining storage quota (429).
    #[error("the file does not fit in your remaining storage quota")]
    QuotaExceeded,
    /// No `file` field (422).
    #[error("the form has no `file` field")]
    MissingField,
    /// Zero bytes (422).
    #[error("the file is empty")]
    Empty,
    /// The content does not match the type its name claims (422).
    #[error("{0}")]
    BadContent(&'static str),
    /// A type we do not accept (415).
    #[error("unsupported file type; upload .csv, .tsv, .txt, .json or .parquet")]
    UnsupportedType,
    /// The multipart stream is broken (400).
    #[error("malformed upload: {0}")]
    Malformed(String),
    /// Disk trouble (500).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A received, stored upload (not yet registered in the database).
#[derive(Debug)]
pub struct Received {
    /// The file id.
    pub id: Uuid,
    /// Where the bytes now are (remove it if registration fails).
    pub path: PathBuf,
    /// Display name.
    pub name: String,
    /// Size.
    pub size: u64,
    /// SHA-256 hex.
    pub sha256: String,
    /// Media type.
    pub content_type: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Json,
    Parquet,
}

impl Kind {
    fn from_name(name: &str) -> Option<(Self, &'static str)> {
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match extension.as_str() {
            "csv" => Some((Kind::Text, "text/csv")),
            "tsv" => Some((Kind::Text, "text/tab-separated-values")),
            "txt" => Some((Kind::Text, "text/plain")),
            "json" => Some((Kind::Json, "application/json")),
            "parquet" => Some((Kind::Parquet, "application/vnd.apache.parquet")),
            _ => None,
        }
    }
}

/// Removes a file on drop unless disarmed.
#[derive(Debug)]
pub struct RemoveOnDrop {
    path: PathBuf,
    armed: bool,
}

impl RemoveOnDrop {
    /// Guards `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    /// Keeps the file.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Incremental UTF-8 check that also refuses NUL bytes.
#[derive(Default)]
struct TextCheck {
    carry: Vec<u8>,
    bad: bool,
}

impl TextCheck {
    fn feed(&mut self, chunk: &[u8]) {
        if self.bad {
            return;
        }
        let mut buffer = std::mem::take(&mut self.carry);
        buffer.extend_from_slice(chunk);
        if buffer.contains(&0) {
            self.bad = true;
            return;
        }
        match std::str::from_utf8(&buffer) {
            Ok(_) => {}
            Err(e) if e.error_len().is_some() => self.bad = true,
            Err(e) => self.carry = buffer[e.valid_up_to()..].to_vec(),
        }
    }

    fn is_valid(&self) -> bool {
        !self.bad && self.carry.is_empty()
    }
}

/// Limits applying to one upload.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per-upload maximum.
    pub max_bytes: u64,
    /// Storage still free for this user.
    pub remaining_quota: u64,
}

/// Streams the `file` field into `<workspace>/uploads/<new id>`.
pub async fn receive(
    multipart: &mut Multipart,
    workspace: &Path,
    limits: Limits,
) -> Result<Received, UploadError> {
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| UploadError::Malformed(e.body_text()))?;
        let Some(mut field) = field else {
            return Err(UploadError::MissingField);
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = naming::display_name(field.file_name());
        let (kind, content_type) = Kind::from_name(&name).ok_or(UploadError::UnsupportedType)?;
        let id = Uuid::now_v7();
        let temp_path = workspace.join("temp").join(format!("{id}.part"));
        let guard = RemoveOnDrop::new(temp_path.clone());
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut text = TextCheck::default();
        let mut head: Vec<u8> = Vec::with_capacity(4);
        let mut tail: Vec<u8> = Vec::with_capacity(4);
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| UploadError::Malformed(e.body_text()))?
        {
            size += chunk.len() as u64;
            if size > limits.max_bytes {
                return Err(UploadError::TooLarge(limits.max_bytes));
            }
            if size > limits.remaining_quota {
                return Err(UploadError::QuotaExceeded);
            }
            hasher.update(&chunk);
            if kind != Kind::Parquet {
                text.feed(&chunk);
            }
            if head.len() < 4 {
                head.extend(chunk.iter().take(4 - head.len()));
            }
            tail.extend_from_slice(&chunk[chunk.len().saturating_sub(4)..]);
            let keep = tail.len().saturating_sub(4);
            tail.drain(..keep);
            file.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(UploadError::Empty);
        }
        match kind {
            Kind::Text | Kind::Json if !text.is_valid() => {
                return Err(UploadError::BadContent(
                    "the file is not UTF-8 text (or contains NUL bytes)",
                ));
            }
            Kind::Parquet if head.as_slice() != b"PAR1" || tail.as_slice() != b"PAR1" => {
                return Err(UploadError::BadContent("the file is not a Parquet file"));
            }
            _ => {}
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let final_path = workspace.join("uploads").join(id.to_string());
        tokio::fs::rename(&temp_path, &final_path).await?;
        guard.disarm();
        tokio::fs::File::open(workspace.join("uploads"))
            .await?
            .sync_all()
            .await?;
        return Ok(Received {
            id,
            path: final_path,
            name,
            size,
            sha256: hex::encode(hasher.finalize()),
            content_type,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_check_accepts_split_multibyte_sequences_and_rejects_binary() {
        let text = "prévision,€\n".as_bytes();
        let mut check = TextCheck::default();
        for byte in text {
            check.feed(std::slice::from_ref(byte));
        }
        assert!(check.is_valid());
        let mut nul = TextCheck::default();
        nul.feed(b"a,b\n\0");
        assert!(!nul.is_valid());
        let mut binary = TextCheck::default();
        binary.feed(&[0x7f, 0x45, 0x4c, 0x46, 0xff, 0xfe]);
        assert!(!binary.is_valid());
        let mut truncated = TextCheck::default();
        truncated.feed(&"é".as_bytes()[..1]);
        assert!(!truncated.is_valid());
    }

    #[test]
    fn only_known_extensions_are_accepted() {
        assert_eq!(Kind::from_name("a.CSV").unwrap().1, "text/csv");
        assert!(Kind::from_name("a.csv.exe").is_none());
        assert!(Kind::from_name("noextension").is_none());
        assert_eq!(Kind::from_name("x.parquet").unwrap().0, Kind::Parquet);
    }
}
