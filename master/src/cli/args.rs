//! The flags, their help grouped by mode, and which flags each mode takes.

use crate::config;
use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgGroup, ArgMatches, Args, CommandFactory, FromArgMatches, Parser};
use clap_complete::Shell;
use std::ffi::OsString;
use std::path::PathBuf;

/// The port of a master when none is given.
pub const DEFAULT_PORT: u16 = 8000;

const AFTER_HELP: &str = "\
Examples:
  bbchain --start-master                                 a master on 127.0.0.1:8000
  bbchain --start-master --port 8001 --nodes 127.0.0.1:8000
  bbchain --start-miner --nodes 127.0.0.1:8000           a native miner for that master
  bbchain --nodes 127.0.0.1:8000 --add \"Some data\"       add data to the chain
  bbchain --print --nodes 127.0.0.1:8000                 print the chain, newest block first
  bbchain --port 8000 --clean                            delete that master's data (when stopped)
  bbchain --new-wallet                                   create a wallet, print its words and address
  bbchain --address --chain dev                          print the wallet's dev-network address
  bbchain --balance --nodes 127.0.0.1:8000               the wallet's coins
  bbchain --send 1.5 --to bb1… --nodes 127.0.0.1:8000    send coins from the wallet

Exit status: 0 done, 1 failed, 2 bad command line, 3 --wait-timeout passed (the data stays queued).";

const USAGE: &str = "\
bbchain --start-master [-p PORT] [--host ADDR] [-n HOST:PORT,...] [--chain main|dev] [--stratum-port PORT] [--max-… LIMITS]
       bbchain --start-miner (-n HOST:PORT,... | -p PORT) [-t N] [--name NAME] [--address ADDR | --wallet FILE]
       bbchain [-n HOST:PORT | -p PORT] --add DATA [--wait] [--wait-timeout SECS]
       bbchain [-n HOST:PORT | -p PORT] --print [--json]
       bbchain [-p PORT] --clean [--yes]
       bbchain --benchmark [-t N]
       bbchain (--new-wallet | --restore-wallet WORDS | --address) [--wallet FILE] [--chain main|dev]
       bbchain [-n HOST:PORT | -p PORT] --balance [ADDR] [--wallet FILE]
       bbchain [-n HOST:PORT | -p PORT] --send AMOUNT --to ADDR [--fee AMOUNT] [--wait] [--wallet FILE]
       bbchain --completions bash|zsh|fish|elvish|powershell";

/// A small proof-of-work blockchain you can run and mine, even from a browser tab.
#[derive(Debug, Parser)]
#[command(name = "bbchain", version, after_help = AFTER_HELP, override_usage = USAGE)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    max_term_width = 100
)]
// `--address` is a mode too, but outside the group: `--start-miner --address ADDR` names the
// payout. `parse` says "nothing to do" when no mode is given.
#[command(group(ArgGroup::new("mode").args([
    "start_master", "start_miner", "benchmark", "add", "print", "clean", "completions",
    "man_page", "bench_feed", "bench_intake", "generate", "new_wallet", "restore_wallet", "balance",
    "send"
])))]
pub struct Cli {
    /// Start a master node: stores the chain, serves the API, the page and the work feed.
    #[arg(long, help_heading = "Modes (one of)")]
    pub start_master: bool,
    /// Start a native miner for the master(s) in --nodes, or 127.0.0.1:--port.
    #[arg(long, help_heading = "Modes (one of)")]
    pub start_miner: bool,
    /// Measure this machine's hashrate and exit.
    #[arg(long, help_heading = "Modes (one of)")]
    pub benchmark: bool,
    /// Send DATA to the master in --nodes (or 127.0.0.1:--port) and print its id.
    #[arg(long, value_name = "DATA", value_parser = utf8(), help_heading = "Modes (one of)")]
    pub add: Option<String>,
    /// Print the chain of the master in --nodes (or 127.0.0.1:--port), newest block first.
    #[arg(long, help_heading = "Modes (one of)")]
    pub print: bool,
    /// Delete the data of the master on --port (refused while it runs; asks first).
    #[arg(long, help_heading = "Modes (one of)")]
    pub clean: bool,
    /// Print a completion script for SHELL and exit.
    #[arg(long, value_name = "SHELL", help_heading = "Modes (one of)")]
    pub completions: Option<Shell>,
    /// Create a wallet (in <data root>/wallet.json, or --wallet FILE): prints its 24 words once,
    /// and its address.
    #[arg(long, help_heading = "Modes (one of)")]
    pub new_wallet: bool,
    /// Recreate a wallet from its words ("word word …", or - to read them from standard input).
    #[arg(long, value_name = "WORDS", value_parser = utf8(), help_heading = "Modes (one of)")]
    pub restore_wallet: Option<String>,
    /// Print the wallet's address (for the network of --chain); with --start-miner, the address
    /// the mined blocks pay [default: the wallet's].
    #[arg(long, value_name = "ADDR", num_args = 0..=1, value_parser = utf8(), help_heading = "Modes (one of)")]
    pub address: Option<Option<String>>,
    /// Print the confirmed, immature and pending coins of ADDR [default: the wallet's address],
    /// as the master in --nodes (or 127.0.0.1:--port) sees them.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, value_parser = utf8(), help_heading = "Modes (one of)")]
    pub balance: Option<Option<String>>,
    /// Send AMOUNT coins (like 12.5) from the wallet to --to, through the master in --nodes (or
    /// 127.0.0.1:--port), and print the txid.
    #[arg(long, value_name = "AMOUNT", value_parser = utf8(), help_heading = "Modes (one of)")]
    pub send: Option<String>,

