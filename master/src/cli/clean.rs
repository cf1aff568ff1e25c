//! `--clean`: deletes a stopped master's data, after asking on a terminal (`--yes` skips it).

use crate::config;
use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

/// Deletes `<data_root>/<port>` unless its master runs or the user says no.
pub async fn run(data_root: &Path, port: u16, yes: bool) -> anyhow::Result<()> {
    let dir = config::node_dir(data_root, port);
    if !dir.exists() {
        println!("nothing to delete: {} does not exist", dir.display());
        return Ok(());
    }
    refuse_if_running(&dir, port).await?;
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "not deleting {} without --yes (standard input is not a terminal to ask on)",
                dir.display()
            );
        }
        eprint!("delete {}? [y/N] ", dir.display());
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if !is_yes(&answer) {
            bail!("nothing deleted");
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    println!("deleted {}", dir.display());
    Ok(())
}

/// A master answering on the port, or holding the database open, keeps its data.
async fn refuse_if_running(dir: &Path, port: u16) -> anyhow::Result<()> {
    let live = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await;
    if matches!(live, Ok(Ok(_))) {
        bail!("a master is running on port {port}; stop it before --clean");
    }
    let db = config::db_file(dir);
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
    Ok(())
}

/// `y` or `yes`, in any case; anything else (an empty line too) is no.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_deletes() {
        assert!(is_yes("y\n") && is_yes("YES\r\n") && is_yes(" Yes "));
        assert!(!is_yes("\n") && !is_yes("n") && !is_yes("yep") && !is_yes(""));
    }
}
