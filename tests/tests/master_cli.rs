//! The master's command line against real processes: `--add`, `--wait`, `--print`, `--clean`, errors.

use bbchain_e2e::{
    DeadPort, Master, http_get, reported_port, run_bbchain, spawn_bbchain, wait_for,
};
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
        "data is 5000 bytes, more than the 4096 allowed",
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
        "--wait does not apply to --print; it goes with --add",
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
    // Standard input is not a terminal here: without --yes nothing is deleted.
    let output = run_bbchain(&["--port", &port, "--clean", "--data-dir", &data_dir]);
    assert_one_line_error(&output, "without --yes");
    assert!(node_dir.exists());
    let output = run_bbchain(&["--port", &port, "--clean", "--yes", "--data-dir", &data_dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!node_dir.exists());
    // The data root also comes from BBCHAIN_DATA_DIR.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join(&port)).unwrap();
    let output = std::process::Command::new(bbchain_e2e::bbchain_bin())
        .args(["--port", &port, "--clean", "-y"])
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

#[test]
fn help_groups_flags_by_mode_and_shows_defaults() {
    let output = run_bbchain(&["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    let position = |text: &str| {
        help.find(text)
            .unwrap_or_else(|| panic!("'{text}' in --help:\n{help}"))
    };
    // Each flag sits under its mode's heading.
    assert!(position("Master (--start-master):") < position("--chain <NAME>"));
    assert!(position("Miner (--start-miner, --benchmark):") < position("-t, --threads <N>"));
    assert!(position("Client (--add, --print, --clean):") < position("--wait-timeout <SECS>"));
    assert!(position("Connection:") < position("-p, --port <PORT>"));
    assert!(position("General:") < position("-h, --help"));
    for default in [
        "[default: 8000]",
        "[default: 127.0.0.1]",
        "[default: main]",
        "[default: 0]",
    ] {
        position(default);
    }
    assert!(help.contains("0 means one per core"), "{help}");
    // The data root's default is a real path, not an empty env value.
    assert!(!help.contains("BBCHAIN_DATA_DIR=]"), "{help}");
    let default_root = help[position("[env: BBCHAIN_DATA_DIR]")..]
        .split("[default: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_default();
    assert!(default_root.ends_with("bbchain"), "{default_root:?}");
}

#[test]
fn short_flags_and_the_original_forms_reach_the_master() {
    let master = Master::start(&[]);
    let port = master.port.to_string();
    // `--start-miner --port N`: a miner for 127.0.0.1:N.
    let mut miner = spawn_bbchain(&[
        "--start-miner",
        "--port",
        &port,
        "-t",
        "1",
        "--name",
        "shorty",
    ]);
    wait_for(
        Duration::from_secs(60),
        "a block from the --port miner",
        || (master.height() >= 1).then_some(()),
    );
    // `--port N --print` and `-p N --print` print the same chain.
    let long = run_bbchain(&["--port", &port, "--print"]);
    assert!(long.status.success(), "{}", stderr(&long));
    assert!(stdout(&long).contains("shorty"), "{}", stdout(&long));
    let short = run_bbchain(&["-p", &port, "--print"]);
    assert!(short.status.success(), "{}", stderr(&short));
    assert!(
        stdout(&short)
            .lines()
            .last()
            .unwrap()
            .trim_start()
            .starts_with("0 ")
    );
    // `-n` is --nodes.
    let output = run_bbchain(&["-n", &master.addr(), "--add", "short and sweet", "--wait"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The miner speaks in status lines, not tracing records with module paths.
    assert!(miner.stop(), "SIGTERM stops the miner cleanly");
    let log = miner.log();
    assert!(
        log.contains("native miner \"shorty\": 1 thread for 127.0.0.1:"),
        "{log}"
    );
    assert!(
        !log.contains("bbchain::") && !log.contains(" INFO "),
        "{log}"
    );
}

#[test]
fn flags_that_do_not_apply_to_the_mode_are_refused() {
    for (line, says) in [
        (
            &["--print", "--threads", "2"][..],
            "--threads does not apply to --print",
        ),
        (
            &["--start-miner", "-n", "127.0.0.1:1", "--host", "0.0.0.0"],
            "--host does not apply to --start-miner",
        ),
        (
            &["--benchmark", "--chain", "dev"],
            "--chain does not apply to --benchmark",
        ),
        (&["--add", "x", "--yes"], "--yes does not apply to --add"),
        (
            &["--clean", "--nodes", "127.0.0.1:1"],
            "--nodes does not apply to --clean",
        ),
        (
            &["--print", "--nodes", "127.0.0.1:1", "--port", "2"],
            "--nodes and --port both name the master for --print",
        ),
        (
            &["--start-miner", "--nodes", "127.0.0.1:1", "-p", "2"],
            "--nodes and --port both name the master for --start-miner",
        ),
    ] {
        let output = run_bbchain(line);
        assert_one_line_error(&output, says);
        assert_eq!(output.status.code(), Some(2), "{line:?}");
    }
    // The data root from the environment is no flag: a client call ignores it.
    let dead_port = DeadPort::new();
    let dead = dead_port.addr();
    let output = std::process::Command::new(bbchain_e2e::bbchain_bin())
        .args(["--print", "--nodes", &dead])
        .env("BBCHAIN_DATA_DIR", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_one_line_error(&output, "connection refused");
}

#[test]
fn threads_zero_is_every_core_and_too_many_is_refused() {
    let output = run_bbchain(&["--start-miner", "-n", "127.0.0.1:1", "--threads", "5000"]);
    assert_one_line_error(&output, "at most 1024 (this machine has");
    let output = run_bbchain(&["--benchmark", "--threads", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let cores = std::thread::available_parallelism().unwrap().get();
    let out = stdout(&output);
    let first = out.lines().next().unwrap();
    let expected = if cores == 1 {
        "1 thread,"
    } else {
        &format!("{cores} threads,")
    };
    assert!(first.contains(expected), "{out}");
    // People read units; scripts read the last line.
    assert!(
        out.contains("H/s (") && out.contains(" per thread)"),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    let rate = last
        .strip_prefix("hashrate: ")
        .and_then(|rest| rest.strip_suffix(" H/s"))
        .unwrap_or_else(|| panic!("a machine-readable last line: {out}"));
    assert!(rate.parse::<u64>().unwrap() > 0, "{out}");
    assert!(!out.contains("(s)"), "{out}");
}

#[test]
fn add_checks_locally_and_the_server_agrees() {
    let master = Master::start(&[]);
    let too_big = "x".repeat(70_000);
    assert_one_line_error(
        &run_bbchain(&["--nodes", &master.addr(), "--add", &too_big]),
        "data is 70000 bytes, more than the 4096 allowed",
    );
    assert_one_line_error(
        &run_bbchain(&["--nodes", &master.addr(), "--add", " \t\n "]),
        "data is only whitespace",
    );
    // Checked locally: nothing reached the master, not even a dead one.
    let dead_port = DeadPort::new();
    let dead = dead_port.addr();
    assert_one_line_error(
        &run_bbchain(&["--nodes", &dead, "--add", "   "]),
        "only whitespace",
    );
    // The API refuses whitespace-only data like the page's form does.
    let (code, body) = bbchain_e2e::http_post_json(
        &master.url("/api/data"),
        &serde_json::json!({"data": "  \u{a0}\n"}),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"], "data is only whitespace");
    assert_eq!(master.status()["pending"], 0);
}

#[test]
fn wait_says_why_it_waits_and_wait_timeout_ends_with_status_3() {
    let master = Master::start(&[]);
    let output = run_bbchain(&[
        "--nodes",
        &master.addr(),
        "--add",
        "nobody mines",
        "--wait-timeout",
        "2",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let id = stdout(&output).trim().to_string();
    assert_eq!(id.len(), 64, "the id is printed first: {id}");
    let err = stderr(&output);
    assert!(err.contains("waiting for a block"), "{err}");
    assert!(err.contains("has no miner"), "{err}");
    assert!(err.contains("not in a block after 2 s"), "{err}");
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!((code, body["status"].as_str()), (200, Some("pending")));

    let _miner = master.miner("waiter");
    wait_for(Duration::from_secs(30), "the miner to connect", || {
        (master.status()["miners"] == 1).then_some(())
    });
    let output = run_bbchain(&[
        "--nodes",
        &master.addr(),
        "--add",
        "somebody mines",
        "--wait-timeout",
        "60",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("in block"), "{}", stdout(&output));
}

#[test]
fn a_non_utf8_argument_is_named() {
    use std::os::unix::ffi::OsStrExt;
    let output = std::process::Command::new(bbchain_e2e::bbchain_bin())
        .arg("--add")
        .arg(std::ffi::OsStr::from_bytes(b"\xff"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_one_line_error(&output, "'--add <DATA>': it is not valid UTF-8");
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "_bbchain()"),
        ("zsh", "#compdef bbchain"),
        ("fish", "complete -c bbchain"),
    ] {
        let output = run_bbchain(&["--completions", shell]);
        assert!(output.status.success(), "{}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("start-miner"), "{shell}");
    }
    assert_one_line_error(&run_bbchain(&["--completions", "tcsh"]), "tcsh");
    let output = run_bbchain(&["--man-page"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(page.contains(".TH bbchain 1"), "{page}");
    assert!(page.contains("start\\-master"), "{page}");
}

#[test]
fn a_stopping_master_closes_the_miners_feed_properly() {
    let mut master = Master::start(&[]);
    let mut miner = master.miner("polite");
    wait_for(Duration::from_secs(30), "the miner to connect", || {
        (master.status()["miners"] == 1).then_some(())
    });
    assert!(master.stop());
    wait_for(Duration::from_secs(30), "the miner to notice", || {
        let log = miner.log();
        log.contains("lost master").then_some(log)
    });
    miner.stop();
    let log = miner.log();
    assert!(!log.contains("without closing handshake"), "{log}");
    assert!(log.contains("lost master 127.0.0.1:"), "{log}");
    assert!(log.contains(": the master is stopping;"), "{log}");
}

#[test]
fn a_peer_on_another_chain_is_named_and_warned_about_once() {
    // A main-chain master, and a dev-chain master dialing it with DEBUG logs to count the retries.
    let main_dir = tempfile::tempdir().unwrap();
    let main_master = spawn_bbchain(&[
        "--start-master",
        "--port",
        "0",
        "--data-dir",
        main_dir.path().to_str().unwrap(),
    ]);
    let main_addr = format!("127.0.0.1:{}", reported_port(&main_master));
    let dev_dir = tempfile::tempdir().unwrap();
    let log_path = dev_dir.path().join("dev.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut dev = std::process::Command::new(bbchain_e2e::bbchain_bin())
        .args(["--start-master", "--chain", "dev", "--port", "0"])
        .arg("--data-dir")
        .arg(dev_dir.path().join("data"))
        .args(["--nodes", &main_addr])
        .env("RUST_LOG", "bbchain::peer=debug,info")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let refusal = format!(
        "link to {main_addr} refused: peer is on the main network, this master on the dev network"
    );
    let text = wait_for(Duration::from_secs(30), "two refused attempts", || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        (text.matches(&refusal).count() >= 2).then_some(text)
    });
    let _ = dev.kill();
    let _ = dev.wait();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&refusal)).collect();
    assert!(lines[0].contains(" WARN "), "{text}");
    assert!(lines[1..].iter().all(|l| l.contains(" DEBUG ")), "{text}");
    assert!(
        !text.contains("network bbc4"),
        "chains by name, not by id: {text}"
    );
}

#[test]
fn clean_asks_on_a_terminal_and_only_yes_deletes() {
    use std::io::Write;
    let data_root = tempfile::tempdir().unwrap();
    // No master runs: the port only names the data folder.
    let port = "8000".to_string();
    let node_dir = data_root.path().join(&port);
    std::fs::create_dir_all(&node_dir).unwrap();
    for (answer, deleted) in [("\n", false), ("n\n", false), ("y\n", true)] {
        // Standard input is a pseudo-terminal, as when a person runs it.
        let pty = nix::pty::openpty(None, None).unwrap();
        let child = std::process::Command::new(bbchain_e2e::bbchain_bin())
            .args(["--port", &port, "--clean", "--data-dir"])
            .arg(data_root.path())
            .stdin(std::process::Stdio::from(pty.slave))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut terminal = std::fs::File::from(pty.master);
        terminal.write_all(answer.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        assert!(
            err.starts_with(&format!("delete {}? [y/N] ", node_dir.display())),
            "{err}"
        );
        assert_eq!(output.status.success(), deleted, "{answer:?}: {err}");
        assert_eq!(node_dir.exists(), !deleted, "{answer:?}");
    }
}

#[test]
fn more_threads_than_cores_get_a_note() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let dead_port = DeadPort::new();
    let dead = dead_port.addr();
    let threads = (cores + 1).to_string();
    let mut miner = spawn_bbchain(&["--start-miner", "-n", &dead, "-t", &threads]);
    let note = format!("warning: {threads} threads on {cores} core");
    wait_for(Duration::from_secs(30), "the note about cores", || {
        miner.log().contains(&note).then_some(())
    });
    miner.kill();
}