    /// Where the node is: a master's own port (--start-master, --clean; 0 with --start-master: a
    /// free one, logged at start, its data under <data root>/<that port>/); with --start-miner,
    /// --add and --print the master at 127.0.0.1:PORT, unless --nodes names it.
    #[arg(short, long, value_name = "PORT", default_value_t = DEFAULT_PORT, help_heading = "Connection")]
    pub port: u16,
    /// Masters as host:port, comma separated: a master's peers; the masters a miner mines for
    /// (tried in order); the master --add and --print talk to.
    #[arg(short, long, value_name = "HOST:PORT,...", value_delimiter = ',', value_parser = utf8(), help_heading = "Connection")]
    pub nodes: Vec<String>,

    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = utf8(), help_heading = "Master (--start-master)")]
    pub host: String,
    /// Also listen for Stratum V1 miners (cpuminer, cgminer, …) on this port, on the same host
    /// (0: a free port, logged at start as `stratum on stratum+tcp://HOST:PORT`) [default: off].
    #[arg(long, value_name = "PORT", help_heading = "Master (--start-master)")]
    pub stratum_port: Option<u16>,
    /// Chain rules: main, or dev (an easy test chain); also the network of the wallet's address.
    #[arg(long, value_name = "NAME", default_value = "main", value_parser = utf8(), help_heading = "Master (--start-master)")]
    pub chain: String,
    /// Data root (also for --clean); a master keeps its database in <DIR>/<port>/.
    #[arg(long, value_name = "DIR", env = "BBCHAIN_DATA_DIR", hide_env_values = true,
          default_value_os_t = config::default_data_root(), help_heading = "Master (--start-master)")]
    pub data_dir: PathBuf,

    /// Mining threads; 0 means one per core.
    #[arg(
        short,
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Miner (--start-miner, --benchmark)"
    )]
    pub threads: usize,
    /// Miner name put in the blocks it finds [default: this host's name].
    #[arg(long, value_name = "NAME", value_parser = utf8(), help_heading = "Miner (--start-miner, --benchmark)")]
    pub name: Option<String>,

    /// With --add or --send: wait until the data or transaction is in a block, then print the
    /// block's hash and height.
    #[arg(long, help_heading = "Client (--add, --print, --clean)")]
    pub wait: bool,
    /// With --add or --send: wait at most SECS for the block (implies --wait); exit status 3 when it passes.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Client (--add, --print, --clean)")]
    pub wait_timeout: Option<u64>,
    /// With --clean: delete without asking.
    #[arg(short, long, help_heading = "Client (--add, --print, --clean)")]
    pub yes: bool,

    /// The wallet file [default: <data root>/wallet.json].
    #[arg(long, value_name = "FILE", help_heading = "Wallet")]
    pub wallet: Option<PathBuf>,
    /// With --send: the address that gets the coins.
    #[arg(long, value_name = "ADDR", value_parser = utf8(), help_heading = "Wallet")]
    pub to: Option<String>,
    /// With --send: the fee in coins [default: 2 units per byte of the transaction].
    #[arg(long, value_name = "AMOUNT", value_parser = utf8(), help_heading = "Wallet")]
    pub fee: Option<String>,

    /// With --print: one JSON object per block and line (newest first), for scripts.
    #[arg(long, help_heading = "Client (--add, --print, --clean)")]
    pub json: bool,

    /// How a master or miner logs to stderr: text, or json (one JSON object per line, with the
    /// peer link or feed connection it is about).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, help_heading = "General")]
    pub log_format: LogFormat,

    /// Every limit of a master, each its own flag (`--max-body-bytes`, `--hello-timeout`, …).
    #[command(flatten)]
    pub limits: config::NodeLimits,

    /// Print help.
    #[arg(short, long, action = ArgAction::Help, help_heading = "General")]
    help: Option<bool>,
    /// Print the version.
    #[arg(short = 'V', long, action = ArgAction::Version, help_heading = "General")]
    version: Option<bool>,

    /// Print the man page (roff) and exit; `make man` writes it to target/man/bbchain.1.
    #[arg(long, hide = true)]
    pub man_page: bool,
    /// Load test of a fresh dev-chain master: feed fan-out, submits, data ingest (docs/BENCHMARKS.md).
    #[arg(long, hide = true)]
    pub bench_feed: bool,
    /// Mempool intake over HTTP of a fresh in-process dev master (docs/BENCHMARKS.md).
    #[arg(long, hide = true)]
    pub bench_intake: bool,
    /// With --bench-intake: signed transactions to post.
    #[arg(long, hide = true, default_value_t = 10_000)]
    pub count: usize,
    /// With --bench-intake: concurrent HTTP clients.
    #[arg(long, hide = true, default_value_t = 8)]
    pub clients: usize,
    /// Dev/bench: mine N blocks onto the stopped master of --port (--chain dev), one target
    /// spacing apart ending now (see `dev::generate` and docs/BENCHMARKS.md).
    #[arg(long, hide = true, value_name = "N")]
    pub generate: Option<u32>,
    /// With --bench-feed: feed connections to open.
    #[arg(long, hide = true, default_value_t = 10_000)]
    pub connections: usize,
    /// With --bench-feed: the fan-out over Stratum connections (`--stratum-port`) instead.
    #[arg(long, hide = true)]
    pub stratum: bool,

    /// Whether --port was on the command line (not its default).
    #[arg(skip)]
    pub port_given: bool,
}

