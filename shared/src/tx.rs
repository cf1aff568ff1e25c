//! Transactions: coins move from unspent outputs to new ones. Each input names the output it spends
//! and carries a BIP-340 signature by the key that output pays (an address is that key in bech32m).
//!
//! The txid is the `sha256d` of the encoding without signatures, so re-signing cannot change it; the
//! block's merkle leaf is the `sha256d` of the full encoding, so the signatures are committed too.

use crate::amount::Amount;
use crate::encode::{DecodeError, Reader, compact_size_len, write_compact_size};
use crate::hash::{BlockHash, TxMerkleNode, Txid, sha256d};
use crate::keys::{PublicKey, SecretKey, Signature, tagged_hash};
use alloc::vec::Vec;
use sha2::{Digest, Sha256};

/// Kind byte of a transaction entry in a block's canonical encoding.
pub(crate) const KIND_TX: u8 = 2;

/// Bytes of one encoded input: txid, output index, signature.
const INPUT_BYTES: usize = 32 + 4 + 64;
/// Bytes of one encoded output: value, key.
pub(crate) const OUTPUT_BYTES: usize = 8 + 32;

/// The BIP-340 tag of the signature hash (see `docs/protocol.md`).
pub const SIGHASH_TAG: &str = "bbchain/sighash";

/// Names one output of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutPoint {
    /// The transaction that created the output.
    pub txid: Txid,
    /// Its position among that transaction's outputs.
    pub vout: u32,
}

impl OutPoint {
    /// Encoded size: txid and index.
    pub const SIZE: usize = 36;

    /// `txid ‖ vout (u32 LE)`: the encoding in transactions, and a sortable database key.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(self.txid.as_byte_array());
        out[32..].copy_from_slice(&self.vout.to_le_bytes());
        out
    }

    /// Reads [`OutPoint::to_bytes`] back.
    pub fn from_bytes(bytes: &[u8; 36]) -> OutPoint {
        let mut txid = [0u8; 32];
        txid.copy_from_slice(&bytes[..32]);
        let vout = u32::from_le_bytes(bytes[32..].try_into().expect("four bytes"));
        OutPoint {
            txid: Txid::from_byte_array(txid),
            vout,
        }
    }

    fn read(reader: &mut Reader<'_>) -> Result<OutPoint, DecodeError> {
        Ok(OutPoint {
            txid: Txid::from_byte_array(reader.array()?),
            vout: reader.u32()?,
        })
    }
}

/// Coins and the key that may spend them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxOut {
    /// How many base units.
    pub value: Amount,
    /// Who may spend it: an address is this key in bech32m.
    pub key: PublicKey,
}

impl TxOut {
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.value.units().to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<TxOut, DecodeError> {
        let value = Amount::from_units(reader.u64()?);
        let key = PublicKey::from_bytes(reader.array()?).map_err(|_| DecodeError::InvalidKey)?;
        Ok(TxOut { value, key })
    }
}

/// Reads a CompactSize count of outputs, then the outputs.
pub(crate) fn read_outputs(reader: &mut Reader<'_>) -> Result<Vec<TxOut>, DecodeError> {
    let count = reader.compact_size()?;
    // Never reserve more than the remaining input could hold.
    if count > (reader.remaining() / OUTPUT_BYTES) as u64 {
        return Err(DecodeError::UnexpectedEnd);
    }
    (0..count).map(|_| TxOut::read(reader)).collect()
}

/// Appends a CompactSize count of outputs, then the outputs.
pub(crate) fn write_outputs(out: &mut Vec<u8>, outputs: &[TxOut]) {
    write_compact_size(out, outputs.len() as u64);
    for output in outputs {
        output.encode_into(out);
    }
}

/// Encoded size of [`write_outputs`].
pub(crate) fn outputs_len(outputs: &[TxOut]) -> usize {
    compact_size_len(outputs.len() as u64) + outputs.len() * OUTPUT_BYTES
}

/// One spent output and the signature that unlocks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxIn {
    /// The output spent.
    pub prev: OutPoint,
    /// BIP-340 signature of [`Transaction::sighash`] for this input.
    pub signature: Signature,
}

/// A transfer: the outputs it spends and the outputs it creates. The difference is the fee.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// Spent outputs, each signed.
    pub inputs: Vec<TxIn>,
    /// New outputs.
    pub outputs: Vec<TxOut>,
}

