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
        }
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
        match &error {
            Error::InvalidRequest(message) => ApiError::bad_request(message.clone()),
            Error::NotFound(message) => ApiError::not_found(message.clone()),
            Error::Unavailable(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message.clone())
            }
            Error::NoIndex { .. } | Error::IncompatibleIndex { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_index", "no index is loaded")
            }
            _ => {
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
        (self.status, Json(body)).into_response()
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
