//! The command line: one binary for masters, miners, and the client calls `--add`, `--print`,
//! `--clean`. Errors are one line on stderr with a non-zero exit.

use crate::client::{self, error_text};
use crate::config::{self, NodeConfig};
use crate::miner::{self, MinerConfig};
use crate::server;
use anyhow::{Context, bail};
use bbchain_core::ChainParams;
use clap::{ArgGroup, Parser};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  bbchain --start-master                                 a master on 127.0.0.1:8000
  bbchain --start-master --port 8001 --nodes 127.0.0.1:8000
  bbchain --start-miner --nodes 127.0.0.1:8000           a native miner for that master
  bbchain --nodes 127.0.0.1:8000 --add \"Some data\"       add data to the chain
  bbchain --print --nodes 127.0.0.1:8000                 print the chain, newest block first
  bbchain --port 8000 --clean                            delete that master's data (when stopped)";

const USAGE: &str = "\
bbchain --start-master [--port N] [--host ADDR] [--nodes HOST:PORT,...] [--chain main|dev]
       bbchain --start-miner --nodes HOST:PORT,... [--threads N] [--name NAME]
       bbchain [--nodes HOST:PORT | --port N] --add DATA [--wait]
       bbchain [--nodes HOST:PORT | --port N] --print
       bbchain [--port N] --clean
       bbchain --benchmark [--threads N]";

/// bbchain: a small proof-of-work blockchain you can run and mine, even from a browser tab.
#[derive(Debug, Parser)]
#[command(name = "bbchain", version, after_help = EXAMPLES, override_usage = USAGE)]
#[command(group(ArgGroup::new("mode").required(true).args([
    "start_master", "start_miner", "benchmark", "add", "print", "clean", "bench_feed", "generate"
])))]
pub struct Cli {
    /// Start a master node: stores the chain, serves the API, the page and the work feed.
    #[arg(long)]
    pub start_master: bool,
    /// Start a native miner for the masters in --nodes.
    #[arg(long)]
    pub start_miner: bool,
    /// Measure this machine's hashrate and exit.
    #[arg(long)]
    pub benchmark: bool,
    /// Send DATA to the master in --nodes (or 127.0.0.1:--port, default 8000) and print its id.
    #[arg(long, value_name = "DATA")]
    pub add: Option<String>,
    /// With --add: wait until the data is in a block, then print the block's height and hash.
    #[arg(long, requires = "add")]
    pub wait: bool,
    /// Print the chain of the master in --nodes (or 127.0.0.1:--port, default 8000), newest first.
    #[arg(long)]
    pub print: bool,
    /// Delete the data of the master on --port (refused while it runs).
    #[arg(long)]
    pub clean: bool,
    /// Port: the master's own with --start-master/--clean (default 8000; 0: a free one, logged at
    /// start, its data under <data root>/<that port>/); 127.0.0.1:PORT otherwise.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address a master listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: String,
    /// Masters as host:port, comma separated: a master's peers, a miner's or client's masters.
    #[arg(long, value_name = "HOST:PORT,...", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Chain rules: `main`, or `dev` (easy test chain).
    #[arg(long, value_name = "NAME", default_value = "main")]
    pub chain: String,
    /// Data root; a master keeps its database in <data root>/<port>/.
    #[arg(long, value_name = "DIR", env = "BBCHAIN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Mining threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Miner name put in the blocks it finds.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Load test of a fresh dev-chain master: feed fan-out, submits, data ingest (docs/BENCHMARKS.md).
    #[arg(long, hide = true)]
    pub bench_feed: bool,
    /// Dev/bench: mine N blocks onto the stopped master of --port (--chain dev), one target
    /// spacing apart ending now (see `dev::generate` and docs/BENCHMARKS.md).
    #[arg(long, hide = true, value_name = "N")]
    pub generate: Option<u32>,
    /// With --bench-feed: feed connections to open.
    #[arg(long, hide = true, default_value_t = 10_000)]
    pub connections: usize,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            if err.kind() == ErrorKind::MissingRequiredArgument
                && err.to_string().contains("--start-master|")
            {
                eprintln!(
                    "bbchain: nothing to do: give --start-master, --start-miner, --benchmark, --add, --print or --clean (see --help)"
                );
                return ExitCode::from(2);
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
            return ExitCode::from(2);
        }
    };
    let verbose = cli.start_master || cli.start_miner || cli.bench_feed;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if verbose { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bbchain: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("bbchain: {text}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.wait && cli.add.is_none() {
        bail!("--wait goes with --add");
    }
    if cli.start_master {
        start_master(&cli).await
    } else if cli.start_miner {
        if cli.nodes.is_empty() {
            bail!("--start-miner needs --nodes host:port");
        }
        let config = MinerConfig {
            nodes: cli.nodes.clone(),
            threads: threads(&cli),
            name: cli.name.clone().unwrap_or_default(),
            timings: miner::MinerTimings::default(),
        };
        miner::run(config, server::shutdown_signal()).await
    } else if cli.benchmark {
        let threads = threads(&cli);
        tokio::task::spawn_blocking(move || miner::benchmark(threads)).await?
    } else if let Some(data) = &cli.add {
        add(&target_node(&cli)?, data, cli.wait).await
    } else if cli.print {
        print(&target_node(&cli)?).await
    } else if cli.clean {
        clean(&cli).await
    } else if let Some(count) = cli.generate {
        generate(&cli, count).await
    } else if cli.bench_feed {
        crate::dev::bench_feed::run(cli.connections).await
    } else {
        bail!("nothing to do")
    }
}

