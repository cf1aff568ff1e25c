//! The redb database: tables, record encodings, and small read helpers.
//!
//! Only the chain writer (`node::writer`) opens write transactions; everyone else reads through
//! [`Store::read`], which never blocks the writer.

use anyhow::{Context, bail};
use bbchain_core::chain::BranchAnchor;
use bbchain_core::hash::Txid;
use bbchain_core::keys::PublicKey;
use bbchain_core::spend::Utxo;
use bbchain_core::{
    Amount, Block, BlockHash, ChainParams, CompactTarget, DataId, Header, OutPoint, Transaction,
    Work,
};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use std::path::Path;
use std::sync::RwLock;

/// Every block ever accepted, main chain or side branch: hash -> canonical encoding.
pub const BLOCKS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blocks");
/// What the chain logic needs per block: hash -> [`IndexRecord`] encoding.
pub const INDEX: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("index");
/// The main chain: height -> hash.
pub const MAIN: TableDefinition<u32, [u8; 32]> = TableDefinition::new("main");
/// Data entries in main-chain blocks: id -> block hash (32 bytes) and entry index (u32 LE).
pub const CONFIRMED: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("confirmed");
/// The data queue in arrival order: sequence number -> text.
pub const PENDING: TableDefinition<u64, &str> = TableDefinition::new("pending");
/// The data queue by id: id -> sequence number.
pub const PENDING_IDS: TableDefinition<[u8; 32], u64> = TableDefinition::new("pending_ids");
/// The main chain's unspent outputs: outpoint -> [`Utxo`] encoding.
pub const UTXOS: TableDefinition<[u8; 36], [u8; 45]> = TableDefinition::new("utxos");
/// The same outputs by owner: key (32 bytes) ‖ outpoint -> nothing, for an address's balance.
pub const ADDR_UTXOS: TableDefinition<[u8; 68], ()> = TableDefinition::new("addr_utxos");
/// Undo data of main-chain blocks: hash -> the outputs each spent (see `node::ledger`).
pub const UNDO: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("undo");
/// Transactions (coinbases too) in main-chain blocks: txid -> block hash and entry index.
pub const TXS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("txs");
/// Each address's confirmed transactions: key ‖ height (big-endian) ‖ txid -> nothing.
pub const HISTORY: TableDefinition<[u8; 68], ()> = TableDefinition::new("history");
/// The mempool in arrival order: sequence number -> transaction encoding.
pub const MEMPOOL: TableDefinition<u64, &[u8]> = TableDefinition::new("mempool");
/// Single values: see the `META_*` keys.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Hash of the main chain's tip.
pub const META_TIP: &str = "tip";
/// Genesis hash: a data dir belongs to one chain.
pub const META_GENESIS: &str = "genesis";
/// The next data queue sequence number.
pub const META_NEXT_SEQ: &str = "next_seq";

/// What the chain logic keeps about each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexRecord {
    /// The block's header.
    pub header: Header,
    /// Its height.
    pub height: u32,
    /// Work of the block and all its ancestors.
    pub chainwork: Work,
    /// Block 1 of its branch (itself at height 1, `None` for genesis).
    pub anchor: Option<BranchAnchor>,
}

impl IndexRecord {
    const SIZE: usize = Header::SIZE + 4 + 32 + 1 + 4 + 4;

