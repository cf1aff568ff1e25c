//! The bbchain node: chain storage, data queue, REST API, work feed, peer sync, and the native miner.
//!
//! `cli` parses the command line; `server::app` builds the router over a [`node::Node`] handle,
//! the one way into the chain state (see `node` for its API).

pub mod addr;
pub mod api;
pub mod backoff;
pub mod cli;
pub mod client;
pub mod clock;
pub mod coins_api;
pub mod config;
pub mod conn_limit;
pub mod dev;
pub mod events;
pub mod fanout;
pub mod feed;
pub mod host_check;
pub mod http_conn;
pub mod keepalive;
pub mod metrics;
pub mod miner;
pub mod node;
pub mod peer;
pub mod rate_limit;
pub mod server;
pub mod state;
pub mod store;
pub mod stratum;
pub mod views;
pub mod wallet_file;
pub mod web;
