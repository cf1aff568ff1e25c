//! Harness for bbchain's end-to-end tests: real `bbchain` processes on loopback ports, each with its
//! own throw-away data directory, killed when the test ends.
//!
//! Masters start with `--port 0` and report the port the system gave them in their startup line
//! (`master on http://127.0.0.1:PORT ...`), which the harness reads from their output: no port is
//! picked ahead and raced for.
//!
//! The binary is `$BBCHAIN_BIN`, or `target/debug/bbchain` of this workspace (`make test` builds it
//! before the tests run).

pub mod stratum;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The `bbchain` binary under test.
pub fn bbchain_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("BBCHAIN_BIN") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/bbchain");
    assert!(
        path.exists(),
        "no bbchain binary at {}: run `cargo build -p bbchain` first (make test does)",
        path.display()
    );
    path
}

/// A loopback port that refuses connections for as long as this lives: a socket bound to it that
/// never listens, so no other process can take the port meanwhile.
pub struct DeadPort {
    port: u16,
    _socket: OwnedFd,
}

impl DeadPort {
    /// Reserves a port the system picks.
    pub fn new() -> DeadPort {
        use nix::sys::socket::{SockaddrIn, getsockname};
        use std::os::fd::AsRawFd;
        let socket = loopback_socket([127, 0, 0, 1]);
        let port = getsockname::<SockaddrIn>(socket.as_raw_fd())
            .expect("its address")
            .port();
        DeadPort {
            port,
            _socket: socket,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, as `--nodes` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Default for DeadPort {
    fn default() -> Self {
        DeadPort::new()
    }
}

/// A data root of its own for one bbchain process (`BBCHAIN_DATA_DIR`): a miner without a wallet
/// creates one there, never in the user's data root; `--data-dir` still wins.
fn own_data_root() -> TempDir {
    tempfile::Builder::new()
        .prefix("bbchain-e2e-root-")
        .tempdir()
        .expect("temp dir")
}

/// Runs `bbchain` with `args` to completion.
pub fn run_bbchain(args: &[&str]) -> Output {
    let root = own_data_root();
    Command::new(bbchain_bin())
        .args(args)
        .env("BBCHAIN_DATA_DIR", root.path())
        .stdin(Stdio::null())
        .output()
        .expect("run bbchain")
}

/// Starts a one-thread native miner named `name` for the masters in `nodes` (`host:port,...`).
pub fn spawn_miner(nodes: &str, name: &str) -> Process {
    spawn_bbchain(&[
        "--start-miner",
        "--nodes",
        nodes,
        "--threads",
        "1",
        "--name",
        name,
    ])
}

/// Everything a process printed, shared with the threads that read its output.
#[derive(Default)]
struct Collected {
    text: String,
    /// Output streams that reached their end (the process closed them, usually by exiting).
    ended: usize,
}

#[derive(Default)]
struct SharedLog {
    output: Mutex<Collected>,
    grew: Condvar,
}

impl SharedLog {
    /// Copies `stream` into the log line by line until it ends.
    fn collect(self: Arc<Self>, stream: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                let read = reader.read_until(b'\n', &mut line).unwrap_or(0);
                let mut output = self.output.lock().expect("log lock");
                if read == 0 {
                    output.ended += 1;
                } else {
                    output.text.push_str(&String::from_utf8_lossy(&line));
                }
                self.grew.notify_all();
                if read == 0 {
                    return;
                }
            }
        });
    }
}

/// Makes `command` start with the open-file limit `soft` (what `ulimit -n` shows) under `hard`.
pub fn with_open_files(command: &mut Command, soft: u64, hard: u64) {
    use nix::sys::resource::{Resource, setrlimit};
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's.
    unsafe {
        command.pre_exec(move || {
            setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(std::io::Error::from)
        });
    }
}

/// A running `bbchain` process whose output (stdout and stderr) is collected; killed on drop.
pub struct Process {
    child: Option<Child>,
    log: Arc<SharedLog>,
    /// Its `BBCHAIN_DATA_DIR`, deleted after it.
    _data_root: TempDir,
}