    /// Fixed-size encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::SIZE);
        out.extend_from_slice(&self.header.to_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.chainwork.to_be_bytes());
        let anchor = self.anchor.unwrap_or(BranchAnchor {
            time: 0,
            bits: CompactTarget(0),
        });
        out.push(u8::from(self.anchor.is_some()));
        out.extend_from_slice(&anchor.time.to_le_bytes());
        out.extend_from_slice(&anchor.bits.0.to_le_bytes());
        out
    }

    /// The stored value: the record, then the block's [`BlockInfo`], so a summary needs one read
    /// and storing a block no extra insert.
    pub fn to_stored(&self, info: &BlockInfo) -> Vec<u8> {
        let mut out = self.to_bytes();
        out.extend_from_slice(&info.to_bytes());
        out
    }

    /// Decodes [`IndexRecord::to_bytes`], or the record part of [`IndexRecord::to_stored`].
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<IndexRecord> {
        if bytes.len() < Self::SIZE {
            bail!("index record is {} bytes", bytes.len());
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let header = Header::from_bytes(&bytes[..80])?;
        let chainwork = Work::from_be_bytes(bytes[84..116].try_into().expect("32 bytes"));
        let anchor = (bytes[116] == 1).then(|| BranchAnchor {
            time: u32_at(117),
            bits: CompactTarget(u32_at(121)),
        });
        Ok(IndexRecord {
            header,
            height: u32_at(80),
            chainwork,
            anchor,
        })
    }

    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        self.header.block_hash()
    }
}

/// Where a confirmed data entry sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLocation {
    /// The main-chain block holding it.
    pub block: BlockHash,
    /// Its position among the block's entries (the coinbase is 0).
    pub index: u32,
}

impl EntryLocation {
    /// 36-byte encoding.
    pub fn to_bytes(self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(&self.block.to_byte_array());
        out[32..].copy_from_slice(&self.index.to_le_bytes());
        out
    }

    /// Decodes [`EntryLocation::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<EntryLocation> {
        if bytes.len() != 36 {
            bail!("entry location is {} bytes", bytes.len());
        }
        Ok(EntryLocation {
            block: BlockHash::from_byte_array(bytes[..32].try_into().expect("32 bytes")),
            index: u32::from_le_bytes(bytes[32..].try_into().expect("4 bytes")),
        })
    }
}

/// What a block summary needs of a block besides its header: kept beside the index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Entries after the coinbase: transactions and data.
    pub entries: u32,
    /// Transactions after the coinbase.
    pub txs: u32,
    /// What the coinbase pays.
    pub reward: Amount,
    /// The coinbase's miner name.
    pub miner: String,
}

impl BlockInfo {
    /// The info of `block`.
    pub fn of(block: &Block) -> BlockInfo {
        let coinbase = block.coinbase();
        let reward = coinbase.map(|c| c.outputs.iter().map(|o| o.value.units()).sum::<u64>());
        BlockInfo {
            entries: u32::try_from(block.entries.len().saturating_sub(1)).unwrap_or(u32::MAX),
            txs: u32::try_from(block.txs().count()).unwrap_or(u32::MAX),
            reward: Amount::from_units(reward.unwrap_or(0)),
            miner: coinbase.map(|c| c.miner.clone()).unwrap_or_default(),
        }
    }

    /// The entry count and transaction count (4 bytes each, little-endian), the reward (8 bytes),
    /// then the miner name.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.entries.to_le_bytes().to_vec();
        out.extend_from_slice(&self.txs.to_le_bytes());
        out.extend_from_slice(&self.reward.units().to_le_bytes());
        out.extend_from_slice(self.miner.as_bytes());
        out
    }

    /// Decodes [`BlockInfo::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<BlockInfo> {
        let (fixed, miner) = bytes.split_at_checked(16).context("block info too short")?;
        let u32_at = |at: usize| u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
        Ok(BlockInfo {
            entries: u32_at(0),
            txs: u32_at(4),
            reward: Amount::from_units(u64::from_le_bytes(fixed[8..].try_into().expect("8"))),
            miner: String::from_utf8(miner.to_vec()).context("block info miner")?,
        })
    }
}

/// Opens the database file again (after a storage error, see [`Store::reopen`]).
type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;

