//! The answer for a known path with an unsupported method (405, in the error envelope).
//! Unknown paths go to [`crate::routes::dashboard::serve`], which answers 404.

use crate::error::ApiError;

/// Known path, unsupported method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
