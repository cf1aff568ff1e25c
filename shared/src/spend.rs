//! Spending rules: every transaction is checked against the unspent outputs of its own branch.
//!
//! [`check_tx`] needs nothing but the transaction; [`check_inputs`] needs the unspent outputs it
//! spends; [`connect_block`] runs both over a whole block and says what the block spends and creates,
//! which is exactly what a node writes (and keeps as undo data) when the block joins its chain.

use crate::amount::Amount;
use crate::block::{Block, Entry};
use crate::hash::BlockHash;
use crate::keys::{PublicKey, Signature, verify};
use crate::params::ChainParams;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::validation::BlockError;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// An unspent output and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Utxo {
    /// The value and the key that may spend it.
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether a coinbase created it (then it must mature first).
    pub coinbase: bool,
}

impl Utxo {
    /// Encoded size: value, key, height, and a flag byte.
    pub const SIZE: usize = 8 + 32 + 4 + 1;

    /// `value (u64 LE) ‖ key ‖ height (u32 LE) ‖ coinbase (0 or 1)`: how a node stores it.
    pub fn to_bytes(&self) -> [u8; Utxo::SIZE] {
        let mut out = [0u8; Utxo::SIZE];
        out[..8].copy_from_slice(&self.output.value.units().to_le_bytes());
        out[8..40].copy_from_slice(self.output.key.as_bytes());
        out[40..44].copy_from_slice(&self.height.to_le_bytes());
        out[44] = u8::from(self.coinbase);
        out
    }

    /// Reads [`Utxo::to_bytes`] back.
    pub fn from_bytes(bytes: &[u8; Utxo::SIZE]) -> Utxo {
        let value = u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"));
        let key: [u8; 32] = bytes[8..40].try_into().expect("32 bytes");
        Utxo {
            output: TxOut {
                value: Amount::from_units(value),
                key: crate::keys::PublicKey::from_bytes_unchecked(key),
            },
            height: u32::from_le_bytes(bytes[40..44].try_into().expect("four bytes")),
            coinbase: bytes[44] != 0,
        }
    }

    /// How many more blocks it waits before a block at `height` may spend it (0: spendable).
    pub fn blocks_to_maturity(&self, height: u32, params: &ChainParams) -> u32 {
        if !self.coinbase {
            return 0;
        }
        let age = height.saturating_sub(self.height);
        params.coinbase_maturity.saturating_sub(age)
    }
}

/// The unspent outputs a transaction is checked against.
pub trait UtxoView {
    /// The output at `outpoint` if it exists and is unspent.
    fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo>;
}

impl UtxoView for BTreeMap<OutPoint, Utxo> {
    fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo> {
        self.get(outpoint).copied()
    }
}

/// What is wrong with a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// It spends nothing.
    #[error("the transaction has no inputs")]
    NoInputs,
    /// It creates nothing.
    #[error("the transaction has no outputs")]
    NoOutputs,
    /// Two inputs spend the same output.
    #[error("input {0} spends the same output as an earlier input")]
    DuplicateInput(u32),
    /// The outputs add up to more coins than can exist.
    #[error("the outputs add up to more than the maximum amount of money")]
    ValueOverflow,
    /// An input spends an output that does not exist or is already spent.
    #[error("input {index} spends {txid}:{vout}, which is missing or already spent", txid = outpoint.txid, vout = outpoint.vout)]
    MissingInput {
        /// The input.
        index: u32,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// An earlier transaction of the same block spends the same output.
    #[error("input {index} spends {txid}:{vout}, which an earlier transaction already spends", txid = outpoint.txid, vout = outpoint.vout)]
    DoubleSpend {
        /// The input.
        index: u32,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// An input spends a coinbase output that has not matured yet.
    #[error("input {index} spends a block reward that matures in {blocks_left} more blocks")]
    ImmatureCoinbase {
        /// The input.
        index: u32,
        /// Blocks to wait.
        blocks_left: u32,
    },
    /// An input's signature does not verify with the spent output's key.
    #[error("input {0} has a bad signature")]
    BadSignature(u32),
    /// The outputs are worth more than the inputs.
    #[error("the outputs ({outputs} units) are worth more than the inputs ({inputs} units)", inputs = inputs.units(), outputs = outputs.units())]
    InputsBelowOutputs {
        /// What the inputs hold.
        inputs: Amount,
        /// What the outputs pay.
        outputs: Amount,
    },
}

/// The checks that need nothing but the transaction.
pub fn check_tx(tx: &Transaction) -> Result<Amount, TxError> {
    if tx.inputs.is_empty() {
        return Err(TxError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(TxError::NoOutputs);
    }
    let mut seen = BTreeSet::new();
    for (index, input) in tx.inputs.iter().enumerate() {
        if !seen.insert(input.prev) {
            return Err(TxError::DuplicateInput(index as u32));
        }
    }
    Amount::checked_sum(tx.outputs.iter().map(|output| output.value)).ok_or(TxError::ValueOverflow)
}

/// What a valid transaction spends: the fee it pays and the outputs its inputs consume, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    /// Inputs minus outputs.
    pub fee: Amount,
    /// The spent outputs, one per input.
    pub utxos: Vec<Utxo>,
}

/// One signature to check: input `input` of the transaction that is entry `entry` of its block (0
/// for a transaction on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigCheck {
    /// The transaction's position among the block's entries.
    pub entry: usize,
    /// The input's position in the transaction.
    pub input: u32,
    /// The key of the output it spends.
    pub key: PublicKey,
    /// The input's sighash.
    pub msg: [u8; 32],
    /// The input's signature.
    pub sig: Signature,
}

