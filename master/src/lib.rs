//! The bbchain node: chain storage, data queue, REST API, work feed, peer sync, and the native miner.

pub mod miner;