/// The shared database handle. After an I/O error redb refuses every later transaction until the
/// database is closed and opened again, so the handle can be swapped: [`Store::reopen`].
pub struct Store {
    /// `None` only while [`Store::reopen`] swaps it, or after a reopen that failed.
    db: RwLock<Option<Database>>,
    opener: Opener,
    max_block_bytes: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The database is closed while the node reopens it after a storage error: answer `503`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database is being reopened after a storage error")]
pub struct StorageUnavailable;

/// Whether `err` says the disk is full or a file may grow no more (`ENOSPC`, `EDQUOT`, `EFBIG`).
pub fn is_disk_full(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause
                .downcast_ref::<redb::StorageError>()
                .and_then(|e| match e {
                    redb::StorageError::Io(io) => Some(io),
                    _ => None,
                })
        });
        io.is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::QuotaExceeded
                    | std::io::ErrorKind::FileTooLarge
            )
        }) || cause.to_string().contains("No space left on device")
            || cause.to_string().contains("File too large")
    })
}

/// Whether `err` comes from a database that is closed or refuses work after an I/O error, which
/// the writer is reopening: worth a `503`, not a `500`.
pub fn is_storage_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<StorageUnavailable>()
            || matches!(
                cause.downcast_ref::<redb::StorageError>(),
                Some(redb::StorageError::PreviousIo | redb::StorageError::DatabaseClosed)
            )
            || matches!(
                cause.downcast_ref::<redb::TransactionError>(),
                Some(redb::TransactionError::Storage(
                    redb::StorageError::PreviousIo | redb::StorageError::DatabaseClosed
                ))
            )
            || matches!(
                cause.downcast_ref::<redb::TableError>(),
                Some(redb::TableError::Storage(
                    redb::StorageError::PreviousIo | redb::StorageError::DatabaseClosed
                ))
            )
    })
}

/// Stops the kernel from killing the process with `SIGXFSZ` when a file would grow past the
/// file-size limit (`ulimit -f`): the write fails with `EFBIG` instead, which the writer treats as
/// a full disk and recovers from once the limit is raised.
pub fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" installs no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (a running master) holds the database.
    #[error("the database {0} is in use by a running master")]
    InUse(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Store {
    /// Opens (or creates) the database at `path` for `params`' chain, storing genesis if new.
    pub fn open(path: &Path, params: &ChainParams) -> Result<Store, OpenError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let owned = path.to_path_buf();
        let opener = Box::new(move || Database::create(&owned));
        Store::open_with(opener, params, &path.display().to_string())
    }

    /// Opens the database `opener` opens (and will open again on [`Store::reopen`]): a file, or in
    /// tests a storage backend that fails on demand. `name` says which in errors.
    pub fn open_with(opener: Opener, params: &ChainParams, name: &str) -> Result<Store, OpenError> {
        let db = match opener() {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpenError::InUse(name.to_string()));
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("cannot open {name}"))
                    .into());
            }
        };
        let store = Store {
            db: RwLock::new(Some(db)),
            opener,
            max_block_bytes: params.max_block_bytes,
        };
        store.init(params)?;
        Ok(store)
    }

    /// Closes the database and opens it again: redb then recovers the file to its last committed
    /// transaction. Readers get [`StorageUnavailable`] meanwhile, and also if opening fails (the
    /// caller tries again later).
    pub fn reopen(&self) -> anyhow::Result<()> {
        let old = self.db.write().expect("lock").take();
        if let Some(old) = old
            && let Err(err) = old.close()
        {
            // Expected after an I/O error: the next open recovers the file.
            tracing::debug!("closing the failed database: {err}");
        }
        let db = (self.opener)().context("cannot reopen the database")?;
        *self.db.write().expect("lock") = Some(db);
        Ok(())
    }

    /// Commits `bytes` bytes and then removes them again (two commits): proof that the disk takes
    /// a write of that size, before the node says its storage is back.
    pub fn probe(&self, bytes: usize) -> anyhow::Result<()> {
        const PROBE_KEY: &str = "storage_probe";
        let filler = vec![0u8; bytes];
        let txn = self.begin_write()?;
        txn.open_table(META)?.insert(PROBE_KEY, filler.as_slice())?;
        txn.commit()?;
        let txn = self.begin_write()?;
        txn.open_table(META)?.remove(PROBE_KEY)?;
        txn.commit()?;
        Ok(())
    }

    fn init(&self, params: &ChainParams) -> anyhow::Result<()> {
        let genesis = params.genesis_block();
        let hash = genesis.hash();
        let txn = self.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let known = meta.get(META_GENESIS)?.map(|v| v.value().to_vec());
            match known {
                Some(known) if known == hash.to_byte_array() => {}
                Some(_) => bail!(
                    "this data dir belongs to another chain than '{}': another --chain, or a \
                     chain from an older bbchain (start over with --clean, or see --data-dir)",
                    params.name
                ),
                None => {
                    meta.insert(META_GENESIS, hash.as_byte_array().as_slice())?;
                    meta.insert(META_TIP, hash.as_byte_array().as_slice())?;
                    let record = IndexRecord {
                        header: genesis.header,
                        height: 0,
                        chainwork: genesis.header.target()?.to_work(),
                        anchor: None,
                    };
                    txn.open_table(BLOCKS)?
                        .insert(hash.to_byte_array(), genesis.to_bytes().as_slice())?;
                    let stored = record.to_stored(&BlockInfo::of(&genesis));
                    txn.open_table(INDEX)?
                        .insert(hash.to_byte_array(), stored.as_slice())?;
                    txn.open_table(MAIN)?.insert(0, hash.to_byte_array())?;
                }
            }
            // Create every table so readers never meet a missing one.
            txn.open_table(CONFIRMED)?;
            txn.open_table(PENDING)?;
            txn.open_table(PENDING_IDS)?;
            txn.open_table(UTXOS)?;
            txn.open_table(ADDR_UTXOS)?;
            txn.open_table(UNDO)?;
            txn.open_table(TXS)?;
            txn.open_table(HISTORY)?;
            txn.open_table(MEMPOOL)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// A write transaction, for the writer.
    pub fn begin_write(&self) -> anyhow::Result<WriteTransaction> {
        let db = self.db.read().expect("lock");
        Ok(db.as_ref().ok_or(StorageUnavailable)?.begin_write()?)
    }

    /// A consistent read view.
    pub fn read(&self) -> anyhow::Result<StoreReader> {
        let db = self.db.read().expect("lock");
        Ok(StoreReader {
            txn: db.as_ref().ok_or(StorageUnavailable)?.begin_read()?,
            max_block_bytes: self.max_block_bytes,
        })
    }
}