/// Starts `bbchain` with `args` in the background.
pub fn spawn_bbchain(args: &[&str]) -> Process {
    spawn_bbchain_with(args, |_| {})
}

/// Starts `bbchain` with `args` in the background, its command changed by `configure` first.
pub fn spawn_bbchain_with(args: &[&str], configure: impl FnOnce(&mut Command)) -> Process {
    let data_root = own_data_root();
    let mut command = Command::new(bbchain_bin());
    command
        .args(args)
        .env("BBCHAIN_DATA_DIR", data_root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("start bbchain");
    let log = Arc::new(SharedLog::default());
    log.clone().collect(child.stdout.take().expect("stdout"));
    log.clone().collect(child.stderr.take().expect("stderr"));
    Process {
        child: Some(child),
        log,
        _data_root: data_root,
    }
}

impl Process {
    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        self.log.output.lock().expect("log lock").text.clone()
    }

    /// Waits until some line of the output gives `Some` through `find`, and returns that; panics
    /// with the output when the process closes its output first, or after `timeout`.
    pub fn wait_for_line<T>(
        &self,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut output = self.log.output.lock().expect("log lock");
        loop {
            if let Some(found) = output.text.lines().find_map(&mut find) {
                return found;
            }
            let now = Instant::now();
            assert!(
                output.ended < 2 && now < deadline,
                "no such line in the output (the process {}):\n{}",
                if output.ended < 2 {
                    "is still running"
                } else {
                    "ended"
                },
                output.text
            );
            output = self
                .log
                .grew
                .wait_timeout(output, deadline - now)
                .expect("log lock")
                .0;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to 10 s for a clean exit (SIGKILL after that); returns whether it exited
    /// by itself with status 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `bbchain --start-master --chain dev` process on a port of its own with its own data
/// directory, which survives restarts of the process and is deleted on drop.
pub struct Master {
    /// The port it listens on (it was started with `--port 0`; this is the port it reported).
    pub port: u16,
    /// Extra arguments it was started with.
    args: Vec<String>,
    data_dir: TempDir,
    /// The running process.
    pub process: Process,
}

/// How long a master may take to start.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// The port of a master's startup line `master on http://127.0.0.1:PORT (...)`, logged once the
/// master listens (so it answers from then on).
pub fn reported_port(process: &Process) -> u16 {
    process.wait_for_line(START_PATIENCE, |line| {
        let (_, rest) = line.split_once("master on http://")?;
        let addr = rest.split_whitespace().next()?;
        addr.parse::<SocketAddr>().ok().map(|addr| addr.port())
    })
}

impl Master {
    /// Starts a dev-chain master on `--port 0` with `extra` arguments, and reads the port it got from
    /// its startup line.
    pub fn start(extra: &[&str]) -> Master {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let process = Master::spawn(0, data_dir.path(), &args);
        let port = reported_port(&process);
        let master = Master {
            port,
            args,
            data_dir,
            process,
        };
        master.status();
        master
    }

    fn spawn(port: u16, data_dir: &Path, extra: &[String]) -> Process {
        let port = port.to_string();
        let data_dir = data_dir.to_str().expect("utf-8 temp path");
        let mut args = vec![
            "--start-master",
            "--chain",
            "dev",
            "--port",
            &port,
            "--data-dir",
            data_dir,
        ];
        args.extend(extra.iter().map(String::as_str));
        spawn_bbchain(&args)
    }

    /// `127.0.0.1:<port>`, as `--nodes` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, path)
    }

    /// The data directory given with `--data-dir` (the master keeps its files under `<it>/<port>/`).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// SIGKILL, mid-whatever.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM and wait; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        self.process.stop()
    }

    /// Starts the process again on the same port and data directory (after `kill` or `stop`).
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Master::spawn(self.port, self.data_dir.path(), &self.args);
        let port = reported_port(&self.process);
        assert_eq!(port, self.port, "restarted on its port");
        self.status();
    }

    /// Fills its disk: from now on no write to its database file succeeds (see
    /// [`set_file_size_limit`]). A limit of 0 rather than the file's size: redb also writes into
    /// free pages inside the file, so a file that only may not grow would take some writes and
    /// refuse others, and the master would flap between failing and recovered.
    pub fn fill_disk(&self) {
        set_file_size_limit(self.process.pid().expect("running"), Some(0));
    }

    /// Gives its disk room again.
    pub fn free_disk(&self) {
        set_file_size_limit(self.process.pid().expect("running"), None);
    }

    /// `GET /api/status`.
    pub fn status(&self) -> Value {
        let (code, body) = http_get(&self.url("/api/status"));
        assert_eq!(code, 200, "GET /api/status: {body}");
        body
    }

    /// Starts a one-thread native miner named `name` for this master.
    pub fn miner(&self, name: &str) -> Process {
        spawn_miner(&self.addr(), name)
    }

    /// The main chain's height.
    pub fn height(&self) -> u64 {
        self.status()["height"].as_u64().expect("status.height")
    }
}