fn threads(cli: &Cli) -> usize {
    cli.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn data_root(cli: &Cli) -> PathBuf {
    cli.data_dir
        .clone()
        .unwrap_or_else(config::default_data_root)
}

/// The master a client command talks to: the first of --nodes, else 127.0.0.1:--port (8000).
fn target_node(cli: &Cli) -> anyhow::Result<String> {
    if let Some(node) = cli.nodes.first() {
        check_node(node)?;
        return Ok(node.clone());
    }
    Ok(format!("127.0.0.1:{}", cli.port.unwrap_or(8000)))
}

fn check_node(node: &str) -> anyhow::Result<()> {
    match node.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => bail!("'{node}' is not host:port"),
    }
}

async fn start_master(cli: &Cli) -> anyhow::Result<()> {
    let params = ChainParams::by_name(&cli.chain)
        .with_context(|| format!("unknown chain '{}' (use main or dev)", cli.chain))?;
    for node in &cli.nodes {
        check_node(node)?;
    }
    let port = cli.port.unwrap_or(8000);
    let addr = tokio::net::lookup_host((cli.host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve host '{}'", cli.host))?
        .next()
        .with_context(|| format!("no address for host '{}'", cli.host))?;
    let shutdown = server::cancel_on_signal();
    let listener = server::bind(addr).await?;
    let dir = config::node_dir(&data_root(cli), listener.local_addr()?.port());
    let mut config = NodeConfig::new(params, config::db_file(&dir));
    config.peers = cli.nodes.clone();
    server::run(listener, config, shutdown).await
}

async fn generate(cli: &Cli, count: u32) -> anyhow::Result<()> {
    let params = ChainParams::by_name(&cli.chain)
        .with_context(|| format!("unknown chain '{}' (use main or dev)", cli.chain))?;
    let dir = config::node_dir(&data_root(cli), cli.port.unwrap_or(8000));
    crate::dev::generate::run(NodeConfig::new(params, config::db_file(&dir)), count).await
}

async fn add(node: &str, data: &str, wait: bool) -> anyhow::Result<()> {
    let (status, answer) =
        client::call(node, "POST", "/api/data", Some(&json!({"data": data}))).await?;
    if status != 202 {
        bail!(
            "{node} refused the data ({status}): {}",
            error_text(&answer)
        );
    }
    let id = answer["id"]
        .as_str()
        .context("no id in the answer")?
        .to_string();
    println!("{id}");
    if !wait {
        return Ok(());
    }
    loop {
        let (status, answer) = client::call(node, "GET", &format!("/api/data/{id}"), None).await?;
        if status != 200 {
            bail!("{node} answered {status}: {}", error_text(&answer));
        }
        if answer["status"] == "confirmed" {
            println!(
                "in block {} at height {}",
                answer["block"].as_str().unwrap_or("?"),
                answer["height"]
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn print(node: &str) -> anyhow::Result<()> {
    let mut before: Option<u64> = None;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    loop {
        let path = match before {
            Some(height) => format!("/api/blocks?before={height}&limit=100"),
            None => "/api/blocks?limit=100".to_string(),
        };
        let (status, answer) = client::call(node, "GET", &path, None).await?;
        if status != 200 {
            bail!("{node} answered {status}: {}", error_text(&answer));
        }
        let blocks = answer["blocks"].as_array().cloned().unwrap_or_default();
        for block in &blocks {
            let height = block["height"].as_u64().unwrap_or(0);
            let hash = block["hash"].as_str().unwrap_or("?");
            let time = format_time(block["time"].as_u64().unwrap_or(0));
            let miner = block["miner"].as_str().unwrap_or("");
            writeln!(
                out,
                "{height:>7}  {hash}  {time}  miner {}",
                miner.escape_debug()
            )?;
            if block["entries"].as_u64().unwrap_or(0) > 0 {
                let (status, detail) =
                    client::call(node, "GET", &format!("/api/blocks/{hash}"), None).await?;
                if status != 200 {
                    bail!("{node} answered {status}: {}", error_text(&detail));
                }
                for entry in detail["data"].as_array().cloned().unwrap_or_default() {
                    let text = entry["text"].as_str().unwrap_or("");
                    writeln!(out, "         {text:?}")?;
                }
            }
        }
        match blocks.last().and_then(|b| b["height"].as_u64()) {
            Some(lowest) if lowest > 0 => before = Some(lowest),
            _ => return Ok(()),
        }
    }
}

/// `2026-11-23 22:58:34 UTC` from Unix seconds.
fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

async fn clean(cli: &Cli) -> anyhow::Result<()> {
    let port = cli.port.unwrap_or(8000);
    let dir = config::node_dir(&data_root(cli), port);
    if !dir.exists() {
        println!("nothing to delete: {} does not exist", dir.display());
        return Ok(());
    }
    let live = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await;
    if matches!(live, Ok(Ok(_))) {
        bail!("a master is running on port {port}; stop it before --clean");
    }
    let db = config::db_file(&dir);
    if db.exists() {
        match redb::Database::open(&db) {
            Ok(database) => drop(database),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                bail!(
                    "the master of port {port} is running (its database is locked); stop it before --clean"
                )
            }
            Err(_) => {}
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    println!("deleted {}", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_763_942_400), "2025-11-24 00:00:00 UTC");
    }
}