impl Transaction {
    /// Appends the canonical encoding: kind byte 2, the inputs (txid, vout, signature), the
    /// outputs (value, key), each list after its CompactSize count.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_parts(out, true);
    }

    fn encode_parts(&self, out: &mut Vec<u8>, signatures: bool) {
        out.push(KIND_TX);
        write_compact_size(out, self.inputs.len() as u64);
        for input in &self.inputs {
            out.extend_from_slice(&input.prev.to_bytes());
            if signatures {
                out.extend_from_slice(input.signature.as_bytes());
            }
        }
        write_outputs(out, &self.outputs);
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Length of the canonical encoding: what the transaction costs in block space.
    pub fn encoded_len(&self) -> usize {
        1 + compact_size_len(self.inputs.len() as u64)
            + self.inputs.len() * INPUT_BYTES
            + outputs_len(&self.outputs)
    }

    /// Decodes exactly one transaction (with its kind byte).
    pub fn from_bytes(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.u8()? {
            KIND_TX => {}
            other => return Err(DecodeError::UnknownEntryKind(other)),
        }
        let tx = Transaction::read_body(&mut reader)?;
        reader.finish()?;
        Ok(tx)
    }

    /// Reads a transaction after its kind byte.
    pub(crate) fn read_body(reader: &mut Reader<'_>) -> Result<Transaction, DecodeError> {
        let count = reader.compact_size()?;
        if count > (reader.remaining() / INPUT_BYTES) as u64 {
            return Err(DecodeError::UnexpectedEnd);
        }
        let inputs = (0..count)
            .map(|_| {
                Ok(TxIn {
                    prev: OutPoint::read(reader)?,
                    signature: Signature::from_bytes(reader.array()?),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let outputs = read_outputs(reader)?;
        Ok(Transaction { inputs, outputs })
    }

    /// `sha256d` of the encoding without signatures.
    pub fn txid(&self) -> Txid {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_parts(&mut out, false);
        Txid::from_byte_array(sha256d(&out))
    }

    /// The message input `index` signs: a tagged hash ([`SIGHASH_TAG`]) of the chain's genesis hash,
    /// the txid (every outpoint and output), and the value and key of every spent output, in input
    /// order, with the input's index. `spent` lists the outputs the inputs spend, in order.
    pub fn sighash(&self, genesis: &BlockHash, spent: &[TxOut], index: u32) -> [u8; 32] {
        self.sighash_with(genesis, &self.txid(), &SpentDigest::of(spent), index)
    }

    fn sighash_with(
        &self,
        genesis: &BlockHash,
        txid: &Txid,
        spent: &SpentDigest,
        index: u32,
    ) -> [u8; 32] {
        tagged_hash(
            SIGHASH_TAG,
            &[
                genesis.as_byte_array(),
                txid.as_byte_array(),
                &spent.values,
                &spent.keys,
                &index.to_le_bytes(),
            ],
        )
    }

    /// The sighash of every input, hashing the shared parts once.
    pub fn sighashes(&self, genesis: &BlockHash, spent: &[TxOut]) -> Vec<[u8; 32]> {
        let txid = self.txid();
        let digest = SpentDigest::of(spent);
        (0..self.inputs.len() as u32)
            .map(|index| self.sighash_with(genesis, &txid, &digest, index))
            .collect()
    }

    /// Signs every input with the key for its spent output. `keys[i]` signs input `i`; `aux` is
    /// fresh randomness for BIP-340 (any 32 bytes are safe; random ones guard against side channels).
    pub fn sign(
        &mut self,
        genesis: &BlockHash,
        spent: &[TxOut],
        keys: &[&SecretKey],
        aux: &[u8; 32],
    ) {
        let messages = self.sighashes(genesis, spent);
        for ((input, message), key) in self.inputs.iter_mut().zip(&messages).zip(keys) {
            input.signature = key.sign(message, aux);
        }
    }

    /// The merkle leaf: `sha256d` of the full encoding, signatures included.
    pub fn leaf_hash(&self) -> TxMerkleNode {
        TxMerkleNode::from_byte_array(sha256d(&self.to_bytes()))
    }
}

/// The spent outputs' part of every input's sighash: `sha256` of the values (u64 LE each) and
/// `sha256` of the keys (32 bytes each).
struct SpentDigest {
    values: [u8; 32],
    keys: [u8; 32],
}

impl SpentDigest {
    fn of(spent: &[TxOut]) -> SpentDigest {
        let mut values = Sha256::new();
        let mut keys = Sha256::new();
        for output in spent {
            values.update(output.value.units().to_le_bytes());
            keys.update(output.key.as_bytes());
        }
        SpentDigest {
            values: values.finalize().into(),
            keys: keys.finalize().into(),
        }
    }
}
