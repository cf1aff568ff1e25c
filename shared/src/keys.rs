//! STUB (replaced by the wallet-core branch).
#![allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PublicKey([u8; 32]);
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad key")]
pub struct KeyError;
impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, KeyError> { Ok(PublicKey(bytes)) }
    pub fn to_bytes(&self) -> [u8; 32] { self.0 }
    pub fn from_bytes_unchecked(bytes: [u8; 32]) -> PublicKey { PublicKey(bytes) }
    pub fn as_bytes(&self) -> &[u8; 32] { &self.0 }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);
impl Signature {
    pub fn from_bytes(bytes: [u8; 64]) -> Signature { Signature(bytes) }
    pub fn to_bytes(&self) -> [u8; 64] { self.0 }
    pub fn as_bytes(&self) -> &[u8; 64] { &self.0 }
}
pub struct SecretKey([u8; 32]);
impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<SecretKey, KeyError> { Ok(SecretKey(bytes)) }
    pub fn public_key(&self) -> PublicKey { PublicKey(self.0) }
    pub fn sign(&self, msg: &[u8; 32], _aux: &[u8; 32]) -> Signature { let mut s = [0; 64]; s[..32].copy_from_slice(&self.0); s[32..].copy_from_slice(msg); Signature(s) }
}
pub fn verify(key: &PublicKey, msg: &[u8; 32], sig: &Signature) -> bool { sig.0[..32] == key.0 && sig.0[32..] == *msg }
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let t = Sha256::digest(tag.as_bytes());
    let mut h = Sha256::new(); h.update(t); h.update(t);
    for p in parts { h.update(p); }
    h.finalize().into()
}
