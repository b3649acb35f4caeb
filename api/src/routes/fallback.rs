//! Answers for requests no route takes: unknown paths (404) and unsupported methods
//! (405), both in the error envelope.

use crate::error::ApiError;

/// Unknown path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Known path, unsupported method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
