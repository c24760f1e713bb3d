//! Liveness and readiness endpoints for the operations team.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Liveness: the process answers.
pub(crate) async fn live() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "pass" }))).into_response()
}

/// Readiness: the store answers a read.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let handler = state.handler.clone();
    let result = tokio::task::spawn_blocking(move || handler.ready()).await;
    match result {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(json!({ "status": "pass" }))).into_response(),
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "fail", "output": reason })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "fail", "output": "readiness check failed" })),
        )
            .into_response(),
    }
}
