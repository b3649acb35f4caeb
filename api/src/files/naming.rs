//! Client file names, kept for display only: sanitising them, and encoding them safely
//! into `Content-Disposition` (RFC 6266 / RFC 5987).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// A display name from whatever the client sent: the last path component, without
/// control characters (NUL, CR, LF...), trimmed, at most 255 characters (a long name is
/// shortened before its extension, which is kept); `upload` when nothing is left.
pub fn display_name(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or("");
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '\u{202e}')
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name = if trimmed.chars().count() <= MAX_NAME_CHARS {
        trimmed.to_owned()
    } else {
        let extension = trimmed
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| e.chars().count() <= 16)
            .unwrap_or("");
        let keep = MAX_NAME_CHARS
            - if extension.is_empty() {
                0
            } else {
                extension.chars().count() + 1
            };
        let stem: String = trimmed.chars().take(keep).collect();
        if extension.is_empty() {
            stem
        } else {
            format!("{stem}.{extension}")
        }
    };
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>`.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ';' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_control_characters_never_survive() {
        assert_eq!(display_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_name(Some("C:\\Windows\\system32\\x.csv")), "x.csv");
        assert_eq!(display_name(Some("a\u{0}b\r\n.csv")), "ab.csv");
        assert_eq!(display_name(Some("..")), "upload");
        assert_eq!(display_name(Some("")), "upload");
        assert_eq!(display_name(None), "upload");
        assert_eq!(display_name(Some(".htaccess")), "htaccess");
        assert_eq!(
            display_name(Some(&"n".repeat(10_000))).chars().count(),
            MAX_NAME_CHARS
        );
        let long = display_name(Some(&format!("{}.csv", "n".repeat(10_000))));
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        assert!(long.ends_with("n.csv"), "{long}");
    }

    #[test]
    fn content_disposition_cannot_split_headers_or_inject_parameters() {
        let header = content_disposition("a\"; filename=\"evil.html");
        assert!(header.starts_with("attachment; filename=\"a_"), "{header}");
        assert_eq!(header.matches('"').count(), 2, "{header}");
        let unicode = content_disposition("prévision 2026.csv");
        assert!(
            unicode.contains("filename*=UTF-8''pr%C3%A9vision%202026.csv"),
            "{unicode}"
        );
        assert!(http::HeaderValue::from_str(&content_disposition("x\r\ny")).is_ok());
    }
}
