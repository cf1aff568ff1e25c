//! The command line: one binary for masters, miners, the client calls `--add`, `--print`,
//! `--clean`, and the wallet commands. Errors are one line on stderr with a non-zero exit (see `args` for the flags).
//!
//! - [`args`]: the flags, grouped help, and which flags each mode takes;
//! - `add`, `chain`, `clean`: the client calls;
//! - `wallet`: `--new-wallet`, `--restore-wallet`, `--address`, and the miner's default payout;
//! - `coins`: `--balance` and `--send` (coin selection and signing are `bbchain_core::transfer`);
//! - `output`: status-line logging for miners and clients, completions and the man page.

mod add;
pub mod args;
mod chain;
mod clean;
mod coins;
mod output;
mod wallet;

use crate::config::{self, NodeConfig};
use crate::miner::{self, MinerConfig};
use crate::server;
use anyhow::Context;
use args::{ArgsError, Cli, Mode};
use bbchain_core::ChainParams;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Exit status of a bad command line.
const EXIT_USAGE: u8 = 2;

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(ArgsError::Clap(err)) => return clap_error(&err),
        Err(ArgsError::Refused(why)) => {
            eprintln!("bbchain: {why} (see --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    output::init_logging(cli.mode(), cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bbchain: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `bbchain --print | head`: the reader has what it wanted; end quietly.
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("bbchain: {text}");
            match err.downcast_ref::<add::WaitTimedOut>() {
                Some(_) => ExitCode::from(add::EXIT_WAIT_TIMED_OUT),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Help and version go to stdout; any other clap error becomes one line on stderr.
fn clap_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    // clap writes several lines; keep the first (and what it announces with a colon).
    let text = err.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("bad arguments").to_string();
    if line.ends_with(':') {
        line = format!("{line} {}", lines.next().unwrap_or(""));
    }
    let line = line.trim_start_matches("error: ");
    eprintln!("bbchain: {line} (see --help)");
    ExitCode::from(EXIT_USAGE)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.mode() {
        Mode::Master => start_master(&cli).await,
        Mode::Miner => {
            let mut config = MinerConfig {
                nodes: masters(&cli)?,
                threads: threads(&cli),
                name: cli.name.clone().unwrap_or_default(),
                payout: miner::Payout::Nobody,
                timings: miner::MinerTimings::default(),
            };
            // A bad setting fails before a wallet is made for the payout.
            miner::check(&config)?;
            config.payout = payout(&cli)?;
            miner::run(config, server::shutdown_signal()).await
        }
        Mode::Benchmark => {
            let threads = threads(&cli);
            tokio::task::spawn_blocking(move || miner::benchmark(threads)).await?
        }
        Mode::Add => {
            let data = cli.add.as_deref().unwrap_or_default();
            add::run(&target_node(&cli)?, data, wait(&cli)).await
        }
        Mode::Print => chain::print(&target_node(&cli)?, cli.json).await,
        Mode::Clean => clean::run(&cli.data_dir, cli.port, cli.yes).await,
        Mode::Completions => {
            output::completions(cli.completions.expect("the completions mode has a shell"));
            Ok(())
        }
        Mode::ManPage => output::man_page(),
        Mode::BenchFeed if cli.stratum => {
            crate::dev::bench_feed::stratum::run(cli.connections).await
        }
        Mode::BenchFeed => crate::dev::bench_feed::run(cli.connections).await,
        Mode::BenchIntake => crate::dev::bench_intake::run(cli.count, cli.clients).await,
        Mode::Generate => generate(&cli, cli.generate.unwrap_or_default()).await,
        Mode::NewWallet => wallet::create(&wallet_path(&cli), &chain_params(&cli)?),
        Mode::RestoreWallet => {
            let phrase = cli.restore_wallet.as_deref().unwrap_or_default();
            wallet::restore(&wallet_path(&cli), phrase, &chain_params(&cli)?)
        }
        Mode::Address => wallet::print_address(&wallet_path(&cli), &chain_params(&cli)?),
        Mode::Balance => {
            let address = cli.balance.clone().flatten();
            coins::balance(&target_node(&cli)?, address.as_deref(), &wallet_path(&cli)).await
        }
        Mode::Send => {
            let request = coins::SendRequest {
                amount: cli.send.as_deref().unwrap_or_default(),
                to: cli.to.as_deref().unwrap_or_default(),
                fee: cli.fee.as_deref(),
                wait: wait(&cli),
            };
            coins::send(&target_node(&cli)?, &wallet_path(&cli), &request).await
        }
    }
}

/// Whom a miner's blocks pay: `--address ADDR`, else the wallet's key (see [`wallet::miner_key`]).
fn payout(cli: &Cli) -> anyhow::Result<miner::Payout> {
    if let Some(Some(address)) = &cli.address {
        // Which network is the master's to say, but a typo is one on every network: say so now.
        let dev = ChainParams::dev();
        let params = match address.to_ascii_lowercase().starts_with(dev.address_prefix) {
            true => dev,
            false => ChainParams::main(),
        };
        if let Err(err) = bbchain_core::address::decode(address, &params) {
            if !matches!(
                err,
                bbchain_core::address::AddressError::WrongNetwork { .. }
            ) {
                anyhow::bail!("--address {address}: {err}");
            }
        }
        return Ok(miner::Payout::Address(address.clone()));
    }
    let key = wallet::miner_key(&wallet_path(cli), cli.wallet.is_some())?;
    Ok(miner::Payout::Key(key))
}

/// `--wallet FILE`, else `<data root>/wallet.json`.
fn wallet_path(cli: &Cli) -> std::path::PathBuf {
    crate::wallet_file::wallet_path(&cli.data_dir, cli.wallet.as_deref())
}

/// `--wait` / `--wait-timeout SECS`.
fn wait(cli: &Cli) -> add::Wait {
    match (cli.wait_timeout, cli.wait) {
        (Some(secs), _) => add::Wait::For(std::time::Duration::from_secs(secs)),
        (None, true) => add::Wait::Forever,
        (None, false) => add::Wait::No,
    }
}

/// The rules of `--chain`.
fn chain_params(cli: &Cli) -> anyhow::Result<ChainParams> {
    ChainParams::by_name(&cli.chain)
        .with_context(|| format!("unknown chain '{}' (use main or dev)", cli.chain))
}

/// `--threads`, after a word when it asks for more threads than there are cores.
fn threads(cli: &Cli) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cli.threads > cores && cli.threads <= miner::MAX_THREADS {
        tracing::warn!(
            "{} on {}: threads beyond the cores only share them",
            miner::plural(cli.threads, "thread"),
            miner::plural(cores, "core"),
        );
    }
    cli.threads
}

/// The masters a miner or client talks to: --nodes, else 127.0.0.1:--port.
fn masters(cli: &Cli) -> anyhow::Result<Vec<String>> {
    if cli.nodes.is_empty() {
        return Ok(vec![format!("127.0.0.1:{}", cli.port)]);
    }
    for node in &cli.nodes {
        check_node(node)?;
    }
    Ok(cli.nodes.clone())
}

/// The master a client command talks to: the first of [`masters`].
fn target_node(cli: &Cli) -> anyhow::Result<String> {
    let mut masters = masters(cli)?;
    Ok(masters.swap_remove(0))
}

fn check_node(node: &str) -> anyhow::Result<()> {
    Ok(crate::addr::check_node_addr(node)?)
}

async fn start_master(cli: &Cli) -> anyhow::Result<()> {
    let params = ChainParams::by_name(&cli.chain)
        .with_context(|| format!("unknown chain '{}' (use main or dev)", cli.chain))?;
    for node in &cli.nodes {
        check_node(node)?;
    }
    let port = cli.port;
    let addr = tokio::net::lookup_host((cli.host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve host '{}'", cli.host))?
        .next()
        .with_context(|| format!("no address for host '{}'", cli.host))?;
    let shutdown = server::cancel_on_signal();
    let listener = server::bind(addr).await?;
    let dir = config::node_dir(&cli.data_dir, listener.local_addr()?.port());
    let mut config = NodeConfig::new(params, config::db_file(&dir));
    config.peers = cli.nodes.clone();
    config.limits = cli.limits.clone();
    config.stratum_addr = cli
        .stratum_port
        .map(|stratum_port| SocketAddr::new(addr.ip(), stratum_port));
    server::run(listener, config, shutdown).await
}

async fn generate(cli: &Cli, count: u32) -> anyhow::Result<()> {
    let params = ChainParams::by_name(&cli.chain)
        .with_context(|| format!("unknown chain '{}' (use main or dev)", cli.chain))?;
    let dir = config::node_dir(&cli.data_dir, cli.port);
    crate::dev::generate::run(NodeConfig::new(params, config::db_file(&dir)), count).await
}
