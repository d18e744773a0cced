//! HTTP errors: `{"error":{"code":"stable_snake_case","message":...}}` with the status that
//! tells the client who must act. 5xx bodies carry no internals (they go to the log).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`), for 503 `overloaded`.
    pub retry_after: Option<u64>,
}

/// The stable code of an error response made from its status alone (by the HTTP layer, the
/// router's fallbacks or a rejection that names no code of its own).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid_body",
        431 => "headers_too_large",
        503 => "unavailable",
        code if code >= 500 => "internal_error",
        _ => "request_error",
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503 `overloaded`: too many expensive requests at once; retry after `seconds`.
    pub fn overloaded(seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many expensive requests (match, materials, similar, duplicates) at once; retry later",
            )
        }
    }

    /// The JSON body, `{"error":{"code":…,"message":…}}`.
    pub fn body_json(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to answer; the cause is in its log",
        )
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        // Every variant by name: a new one must choose its status here.
        match &error {
            Error::InvalidRequest(message) => ApiError::bad_request(message.clone()),
            Error::NotFound(message) => ApiError::not_found(message.clone()),
            Error::Unavailable(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message.clone())
            }
            Error::Timeout(message) => ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", message.clone()),
            Error::NoIndex { .. } | Error::IncompatibleIndex { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_index", "no index is loaded")
            }
            // A model that failed to load is reported by /health; the request gets a 503.
            Error::Model(_) => {
                tracing::warn!(%error, "request needs the embedding model");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the embedding model is not available",
                )
            }
            // Input and configuration errors belong to indexing and startup, not to requests: if
            // one reaches here it is our fault, like the engine's and the machine's failures.
            Error::Input(_) | Error::Config(_) | Error::Io { .. } | Error::TextIndex(_) | Error::Internal(_) => {
                tracing::error!(%error, "request failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_map_to_statuses_without_leaking_internals() {
        let cases = [
            (Error::InvalidRequest("limit".into()), StatusCode::BAD_REQUEST),
            (Error::NotFound("x".into()), StatusCode::NOT_FOUND),
            (Error::Unavailable("x".into()), StatusCode::SERVICE_UNAVAILABLE),
            (Error::Timeout("duplicates".into()), StatusCode::REQUEST_TIMEOUT),
            (
                Error::Internal("secret path /etc".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (error, status) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status, status);
            assert!(!api.message.contains("secret"));
        }
    }
}
