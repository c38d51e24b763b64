//! IDL tests against the real ferrovs-ovsdb-server binary: initial load,
//! transactions with named uuids, change tracking, and reconnection after
//! the server is killed and restarted.

use ovsdb::atom::Atom;
use ovsdb::idl::replica::ChangeKind;
use ovsdb::idl::{Idl, IdlConfig, RowRef, TxnBuilder};
use serde_json::json;
use std::time::Duration;

mod common;

fn start(dir: &std::path::Path) -> common::Server {
    common::start(common::FERROVS, dir).0
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_transactions_tracking_and_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut idl = Idl::start(IdlConfig {
        remote: format!("unix:{}", dir.path().join("db.sock").display()),
        db: "Open_vSwitch".into(),
        tables: vec![
            (
                "Open_vSwitch".into(),
                Some(vec!["bridges".into(), "next_cfg".into()]),
            ),
            (
                "Bridge".into(),
                Some(vec!["name".into(), "ports".into(), "fail_mode".into()]),
            ),
            ("Port".into(), None),
        ],
    });
    within("step 1", idl.wait_connected()).await;
    assert_eq!(idl.with(|r| r.unwrap().rows("Bridge").count()), 0);
    idl.with(|r| r.unwrap().take_changes());

    // One transaction: the Open_vSwitch row and a bridge by name, plus a
    // port nothing references (garbage-collected at commit).
    let mut b = TxnBuilder::new();
    let ifc = b.insert("Interface", json!({"name": "p0"}));
    b.insert("Port", json!({"name": "p0", "interfaces": ifc.to_json()}));
    let br = b.insert("Bridge", json!({"name": "br0"}));
    let ovs = b.insert("Open_vSwitch", json!({"next_cfg": 1}));
    b.mutate(
        "Open_vSwitch",
        &ovs,
        json!([["bridges", "insert", br.to_json()]]),
    );
    let seen = idl.seqno();
    let res = within("step 2", idl.commit(&b)).await.expect("commit");
    let RowRef::Named(brn) = &br else {
        unreachable!()
    };
    let br_uuid = res.inserted[brn];
    within("step 3", idl.wait_change(seen)).await;
    let name = idl.with(|r| r.unwrap().get("Bridge", &br_uuid, "name").cloned());
    assert_eq!(name.unwrap().first(), Some(&Atom::String("br0".into())));
    // The port was garbage-collected (nothing references it): not replicated.
    assert_eq!(idl.with(|r| r.unwrap().rows("Port").count()), 0);
    let changes = idl.with(|r| r.unwrap().take_changes());
    assert!(
        changes
            .iter()
            .any(|c| c.table == "Bridge" && c.uuid == br_uuid && c.kind == ChangeKind::Insert),
        "{changes:?}"
    );

    // An update is tracked as a modification.
    let mut b = TxnBuilder::new();
    b.update(
        "Bridge",
        &RowRef::Existing(br_uuid),
        json!({"fail_mode": "secure"}),
    );
    let seen = idl.seqno();
    within("step 4", idl.commit(&b)).await.expect("commit");
    within("step 5", idl.wait_change(seen)).await;
    let changes = idl.with(|r| r.unwrap().take_changes());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].kind, ChangeKind::Modify);
    // A failing transaction reports its error.
    let mut b = TxnBuilder::new();
    b.insert("Bridge", json!({"name": 5}));
    assert!(within("step 6", idl.commit(&b)).await.is_err());

    // Kill the server hard and restart it: the IDL reconnects and reloads.
    let seen = idl.seqno();
    drop(server);
    within("step 7", idl.wait_change(seen)).await;
    assert!(!idl.with(|r| r.unwrap().connected));
    let _server = start(dir.path());
    within("step 8", idl.wait_connected()).await;
    let fm = idl.with(|r| r.unwrap().get("Bridge", &br_uuid, "fail_mode").cloned());
    assert_eq!(fm.unwrap().first(), Some(&Atom::String("secure".into())));
}
