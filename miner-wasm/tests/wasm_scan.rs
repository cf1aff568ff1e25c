//! The core's nonce scan inside a real wasm runtime (node, through `wasm-bindgen-test-runner`), in the
//! build it runs in: `make test-wasm` runs this file twice, with `+simd128` (the browser's `web/pkg`)
//! and without (`web/pkg-scalar`). It must find the nonces of real Bitcoin headers. Native `cargo test`
//! compiles it to nothing.
#![cfg(target_arch = "wasm32")]

use bbchain_core::{Header, Midstate, Target, scan};
use wasm_bindgen_test::wasm_bindgen_test;

/// Bitcoin mainnet headers from `shared/tests/vectors/headers/`: height, nonce, block hash, header.
/// Genesis, then one for each other nonce position in a four-nonce vector (nonce % 4 = 0, 2, 3).
const BITCOIN: [(u32, u32, &str, &str); 4] = [
    (
        0,
        2083236893,
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
    ),
    (
        2,
        1639830024,
        "000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
        "010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000d5fdcc541e25de1c7a5addedf24858b8bb665c9f36ef744ee42c316022c90f9bb0bc6649ffff001d08d2bd61",
    ),
    (
        10,
        1709518110,
        "000000002c05cc2e78923c34df87fd108b22221ac6076c18f3ade378a4d915e9",
        "010000000508085c47cc849eb80ea905cc7800a3be674ffc57263cf210c59d8d00000000112ba175a1e04b14ba9e7ea5f76ab640affeef5ec98173ac9799a852fa39add320cd6649ffff001d1e2de565",
    ),
    (
        4,
        2850094635,
        "000000004ebadb55ee9096c9a2f8880e09da59c0d68b1c228da88e48844a1485",
        "010000004944469562ae1c2c74d9a535e00b6f3e40ffbad4f2fda3895501b582000000007a06ea98cd40ba2e3288262b28638cec5337c1456aaf5eedc8e9e5a20f062bdf8cc16649ffff001d2bfee0a9",
    ),
];

fn bitcoin_header(hex_header: &str) -> Header {
    Header::from_bytes(&hex::decode(hex_header).unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn the_nonces_of_real_bitcoin_headers_are_found() {
    for (height, nonce, hash, hex_header) in BITCOIN {
        let header = bitcoin_header(hex_header);
        let target = Target::from_compact(header.bits).unwrap();
        let midstate = Midstate::new(&header);
        // A window that starts off the four-nonce alignment, with the nonce in any lane.
        for before in [5001, 5002, 5003, 5004] {
            let found = scan(&midstate, &target, nonce - before, before + 1000);
            assert_eq!(found.nonce, Some(nonce), "block {height}");
            assert_eq!(found.hashes, u64::from(before) + 1, "block {height}");
        }
        assert_eq!(midstate.hash(nonce).to_string(), hash, "block {height}");
        // Just past it, nothing in the next thousand nonces.
        assert_eq!(scan(&midstate, &target, nonce + 1, 1000).nonce, None);
    }
}
