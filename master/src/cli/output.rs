//! What the command line writes besides its answers: logging (tracing records for a master's logs,
//! plain status lines for miners and clients), completion scripts and the man page.

use super::args::{Cli, LogFormat, Mode};
use clap::CommandFactory;
use std::io::IsTerminal;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Sets up logging to stderr for `mode` in `format`; `RUST_LOG` overrides the level. JSON records
/// carry their spans (`"spans":[{"name":"peer","addr":…,"direction":"in"}]`) so a log reader can
/// tell which peer link or feed connection a line is about.
pub fn init_logging(mode: Mode, format: LogFormat) {
    let (level, records) = match mode {
        Mode::Master | Mode::BenchFeed | Mode::Generate => ("info", true),
        Mode::Miner => ("info", false),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == LogFormat::Json {
        builder.json().with_current_span(false).init();
    } else if records {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    } else {
        builder.with_ansi(false).event_format(StatusLines).init();
    }
}

/// One plain line per event: the message, `warning: ` or `error: ` in front when it is one; no
/// time, level or module path (a miner's status line reads like cpuminer's, not like a log).
struct StatusLines;

impl<S, N> FormatEvent<S, N> for StatusLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        match *event.metadata().level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            _ => {}
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Whether `err` comes from writing to a closed pipe (`bbchain --print | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints the completion script for `shell` (`bbchain --completions bash > ...`).
pub fn completions(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "bbchain",
        &mut std::io::stdout(),
    );
}

/// Prints the man page in roff. The data root's default is described, not this machine's path.
pub fn man_page() -> anyhow::Result<()> {
    let command = Cli::command().mut_arg("data_dir", |arg| {
        arg.default_value("$XDG_DATA_HOME/bbchain (~/.local/share/bbchain)")
    });
    clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
    Ok(())
}
