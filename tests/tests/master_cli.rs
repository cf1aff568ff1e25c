//! The master's command line against real processes: `--add`, `--wait`, `--print`, `--clean`, errors.

use bbchain_e2e::{DeadPort, Master, http_get, run_bbchain, spawn_bbchain, wait_for};
use std::time::Duration;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails with one line on stderr, no backtrace, non-zero exit.
fn assert_one_line_error(output: &std::process::Output, says: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "should fail: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(says), "'{err}' should say '{says}'");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn add_prints_the_id_and_wait_prints_the_block() {
    let master = Master::start(&[]);
    let output = run_bbchain(&["--nodes", &master.addr(), "--add", "Some data"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let id = stdout(&output).trim().to_string();
    assert_eq!(id.len(), 64, "an id: {id}");
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!((code, body["status"].as_str()), (200, Some("pending")));

    let _miner = master.miner("e2e");
    let output = run_bbchain(&[
        "--port",
        &master.port.to_string(),
        "--add",
        "Waited for",
        "--wait",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let mut lines = out.lines();
    let waited_id = lines.next().unwrap();
    let block_line = lines.next().expect("a block line");
    let (code, body) = http_get(&master.url(&format!("/api/data/{waited_id}")));
    assert_eq!((code, body["status"].as_str()), (200, Some("confirmed")));
    assert!(
        block_line.contains(body["block"].as_str().unwrap()),
        "{block_line}"
    );
    assert!(
        block_line.contains(&format!("height {}", body["height"])),
        "{block_line}"
    );

    // --print shows both entries, newest block first, ending at genesis.
    wait_for(Duration::from_secs(60), "Some data in --print", || {
        let output = run_bbchain(&["--print", "--nodes", &master.addr()]);
        let out = stdout(&output);
        (out.contains("\"Some data\"") && out.contains("\"Waited for\"")).then_some(out)
    });
    let output = run_bbchain(&["--print", "--port", &master.port.to_string()]);
    let out = stdout(&output);
    let heights: Vec<u64> = out
        .lines()
        .filter(|line| !line.starts_with("         "))
        .map(|line| line.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(
        heights.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first: {heights:?}"
    );
    assert_eq!(*heights.last().unwrap(), 0);
    assert!(
        out.contains("miner \"e2e\"") || out.contains("miner e2e"),
        "{out}"
    );
}

#[test]
fn data_is_escaped_when_printed() {
    let master = Master::start(&[]);
    let _miner = spawn_bbchain(&["--start-miner", "--nodes", &master.addr(), "--threads", "1"]);
    let nasty = "line one\n\u{1b}[31mred\u{1b}[0m";
    let output = run_bbchain(&["--nodes", &master.addr(), "--add", nasty, "--wait"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&run_bbchain(&["--print", "--nodes", &master.addr()]));
    assert!(out.contains(r"line one\n\u{1b}[31mred"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no raw escape codes reach the terminal"
    );
}

#[test]
fn client_errors_are_one_line() {
    let master = Master::start(&[]);
    let dead_port = DeadPort::new();
    let dead = dead_port.addr();
    assert_one_line_error(
        &run_bbchain(&["--nodes", &dead, "--add", "x"]),
        "cannot reach",
    );
    assert_one_line_error(&run_bbchain(&["--print", "--nodes", &dead]), "cannot reach");
    assert_one_line_error(
        &run_bbchain(&["--nodes", &master.addr(), "--add", ""]),
        "empty",
    );
    let long = "x".repeat(5000);
    assert_one_line_error(
        &run_bbchain(&["--nodes", &master.addr(), "--add", &long]),
        "413",
    );
    assert_one_line_error(
        &run_bbchain(&["--nodes", "nonsense", "--add", "x"]),
        "host:port",
    );
    assert_one_line_error(&run_bbchain(&["--frobnicate"]), "--frobnicate");
    assert_one_line_error(
        &run_bbchain(&["--print", "--add", "x"]),
        "cannot be used with",
    );
    assert_one_line_error(&run_bbchain(&[]), "nothing to do");
    assert_one_line_error(
        &run_bbchain(&["--print", "--wait"]),
        "--wait goes with --add",
    );
    assert_one_line_error(
        &run_bbchain(&["--start-master", "--chain", "moon", "--port", "0"]),
        "unknown chain",
    );
    assert_one_line_error(
        &run_bbchain(&[
            "--start-master",
            "--chain",
            "dev",
            "--port",
            &master.port.to_string(),
        ]),
        "cannot listen",
    );
    let help = run_bbchain(&["--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    for flag in [
        "--start-master",
        "--start-miner",
        "--benchmark",
        "--add",
        "--wait",
        "--print",
        "--clean",
        "--port",
        "--host",
        "--nodes",
        "--chain",
        "--data-dir",
        "--threads",
        "--name",
    ] {
        assert!(text.contains(flag), "--help explains {flag}");
    }
}

#[test]
fn clean_refuses_while_running_and_deletes_when_stopped() {
    let mut master = Master::start(&[]);
    let port = master.port.to_string();
    let data_dir = master.data_dir().to_str().unwrap().to_string();
    let node_dir = master.data_dir().join(&port);
    assert!(node_dir.exists());
    let output = run_bbchain(&["--port", &port, "--clean", "--data-dir", &data_dir]);
    assert_one_line_error(&output, "running");
    assert!(node_dir.exists());
    assert!(master.stop(), "SIGTERM stops the master cleanly");
    let output = run_bbchain(&["--port", &port, "--clean", "--data-dir", &data_dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!node_dir.exists());
    // The data root also comes from BBCHAIN_DATA_DIR.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join(&port)).unwrap();
    let output = std::process::Command::new(bbchain_e2e::bbchain_bin())
        .args(["--port", &port, "--clean"])
        .env("BBCHAIN_DATA_DIR", other.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!other.path().join(&port).exists());
}

#[test]
fn a_data_dir_belongs_to_one_chain() {
    let mut master = Master::start(&[]);
    assert!(master.stop());
    let port = master.port.to_string();
    let data_dir = master.data_dir().to_str().unwrap().to_string();
    let output = run_bbchain(&[
        "--start-master",
        "--chain",
        "main",
        "--port",
        &port,
        "--data-dir",
        &data_dir,
    ]);
    assert_one_line_error(&output, "another chain");
    master.restart();
    assert_eq!(master.status()["network"], "dev");
}

#[test]
fn port_0_takes_a_free_port_and_keeps_the_data_under_it() {
    // `Master::start` runs `--start-master --port 0` and reads the port from the startup line.
    let mut master = Master::start(&[]);
    assert_ne!(master.port, 0);
    let log = master.process.log();
    assert!(
        log.contains(&format!("master on http://127.0.0.1:{} ", master.port)),
        "{log}"
    );
    let id = master_add(&master, "kept under the real port");
    assert!(master.data_dir().join(master.port.to_string()).is_dir());
    assert!(!master.data_dir().join("0").exists(), "nothing under 0");
    // Started again on that port, it finds its data.
    assert!(master.stop());
    master.restart();
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!(code, 200, "{body}");
}

fn master_add(master: &Master, text: &str) -> String {
    let output = run_bbchain(&["--nodes", &master.addr(), "--add", text]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}
