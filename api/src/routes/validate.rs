//! Field validation shared by the account routes: each check returns the cleaned value
//! or a 422 naming the field.

use crate::error::{ApiError, ApiResult};

/// A display name: 1–200 characters, no control characters.
pub fn name(raw: &str) -> ApiResult<&str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(ApiError::validation(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(trimmed)
}

/// An ISO 4217 code (three capital letters); INR when absent.
pub fn currency(raw: Option<&str>) -> ApiResult<String> {
    let code = raw.unwrap_or("INR").trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::validation(
            "currency",
            "currency must be a 3-letter ISO 4217 code such as INR",
        ))
    }
}

/// A monthly income: finite, 0 to 10^12.
pub fn income(raw: Option<f64>) -> ApiResult<Option<f64>> {
    match raw {
        Some(v) if !(0.0..=1e12).contains(&v) || !v.is_finite() => Err(ApiError::validation(
            "monthly_income",
            "monthly_income must be between 0 and 1e12",
        )),
        other => Ok(other),
    }
}

/// A short label (API key names): 1–100 characters, no control characters.
pub fn label(field: &str, raw: &str) -> ApiResult<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::validation(
            field,
            format!("{field} must be 1 to 100 printable characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A broker secret: 1–256 printable ASCII characters without spaces.
pub fn broker_secret(field: &str, raw: &str) -> ApiResult<()> {
    if raw.is_empty() || raw.len() > 256 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(
            field,
            format!("{field} must be 1 to 256 printable characters without spaces"),
        ));
    }
    Ok(())
}
