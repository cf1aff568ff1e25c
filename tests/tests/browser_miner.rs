//! The page in a real headless Chromium against a real dev-chain master: the browser mines blocks the
//! master accepts (and carries on after the master restarts), data sent through the form is confirmed
//! in the page, and an entry that looks like HTML stays text.
//!
//! Needs `web/pkg` and `web/pkg-scalar` (`make wasm`) before the master binary was built, and Debian's `chromium` and
//! `chromedriver` (`bash scripts/setup.sh --browser`); `CHROMIUM` and `CHROMEDRIVER` override the paths.

use bbchain_e2e::{Master, http_get, http_post_json, run_bbchain, spawn_bbchain, wait_for};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(90);
const XSS: &str = r#"<img src=x onerror="window.pwned=1">"#;

/// `name` on the PATH (or in the environment variable `var`), or a failure that says what to install.
fn find_tool(var: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{var}={} is not a file", path.display());
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser test needs {} on the PATH (or {var}=<path>): install Debian's chromium \
                 and chromium-driver, e.g. `bash scripts/setup.sh --browser`",
                names.join(" or ")
            )
        })
}

/// The port of chromedriver's `ChromeDriver was started successfully on port N.` (it was started
/// with `--port=0`); the rest of its output is read and dropped so it never blocks on a full pipe.
fn listening_port(stdout: std::process::ChildStdout) -> u16 {
    use std::io::{BufRead, BufReader};
    let (found, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some((_, rest)) = line.split_once("started successfully on port ") {
                let _ = found.send(rest.trim_end_matches('.').parse::<u16>().ok());
            }
        }
    });
    port.recv_timeout(Duration::from_secs(20))
        .ok()
        .flatten()
        .expect("chromedriver reports its port within 20 s")
}

/// chromedriver plus a headless Chromium session with a throw-away profile; both end on drop.
struct Browser {
    client: Client,
    driver: Child,
    /// The session's URL on chromedriver, to end it from `drop`.
    session_url: String,
    _profile: TempDir,
}

impl Browser {
    async fn start() -> Browser {
        Browser::start_with_prefs(json!({})).await
    }

    /// A session whose profile has Chromium `prefs` set (say, content settings).
    async fn start_with_prefs(prefs: Value) -> Browser {
        let chromium = find_tool(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = find_tool("CHROMEDRIVER", &["chromedriver"]);
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let port = listening_port(driver.stdout.take().expect("chromedriver's stdout"));
        let driver_url = format!("http://127.0.0.1:{port}");

        let profile = tempfile::tempdir().expect("temp dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args, "prefs": prefs }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .unwrap_or_else(|e| {
                panic!("start a Chromium session with {}: {e}", chromium.display())
            });
        let session = client.session_id().await.expect("session id");
        Browser {
            client,
            driver,
            session_url: format!("{driver_url}/session/{}", session.expect("a session")),
            _profile: profile,
        }
    }