/// One read transaction with typed helpers.
pub struct StoreReader {
    txn: ReadTransaction,
    max_block_bytes: usize,
}

impl StoreReader {
    /// The main-chain hash at `height`.
    pub fn main_hash(&self, height: u32) -> anyhow::Result<Option<BlockHash>> {
        let table = self.txn.open_table(MAIN)?;
        Ok(table
            .get(height)?
            .map(|v| BlockHash::from_byte_array(v.value())))
    }

    /// A stored block.
    pub fn block(&self, hash: &BlockHash) -> anyhow::Result<Option<Block>> {
        let table = self.txn.open_table(BLOCKS)?;
        match table.get(hash.to_byte_array())? {
            Some(bytes) => Ok(Some(Block::from_bytes(
                bytes.value(),
                self.max_block_bytes,
            )?)),
            None => Ok(None),
        }
    }

    /// A stored block's index record.
    pub fn record(&self, hash: &BlockHash) -> anyhow::Result<Option<IndexRecord>> {
        let table = self.txn.open_table(INDEX)?;
        match table.get(hash.to_byte_array())? {
            Some(bytes) => Ok(Some(IndexRecord::from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// A stored block's index record and what its summary needs, in one read. Blocks stored
    /// before the info was kept beside the record get it from the block itself.
    pub fn record_and_info(
        &self,
        hash: &BlockHash,
    ) -> anyhow::Result<Option<(IndexRecord, BlockInfo)>> {
        let table = self.txn.open_table(INDEX)?;
        let Some(bytes) = table.get(hash.to_byte_array())? else {
            return Ok(None);
        };
        let bytes = bytes.value();
        let record = IndexRecord::from_bytes(bytes)?;
        let info = match bytes
            .get(IndexRecord::SIZE..)
            .filter(|rest| !rest.is_empty())
        {
            Some(rest) => BlockInfo::from_bytes(rest)?,
            None => match self.block(hash)? {
                Some(block) => BlockInfo::of(&block),
                None => bail!("block {hash} is indexed but not stored"),
            },
        };
        Ok(Some((record, info)))
    }

    /// Where a confirmed data entry is.
    pub fn confirmed(&self, id: &DataId) -> anyhow::Result<Option<EntryLocation>> {
        let table = self.txn.open_table(CONFIRMED)?;
        match table.get(id.to_byte_array())? {
            Some(bytes) => Ok(Some(EntryLocation::from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Whether a data entry is waiting in the queue.
    pub fn is_pending(&self, id: &DataId) -> anyhow::Result<bool> {
        Ok(self
            .txn
            .open_table(PENDING_IDS)?
            .get(id.to_byte_array())?
            .is_some())
    }

    /// The text of a queued data entry.
    pub fn pending_text(&self, id: &DataId) -> anyhow::Result<Option<String>> {
        let Some(seq) = self
            .txn
            .open_table(PENDING_IDS)?
            .get(id.to_byte_array())?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        let table = self.txn.open_table(PENDING)?;
        Ok(table.get(seq)?.map(|v| v.value().to_string()))
    }

    /// Every index record (for the writer's start-up).
    pub fn all_records(&self) -> anyhow::Result<Vec<IndexRecord>> {
        let table = self.txn.open_table(INDEX)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            out.push(IndexRecord::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    /// The data queue, oldest first, as position, id and text length (for the writer's start-up):
    /// the texts stay on disk.
    pub fn all_pending(&self) -> anyhow::Result<Vec<(u64, DataId, usize)>> {
        let table = self.txn.open_table(PENDING)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let row = row?;
            let text = row.1.value();
            out.push((
                row.0.value(),
                bbchain_core::block::data_id(text),
                text.len(),
            ));
        }
        Ok(out)
    }

    /// The texts of the oldest queued entries, in order, for as long as `take` accepts the next.
    pub fn oldest_pending_while(
        &self,
        mut take: impl FnMut(&str) -> bool,
    ) -> anyhow::Result<Vec<String>> {
        let table = self.txn.open_table(PENDING)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let row = row?;
            if !take(row.1.value()) {
                break;
            }
            out.push(row.1.value().to_string());
        }
        Ok(out)
    }

    /// A main-chain unspent output.
    pub fn utxo(&self, outpoint: &OutPoint) -> anyhow::Result<Option<Utxo>> {
        let table = self.txn.open_table(UTXOS)?;
        Ok(table
            .get(outpoint.to_bytes())?
            .map(|v| Utxo::from_bytes(&v.value())))
    }

    /// The unspent outputs `key` owns, by outpoint.
    pub fn utxos_of(&self, key: &PublicKey) -> anyhow::Result<Vec<(OutPoint, Utxo)>> {
        let by_owner = self.txn.open_table(ADDR_UTXOS)?;
        let utxos = self.txn.open_table(UTXOS)?;
        let mut out = Vec::new();
        for row in by_owner.range(owner_range(key))? {
            let row = row?.0.value();
            let outpoint = OutPoint::from_bytes(row[32..].try_into().expect("36 bytes"));
            let utxo = utxos
                .get(outpoint.to_bytes())?
                .context("address index names a spent output")?;
            out.push((outpoint, Utxo::from_bytes(&utxo.value())));
        }
        Ok(out)
    }

    /// The `limit` latest confirmed transactions of `key`, newest first, with their heights.
    pub fn history_of(&self, key: &PublicKey, limit: usize) -> anyhow::Result<Vec<(u32, Txid)>> {
        let table = self.txn.open_table(HISTORY)?;
        let mut out = Vec::new();
        for row in table.range(owner_range(key))?.rev().take(limit) {
            let row = row?.0.value();
            let height = u32::from_be_bytes(row[32..36].try_into().expect("4 bytes"));
            let txid = Txid::from_byte_array(row[36..].try_into().expect("32 bytes"));
            out.push((height, txid));
        }
        Ok(out)
    }

    /// Where a main-chain transaction is.
    pub fn tx_location(&self, txid: &Txid) -> anyhow::Result<Option<EntryLocation>> {
        let table = self.txn.open_table(TXS)?;
        match table.get(*txid.as_byte_array())? {
            Some(bytes) => Ok(Some(EntryLocation::from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// A main-chain block's undo data (empty for a block that is not on the main chain).
    pub fn undo(&self, hash: &BlockHash) -> anyhow::Result<Option<crate::node::ledger::Undo>> {
        let table = self.txn.open_table(UNDO)?;
        match table.get(hash.to_byte_array())? {
            Some(bytes) => Ok(Some(crate::node::ledger::undo_from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// The `limit` oldest pending transactions.
    pub fn oldest_mempool(&self, limit: usize) -> anyhow::Result<Vec<Transaction>> {
        let table = self.txn.open_table(MEMPOOL)?;
        let mut out = Vec::new();
        for row in table.iter()?.take(limit) {
            out.push(Transaction::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    /// The stored mempool, oldest first.
    pub fn mempool(&self) -> anyhow::Result<Vec<(u64, Transaction)>> {
        let table = self.txn.open_table(MEMPOOL)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let row = row?;
            out.push((row.0.value(), Transaction::from_bytes(row.1.value())?));
        }
        Ok(out)
    }

    /// The sum of every unspent output, in units (read once at start-up).
    pub fn supply(&self) -> anyhow::Result<u64> {
        let table = self.txn.open_table(UTXOS)?;
        let mut total = 0u64;
        for row in table.iter()? {
            total += Utxo::from_bytes(&row?.1.value()).output.value.units();
        }
        Ok(total)
    }

    /// A single value.
    pub fn meta(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let table = self.txn.open_table(META)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// The main chain's tip hash.
    pub fn tip(&self) -> anyhow::Result<BlockHash> {
        let bytes = self.meta(META_TIP)?.context("no tip stored")?;
        Ok(BlockHash::from_byte_array(
            bytes.as_slice().try_into().context("bad tip")?,
        ))
    }
}

/// Every key of a table keyed by owner (32 bytes) and then more, for one owner.
fn owner_range(key: &PublicKey) -> std::ops::RangeInclusive<[u8; 68]> {
    let mut low = [0u8; 68];
    low[..32].copy_from_slice(key.as_bytes());
    let mut high = [0xffu8; 68];
    high[..32].copy_from_slice(key.as_bytes());
    low..=high
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_info_is_read_with_the_record_and_from_the_block_for_older_databases() {
        let dir = tempfile::tempdir().unwrap();
        let params = ChainParams::dev();
        let store = Store::open(&dir.path().join("chain.redb"), &params).unwrap();
        let genesis = params.genesis_block();
        let expected = BlockInfo {
            entries: 0,
            txs: 0,
            reward: Amount::ZERO,
            miner: params.genesis_message.to_string(),
        };
        let read = |store: &Store| {
            let reader = store.read().unwrap();
            reader.record_and_info(&genesis.hash()).unwrap().unwrap()
        };
        let (record, info) = read(&store);
        assert_eq!((record.height, info.clone()), (0, expected.clone()));
        assert_eq!(
            store.read().unwrap().record(&genesis.hash()).unwrap(),
            Some(record)
        );
        // A database written before the info was kept has the bare record: the block answers.
        let txn = store.begin_write().unwrap();
        let bare = record.to_bytes();
        txn.open_table(INDEX)
            .unwrap()
            .insert(genesis.hash().to_byte_array(), bare.as_slice())
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(read(&store), (record, expected.clone()));
        assert_eq!(
            BlockInfo::from_bytes(&expected.to_bytes()).unwrap(),
            expected
        );
        assert!(BlockInfo::from_bytes(&[1, 0]).is_err());
        let none = store
            .read()
            .unwrap()
            .record_and_info(&BlockHash::ZERO)
            .unwrap();
        assert_eq!(none, None);
    }
}
