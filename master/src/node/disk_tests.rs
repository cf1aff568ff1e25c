//! A disk that fills in the middle of a block's commit: the block is refused with a storage error,
//! the node says storage is failing and takes no writes, and once writes go through again it
//! recovers by itself from redb's last commit, with every acknowledged entry kept.

use super::{
    AddDataError, AddTxError, DataStatus, Node, StorageHealth, SubmitError, SubmitOutcome,
};
use crate::clock::unix_now;
use crate::config::NodeConfig;
use crate::store::Store;
use bbchain_core::block::data_id;
use bbchain_core::hash::Txid;
use bbchain_core::{Amount, ChainParams, OutPoint, TxOut, testing};
use redb::StorageBackend;
use redb::backends::FileBackend;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A database file whose writes fail with "No space left on device" once `writes_left` runs out.
#[derive(Debug)]
struct FillingDisk {
    file: FileBackend,
    writes_left: Arc<AtomicU64>,
}

fn disk_full() -> std::io::Error {
    std::io::Error::from_raw_os_error(28)
}

impl StorageBackend for FillingDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if len > self.file.len()? && self.writes_left.load(Ordering::SeqCst) == 0 {
            return Err(disk_full());
        }
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let left = self.writes_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(disk_full());
        }
        if left != u64::MAX {
            self.writes_left.store(left - 1, Ordering::SeqCst);
        }
        self.file.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }
}

fn start_on_filling_disk(path: PathBuf, writes_left: Arc<AtomicU64>) -> (Node, super::NodeTask) {
    let params = ChainParams::dev();
    let opened = path.clone();
    let opener = move || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&opened)?;
        redb::Database::builder().create_with_backend(FillingDisk {
            file: FileBackend::new(file)?,
            writes_left: writes_left.clone(),
        })
    };
    let store = Store::open_with(Box::new(opener), &params, "a filling disk").expect("open");
    Node::start_with_store(NodeConfig::new(params, path), store).expect("start")
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_full_mid_block_commit_rolls_back_and_the_node_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let writes_left = Arc::new(AtomicU64::new(u64::MAX));
    let (node, task) = start_on_filling_disk(dir.path().join("chain.redb"), writes_left.clone());
    let texts = ["first entry", "second entry"];
    for text in texts {
        assert_eq!(node.add_data(text.into()).await, Ok(DataStatus::Pending));
    }
    let block = testing::Branch::new(node.params().clone()).next(unix_now(), &texts, "m");
    let mut failures = 0;
    // The disk fills after 0, 1, 2, … more writes: each time at a later point of the commit,
    // until the commit needs no more writes than the disk takes.
    for allowed in 0.. {
        assert!(allowed < 200, "the block never fit");
        writes_left.store(allowed, Ordering::SeqCst);
        let outcome = node.submit_block(block.clone()).await;
        let health = node.storage();
        writes_left.store(u64::MAX, Ordering::SeqCst);
        match outcome {
            Ok(SubmitOutcome::Connected { height, .. }) => {
                assert_eq!(height, 1);
                break;
            }
            Err(SubmitError::Storage(why)) => {
                failures += 1;
                assert!(why.contains("the disk is full"), "{why}");
                assert!(matches!(health, StorageHealth::Failing(_)), "{health}");
                wait_until("storage ok again", || node.storage().is_ok()).await;
                // redb rolled back to the last commit: the block is not there, the entries wait.
                assert_eq!(node.snapshot().height, 0);
                assert_eq!(node.snapshot().pending, 2);
                for text in texts {
                    assert_eq!(
                        node.data_status(&data_id(text)).unwrap(),
                        Some(DataStatus::Pending)
                    );
                }
            }
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert!(
        failures > 2,
        "the disk filled mid-commit only {failures} times"
    );
    assert_eq!(node.snapshot().height, 1);
    for text in texts {
        let status = node.data_status(&data_id(text)).unwrap();
        assert!(matches!(
            status,
            Some(DataStatus::Confirmed { height: 1, .. })
        ));
    }
    task.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_storage_fails_writes_are_refused_at_once_until_the_disk_takes_writes_again() {
    let dir = tempfile::tempdir().unwrap();
    let writes_left = Arc::new(AtomicU64::new(u64::MAX));
    let (node, task) = start_on_filling_disk(dir.path().join("chain.redb"), writes_left.clone());
    assert_eq!(node.add_data("kept".into()).await, Ok(DataStatus::Pending));
    writes_left.store(0, Ordering::SeqCst);
    let refused = node.add_data("lost".into()).await;
    assert!(
        matches!(refused, Err(AddDataError::Storage(_))),
        "{refused:?}"
    );
    // A transaction is refused the same way (it is never looked at: nothing can be stored).
    let key = testing::secret_key(1);
    let output = TxOut {
        value: Amount::from_units(50_000),
        key: key.public_key(),
    };
    let spent = OutPoint {
        txid: Txid::from_byte_array([9; 32]),
        vout: 0,
    };
    let tx = testing::signed_tx(node.params(), &key, &[(spent, output)], vec![output]);
    let refused = node.add_tx(tx).await;
    assert!(
        matches!(refused, Err(AddTxError::Storage(_))),
        "{refused:?}"
    );
    // The writer keeps trying to reopen (with a backoff) but the disk is still full: every write is
    // answered at once with the same error, and storage stays failing.
    for attempt in 0..5 {
        let answer = node.add_data(format!("refused {attempt}")).await;
        assert!(
            matches!(answer, Err(AddDataError::Storage(_))),
            "{answer:?}"
        );
        assert!(!node.storage().is_ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writes_left.store(u64::MAX, Ordering::SeqCst);
    wait_until("storage ok again", || node.storage().is_ok()).await;
    assert_eq!(node.add_data("after".into()).await, Ok(DataStatus::Pending));
    assert_eq!(node.snapshot().pending, 2);
    assert_eq!(
        node.data_status(&data_id("kept")).unwrap(),
        Some(DataStatus::Pending)
    );
    assert_eq!(node.data_status(&data_id("lost")).unwrap(), None);
    task.shutdown();
}