/// A text value that names its flag when it is not UTF-8 (clap's own message names none).
fn utf8() -> impl TypedValueParser<Value = String> {
    clap::builder::OsStringValueParser::new().try_map(|value: OsString| {
        value
            .into_string()
            .map_err(|_| "it is not valid UTF-8".to_string())
    })
}

/// The log records' format (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people (a miner's status lines, a master's tracing records).
    Text,
    /// One JSON object per record, with its spans (which peer link, which feed connection).
    Json,
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Master,
    Miner,
    Benchmark,
    Add,
    Print,
    Clean,
    Completions,
    ManPage,
    BenchFeed,
    BenchIntake,
    Generate,
    NewWallet,
    RestoreWallet,
    Address,
    Balance,
    Send,
}

impl Mode {
    const ALL: [Mode; 16] = [
        Mode::Master,
        Mode::Miner,
        Mode::Benchmark,
        Mode::Add,
        Mode::Print,
        Mode::Clean,
        Mode::Completions,
        Mode::ManPage,
        Mode::BenchFeed,
        Mode::BenchIntake,
        Mode::Generate,
        Mode::NewWallet,
        Mode::RestoreWallet,
        Mode::Address,
        Mode::Balance,
        Mode::Send,
    ];

    /// The flag that selects the mode (its clap id is the same with `_` for `-`).
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Master => "--start-master",
            Mode::Miner => "--start-miner",
            Mode::Benchmark => "--benchmark",
            Mode::Add => "--add",
            Mode::Print => "--print",
            Mode::Clean => "--clean",
            Mode::Completions => "--completions",
            Mode::ManPage => "--man-page",
            Mode::BenchFeed => "--bench-feed",
            Mode::BenchIntake => "--bench-intake",
            Mode::Generate => "--generate",
            Mode::NewWallet => "--new-wallet",
            Mode::RestoreWallet => "--restore-wallet",
            Mode::Address => "--address",
            Mode::Balance => "--balance",
            Mode::Send => "--send",
        }
    }

    fn id(self) -> String {
        self.flag().trim_start_matches("--").replace('-', "_")
    }

    /// The other flags (clap ids) the mode takes.
    fn takes(self) -> &'static [&'static str] {
        match self {
            Mode::Master => &[
                "port",
                "nodes",
                "host",
                "chain",
                "data_dir",
                "log_format",
                "stratum_port",
            ],
            // `--start-miner --port N` and `--port N --print` are forms of the original project.
            Mode::Miner => &[
                "port",
                "nodes",
                "threads",
                "name",
                "address",
                "wallet",
                "data_dir",
                "log_format",
            ],
            Mode::Benchmark => &["threads"],
            Mode::Add => &["port", "nodes", "wait", "wait_timeout"],
            Mode::Print => &["port", "nodes", "json"],
            Mode::Clean => &["port", "data_dir", "yes"],
            Mode::Completions | Mode::ManPage => &[],
            Mode::BenchFeed => &["connections", "stratum"],
            Mode::BenchIntake => &["count", "clients"],
            Mode::Generate => &["port", "chain", "data_dir"],
            Mode::NewWallet | Mode::RestoreWallet | Mode::Address => {
                &["wallet", "chain", "data_dir"]
            }
            Mode::Balance => &["port", "nodes", "wallet", "data_dir"],
            Mode::Send => &[
                "port",
                "nodes",
                "wallet",
                "data_dir",
                "to",
                "fee",
                "wait",
                "wait_timeout",
            ],
        }
    }

    /// Whether clap keeps the mode's flag exclusive with the other modes' (the `mode` group).
    /// `--address` is not: with `--start-miner` it names the payout, so `check_flags` decides.
    fn exclusive(self) -> bool {
        self != Mode::Address
    }

    /// Whether `--port` and `--nodes` both name the one master the mode talks to.
    fn talks_to_one_master(self) -> bool {
        matches!(
            self,
            Mode::Miner | Mode::Add | Mode::Print | Mode::Balance | Mode::Send
        )
    }
}

