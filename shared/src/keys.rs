//! Keys and signatures: secp256k1 with BIP-340 Schnorr signatures, through RustCrypto's `k256`.
//!
//! Public keys are 32-byte x-only keys and signatures are 64 bytes, exactly as in BIP-340 (and
//! Bitcoin's taproot), so any BIP-340 implementation can check bbchain's signatures. The code is
//! pure Rust and `no_std`, so the browser page signs with the same code as the node.

use core::fmt;
use core::str::FromStr;
use k256::schnorr::{self, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Why bytes are not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The 32 bytes are not the x coordinate of a point on secp256k1.
    #[error("not a public key: the bytes are not the x coordinate of a secp256k1 point")]
    InvalidPublicKey,
    /// A secret key must be a number from 1 to the curve order minus 1.
    #[error("not a secret key: zero, or not below the secp256k1 curve order")]
    InvalidSecretKey,
    /// Text that should be 64 hex digits is not.
    #[error("a public key is 64 hex digits")]
    BadHex,
}

/// A BIP-340 x-only public key: the x coordinate of a secp256k1 point whose y is even.
///
/// Always a valid key: [`PublicKey::from_bytes`] refuses anything else. `Display`, `FromStr` and
/// serde use lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key with these x-coordinate bytes, if they are one.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(PublicKey(bytes))
    }

    /// The key with these bytes, unchecked: only for bytes that were checked when they first came
    /// in, such as an output a node decoded and stored itself (checking costs a square root).
    pub const fn from_bytes_unchecked(bytes: [u8; 32]) -> PublicKey {
        PublicKey(bytes)
    }

    /// The 32 bytes of the x coordinate.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The 32 bytes of the x coordinate, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// 64 hex digits (either case).
    fn from_str(text: &str) -> Result<PublicKey, KeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyError::BadHex)?;
        PublicKey::from_bytes(bytes)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: alloc::string::String = serde::Deserialize::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A 64-byte BIP-340 signature (`R.x ‖ s`), as bytes: any 64 bytes can be held, and
/// [`verify`] refuses those that are not a valid signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl Signature {
    /// The signature with these bytes (not checked until [`verify`]).
    pub const fn from_bytes(bytes: [u8; 64]) -> Signature {
        Signature(bytes)
    }

    /// The 64 bytes.
    pub const fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// The 64 bytes, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// A secp256k1 secret key. Its scalar is wiped from memory when it is dropped (`k256` zeroizes
/// its signing key), and `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key with this big-endian scalar, if it is from 1 to the curve order minus 1.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<SecretKey, KeyError> {
        SigningKey::from_bytes(&bytes)
            .map(SecretKey)
            .map_err(|_| KeyError::InvalidSecretKey)
    }

    /// The x-only public key (BIP-340 `PubKey(sk)`).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes().into())
    }

    /// Signs a 32-byte message (a sighash) per BIP-340. `aux_rand` should be 32 fresh random
    /// bytes; it protects against side channels, and any value still gives a valid signature.
    pub fn sign(&self, msg: &[u8; 32], aux_rand: &[u8; 32]) -> Signature {
        self.sign_message(msg, aux_rand)
    }

    /// Signs a message of any length per BIP-340 (the 2022 variable-length amendment).
    pub fn sign_message(&self, msg: &[u8], aux_rand: &[u8; 32]) -> Signature {
        let signature = self
            .0
            .sign_raw(msg, aux_rand)
            // Only fails when a tagged hash is zero or the curve order: never in practice.
            .expect("BIP-340 signing fails only with negligible probability");
        Signature(signature.to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {})", self.public_key())
    }
}

/// Whether `sig` is `key`'s BIP-340 signature of the 32-byte message `msg`.
pub fn verify(key: &PublicKey, msg: &[u8; 32], sig: &Signature) -> bool {
    verify_message(key, msg, sig)
}

/// Whether `sig` is `key`'s BIP-340 signature of a message of any length.
pub fn verify_message(key: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
    // Parsing refuses r ≥ p, s ≥ n, and (unreachable for a real signer) r = 0 or s = 0.
    let Ok(signature) = schnorr::Signature::try_from(&sig.0[..]) else {
        return false;
    };
    // A key from `from_bytes_unchecked` that is no point verifies nothing.
    let Ok(key) = VerifyingKey::from_bytes(&key.0) else {
        return false;
    };
    key.verify_raw(msg, &signature).is_ok()
}

