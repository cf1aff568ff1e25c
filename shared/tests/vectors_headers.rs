//! The first 1000 Bitcoin mainnet headers through the crate's header codec, hash and targets.

mod common;

use bbchain_core::{BlockHash, Header};
use common::{bits, display_hash, read_vector};

struct Row {
    height: u32,
    hash: BlockHash,
    header: Header,
    bytes: Vec<u8>,
}

fn rows() -> Vec<Row> {
    let text = read_vector("headers/btc_mainnet_headers_0_999.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("height,hash,version,prev_hash,merkle_root,time,bits,nonce,header_hex")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 9, "row {line}");
            Row {
                height: f[0].parse().unwrap(),
                hash: display_hash(f[1]),
                header: Header {
                    version: f[2].parse().unwrap(),
                    prev_hash: display_hash(f[3]),
                    merkle_root: display_hash(f[4]),
                    time: f[5].parse().unwrap(),
                    bits: bits(f[6]),
                    nonce: f[7].parse().unwrap(),
                },
                bytes: hex::decode(f[8]).unwrap(),
            }
        })
        .collect()
}

#[test]
fn all_1000_headers_decode_reencode_hash_link_and_meet_their_target() {
    let rows = rows();
    assert_eq!(rows.len(), 1000);
    let mut prev = BlockHash::ZERO;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.height as usize, i);
        let decoded = Header::from_bytes(&row.bytes).unwrap();
        assert_eq!(decoded, row.header, "fields of header {i}");
        assert_eq!(
            decoded.to_bytes().as_slice(),
            row.bytes.as_slice(),
            "bytes of {i}"
        );
        assert_eq!(decoded.block_hash(), row.hash, "hash of header {i}");
        assert_eq!(decoded.block_hash().to_string(), row.hash.to_hex());
        assert_eq!(decoded.prev_hash, prev, "header {i} links to its parent");
        let target = decoded.target().unwrap();
        assert!(
            target.is_met_by(&decoded.block_hash()),
            "header {i} meets its target"
        );
        prev = row.hash;
    }
}

#[test]
fn well_known_hashes() {
    let rows = rows();
    assert_eq!(
        rows[0].header.block_hash().to_string(),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    );
    assert_eq!(
        rows[1].header.block_hash().to_string(),
        "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
    );
}

#[test]
fn a_changed_nonce_no_longer_meets_the_target() {
    let rows = rows();
    let mut header = rows[500].header;
    header.nonce = header.nonce.wrapping_add(1);
    assert!(!header.target().unwrap().is_met_by(&header.block_hash()));
}

#[test]
fn headers_of_the_wrong_length_are_refused() {
    let rows = rows();
    let bytes = &rows[1].bytes;
    assert!(Header::from_bytes(&bytes[..79]).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(Header::from_bytes(&long).is_err());
}