impl Cli {
    /// The mode the parsed flags select.
    pub fn mode(&self) -> Mode {
        if self.start_master {
            Mode::Master
        } else if self.start_miner {
            Mode::Miner
        } else if self.benchmark {
            Mode::Benchmark
        } else if self.add.is_some() {
            Mode::Add
        } else if self.print {
            Mode::Print
        } else if self.clean {
            Mode::Clean
        } else if self.completions.is_some() {
            Mode::Completions
        } else if self.man_page {
            Mode::ManPage
        } else if self.bench_feed {
            Mode::BenchFeed
        } else if self.bench_intake {
            Mode::BenchIntake
        } else if self.new_wallet {
            Mode::NewWallet
        } else if self.restore_wallet.is_some() {
            Mode::RestoreWallet
        } else if self.generate.is_some() {
            Mode::Generate
        } else if self.balance.is_some() {
            Mode::Balance
        } else if self.send.is_some() {
            Mode::Send
        } else {
            Mode::Address
        }
    }
}

/// A bad command line: clap's error, or a flag the mode does not take.
#[derive(Debug)]
pub enum ArgsError {
    Clap(clap::Error),
    Refused(String),
}

/// What a command line without a mode gets.
const NOTHING_TO_DO: &str = "nothing to do: give --start-master, --start-miner, --benchmark, --add, --print, --clean, --new-wallet, --address, --balance or --send";