/// Sets the soft file-size limit (`RLIMIT_FSIZE`) of the running process `pid` with `prlimit(2)`
/// (`None`: as high as its hard limit). A file it writes may not grow past the limit: the write
/// fails with `EFBIG` as on a full disk (a master ignores `SIGXFSZ`). No root and no mount needed.
pub fn set_file_size_limit(pid: u32, bytes: Option<u64>) {
    let pid = pid as libc::pid_t;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit(2) with pointers to live local structs (or null: no change / no answer).
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "read the limit: {}", std::io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: bytes.map_or(old.rlim_max, |bytes| bytes.min(old.rlim_max)),
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "set the limit: {}", std::io::Error::last_os_error());
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into()
    })
}

fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Option<(u16, Value)> {
    let mut response = response.ok()?;
    let code = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Some((code, body))
}

fn try_get(url: &str) -> Option<(u16, Value)> {
    read(agent().get(url).call())
}

/// The masters `master` is linked to (`GET /api/nodes`), as `host:port`.
pub fn linked_masters(master: &Master) -> Vec<String> {
    let (code, body) = http_get(&master.url("/api/nodes"));
    assert_eq!(code, 200, "{body}");
    body["masters"]
        .as_array()
        .expect("masters")
        .iter()
        .map(|m| m.as_str().expect("address").to_string())
        .collect()
}

/// `GET url` -> (status, JSON body; a non-JSON body comes back as a JSON string).
pub fn http_get(url: &str) -> (u16, Value) {
    try_get(url).unwrap_or_else(|| panic!("GET {url}: no answer"))
}

/// `POST url` with a JSON body -> (status, JSON body).
pub fn http_post_json(url: &str, body: &Value) -> (u16, Value) {
    read(agent().post(url).send_json(body)).unwrap_or_else(|| panic!("POST {url}: no answer"))
}

/// `POST url` with raw bytes and a content type -> (status, JSON body).
pub fn http_post_raw(url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    read(
        agent()
            .post(url)
            .header("content-type", content_type)
            .send(body),
    )
    .unwrap_or_else(|| panic!("POST {url}: no answer"))
}

/// Polls `check` every 100 ms until it returns `Some`, panicking with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP socket bound to the loopback address `source` on a port the system picks.
fn loopback_socket(source: [u8; 4]) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, socket};
    use std::os::fd::AsRawFd;
    assert_eq!(source[0], 127, "loopback only");
    let socket = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("a TCP socket");
    let [a, b, c, d] = source;
    bind(socket.as_raw_fd(), &SockaddrIn::new(a, b, c, d, 0)).expect("bind the source address");
    socket
}

/// A TCP connection to `127.0.0.1:port` from the loopback address `source` (`[127, 0, 0, 2]`, …), to
/// stand in for a client on another IP.
pub fn tcp_from(source: [u8; 4], port: u16) -> std::net::TcpStream {
    use nix::sys::socket::{SockaddrIn, connect};
    use std::os::fd::AsRawFd;
    let socket = loopback_socket(source);
    connect(socket.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)).expect("connect");
    std::net::TcpStream::from(socket)
}
