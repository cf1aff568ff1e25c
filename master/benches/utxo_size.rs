//! `cargo bench -p bbchain --bench utxo_size`: what an unspent output costs a master. The UTXO set
//! lives in redb (no copy in memory), so the cost is database bytes; the process's resident memory
//! is measured too, since redb caches pages.
//!
//! A dev-chain node in a temp dir stores blocks whose coinbases pay 100,000 outputs (20,000 per block,
//! to 1,000 keys). Reported: the file's growth as the node left it and after `Database::compact`,
//! the per-table pages and stored bytes of the tables an output lives in (`utxos`, `addr_utxos`)
//! next to `blocks` (the blocks themselves, which hold the same outputs), and `VmRSS` of this
//! process (node in-process) before and after the blocks were submitted.

use bbchain::config::NodeConfig;
use bbchain::node::{Node, SubmitOutcome};
use bbchain::store::{ADDR_UTXOS, BLOCKS, HISTORY, TXS, UNDO, UTXOS};
use bbchain_core::testing::{Branch, secret_key};
use bbchain_core::tx::TxOut;
use bbchain_core::{Amount, Block, ChainParams, Coinbase, Entry};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
use std::path::Path;

const OUTPUTS: usize = 100_000;
const PER_BLOCK: usize = 20_000;
const KEYS: u32 = 1_000;
const PAGE: u64 = 4096;

fn blocks(params: &ChainParams) -> Vec<Block> {
    let keys: Vec<_> = (0..KEYS).map(|n| secret_key(n).public_key()).collect();
    let mut branch = Branch::new(params.clone());
    let start = bbchain::clock::unix_now() - 100;
    let value = Amount::from_units(params.subsidy(1).units() / PER_BLOCK as u64);
    (0..OUTPUTS / PER_BLOCK)
        .map(|b| {
            let height = branch.height() + 1;
            let outputs = (0..PER_BLOCK)
                .map(|i| TxOut {
                    value,
                    key: keys[(b * PER_BLOCK + i) % keys.len()],
                })
                .collect();
            let block = branch.next_with(start + b as u32, &[], "bench", |block| {
                block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "bench", outputs));
            });
            branch.push(&block);
            block
        })
        .collect()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).expect("db file").len()
}

/// `VmRSS` of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// (pages in bytes, stored bytes, rows) of one table.
fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
    db: &redb::Database,
    table: TableDefinition<K, V>,
) -> (u64, u64, u64) {
    let read = db.begin_read().expect("read");
    let table = read.open_table(table).expect("table");
    let stats = table.stats().expect("stats");
    let pages = (stats.leaf_pages() + stats.branch_pages()) * PAGE;
    (pages, stats.stored_bytes(), table.len().expect("len"))
}

fn main() {
    let params = ChainParams::dev();
    let blocks = blocks(&params);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chain.redb");
    let (node, task) = Node::start(NodeConfig::new(params, db.clone())).expect("node");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (size_before, rss_before) = (file_size(&db), rss());
    let encoded: usize = blocks.iter().map(Block::encoded_len).sum();
    runtime.block_on(async {
        for result in node.submit_blocks(blocks).await {
            assert!(matches!(result, Ok(SubmitOutcome::Connected { .. })));
        }
    });
    let rss_after = rss();
    drop(node);
    task.shutdown();
    let size_after = file_size(&db);
    let mut database = redb::Database::open(&db).expect("open");
    let mut tables = vec![
        ("utxos", table(&database, UTXOS)),
        ("addr_utxos", table(&database, ADDR_UTXOS)),
        ("blocks", table(&database, BLOCKS)),
        ("txs", table(&database, TXS)),
        ("history", table(&database, HISTORY)),
        ("undo", table(&database, UNDO)),
    ];
    while database.compact().expect("compact") {}
    let size_compacted = file_size(&db);
    tables.push(("utxos (compacted)", table(&database, UTXOS)));
    tables.push(("addr_utxos (compacted)", table(&database, ADDR_UTXOS)));

    let per = |bytes: u64| bytes as f64 / OUTPUTS as f64;
    let grown = size_after - size_before;
    println!(
        "{OUTPUTS} unspent outputs created by {} coinbases ({encoded} bytes of blocks)",
        OUTPUTS / PER_BLOCK
    );
    println!(
        "file: {size_before} -> {size_after} bytes as the node left it (+{grown}, {:.0} B/output); \
         {size_compacted} after compact ({:.0} B/output over the start)",
        per(grown),
        per(size_compacted.saturating_sub(size_before))
    );
    for (name, (pages, stored, rows)) in tables {
        println!(
            "table {name}: {rows} rows, {pages} bytes of pages ({:.1} B/output), {stored} stored \
             ({:.1} B/output)",
            per(pages),
            per(stored)
        );
    }
    println!(
        "VmRSS: {rss_before} -> {rss_after} bytes ({:+.1} MiB, {:.0} B/output; node in-process)",
        (rss_after as f64 - rss_before as f64) / 1048576.0,
        (rss_after as f64 - rss_before as f64) / OUTPUTS as f64
    );
}
