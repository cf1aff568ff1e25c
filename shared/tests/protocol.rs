//! The mining feed's JSON, as `docs/protocol.md` writes it, through the core's message types.

use bbchain_core::protocol::{Job, JobError, MasterMessage, MinerMessage};
use bbchain_core::{ChainParams, Header, Midstate, Target, scan};
use serde_json::json;

#[test]
fn miner_messages_match_the_documented_json() {
    let hello: MinerMessage =
        serde_json::from_str(r#"{"type":"hello","name":"alice","agent":"bbchain-native/0.1"}"#)
            .unwrap();
    assert_eq!(
        hello,
        MinerMessage::Hello {
            name: "alice".into(),
            agent: Some("bbchain-native/0.1".into()),
            address: None,
        }
    );
    let bare: MinerMessage = serde_json::from_str(r#"{"type":"hello","name":"bob"}"#).unwrap();
    assert_eq!(
        bare,
        MinerMessage::Hello {
            name: "bob".into(),
            agent: None,
            address: None,
        }
    );
    let submit = MinerMessage::Submit {
        job_id: "j1".into(),
        nonce: 123_456,
    };
    assert_eq!(
        serde_json::to_value(&submit).unwrap(),
        json!({"type": "submit", "job_id": "j1", "nonce": 123456})
    );
    assert_eq!(
        serde_json::to_value(MinerMessage::GetWork).unwrap(),
        json!({"type": "get_work"})
    );
    for bad in [
        r#"{"type":"submit","job_id":"j1","nonce":-1}"#,
        r#"{"type":"submit","job_id":"j1","nonce":4294967296}"#,
        r#"{"type":"mine_harder"}"#,
        r#"{"name":"no type"}"#,
        "not json",
    ] {
        assert!(serde_json::from_str::<MinerMessage>(bad).is_err(), "{bad}");
    }
}

#[test]
fn master_messages_match_the_documented_json() {
    let accepted = MasterMessage::Accepted {
        job_id: "j1".into(),
        hash: "00ab".into(),
        height: 42,
    };
    assert_eq!(
        serde_json::to_value(&accepted).unwrap(),
        json!({"type": "accepted", "job_id": "j1", "hash": "00ab", "height": 42})
    );
    let rejected: MasterMessage =
        serde_json::from_str(r#"{"type":"rejected","reason":"say hello first"}"#).unwrap();
    assert_eq!(
        rejected,
        MasterMessage::Rejected {
            job_id: None,
            reason: "say hello first".into()
        }
    );
}

#[test]
fn a_job_carries_a_header_and_target_a_miner_can_solve() {
    let params = ChainParams::dev();
    let genesis = params.genesis_block().header;
    let target = params.pow_limit_target();
    let job = Job::new("j7".into(), true, 1, &genesis, &target);
    let value = serde_json::to_value(MasterMessage::Job(job.clone())).unwrap();
    assert_eq!(value["type"], "job");
    assert_eq!(value["clean"], true);
    assert_eq!(value["height"], 1);
    assert_eq!(value["header"].as_str().unwrap().len(), 160);
    assert_eq!(value["target"].as_str().unwrap(), target.to_hex());
    assert_eq!(value["target"].as_str().unwrap().len(), 64);

    let received: MasterMessage = serde_json::from_value(value).unwrap();
    let MasterMessage::Job(received) = received else {
        panic!("not a job");
    };
    let header = received.header().unwrap();
    assert_eq!(
        header,
        Header {
            nonce: 0,
            ..genesis
        },
        "nonce cleared"
    );
    assert_eq!(received.target().unwrap(), target);
    let nonce = scan(&Midstate::new(&header), &target, 0, 1000)
        .nonce
        .unwrap();
    let solved = Header { nonce, ..header };
    assert!(target.is_met_by(&solved.block_hash()));
}

#[test]
fn malformed_job_fields_are_errors() {
    let genesis = ChainParams::dev().genesis_block().header;
    let good = Job::new("j".into(), false, 1, &genesis, &Target::MAX);
    for header in ["", "zz", &good.header[..158], &format!("{}00", good.header)] {
        let job = Job {
            header: header.into(),
            ..good.clone()
        };
        assert_eq!(job.header(), Err(JobError::BadHeader), "{header}");
    }
    for target in ["", "0g", &good.target[..62]] {
        let job = Job {
            target: target.into(),
            ..good.clone()
        };
        assert_eq!(job.target(), Err(JobError::BadTarget), "{target}");
    }
}
