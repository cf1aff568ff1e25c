//! Stratum V1 (`bbchain --start-master --stratum-port 3333`): any standard Bitcoin miner mines
//! bbchain. JSON-RPC over TCP, one message per line (docs/protocol.md, "Stratum").
//!
//! [`session`] is one connection as plain state (lines in, lines out), [`difficulty`] the share
//! difficulty and vardiff, [`server`] the accept loop and socket tasks around them.

pub mod difficulty;
pub mod server;
pub mod session;
