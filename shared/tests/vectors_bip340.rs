//! The official BIP-340 test vectors: every signing row gives exactly the listed signature, and
//! every row verifies to exactly the listed result.

mod common;

use bbchain_core::keys::{self, PublicKey, SecretKey, Signature};
use common::read_vector;

fn bytes<const N: usize>(hex_text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_text, &mut out).unwrap_or_else(|e| panic!("{hex_text}: {e}"));
    out
}

struct Row {
    index: String,
    secret_key: String,
    public_key: [u8; 32],
    aux_rand: String,
    message: Vec<u8>,
    signature: Signature,
    valid: bool,
    comment: String,
}

fn rows() -> Vec<Row> {
    let text = read_vector("bip340/test-vectors.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("index,secret key,public key,aux_rand,message,signature,verification result,comment")
    );
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.splitn(8, ',').collect();
            assert_eq!(fields.len(), 8, "{line}");
            Row {
                index: fields[0].into(),
                secret_key: fields[1].into(),
                public_key: bytes(fields[2]),
                aux_rand: fields[3].into(),
                message: hex::decode(fields[4]).unwrap(),
                signature: Signature::from_bytes(bytes(fields[5])),
                valid: match fields[6] {
                    "TRUE" => true,
                    "FALSE" => false,
                    other => panic!("verification result {other}"),
                },
                comment: fields[7].into(),
            }
        })
        .collect()
}

#[test]
fn signing_gives_the_exact_signatures() {
    let rows = rows();
    let signing: Vec<&Row> = rows
        .iter()
        .filter(|row| !row.secret_key.is_empty())
        .collect();
    assert_eq!(signing.len(), 8, "rows 0-3 and 15-18 have secret keys");
    for row in signing {
        let secret = SecretKey::from_bytes(bytes(&row.secret_key)).unwrap();
        assert_eq!(
            secret.public_key().to_bytes(),
            row.public_key,
            "row {}",
            row.index
        );
        let aux_rand: [u8; 32] = bytes(&row.aux_rand);
        let signature = match <[u8; 32]>::try_from(row.message.as_slice()) {
            Ok(msg) => secret.sign(&msg, &aux_rand),
            Err(_) => secret.sign_message(&row.message, &aux_rand),
        };
        assert_eq!(
            signature, row.signature,
            "row {} {}",
            row.index, row.comment
        );
    }
}

#[test]
fn verification_gives_the_listed_results() {
    let rows = rows();
    assert_eq!(rows.len(), 19);
    for row in &rows {
        let verified = match PublicKey::from_bytes(row.public_key) {
            // Rows 5 and 14: a key that is not a curve point is refused before any signature.
            Err(_) => false,
            Ok(key) => match <[u8; 32]>::try_from(row.message.as_slice()) {
                Ok(msg) => keys::verify(&key, &msg, &row.signature),
                Err(_) => keys::verify_message(&key, &row.message, &row.signature),
            },
        };
        assert_eq!(verified, row.valid, "row {} {}", row.index, row.comment);
    }
    let refused_keys = rows
        .iter()
        .filter(|row| PublicKey::from_bytes(row.public_key).is_err())
        .map(|row| row.index.as_str())
        .collect::<Vec<_>>();
    assert_eq!(refused_keys, ["5", "14"]);
}