impl SigCheck {
    /// Whether the signature verifies (BIP-340).
    pub fn verify(&self) -> bool {
        verify(&self.key, &self.msg, &self.sig)
    }
}

/// How a batch of signatures is checked: one after another here ([`VerifyEach`]); a node may check
/// them on several cores and skip those it already checked when the transaction reached its mempool.
pub trait SigVerifier {
    /// `Ok` if every check verifies, else the position in `checks` of the first that does not.
    fn verify_all(&mut self, checks: &[SigCheck]) -> Result<(), usize>;
}

/// Checks signatures one by one, on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyEach;

impl SigVerifier for VerifyEach {
    fn verify_all(&mut self, checks: &[SigCheck]) -> Result<(), usize> {
        match checks.iter().position(|check| !check.verify()) {
            Some(bad) => Err(bad),
            None => Ok(()),
        }
    }
}

/// Checks `tx` for a block at `height` against `view`: every input exists unspent and mature, every
/// signature verifies, and the inputs cover the outputs. `genesis` is the chain's genesis hash, which
/// every signature commits to.
pub fn check_inputs(
    tx: &Transaction,
    view: &impl UtxoView,
    height: u32,
    params: &ChainParams,
    genesis: &BlockHash,
) -> Result<Spent, TxError> {
    let mut checks = Vec::with_capacity(tx.inputs.len());
    let spent = check_inputs_unsigned(tx, view, height, params, genesis, 0, &mut checks)?;
    match VerifyEach.verify_all(&checks) {
        Ok(()) => Ok(spent),
        Err(bad) => Err(TxError::BadSignature(checks[bad].input)),
    }
}

/// [`check_inputs`] but the signatures: those are added to `checks` (as entry `entry`) for the
/// caller to verify, so that a whole block's signatures can be checked at once.
pub fn check_inputs_unsigned(
    tx: &Transaction,
    view: &impl UtxoView,
    height: u32,
    params: &ChainParams,
    genesis: &BlockHash,
    entry: usize,
    checks: &mut Vec<SigCheck>,
) -> Result<Spent, TxError> {
    let outputs = check_tx(tx)?;
    let mut utxos = Vec::with_capacity(tx.inputs.len());
    for (index, input) in tx.inputs.iter().enumerate() {
        let index = index as u32;
        let utxo = view.utxo(&input.prev).ok_or(TxError::MissingInput {
            index,
            outpoint: input.prev,
        })?;
        let blocks_left = utxo.blocks_to_maturity(height, params);
        if blocks_left > 0 {
            return Err(TxError::ImmatureCoinbase { index, blocks_left });
        }
        utxos.push(utxo);
    }
    let inputs = Amount::checked_sum(utxos.iter().map(|utxo| utxo.output.value))
        .ok_or(TxError::ValueOverflow)?;
    let fee = inputs
        .checked_sub(outputs)
        .ok_or(TxError::InputsBelowOutputs { inputs, outputs })?;
    let spent: Vec<TxOut> = utxos.iter().map(|utxo| utxo.output).collect();
    let messages = tx.sighashes(genesis, &spent);
    for (index, (input, msg)) in tx.inputs.iter().zip(messages).enumerate() {
        checks.push(SigCheck {
            entry,
            input: index as u32,
            key: spent[index].key,
            msg,
            sig: input.signature,
        });
    }
    Ok(Spent { fee, utxos })
}

/// What a block does to the unspent outputs: the outputs it spends (with their data, the undo data
/// that brings them back if the block leaves the chain) and the outputs it creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockSpends {
    /// Outputs that existed before the block and are spent by it.
    pub spent: Vec<(OutPoint, Utxo)>,
    /// Outputs the block creates that are still unspent after it.
    pub created: Vec<(OutPoint, Utxo)>,
    /// The fees of its transactions.
    pub fees: Amount,
}