    /// Runs `script` (a function body; `arguments[0]` is `arg`) in the page and returns its result.
    async fn eval(&self, script: &str, arg: Value) -> Value {
        self.client
            .execute(script, vec![arg])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    async fn text(&self, css: &str) -> String {
        let script =
            "const el = document.querySelector(arguments[0]); return el && el.textContent;";
        self.eval(script, json!(css))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn click(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await.expect(css);
        element.click().await.expect(css);
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.expect(css);
        element.clear().await.expect(css);
        element.send_keys(text).await.expect(css);
    }

    /// Opens `path` of `master`'s page, after checking the master serves both wasm builds.
    async fn open(master: &Master, path: &str) -> Browser {
        for glue in [
            "/pkg/bbchain_miner_wasm.js",
            "/pkg-scalar/bbchain_miner_wasm.js",
        ] {
            let (code, _) = http_get(&master.url(glue));
            assert_eq!(
                code, 200,
                "the master serves no {glue}: run `make wasm`, then rebuild it (`cargo build -p bbchain`)"
            );
        }
        let browser = Browser::start().await;
        browser
            .client
            .goto(&master.url(path))
            .await
            .expect("open the page");
        browser
    }

    /// Waits until the explorer lists the genesis block: the page is up and talks to the master.
    async fn wait_for_genesis(&self) {
        eventually(
            PATIENCE,
            "the explorer to list the genesis block",
            || async {
                (self.text("#blocks tr[data-height='0'] td.miner").await == "bbchain dev genesis")
                    .then_some(())
            },
        )
        .await;
    }

    /// Starts mining with one worker (the master needs the other core) under `name`.
    async fn start_mining(&self, name: &str) {
        self.type_into("#miner-name", name).await;
        self.type_into("#worker-count", "1").await;
        self.click("#mine-start").await;
    }

    /// The wasm build the page's workers loaded (`simd` or `scalar`), once they have.
    async fn wasm_build(&self) -> String {
        let script = "return document.getElementById('hashrate').dataset.wasm || '';";
        self.eval(script, json!(null))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's own data list entry whose text is exactly `text`: `{status, id}` or null.
    async fn data_entry(&self, text: &str) -> Value {
        let script = "const li = [...document.querySelectorAll('#data-list li')]
              .find((li) => li.querySelector('.entry-text').textContent === arguments[0]);
            return li ? { status: li.dataset.status, id: li.dataset.id } : null;";
        self.eval(script, json!(text)).await
    }

    /// Types `query` into the search box, presses Enter, and returns the page's `location.hash` once
    /// the search has answered (it moved, or said nothing was found).
    async fn search(&self, query: &str) -> String {
        // Views open as modal dialogs, which make the search box inert: close them first.
        let script =
            "document.getElementById('search-result').textContent = ''; location.hash = '#/';";
        self.eval(script, Value::Null).await;
        eventually(PATIENCE, "the views to close", || async {
            let open = self.eval(
                "return !!document.querySelector('dialog[open]');",
                Value::Null,
            );
            (open.await == false).then_some(())
        })
        .await;
        let before = self.eval("return location.hash;", Value::Null).await;
        self.type_into("#search-input", &format!("{query}\u{E007}"))
            .await;
        eventually(
            PATIENCE,
            &format!("an answer to the search {query:?}"),
            || async {
                let hash = self.eval("return location.hash;", Value::Null).await;
                let said = self.text("#search-result").await;
                (hash != before || !said.is_empty())
                    .then(|| hash.as_str().unwrap_or_default().to_string())
            },
        )
        .await
    }

    /// Opens the data view of `id` and returns its proof's state once checked (`verified`/`failed`).
    async fn proof_state(&self, id: &str) -> String {
        // A view left open holds the last proof's state: drop it so only the new check counts.
        let script = "if (location.hash !== arguments[0]) {
              document.getElementById('proof-result')?.remove();
              location.hash = arguments[0];
            }";
        self.eval(script, json!(format!("#/data/{id}"))).await;
        eventually(PATIENCE, "the proof checked in the page", || async {
            let script =
                "const p = document.getElementById('proof-result'); return p && p.dataset.state;";
            let state = self.eval(script, Value::Null).await;
            let state = state.as_str().unwrap_or_default().to_string();
            matches!(state.as_str(), "verified" | "failed").then_some(state)
        })
        .await
    }

    /// Submits `text` through the form and waits until the page shows it confirmed; returns its id.
    async fn add_data(&self, text: &str) -> String {
        self.type_into("#data-input", text).await;
        self.click("#data-submit").await;
        let entry = eventually(
            PATIENCE,
            &format!("{text:?} confirmed in the page"),
            || async {
                let entry = self.data_entry(text).await;
                (entry["status"] == "confirmed").then_some(entry)
            },
        )
        .await;
        entry["id"].as_str().expect("entry id").to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium; killing chromedriver alone would
        // leave Chromium running (and mining). This runs on failures too.
        let _ = ureq::delete(&self.session_url).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Polls `check` every 200 ms until it returns `Some`, panicking with `what` after `timeout`.
async fn eventually<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Heights of the main-chain blocks whose coinbase names `miner` (the latest 100).
fn heights_mined_by(master: &Master, miner: &str) -> Vec<u64> {
    let (code, body) = http_get(&master.url("/api/blocks?limit=100"));
    assert_eq!(code, 200, "{body}");
    body["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|block| block["miner"] == miner)
        .filter_map(|block| block["height"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_mines_blocks_and_confirms_data_shown_as_text() {
    let mut master = Master::start(&[]);
    let browser = Browser::open(&master, "/").await;
    browser.wait_for_genesis().await;

    let name = format!("browser-e2e-{}", master.port);
    browser.start_mining(&name).await;
    let first = eventually(PATIENCE, "a block mined by the browser", || async {
        heights_mined_by(&master, &name).into_iter().max()
    })
    .await;
    eventually(PATIENCE, "a live hashrate", || async {
        let hashrate = browser.text("#hashrate").await;
        assert!(hashrate.ends_with("H/s"), "hashrate shown: {hashrate}");
        (!hashrate.starts_with("0 ")).then_some(())
    })
    .await;
    let miner_cell = format!("#blocks tr[data-height='{first}'] td.miner");
    eventually(PATIENCE, "the block in the live block list", || async {
        (browser.text(&miner_cell).await == name).then_some(())
    })
    .await;
    let accepted: u64 = browser.text("#shares-accepted").await.parse().unwrap_or(0);
    assert!(accepted >= 1, "accepted shown: {accepted}");
    assert_eq!(
        browser.wasm_build().await,
        "simd",
        "Chromium has WebAssembly SIMD: the workers run the SIMD build"
    );

    // A second tab of the same browser may not mine at the same time.
    let first_tab = browser.client.window().await.expect("window handle");
    let second_tab = browser.client.new_window(true).await.expect("open a tab");
    browser
        .client
        .switch_to_window(second_tab.handle)
        .await
        .expect("switch tab");
    browser
        .client
        .goto(&master.url("/"))
        .await
        .expect("open the page");
    browser.click("#mine-start").await;
    eventually(PATIENCE, "the second tab to refuse to mine", || async {
        let state = "return document.getElementById('mine-status').dataset.state;";
        (browser.eval(state, Value::Null).await == "busy").then_some(())
    })
    .await;
    browser.client.close_window().await.expect("close the tab");
    browser
        .client
        .switch_to_window(first_tab)
        .await
        .expect("switch tab");

    // The master restarts: the page reconnects by itself and goes on mining.
    let before = master.height();
    master.restart();
    eventually(
        PATIENCE,
        "a browser block after the master restarted",
        || async {
            heights_mined_by(&master, &name)
                .into_iter()
                .any(|height| height > before)
                .then_some(())
        },
    )
    .await;

    // Data through the form, confirmed in the page; the API agrees.
    let text = format!("hello from the browser test on port {}", master.port);
    let id = browser.add_data(&text).await;
    let (code, entry) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!(code, 200, "{entry}");
    assert_eq!(entry["status"], "confirmed", "{entry}");

    // Markup in an entry is shown as text, in the list and in the block view, and never runs.
    let id = browser.add_data(XSS).await;
    let link = format!("#data-list li[data-id='{id}'] .entry-meta a");
    browser.click(&link).await;
    let shown = eventually(PATIENCE, "the block view with the entry", || async {
        let script = "const li = document.querySelector(`#block-entries li[data-id='${arguments[0]}']`);
            return li && document.getElementById('block-view').open ? li.querySelector('.entry-text').textContent : null;";
        browser.eval(script, json!(id)).await.as_str().map(String::from)
    })
    .await;
    assert_eq!(shown, XSS);
    let script = "return {
        pwned: typeof window.pwned,
        images: document.querySelectorAll('img[src=\"x\"]').length,
    };";
    let page = browser.eval(script, Value::Null).await;
    assert_eq!(page["pwned"], "undefined", "the entry's onerror ran");
    assert_eq!(page["images"], 0, "the entry became an <img>");

    // Block views opened one after the other: a slow answer for the first never replaces the second.
    let script = "const original = window.fetch;
        window.fetch = (url, init) => String(url).endsWith('api/blocks/0')
          ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => original(url, init))
          : original(url, init);
        location.hash = '#/block/0';
        setTimeout(() => { location.hash = '#/block/1'; }, 100);
        setTimeout(() => { window.fetch = original; }, 3000);";
    browser.eval(script, Value::Null).await;
    eventually(PATIENCE, "the view of block 1", || async {
        (browser.text("#block-title").await == "Block 1").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        browser.text("#block-title").await,
        "Block 1",
        "the late answer for block 0 replaced the block asked for last"
    );

    browser.click("#block-view .close").await;

    // The worker count changes while mining: the page keeps mining.
    let before = heights_mined_by(&master, &name)
        .into_iter()
        .max()
        .unwrap_or(0);
    browser.type_into("#worker-count", "2").await;
    browser.click("#hashrate").await; // leaving the field commits the change
    browser.type_into("#worker-count", "1").await;
    browser.click("#hashrate").await;
    eventually(PATIENCE, "a browser block after resizing", || async {
        heights_mined_by(&master, &name)
            .into_iter()
            .any(|height| height > before)
            .then_some(())
    })
    .await;

    // The charts: the network hashrate is drawn once there are blocks to estimate it from, and
    // the interval chart leaves out the gap after the genesis block (dated long before).
    eventually(PATIENCE, "the network hashrate chart", || async {
        let script = "return !!document.querySelector('#chart-hashrate polyline');";
        (browser.eval(script, Value::Null).await == true).then_some(())
    })
    .await;
    let script = "return [...document.querySelectorAll('#chart-intervals title')].map((t) => t.textContent);";
    let bars = browser.eval(script, Value::Null).await;
    let bars = bars.as_array().expect("bar titles");
    assert!(!bars.is_empty(), "no interval bars");
    assert!(
        bars.iter()
            .all(|bar| !bar.as_str().unwrap_or_default().starts_with("block 1:")),
        "the genesis gap is drawn: {bars:?}"
    );

    // Stop: the miner leaves the master's list of miners.
    browser.click("#mine-stop").await;
    eventually(PATIENCE, "the browser miner to disconnect", || async {
        let (_, nodes) = http_get(&master.url("/api/nodes"));
        let miners = nodes["miners"].as_array().cloned().unwrap_or_default();
        (!miners.iter().any(|miner| miner["name"] == name.as_str())).then_some(())
    })
    .await;
    assert_eq!(browser.text("#hashrate").await, "0 H/s");

    // The counts and the blocks this browser found are kept per browser: a reload shows them again.
    let accepted = browser.text("#shares-accepted").await;
    let found = "return document.querySelectorAll('#found-blocks li').length;";
    let found_before = browser.eval(found, Value::Null).await;
    browser.client.refresh().await.expect("reload the page");
    eventually(PATIENCE, "the reloaded page's mining panel", || async {
        (browser.text("#mine-status").await == "Idle.").then_some(())
    })
    .await;
    assert_eq!(browser.text("#shares-accepted").await, accepted);
    assert_eq!(browser.eval(found, Value::Null).await, found_before);
}

/// At a phone's width (390 px) every view fits with no sideways scrolling, and a form sent while
/// the master is down says so in words, not with the browser's raw "Failed to fetch".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_fits_a_phone_and_says_when_the_master_is_down() {
    let mut master = Master::start(&[]);
    let browser = Browser::open(&master, "/").await;
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("phone-sized window");
    browser.wait_for_genesis().await;
    let width = "return window.innerWidth;";
    let inner = browser.eval(width, Value::Null).await.as_u64().unwrap();
    assert!(inner <= 400, "the viewport is {inner} px wide");
    let overflow = "return document.documentElement.scrollWidth - window.innerWidth;";
    for view in ["#/", "#/block/0"] {
        browser
            .eval("location.hash = arguments[0];", json!(view))
            .await;
        if view != "#/" {
            eventually(PATIENCE, "the block view", || async {
                (browser.text("#block-title").await == "Block 0").then_some(())
            })
            .await;
        }
        let extra = browser.eval(overflow, Value::Null).await;
        assert!(
            extra.as_i64().unwrap() <= 0,
            "{view} is {extra} px wider than the phone"
        );
    }
    let note =
        "const p = document.getElementById('block-no-entries'); return !p.hidden && p.textContent;";
    let note = browser.eval(note, Value::Null).await;
    assert!(
        note.as_str()
            .is_some_and(|text| text.contains("No data entries")),
        "the empty block says so: {note}"
    );
    let numbered = "return document.querySelectorAll('#block-entries li').length;";
    assert_eq!(
        browser.eval(numbered, Value::Null).await,
        0,
        "no numbered item for no entries"
    );
    browser.eval("location.hash = '#/';", Value::Null).await;

    master.kill();
    browser
        .type_into("#data-input", "sent while the master is down")
        .await;
    browser.click("#data-submit").await;
    let error = eventually(PATIENCE, "an error under the form", || async {
        let text = browser.text("#data-error").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(error.contains("Cannot reach the master"), "{error}");
}

/// Browsers without WebAssembly SIMD get the scalar build (`web/pkg-scalar`); `?wasm=scalar` makes
/// Chromium take that path so the fallback is proven to mine too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scalar_build_mines_too() {
    let master = Master::start(&[]);
    let browser = Browser::open(&master, "/?wasm=scalar").await;
    let name = format!("browser-scalar-{}", master.port);
    browser.start_mining(&name).await;
    eventually(PATIENCE, "a block mined by the scalar build", || async {
        (!heights_mined_by(&master, &name).is_empty()).then_some(())
    })
    .await;
    assert_eq!(browser.wasm_build().await, "scalar");
}

/// Bitcoin mainnet headers from the repository's vectors: (height, nonce, block hash, header hex)
/// for blocks 0, 2, 10 and 4.
fn bitcoin() -> Vec<(u32, u32, String, String)> {
    const CSV: &str =
        include_str!("../../shared/tests/vectors/headers/btc_mainnet_headers_0_999.csv");
    let rows: Vec<Vec<&str>> = CSV
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    [0usize, 2, 10, 4]
        .into_iter()
        .map(|height| {
            let row = &rows[height];
            (
                height as u32,
                row[7].parse().unwrap(),
                row[1].into(),
                row[8].into(),
            )
        })
        .collect()
}

/// The page's own worker script, with each wasm build the master serves (`?wasm=simd`: the 4-lane
/// `v128` kernel; `?wasm=scalar`), finds the nonces of real Bitcoin headers at their real
/// difficulty, and reports their block hashes: a fast wrong miner would never find a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_find_real_bitcoin_nonces_with_both_builds() {
    let master = Master::start(&[]);
    let browser = Browser::open(&master, "/").await;
    // Resolves with the worker's first answer that is not a hash count (or its load error).
    let script = r#"
        const [build, header, target, start, end] = arguments[0];
        return new Promise((resolve) => {
            const worker = new Worker(`/js/miner-worker.js?wasm=${build}`, { type: 'module' });
            let loaded = null;
            worker.onerror = (event) => resolve({ type: 'error', message: String(event.message) });
            worker.onmessage = ({ data }) => {
                if (data.type === 'ready') {
                    loaded = data.build;
                    worker.postMessage({ type: 'job', jobId: 'btc', round: 1, header, target, ranges: [[start, end]] });
                } else if (data.type !== 'hashes') {
                    worker.terminate();
                    resolve({ ...data, build: loaded });
                }
            };
        });
    "#;
    for build in ["simd", "scalar"] {
        for (index, (height, nonce, hash, header)) in (0u32..).zip(bitcoin()) {
            // Difficulty 1 (bits 1d00ffff), as the job message gives targets: 64 hex digits.
            let target = format!("00000000ffff{}", "0".repeat(52));
            // A window of several of the worker's chunks, starting 0..3 nonces off a multiple of
            // four before the nonce, so it falls in each lane of a four-nonce vector in turn.
            let (start, end) = (nonce - 60_000 - index, nonce + 1_000);
            let reply = browser
                .eval(script, json!([build, header, target, start, end]))
                .await;
            assert_eq!(reply["type"], "found", "{build}, block {height}: {reply}");
            assert_eq!(reply["build"], build, "{reply}");
            assert_eq!(reply["nonce"], nonce, "{build}, block {height}");
            assert_eq!(reply["hash"], hash, "{build}, block {height}");
        }
    }
}

/// With site storage blocked (cookies off: `localStorage` throws), the page still starts: the
/// explorer lists blocks, the mining panel has its settings and the data form follows entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_with_storage_blocked() {
    let master = Master::start(&[]);
    let prefs = json!({ "profile.default_content_setting_values.cookies": 2 });
    let browser = Browser::start_with_prefs(prefs).await;
    browser
        .client
        .goto(&master.url("/"))
        .await
        .expect("open the page");
    let script = "try { window.localStorage.getItem('x'); return false; } catch { return true; }";
    assert_eq!(
        browser.eval(script, Value::Null).await,
        true,
        "storage is blocked in this profile"
    );
    browser.wait_for_genesis().await;
    let script = "return document.getElementById('miner-name').value;";
    let name = browser.eval(script, Value::Null).await;
    assert!(name.as_str().is_some_and(|name| !name.is_empty()), "{name}");

    let text = format!("stored in memory only, port {}", master.port);
    browser.type_into("#data-input", &text).await;
    browser.click("#data-submit").await;
    eventually(PATIENCE, "the entry in the page's list", || async {
        let entry = browser.data_entry(&text).await;
        (!entry.is_null()).then_some(())
    })
    .await;
}

/// The explorer's search box finds each of the five kinds and opens its view; a data entry's proof
/// is checked in the page by the wasm core ("verified"), and a tampered proof shows as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_finds_each_kind_and_checks_proofs_in_the_browser() {
    let wallets = tempfile::tempdir().unwrap();
    let wallet = wallets.path().join("w.json");
    let created = run_bbchain(&[
        "--new-wallet",
        "--wallet",
        wallet.to_str().unwrap(),
        "--chain",
        "dev",
    ]);
    let created = String::from_utf8_lossy(&created.stdout).to_string();
    let address = created
        .lines()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address in {created}"))
        .to_string();
    let master = Master::start(&[]);
    let text = format!("explorer entry on port {}", master.port);
    let (code, added) = http_post_json(&master.url("/api/data"), &json!({ "data": text }));
    assert_eq!(code, 202, "{added}");
    let id = added["id"].as_str().unwrap().to_string();
    let mut miner = spawn_bbchain(&[
        "--start-miner",
        "--nodes",
        &master.addr(),
        "--threads",
        "1",
        "--address",
        &address,
    ]);
    let entry = wait_for(PATIENCE, "the entry in a block", || {
        let (_, entry) = http_get(&master.url(&format!("/api/data/{id}")));
        (entry["status"] == "confirmed").then_some(entry)
    });
    miner.kill();
    let height = entry["height"].as_u64().unwrap();
    let block_hash = entry["block"].as_str().unwrap().to_string();
    let (_, block) = http_get(&master.url(&format!("/api/blocks/{block_hash}")));
    let txid = block["coinbase"]["txid"].as_str().unwrap().to_string();

    let browser = Browser::open(&master, "/").await;
    browser.wait_for_genesis().await;
    for (query, view) in [
        (height.to_string(), format!("#/block/{height}")),
        (block_hash.clone(), format!("#/block/{block_hash}")),
        (txid.clone(), format!("#/tx/{txid}")),
        (address.clone(), format!("#/address/{address}")),
        (id.clone(), format!("#/data/{id}")),
    ] {
        assert_eq!(browser.search(&query).await, view, "search for {query}");
    }
    assert_eq!(
        browser.search("no such thing").await,
        "#/",
        "the page stays"
    );
    let said = browser.text("#search-result").await;
    assert!(said.contains("Nothing found"), "{said}");

    // The data view (the last search): its text, and its proof checked in the browser.
    let proof = browser.proof_state(&id).await;
    assert_eq!(proof, "verified", "{}", browser.text("#proof-result").await);
    assert_eq!(browser.text("#detail-text").await, text);
    // The views of the transaction and the address.
    browser
        .eval(
            "location.hash = arguments[0];",
            json!(format!("#/tx/{txid}")),
        )
        .await;
    eventually(PATIENCE, "the transaction view", || async {
        (browser.text("#detail-status").await == "confirmed").then_some(())
    })
    .await;
    browser
        .eval(
            "location.hash = arguments[0];",
            json!(format!("#/address/{address}")),
        )
        .await;
    eventually(PATIENCE, "the address view", || async {
        browser
            .text("#detail-balance")
            .await
            .ends_with("coins")
            .then_some(())
    })
    .await;

    // At a phone's width these views fit too.
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("phone-sized window");
    let overflow = "return document.documentElement.scrollWidth - window.innerWidth;";
    for view in [
        format!("#/tx/{txid}"),
        format!("#/address/{address}"),
        format!("#/block/{height}"),
    ] {
        browser
            .eval("location.hash = arguments[0];", json!(view))
            .await;
        eventually(PATIENCE, "the view to load", || async {
            let loading = "return [...document.querySelectorAll('dialog[open] dd')].some((dd) => dd.textContent === 'Loading…');";
            (browser.eval(loading, Value::Null).await == false).then_some(())
        })
        .await;
        let extra = browser.eval(overflow, Value::Null).await;
        assert!(
            extra.as_i64().unwrap() <= 0,
            "{view} is {extra} px wider than the phone"
        );
    }
    assert_eq!(browser.proof_state(&id).await, "verified");
    let extra = browser.eval(overflow, Value::Null).await;
    assert!(
        extra.as_i64().unwrap() <= 0,
        "the data view is {extra} px wider than the phone"
    );

    // A proof altered on its way to the page fails.
    let script = "const original = window.fetch;
        window.fetch = async (url, init) => {
          const response = await original(url, init);
          if (!String(url).includes('api/data/')) return response;
          const entry = await response.json();
          if (entry.proof) entry.proof.siblings[0] = '07'.repeat(32);
          return new Response(JSON.stringify(entry), { status: response.status, headers: response.headers });
        };
        location.hash = '#/';";
    browser.eval(script, Value::Null).await;
    assert_eq!(browser.proof_state(&id).await, "failed");
}

/// A full disk shows on the page (the status bar and a banner, as text), and so does its recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_full_disk_until_the_master_recovers() {
    let master = Master::start(&[]);
    let browser = Browser::start().await;
    browser
        .client
        .goto(&master.url("/"))
        .await
        .expect("open the page");
    browser.wait_for_genesis().await;
    assert_eq!(browser.text("#stat-storage").await, "ok");
    let hidden = "return document.getElementById('storage-alert').hidden;";
    assert_eq!(browser.eval(hidden, Value::Null).await, true);

    master.fill_disk();
    let filler = "x".repeat(3000);
    let refused = (0..2000).find_map(|i| {
        let body = json!({"data": format!("filling {i} {filler}")});
        let (code, answer) = http_post_json(&master.url("/api/data"), &body);
        (code != 202).then_some((code, answer))
    });
    let (code, answer) = refused.expect("a write refused once the file may not grow");
    assert_eq!(code, 503, "{answer}");
    let alert = eventually(PATIENCE, "the page to show storage failing", || async {
        (browser.text("#stat-storage").await == "failing")
            .then_some(())
            .and(Some(browser.text("#storage-alert").await))
    })
    .await;
    assert!(alert.contains("the disk is full"), "{alert}");
    assert_eq!(browser.eval(hidden, Value::Null).await, false);

    master.free_disk();
    eventually(PATIENCE, "the page to show storage ok again", || async {
        (browser.text("#stat-storage").await == "ok").then_some(())
    })
    .await;
    assert_eq!(browser.eval(hidden, Value::Null).await, true);
}

/// Records, in `window.sentBodies`, every HTTP body and WebSocket message the page sends from now
/// on (the miner's and the event feed's sockets included).
const RECORD_TRAFFIC: &str = "
    window.sentBodies = [];
    const realFetch = window.fetch;
    window.fetch = (input, init) => {
      window.sentBodies.push(String(input) + ' ' + String(init?.body ?? ''));
      return realFetch(input, init);
    };
    const realSend = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      window.sentBodies.push(String(data));
      return realSend.call(this, data);
    };";

/// The wallet's secret key, in hex, the documented way (docs/protocol.md): the tagged hash of
/// the BIP-39 seed.
fn key_hex(phrase: &str) -> String {
    let mnemonic = bip39::Mnemonic::parse_normalized(phrase).expect("a BIP-39 phrase");
    let seed = mnemonic.to_seed_normalized("");
    let secret = bbchain_core::keys::tagged_hash(bbchain_core::wallet::WALLET_KEY_TAG, &[&seed]);
    hex::encode(secret)
}

/// Coins as `--balance` prints them on its `label` line.
fn cli_balance(master: &Master, wallet: &str, label: &str) -> String {
    let out = run_bbchain(&["--balance", "--wallet", wallet, "--nodes", &master.addr()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(|rest| rest.trim().trim_end_matches(" coins").to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_wallet_is_paid_by_the_tab_sends_to_the_cli_and_restores() {
    let master = Master::start(&[]);
    let browser = Browser::open(&master, "/").await;
    browser.wait_for_genesis().await;
    browser.eval(RECORD_TRAFFIC, Value::Null).await;

    // Create: the words show once, then the wallet opens with its address.
    browser
        .type_into("#wallet-password", "correct horse battery")
        .await;
    browser.click("#wallet-create").await;
    let phrase = eventually(PATIENCE, "the words of the new wallet", || async {
        let words = browser.text("#wallet-mnemonic").await;
        (words.split(' ').count() == 24).then_some(words)
    })
    .await;
    browser.click("#wallet-confirm").await;
    let address = eventually(PATIENCE, "the wallet's address", || async {
        let error = browser.text("#wallet-error").await;
        assert!(error.is_empty(), "the wallet says: {error}");
        let text = browser.text("#wallet-address").await;
        text.starts_with("bbd").then_some(text)
    })
    .await;
    assert_eq!(browser.text("#wallet-mnemonic").await, "", "shown once");
    let payout = browser.text("#mine-payout").await;
    assert!(
        payout.contains("pay 1 coin to your wallet; rewards mature after 5 blocks"),
        "{payout}"
    );

    // Mine into it, one worker, until a reward has matured.
    browser
        .start_mining(&format!("wallet-e2e-{}", master.port))
        .await;
    eventually(
        Duration::from_secs(240),
        "a matured reward in the page",
        || async {
            let confirmed: f64 = browser.text("#wallet-balance").await.parse().unwrap_or(0.0);
            (confirmed >= 1.0).then_some(())
        },
    )
    .await;

    // Send 0.5 coins to a CLI wallet, with a check of the address and a confirmation step.
    let dir = tempfile::tempdir().expect("temp dir");
    let cli_wallet = dir.path().join("cli.json");
    let cli_wallet = cli_wallet.to_str().unwrap();
    let out = run_bbchain(&["--new-wallet", "--wallet", cli_wallet, "--chain", "dev"]);
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    let to = out
        .lines()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address in {out}"))
        .to_string();
    let last = if to.ends_with('q') { "p" } else { "q" };
    let typo = format!("{}{last}", &to[..to.len() - 1]);
    browser.type_into("#send-to", &typo).await;
    eventually(PATIENCE, "a bad checksum named", || async {
        browser
            .text("#send-to-check")
            .await
            .contains("checksum")
            .then_some(())
    })
    .await;
    browser.type_into("#send-to", &to).await;
    eventually(PATIENCE, "the address accepted", || async {
        (browser.text("#send-to-check").await == "A valid address.").then_some(())
    })
    .await;
    browser.type_into("#send-amount", "0.5").await;
    browser.click("#send-submit").await;
    eventually(PATIENCE, "the confirmation step", || async {
        browser
            .text("#send-summary")
            .await
            .contains("fee")
            .then_some(())
    })
    .await;
    browser.click("#send-confirm").await;
    let txid = eventually(PATIENCE, "the sent transaction's link", || async {
        let txid = browser.text("#send-txid").await;
        (txid.len() == 64).then_some(txid)
    })
    .await;
    eventually(
        Duration::from_secs(240),
        "the CLI wallet's confirmed 0.5 coins",
        || async { (cli_balance(&master, cli_wallet, "confirmed:") == "0.5").then_some(()) },
    )
    .await;
    let (code, tx) = http_get(&master.url(&format!("/api/tx/{txid}")));
    assert_eq!(
        (code, tx["status"].as_str()),
        (200, Some("confirmed")),
        "{tx}"
    );
    browser.click("#mine-stop").await;

    // Stored encrypted; locked, it cannot send; a wrong password is refused, the right one unlocks.
    let stored = browser
        .eval("return JSON.stringify(localStorage);", Value::Null)
        .await;
    let stored = stored.as_str().unwrap_or_default().to_string();
    assert!(
        stored.contains("PBKDF2-SHA256") && !stored.contains(&phrase),
        "{stored}"
    );
    browser.click("#wallet-lock").await;
    let send_hidden = "return document.getElementById('wallet-send').hidden;";
    assert_eq!(browser.eval(send_hidden, Value::Null).await, true);
    browser.type_into("#wallet-unlock-password", "not it").await;
    browser.click("#wallet-unlock").await;
    eventually(PATIENCE, "a wrong password refused", || async {
        (browser.text("#wallet-error").await == "Wrong password.").then_some(())
    })
    .await;
    browser
        .type_into("#wallet-unlock-password", "correct horse battery")
        .await;
    browser.click("#wallet-unlock").await;
    eventually(PATIENCE, "the wallet unlocked", || async {
        (browser.eval(send_hidden, Value::Null).await == false).then_some(())
    })
    .await;

    // No secret left the page: neither the words nor the key in any body or message.
    let sent = browser.eval("return window.sentBodies;", Value::Null).await;
    let sent = sent.as_array().expect("recorded traffic");
    assert!(
        sent.iter()
            .any(|body| body.as_str().unwrap_or("").contains(&address)),
        "the miner's hello is recorded"
    );
    assert_no_secret_in(sent, &phrase);
    drop(browser);

    // Restore in a fresh profile: same address, same balance as the master reports.
    let restored = Browser::open(&master, "/").await;
    eventually(PATIENCE, "the wallet card set up", || async {
        (!restored.text("#send-fee").await.is_empty()).then_some(())
    })
    .await;
    restored.eval(RECORD_TRAFFIC, Value::Null).await;
    restored
        .type_into("#wallet-password", "another password")
        .await;
    restored.type_into("#wallet-restore-words", &phrase).await;
    restored.click("#wallet-restore").await;
    eventually(PATIENCE, "the restored address and balance", || async {
        let (_, info) = http_get(&master.url(&format!("/api/address/{address}")));
        let expected = info["balance"].as_u64().unwrap_or(0) as f64 / 1e8;
        let shown: f64 = restored
            .text("#wallet-balance")
            .await
            .parse()
            .unwrap_or(-1.0);
        (restored.text("#wallet-address").await == address && (shown - expected).abs() < 1e-9)
            .then_some(())
    })
    .await;
    let sent = restored
        .eval("return window.sentBodies;", Value::Null)
        .await;
    assert_no_secret_in(sent.as_array().expect("recorded traffic"), &phrase);
}

/// Fails if any recorded body holds the wallet's key, or three of its words in a row whatever
/// separates them (spaces, commas, a JSON array).
fn assert_no_secret_in(sent: &[Value], phrase: &str) {
    let key = key_hex(phrase);
    let words: Vec<&str> = phrase.split(' ').collect();
    for body in sent {
        let body = body.as_str().unwrap_or_default();
        assert!(!body.contains(&key), "the key left the page: {body}");
        let letters: String = body
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    c.to_ascii_lowercase()
                } else {
                    ' '
                }
            })
            .collect();
        let tokens: Vec<&str> = letters.split_whitespace().collect();
        for run in words.windows(3) {
            assert!(
                !tokens.windows(3).any(|t| t == run),
                "the words left the page: {body}"
            );
        }
    }
}
