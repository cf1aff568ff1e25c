//! The REST API: data in, chain out. Every error is JSON `{"error": "..."}` with a fitting status.

use crate::node::{AddDataError, DataStatus, Node};
use crate::views::{self, BlockSummary};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRef, FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bbchain_core::block::data_id;
use bbchain_core::validation::EntrySizeError;
use bbchain_core::{BlockHash, DataId};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};

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
    /// `500`, or `503` while the database is closed or refusing reads after a storage error.
    fn from(err: anyhow::Error) -> AppError {
        if crate::store::is_storage_unavailable(&err) {
            tracing::debug!("read refused while storage fails: {err:#}");
            return AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage failing: the master is reopening its database; try again later",
            );
        }
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

/// The cause below an axum rejection's fixed text (`unknown field ...`, `missing field ...`).
fn rejection_cause(rejection: &dyn std::error::Error) -> String {
    rejection
        .source()
        .map_or_else(|| rejection.to_string(), ToString::to_string)
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> AppError {
        AppError::new(
            rejection.status(),
            format!("bad query string: {}", rejection_cause(&rejection)),
        )
    }
}

impl From<JsonRejection> for AppError {
    /// Always `400`: axum answers a body of the wrong shape with `422`, this API never did.
    fn from(rejection: JsonRejection) -> AppError {
        AppError::bad_request(format!(
            "expected a JSON object: {}",
            rejection_cause(&rejection)
        ))
    }
}

impl From<AddDataError> for AppError {
    fn from(err: AddDataError) -> AppError {
        let status = match err {
            AddDataError::Size(EntrySizeError::Empty | EntrySizeError::SixtyFourBytes { .. })
            | AddDataError::Blank => StatusCode::BAD_REQUEST,
            AddDataError::Size(EntrySizeError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            AddDataError::QueueFull(_) | AddDataError::ShuttingDown | AddDataError::Storage(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        AppError::new(status, err.to_string())
    }
}

/// A query string of type `T`; what does not fit `T` is a `400` JSON error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// A JSON body of type `T`, sent as `Content-Type: application/json`: any other type is a `415`,
/// because a web page may post a form or plain text to any address without the browser asking
/// first, and no other site may write through a visitor's local master. A body that does not fit
/// `T` is a `400` JSON error, one over the body limit a `413`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T>
where
    Node: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(request.headers()) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_error(rejection, &Node::from_ref(state)))?;
        if std::str::from_utf8(&body).is_err() {
            return Err(AppError::bad_request("request body is not UTF-8"));
        }
        let Json(value) = Json::<T>::from_bytes(&body)?;
        Ok(ApiJson(value))
    }
}

/// Whether the request says its body is JSON (`application/json`, parameters such as a charset
/// allowed).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return false;
    };
    let media_type = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
    media_type.trim().eq_ignore_ascii_case("application/json")
}

fn body_error(rejection: BytesRejection, node: &Node) -> AppError {
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
}

type ApiResult = Result<Response, AppError>;

/// The address a request came from (`None` when the router runs without one, as in tests that
/// call it directly: those requests share one rate-limit bucket).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientIp(info.map(|ConnectInfo(addr)| addr.ip())))
    }
}

/// A `429` answer: the client at `ip` may post again in `seconds`.
#[derive(Debug)]
pub struct TooManyRequests {
    ip: IpAddr,
    seconds: u64,
}

impl IntoResponse for TooManyRequests {
    fn into_response(self) -> Response {
        let TooManyRequests { ip, seconds } = self;
        let message = format!("too many requests from {ip}; try again in {seconds} s");
        let mut response = AppError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
        response
    }
}

/// Spends what posting `bytes` of free data or a transaction costs the client at `ip`
/// (`NodeLimits::ip_rate_bytes_per_sec`), or says when it may post again.
pub fn take_intake(node: &Node, ip: Option<IpAddr>, bytes: usize) -> Result<(), TooManyRequests> {
    let ip = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let cost = bytes + crate::config::PENDING_ENTRY_OVERHEAD;
    node.take_intake(ip, cost).map_err(|wait| TooManyRequests {
        ip,
        seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
    })
}

/// The body of `POST /api/data`.
#[derive(Deserialize)]
pub struct NewData {
    /// The text to put in the chain.
    pub data: String,
}

/// `POST /api/data` `{"data": "text"}`.
pub async fn post_data(
    State(node): State<Node>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<NewData>,
) -> ApiResult {
    if let Err(too_many) = take_intake(&node, ip, request.data.len()) {
        return Ok(too_many.into_response());
    }
    let id = data_id(&request.data);
    let status = node.add_data(request.data).await?;
    Ok((StatusCode::ACCEPTED, Json(views::data_status(&id, &status))).into_response())
}

/// `GET /api/data/{id}`.
pub async fn get_data(State(node): State<Node>, Path(id): Path<String>) -> ApiResult {
    let id: DataId = id
        .parse()
        .map_err(|_| AppError::bad_request("a data id is 64 hex digits"))?;
    let Some(status) = node.data_status(&id)? else {
        return Err(AppError::not_found(format!("unknown data entry {id}")));
    };
    let text = match &status {
        DataStatus::Pending => node.pending_text(&id)?,
        DataStatus::Confirmed { block, .. } => node.block(block)?.and_then(|block| {
            block
                .data()
                .find(|text| data_id(text) == id)
                .map(String::from)
        }),
    };
    let mut answer = views::data_status(&id, &status);
    answer["text"] = json!(text);
    Ok(Json(answer).into_response())
}

/// `GET /api/status`: always `200` with the chain's state, `storage` included.
pub async fn get_status(State(node): State<Node>) -> Json<Value> {
    Json(views::status(&node, &node.snapshot()))
}

/// `GET /api/health`, for monitoring and load balancers: `200 {"storage":"ok"}`, or `503` with
/// `storage` ("failing: <reason>") and `error` while writes cannot be stored.
pub async fn get_health(State(node): State<Node>) -> Response {
    let storage = node.storage();
    if storage.is_ok() {
        return Json(json!({"storage": storage.to_string()})).into_response();
    }
    let body = json!({
        "storage": storage.to_string(),
        "error": format!("storage {storage}; writes are refused until it recovers"),
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// The query of `GET /api/blocks`; any other parameter is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocksQuery {
    /// Blocks below this height (default: from the tip).
    pub before: Option<u32>,
    /// Page size, 1 to [`MAX_PAGE`] (default [`DEFAULT_PAGE`]).
    pub limit: Option<u32>,
}

/// `GET /api/blocks?before=H&limit=N`.
pub async fn get_blocks(
    State(node): State<Node>,
    ApiQuery(query): ApiQuery<BlocksQuery>,
) -> ApiResult {
    let tip = node.snapshot().height;
    let before = query.before.unwrap_or(u32::MAX).min(tip.saturating_add(1));
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
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
        let hash: BlockHash = id
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
            let spent = node.block_spent(&block.hash(), &block)?;
            let params = node.params();
            let mut detail =
                views::block_detail(&block, height, confirmations, spent.as_ref(), params);
            // The main-chain child, for the page's "next block" link.
            let next = match main {
                true => node.block_at(height + 1)?.map(|(hash, _)| hash),
                false => None,
            };
            detail["next_hash"] = json!(next);
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
