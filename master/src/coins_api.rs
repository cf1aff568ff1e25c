//! The REST API's coin endpoints: send a transaction, look one up, look up an address.

use crate::api::{ApiJson, AppError, ClientIp, take_intake};
use crate::node::{AddTxError, Node, TxAdded};
use crate::views::coins;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bbchain_core::hash::Txid;
use bbchain_core::{Transaction, address};
use serde::Deserialize;

type ApiResult = Result<Response, AppError>;

impl From<AddTxError> for AppError {
    fn from(err: AddTxError) -> AppError {
        let status = match err {
            AddTxError::MempoolFull | AddTxError::ShuttingDown | AddTxError::Storage(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        AppError::new(status, err.to_string())
    }
}

/// `POST /api/tx` body.
#[derive(Deserialize)]
pub struct NewTx {
    /// The transaction's canonical encoding, as hex.
    pub tx: String,
}

/// `POST /api/tx`: `202 {"txid","status"}` once the transaction is on disk.
pub async fn post_tx(
    State(node): State<Node>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<NewTx>,
) -> ApiResult {
    // Half the hex: the transaction's size.
    if let Err(too_many) = take_intake(&node, ip, request.tx.len() / 2) {
        return Ok(too_many.into_response());
    }
    let bytes = hex::decode(request.tx.trim())
        .map_err(|_| AppError::bad_request("malformed transaction: \"tx\" is not hex"))?;
    let tx = Transaction::from_bytes(&bytes)
        .map_err(|err| AppError::from(AddTxError::Malformed(err.to_string())))?;
    let txid = tx.txid();
    let added = node.add_tx(tx).await?;
    let body = coins::tx_accepted(&txid, added == TxAdded::Confirmed);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `GET /api/tx/{txid}`.
pub async fn get_tx(State(node): State<Node>, Path(txid): Path<String>) -> ApiResult {
    let txid: Txid = txid
        .parse()
        .map_err(|_| AppError::bad_request("a txid is 64 hex digits"))?;
    let lookup = node.clone();
    let status = tokio::task::spawn_blocking(move || lookup.tx_status(&txid))
        .await
        .map_err(|err| anyhow::anyhow!(err))??;
    match status {
        Some(status) => Ok(Json(coins::tx_status(&status, node.params())).into_response()),
        None => Err(AppError::not_found(format!("unknown transaction {txid}"))),
    }
}

/// `GET /api/address/{addr}`: balance, unspent outputs and latest transactions.
pub async fn get_address(State(node): State<Node>, Path(text): Path<String>) -> ApiResult {
    let key = address::decode(&text, node.params())
        .map_err(|err| AppError::bad_request(format!("bad address: {err}")))?;
    let lookup = node.clone();
    let info = tokio::task::spawn_blocking(move || lookup.address_info(&key))
        .await
        .map_err(|err| anyhow::anyhow!(err))??;
    Ok(Json(coins::address_info(&text, &info)).into_response())
}
