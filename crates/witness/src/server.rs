//! HTTP: axum routes over [`Witness`]. Database work and signing run on
//! tokio's blocking pool; the clock is read here and passed down.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::{AddError, Witness, MAX_REQUEST_SIZE};

const TEXT: &str = "text/plain; charset=utf-8";
/// tlog-witness: the 409 body is a size, with this content type.
const SIZE_TYPE: &str = "text/x.tlog.size";

pub(crate) fn router(w: Witness) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_SIZE))
        .with_state(w)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn unix_now() -> u64 {
    // A clock before 1970 gives 0, which the core refuses to sign with.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(State(w): State<Witness>, body: Bytes) -> Response {
    let now = unix_now();
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now)).await;
    match result {
        Ok(Ok(cosigned)) => reply(StatusCode::OK, TEXT, cosigned.response_body()),
        Ok(Err(AddError::Conflict { size })) => {
            reply(StatusCode::CONFLICT, SIZE_TYPE, format!("{size}\n"))
        }
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            reply(status, TEXT, format!("{e}\n"))
        }
        Err(join) => {
            eprintln!("detente-witness: add-checkpoint task failed: {join}");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "internal error\n".into(),
            )
        }
    }
}

async fn checkpoint(State(w): State<Witness>, Path(hash): Path<String>) -> Response {
    let not_found = || reply(StatusCode::NOT_FOUND, TEXT, "no checkpoint\n".into());
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return not_found();
    }
    match tokio::task::spawn_blocking(move || w.checkpoint(&hash)).await {
        Ok(Ok(Some(c))) => reply(StatusCode::OK, TEXT, c),
        Ok(Ok(None)) => not_found(),
        Ok(Err(e)) => {
            eprintln!("detente-witness: checkpoint: {e}");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "internal error\n".into(),
            )
        }
        Err(join) => {
            eprintln!("detente-witness: checkpoint task failed: {join}");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "internal error\n".into(),
            )
        }
    }
}