/// The BIP-340 tagged hash: `sha256(sha256(tag) ‖ sha256(tag) ‖ parts[0] ‖ parts[1] ‖ …)`.
///
/// A distinct tag per use keeps a hash made for one purpose from ever being valid for another.
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let tag_hash = Sha256::digest(tag.as_bytes());
    let mut hasher = Sha256::new();
    hasher.update(tag_hash);
    hasher.update(tag_hash);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for byte in bytes {
        write!(f, "{byte:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn key(n: u8) -> SecretKey {
        let mut bytes = [0u8; 32];
        bytes[31] = n;
        SecretKey::from_bytes(bytes).unwrap()
    }

    #[test]
    fn secret_keys_out_of_range_are_refused() {
        assert_eq!(
            SecretKey::from_bytes([0; 32]).err(),
            Some(KeyError::InvalidSecretKey)
        );
        assert_eq!(
            SecretKey::from_bytes([0xff; 32]).err(),
            Some(KeyError::InvalidSecretKey)
        );
        assert!(SecretKey::from_bytes([0x11; 32]).is_ok());
    }

    #[test]
    fn public_keys_must_be_on_the_curve() {
        // x = 5 is not on secp256k1 (the BIP-340 vector 5 key is another one).
        let mut five = [0u8; 32];
        five[31] = 5;
        assert_eq!(PublicKey::from_bytes(five), Err(KeyError::InvalidPublicKey));
        assert_eq!(
            PublicKey::from_bytes([0xff; 32]),
            Err(KeyError::InvalidPublicKey)
        );
        let public = key(3).public_key();
        assert_eq!(PublicKey::from_bytes(public.to_bytes()), Ok(public));
    }

    #[test]
    fn a_signature_checks_only_for_its_key_and_message() {
        let (alice, bob) = (key(1), key(2));
        let msg = [7u8; 32];
        let sig = alice.sign(&msg, &[0; 32]);
        assert!(verify(&alice.public_key(), &msg, &sig));
        assert!(!verify(&bob.public_key(), &msg, &sig));
        assert!(!verify(&alice.public_key(), &[8u8; 32], &sig));
        let mut flipped = sig.to_bytes();
        flipped[63] ^= 1;
        assert!(!verify(
            &alice.public_key(),
            &msg,
            &Signature::from_bytes(flipped)
        ));
        assert!(!verify(
            &alice.public_key(),
            &msg,
            &Signature::from_bytes([0xff; 64])
        ));
        // Other aux randomness gives another signature that is just as valid.
        let other = alice.sign(&msg, &[1; 32]);
        assert_ne!(other, sig);
        assert!(verify(&alice.public_key(), &msg, &other));
    }

    #[test]
    fn tagged_hash_is_bip340s() {
        // The parts are simply concatenated, and the tag separates domains.
        let joined = tagged_hash("BIP0340/challenge", &[b"abc", b"def"]);
        assert_eq!(joined, tagged_hash("BIP0340/challenge", &[b"abcdef"]));
        assert_ne!(joined, tagged_hash("BIP0340/aux", &[b"abcdef"]));
        // sha256(sha256("") ‖ sha256("")), worked out with Python's hashlib.
        assert_eq!(
            hex::encode(tagged_hash("", &[])),
            "2dba5dbc339e7316aea2683faf839c1b7b1ee2313db792112588118df066aa35"
        );
    }

    #[test]
    fn public_keys_show_and_parse_as_hex() {
        let public = key(3).public_key();
        let text = public.to_string();
        assert_eq!(
            text,
            "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
        );
        assert_eq!(text.to_uppercase().parse::<PublicKey>(), Ok(public));
        assert_eq!("f930".parse::<PublicKey>(), Err(KeyError::BadHex));
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(json, alloc::format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), public);
        let off_curve = alloc::format!("\"{}\"", "ff".repeat(32));
        assert!(serde_json::from_str::<PublicKey>(&off_curve).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = alloc::format!("{:?}", key(3));
        assert!(shown.contains("f9308a01"), "{shown}");
        assert!(!shown.contains("0000000003"), "{shown}");
    }
}
