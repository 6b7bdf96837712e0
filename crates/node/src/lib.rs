//! The Plexus node: consensus wiring (`engine`), the finalized store (`store`), the HTTP API
//! (`api`, `blob_api`, and `http`: the errors and extractors they share), the block explorer
//! page it serves at `/` (`explorer`), metrics, and
//! `node::run`, which recovers from disk and runs until a signal.

pub mod api;
pub mod beacon;
pub mod blob_api;
pub mod config;
pub mod content;
pub mod engine;
pub mod epocher;
pub mod evidence;
pub mod explorer;
pub mod gossip;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod node;
pub mod replay;
pub mod reshare;
pub mod store;
pub mod submit;

pub use node::{NodeConfig, NodeError, run};
