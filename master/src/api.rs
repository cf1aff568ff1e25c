//! The REST API: data in, chain out. Every error is JSON `{"error": "..."}` with a fitting status.

use crate::node::{AddDataError, Node};
use crate::views::{self, BlockSummary};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bbchain_core::Hash256;
use bbchain_core::block::data_id;
use bbchain_core::validation::EntrySizeError;
use serde_json::{Value, json};

/// Largest page of `GET /api/blocks`.
pub const MAX_PAGE: u32 = 100;
/// Default page of `GET /api/blocks`.
pub const DEFAULT_PAGE: u32 = 20;

/// An error answer: a status code and a sentence for the client.
#[derive(Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// What is wrong.
    pub message: String,
}

impl AppError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            message: message.into(),
        }
    }

    /// `400`.
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, message)
    }

    /// `404`.
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> AppError {
        tracing::error!("internal error: {err:#}");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<axum::extract::ws::rejection::WebSocketUpgradeRejection> for AppError {
    fn from(rejection: axum::extract::ws::rejection::WebSocketUpgradeRejection) -> AppError {
        AppError::new(
            rejection.status(),
            format!("this is a WebSocket endpoint: {}", rejection.body_text()),
        )
    }
}

impl From<AddDataError> for AppError {
    fn from(err: AddDataError) -> AppError {
        let status = match err {
            AddDataError::Size(EntrySizeError::Empty) | AddDataError::Blank => {
                StatusCode::BAD_REQUEST
            }
            AddDataError::Size(EntrySizeError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            AddDataError::QueueFull(_) | AddDataError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AddDataError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, err.to_string())
    }
}

type ApiResult = Result<Response, AppError>;

/// `POST /api/data` `{"data": "text"}`.
pub async fn post_data(
    State(node): State<Node>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "request body is larger than {} bytes",
                node.limits().max_body_bytes
            )
        } else {
            rejection.body_text()
        };
        AppError::new(status, message)
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::bad_request("request body is not UTF-8"))?;
    #[derive(serde::Deserialize)]
    struct NewData {
        data: String,
    }
    let request: NewData = serde_json::from_str(text).map_err(|err| {
        AppError::bad_request(format!(
            "expected a JSON object {{\"data\": \"text\"}}: {err}"
        ))
    })?;
    let id = data_id(&request.data);
    let status = node.add_data(request.data).await?;
    Ok((StatusCode::ACCEPTED, Json(views::data_status(&id, &status))).into_response())
}

/// `GET /api/data/{id}`.
pub async fn get_data(State(node): State<Node>, Path(id): Path<String>) -> ApiResult {
    let id: Hash256 = id
        .parse()
        .map_err(|_| AppError::bad_request("a data id is 64 hex digits"))?;
    match node.data_status(&id)? {
        Some(status) => Ok(Json(views::data_status(&id, &status)).into_response()),
        None => Err(AppError::not_found(format!("unknown data entry {id}"))),
    }
}

/// `GET /api/status`.
pub async fn get_status(State(node): State<Node>) -> Json<Value> {
    Json(views::status(&node, &node.snapshot()))
}

/// `GET /api/blocks?before=H&limit=N`.
pub async fn get_blocks(State(node): State<Node>, RawQuery(query): RawQuery) -> ApiResult {
    let tip = node.snapshot().height;
    let mut before = tip.saturating_add(1);
    let mut limit = DEFAULT_PAGE;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| AppError::bad_request(format!("{key} must be a whole number")))
        };
        match key {
            "before" => before = number()?.min(tip.saturating_add(1)),
            "limit" => limit = number()?,
            _ => return Err(AppError::bad_request(format!("unknown parameter '{key}'"))),
        }
    }
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let mut blocks = Vec::new();
    let mut height = before;
    while height > 0 && blocks.len() < limit as usize {
        height -= 1;
        if let Some((record, info)) = node.summary_at(height)? {
            blocks.push(BlockSummary::from_index(&record, info, node.params()));
        }
    }
    Ok(Json(json!({ "blocks": blocks })).into_response())
}

/// `GET /api/blocks/{hash or height}`.
pub async fn get_block(State(node): State<Node>, Path(id): Path<String>) -> ApiResult {
    let tip = node.snapshot().height;
    let found = if id.len() < 64 && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let height = id
            .parse::<u32>()
            .map_err(|_| AppError::bad_request("height out of range"))?;
        node.block_at(height)?
            .map(|(_, block)| (block, height, true))
    } else {
        let hash: Hash256 = id
            .parse()
            .map_err(|_| AppError::bad_request("expected a block height or a 64-hex-digit hash"))?;
        match (node.block(&hash)?, node.block_height(&hash)?) {
            (Some(block), Some((height, main))) => Some((block, height, main)),
            _ => None,
        }
    };
    match found {
        Some((block, height, main)) => {
            let confirmations = if main {
                tip.saturating_sub(height) + 1
            } else {
                0
            };
            let detail = views::block_detail(&block, height, confirmations, node.params());
            Ok(Json(detail).into_response())
        }
        None => Err(AppError::not_found(format!("unknown block {id}"))),
    }
}

/// `GET /api/nodes`.
pub async fn get_nodes(State(node): State<Node>) -> Json<Value> {
    Json(json!({"masters": node.linked_masters(), "miners": node.miners()}))
}

/// Any other `/api/...` path.
pub async fn not_found() -> AppError {
    AppError::not_found("no such API endpoint")
}