/// The unspent outputs as they are part way through a block: `base`, minus what the block spent so
/// far, plus what it created.
struct BlockView<'a, V> {
    base: &'a V,
    created: BTreeMap<OutPoint, Utxo>,
    /// Outputs from before the block that it spent, with their data.
    spent: BTreeMap<OutPoint, Utxo>,
    /// Every output the block spent so far, its own included.
    spent_here: BTreeSet<OutPoint>,
}

impl<V: UtxoView> UtxoView for BlockView<'_, V> {
    fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo> {
        if let Some(utxo) = self.created.get(outpoint) {
            return Some(*utxo);
        }
        if self.spent.contains_key(outpoint) {
            return None;
        }
        self.base.utxo(outpoint)
    }
}

/// Checks every transaction of `block` (at `height`, on the branch whose unspent outputs are `view`)
/// and the coinbase's claim, and returns what the block spends and creates.
pub fn connect_block(
    block: &Block,
    view: &impl UtxoView,
    height: u32,
    params: &ChainParams,
    genesis: &BlockHash,
) -> Result<BlockSpends, BlockError> {
    connect_block_with(block, view, height, params, genesis, &mut VerifyEach)
}

/// [`connect_block`] with the block's signatures checked, all at once after every other rule, by
/// `verifier`.
pub fn connect_block_with(
    block: &Block,
    view: &impl UtxoView,
    height: u32,
    params: &ChainParams,
    genesis: &BlockHash,
    verifier: &mut impl SigVerifier,
) -> Result<BlockSpends, BlockError> {
    let mut checks = Vec::new();
    let coinbase = block.coinbase().ok_or(BlockError::NoCoinbase)?;
    let mut state = BlockView {
        base: view,
        created: BTreeMap::new(),
        spent: BTreeMap::new(),
        spent_here: BTreeSet::new(),
    };
    let mut fees = Amount::ZERO;
    for (entry_index, entry) in block.entries.iter().enumerate() {
        let Entry::Tx(tx) = entry else { continue };
        let tx_error = |error| BlockError::Tx {
            index: entry_index,
            error,
        };
        for (index, input) in tx.inputs.iter().enumerate() {
            if state.spent_here.contains(&input.prev) {
                let index = index as u32;
                let outpoint = input.prev;
                return Err(tx_error(TxError::DoubleSpend { index, outpoint }));
            }
        }
        let spent = check_inputs_unsigned(
            tx,
            &state,
            height,
            params,
            genesis,
            entry_index,
            &mut checks,
        )
        .map_err(tx_error)?;
        fees = fees
            .checked_add(spent.fee)
            .ok_or(tx_error(TxError::ValueOverflow))?;
        for (input, utxo) in tx.inputs.iter().zip(spent.utxos) {
            state.spent_here.insert(input.prev);
            if state.created.remove(&input.prev).is_none() {
                state.spent.insert(input.prev, utxo);
            }
        }
        add_outputs(&mut state.created, tx.txid(), &tx.outputs, height, false);
    }
    let max = params
        .subsidy(height)
        .checked_add(fees)
        .ok_or(BlockError::CoinbaseOverflow)?;
    let claimed = Amount::checked_sum(coinbase.outputs.iter().map(|output| output.value))
        .ok_or(BlockError::CoinbaseOverflow)?;
    if claimed > max {
        return Err(BlockError::CoinbaseTooLarge { claimed, max });
    }
    if let Err(bad) = verifier.verify_all(&checks) {
        let check = checks[bad];
        return Err(BlockError::Tx {
            index: check.entry,
            error: TxError::BadSignature(check.input),
        });
    }
    add_outputs(
        &mut state.created,
        coinbase.txid(),
        &coinbase.outputs,
        height,
        true,
    );
    Ok(BlockSpends {
        spent: state.spent.into_iter().collect(),
        created: state.created.into_iter().collect(),
        fees,
    })
}

fn add_outputs(
    created: &mut BTreeMap<OutPoint, Utxo>,
    txid: crate::hash::Txid,
    outputs: &[TxOut],
    height: u32,
    coinbase: bool,
) {
    created.extend(unspent_outputs(txid, outputs, height, coinbase));
}

/// The outputs of transaction `txid`, created in a block at `height`, as unspent outputs.
pub fn unspent_outputs(
    txid: crate::hash::Txid,
    outputs: &[TxOut],
    height: u32,
    coinbase: bool,
) -> impl Iterator<Item = (OutPoint, Utxo)> + '_ {
    outputs.iter().enumerate().map(move |(vout, output)| {
        let outpoint = OutPoint {
            txid,
            vout: vout as u32,
        };
        let utxo = Utxo {
            output: *output,
            height,
            coinbase,
        };
        (outpoint, utxo)
    })
}