/// Parses `args` (the program name first) and refuses flags the chosen mode does not take.
pub fn parse<I, T>(args: I) -> Result<Cli, ArgsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command()
        .try_get_matches_from(args)
        .map_err(ArgsError::Clap)?;
    if !Mode::ALL.iter().any(|mode| given(&matches, &mode.id())) {
        return Err(ArgsError::Refused(NOTHING_TO_DO.into()));
    }
    let mut cli = Cli::from_arg_matches(&matches).map_err(ArgsError::Clap)?;
    cli.port_given = given(&matches, "port");
    check_flags(&matches, cli.mode()).map_err(ArgsError::Refused)?;
    Ok(cli)
}

/// Whether `id` was on the command line (an environment variable or a default does not count).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// Whether `mode` takes the flag with clap id `id`: its own list, and every limit for a master.
fn mode_takes(mode: Mode, id: &str) -> bool {
    if mode.takes().contains(&id) {
        return true;
    }
    mode == Mode::Master
        && config::NodeLimits::augment_args(clap::Command::new("limits"))
            .get_arguments()
            .any(|arg| arg.get_id() == id)
}

fn check_flags(matches: &ArgMatches, mode: Mode) -> Result<(), String> {
    let command = Cli::command();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let exclusive_mode = Mode::ALL.iter().any(|m| m.exclusive() && m.id() == id);
        if !given(matches, id) || id == mode.id() || exclusive_mode || mode_takes(mode, id) {
            continue;
        }
        let flag = format!("--{}", arg.get_long().unwrap_or(id));
        let takers: Vec<&str> = Mode::ALL
            .iter()
            .filter(|m| mode_takes(**m, id))
            .map(|m| m.flag())
            .collect();
        if takers.is_empty() {
            return Err(format!("{flag} does not apply to {}", mode.flag()));
        }
        return Err(format!(
            "{flag} does not apply to {}; it goes with {}",
            mode.flag(),
            takers.join(", ")
        ));
    }
    if mode == Mode::Address && matches.get_one::<String>("address").is_some() {
        return Err("--address alone prints the wallet's address; it takes no value".into());
    }
    if mode == Mode::Miner && given(matches, "address") {
        if matches.get_one::<String>("address").is_none() {
            return Err(
                "--address with --start-miner names the address the blocks pay: --address ADDR"
                    .into(),
            );
        }
        if given(matches, "wallet") {
            return Err(
                "--address and --wallet both name what the blocks pay; give one of them".into(),
            );
        }
    }
    if mode == Mode::Send && !given(matches, "to") {
        return Err("--send needs --to ADDR, the address that gets the coins".into());
    }
    if mode.talks_to_one_master() && given(matches, "port") && given(matches, "nodes") {
        return Err(format!(
            "--nodes and --port both name the master for {}; give one of them",
            mode.flag()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Result<Cli, String> {
        parse(std::iter::once("bbchain").chain(line.iter().copied())).map_err(|err| match err {
            ArgsError::Clap(err) => err.to_string(),
            ArgsError::Refused(why) => why,
        })
    }

    #[test]
    fn the_original_forms_are_accepted() {
        for line in [
            &["--start-master"][..],
            &["--start-master", "--nodes", "1.2.3.4:1,5.6.7.8:2"],
            &["--start-master", "--port", "8000"],
            &[
                "--start-master",
                "--port",
                "8001",
                "--nodes",
                "127.0.0.1:8000",
            ],
            &["--start-miner", "--nodes", "127.0.0.1:8000"],
            &["--nodes", "127.0.0.1:8000", "--add", "Some data"],
            &["--start-miner", "--port", "8000"],
            &["--port", "8000", "--print"],
            &["--port", "8000", "--clean"],
        ] {
            assert!(args(line).is_ok(), "{line:?}: {:?}", args(line).err());
        }
    }

    #[test]
    fn short_flags_match_the_long_ones() {
        let cli = args(&["--start-miner", "-n", "a:1,b:2", "-t", "3"]).unwrap();
        assert_eq!(
            (cli.nodes.clone(), cli.threads),
            (vec!["a:1".into(), "b:2".into()], 3)
        );
        let cli = args(&["--print", "-p", "8005"]).unwrap();
        assert_eq!((cli.port, cli.port_given), (8005, true));
        let cli = args(&["--print"]).unwrap();
        assert_eq!((cli.port, cli.port_given), (DEFAULT_PORT, false));
    }

    #[test]
    fn bench_intake_takes_a_count_and_clients_and_nothing_else_does() {
        let cli = args(&["--bench-intake", "--count", "50", "--clients", "3"]).unwrap();
        assert_eq!(
            (cli.mode(), cli.count, cli.clients),
            (Mode::BenchIntake, 50, 3)
        );
        let err = args(&["--print", "--count", "5"]).unwrap_err();
        assert!(err.contains("it goes with --bench-intake"), "{err}");
    }

    #[test]
    fn flags_of_other_modes_are_refused_naming_the_mode() {
        let err = args(&["--print", "--threads", "2"]).unwrap_err();
        assert_eq!(
            err,
            "--threads does not apply to --print; it goes with --start-miner, --benchmark"
        );
        let err = args(&["--start-miner", "-n", "a:1", "--chain", "dev"]).unwrap_err();
        assert!(
            err.starts_with("--chain does not apply to --start-miner"),
            "{err}"
        );
        let err = args(&["--benchmark", "--host", "0.0.0.0"]).unwrap_err();
        assert!(
            err.starts_with("--host does not apply to --benchmark"),
            "{err}"
        );
        let err = args(&["--print", "--wait"]).unwrap_err();
        assert!(err.contains("it goes with --add"), "{err}");
        let err = args(&["--clean", "--nodes", "a:1"]).unwrap_err();
        assert!(
            err.starts_with("--nodes does not apply to --clean"),
            "{err}"
        );
    }

    #[test]
    fn only_a_master_takes_a_stratum_port() {
        let cli = args(&["--start-master", "--stratum-port", "3333"]).unwrap();
        assert_eq!(cli.stratum_port, Some(3333));
        assert_eq!(
            args(&["--start-master"]).unwrap().stratum_port,
            None,
            "off by default"
        );
        let err = args(&["--start-miner", "-n", "a:1", "--stratum-port", "3333"]).unwrap_err();
        assert!(
            err.starts_with("--stratum-port does not apply to --start-miner"),
            "{err}"
        );
        assert!(args(&["--start-master", "--stratum-port", "70000"]).is_err());
    }

    #[test]
    fn port_and_nodes_together_are_refused_where_both_name_the_master() {
        for mode in [&["--print"][..], &["--add", "x"], &["--start-miner"]] {
            let mut line = mode.to_vec();
            line.extend(["--nodes", "127.0.0.1:1", "--port", "2"]);
            let err = args(&line).unwrap_err();
            assert!(err.contains("give one of them"), "{line:?}: {err}");
        }
    }

    #[test]
    fn wallet_modes_take_a_wallet_file_and_a_chain() {
        let cli = args(&["--new-wallet", "--wallet", "/w.json", "--chain", "dev"]).unwrap();
        assert_eq!(cli.mode(), Mode::NewWallet);
        assert_eq!(cli.wallet.as_deref(), Some(std::path::Path::new("/w.json")));
        let cli = args(&["--restore-wallet", "a b c"]).unwrap();
        assert_eq!(
            (cli.mode(), cli.restore_wallet.as_deref()),
            (Mode::RestoreWallet, Some("a b c"))
        );
        let cli = args(&["--address", "--wallet", "/w.json"]).unwrap();
        assert_eq!(
            (cli.mode(), cli.address.clone()),
            (Mode::Address, Some(None))
        );
        assert_eq!(args(&["--address", "--chain", "dev"]).unwrap().chain, "dev");
        let err = args(&["--address", "bb1xyz"]).unwrap_err();
        assert!(err.contains("takes no value"), "{err}");
        let err = args(&["--print", "--address"]).unwrap_err();
        assert_eq!(
            err,
            "--address does not apply to --print; it goes with --start-miner"
        );
        let err = args(&["--new-wallet", "--threads", "2"]).unwrap_err();
        assert!(
            err.starts_with("--threads does not apply to --new-wallet"),
            "{err}"
        );
        let err = args(&["--print", "--wallet", "w"]).unwrap_err();
        assert!(
            err.contains("it goes with --start-miner, --new-wallet, --restore-wallet, --address, --balance, --send"),
            "{err}"
        );
        assert!(args(&["--new-wallet", "--address"]).is_err());
        assert!(args(&["--new-wallet", "--restore-wallet", "x"]).is_err());
    }

    #[test]
    fn coin_modes_take_their_flags() {
        let cli = args(&["--balance", "--nodes", "127.0.0.1:1"]).unwrap();
        assert_eq!(
            (cli.mode(), cli.balance.clone()),
            (Mode::Balance, Some(None))
        );
        let cli = args(&["--balance", "bb1x", "--wallet", "w"]).unwrap();
        assert_eq!(cli.balance, Some(Some("bb1x".into())));
        let line = [
            "--send", "1.5", "--to", "bb1x", "--fee", "0.001", "--wait", "-n", "h:1",
        ];
        let cli = args(&line).unwrap();
        assert_eq!(cli.mode(), Mode::Send);
        assert_eq!(
            (
                cli.send.as_deref(),
                cli.to.as_deref(),
                cli.fee.as_deref(),
                cli.wait
            ),
            (Some("1.5"), Some("bb1x"), Some("0.001"), true)
        );
        let err = args(&["--send", "1"]).unwrap_err();
        assert!(err.starts_with("--send needs --to ADDR"), "{err}");
        let err = args(&["--balance", "--to", "bb1x"]).unwrap_err();
        assert_eq!(err, "--to does not apply to --balance; it goes with --send");
        assert!(args(&["--balance", "--send", "1", "--to", "x"]).is_err());
    }

    #[test]
    fn a_miner_takes_an_address_or_a_wallet() {
        let cli = args(&["--start-miner", "--nodes", "h:1", "--address", "bb1x"]).unwrap();
        assert_eq!(
            (cli.mode(), cli.address.clone()),
            (Mode::Miner, Some(Some("bb1x".into())))
        );
        let cli = args(&["--start-miner", "--wallet", "/w.json"]).unwrap();
        assert_eq!(cli.wallet.as_deref(), Some(std::path::Path::new("/w.json")));
        let err = args(&["--start-miner", "--address"]).unwrap_err();
        assert!(err.contains("--address ADDR"), "{err}");
        let err = args(&["--start-miner", "--address", "bb1x", "--wallet", "w"]).unwrap_err();
        assert!(err.contains("give one of them"), "{err}");
    }

    #[test]
    fn no_mode_is_nothing_to_do() {
        for line in [&[][..], &["--port", "8000"], &["--wallet", "w"]] {
            let err = args(line).unwrap_err();
            assert!(err.starts_with("nothing to do"), "{line:?}: {err}");
        }
    }

    #[test]
    fn a_non_utf8_value_names_its_flag() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff]);
        let line = [OsString::from("bbchain"), "--add".into(), bad];
        let Err(ArgsError::Clap(err)) = parse(line) else {
            panic!("accepted invalid UTF-8");
        };
        let text = err.to_string();
        assert!(text.contains("--add") && text.contains("UTF-8"), "{text}");
    }

    #[test]
    fn help_is_grouped_and_shows_defaults() {
        let help = Cli::command().render_help().to_string();
        for heading in [
            "Modes (one of):",
            "Connection:",
            "Master (--start-master):",
            "Miner (--start-miner, --benchmark):",
            "Client (--add, --print, --clean):",
            "General:",
        ] {
            assert!(help.contains(heading), "{heading} in\n{help}");
        }
        assert!(help.contains("[default: 8000]"), "{help}");
        assert!(help.contains("[default: 0]"), "{help}");
        let root = config::default_data_root();
        // clap wraps long lines wherever the width falls: compare with the words joined up again.
        let unwrapped = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            unwrapped.contains(&format!("[default: {}]", root.display())),
            "the real data root in\n{help}"
        );
        assert!(help.contains("-p, --port") && help.contains("-t, --threads"));
        assert!(help.contains("-n, --nodes"));
    }
}
