//! `vitrine serve`.

use std::net::SocketAddr;

use vitrine_server::ServerConfig;

use super::Global;
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, env = "VITRINE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "VITRINE_BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    body_limit: usize,
}

pub(crate) fn run(global: &Global, args: Args) -> Outcome {
    let engine = global.engine()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    runtime
        .block_on(vitrine_server::serve(
            engine,
            ServerConfig {
                addr: args.addr,
                body_limit: args.body_limit,
            },
        ))
        .map_err(|e| Failure::Internal(e.into()))
}
