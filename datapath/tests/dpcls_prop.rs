//! Property test: the megaflow classifier agrees with a linear scan over
//! random masks and keys, with inserts and deletes interleaved with
//! lookups (single and batch), with re-ranking, with inserts from a dense
//! flow (the miss path's `insert_flow`) and with flushes (`clear`, whose
//! emptied subtables are reused).
use ferrovs_datapath::dpcls::Dpcls;
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{Flow, FlowKey};
use proptest::prelude::*;

/// Fields the random masks pick from (small value domains so that packets
/// actually match rules).
const FIELDS: [Field; 8] = [
    IN_PORT, DL_TYPE, NW_SRC, NW_DST, NW_PROTO, TP_SRC, TP_DST, VLAN0_TCI,
];

fn flow_of(vals: &[u64; 8]) -> Flow {
    let mut f = Flow::default();
    for (fi, v) in FIELDS.iter().zip(vals) {
        f.set(*fi, *v);
    }
    f
}

/// A mask: per field, a number of low bits to match (0 = wildcard).
fn mask_of(bits: &[u8; 8]) -> FlowKey {
    let mut f = Flow::default();
    for (fi, b) in FIELDS.iter().zip(bits) {
        let b = (*b).min(fi.bits);
        if b > 0 {
            let m = if b >= 64 { !0 } else { (1u64 << b) - 1 };
            f.set(*fi, m);
        }
    }
    f.to_key()
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        vals: [u64; 8],
        mask: usize,
        dense: bool,
    },
    Clear,
    Delete(usize),
    Lookup([u64; 8]),
    Batch(Vec<[u64; 8]>),
    Rank,
}

fn vals() -> impl Strategy<Value = [u64; 8]> {
    prop::array::uniform8(0u64..4)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (vals(), 0usize..6, any::<bool>())
                .prop_map(|(vals, mask, dense)| Op::Insert { vals, mask, dense }),
            1 => Just(Op::Clear),
            2 => (0usize..64).prop_map(Op::Delete),
            4 => vals().prop_map(Op::Lookup),
            1 => prop::collection::vec(vals(), 1..32).prop_map(Op::Batch),
            1 => Just(Op::Rank),
        ],
        1..120,
    )
}

fn masks() -> impl Strategy<Value = Vec<[u8; 8]>> {
    prop::collection::vec(
        prop::array::uniform8(prop_oneof![Just(0u8), Just(1), Just(2), Just(64)]),
        6,
    )
}

struct Rule {
    key: FlowKey,
    mask: FlowKey,
    value: u32,
}

fn overlaps(a: &Rule, key: &FlowKey, mask: &FlowKey) -> bool {
    (0..FLOW_WORDS).all(|i| (a.key.word(i) ^ key.word(i)) & a.mask.word(i) & mask.word(i) == 0)
}

fn run(ops: Vec<Op>, masks: Vec<[u8; 8]>, disjoint: bool) -> Result<(), TestCaseError> {
    let masks: Vec<FlowKey> = masks.iter().map(mask_of).collect();
    let mut cls = Dpcls::new();
    let mut model: Vec<Rule> = Vec::new();
    let mut next = 1u32;
    let check = |cls: &mut Dpcls, model: &Vec<Rule>, v: &[u64; 8]| -> Result<(), TestCaseError> {
        let pkt = flow_of(v).to_key();
        let matching: Vec<u32> = model
            .iter()
            .filter(|r| pkt.matches(&r.key, &r.mask))
            .map(|r| r.value)
            .collect();
        let got = cls.lookup(&pkt);
        match got {
            None => prop_assert!(matching.is_empty(), "missed {matching:?} for {pkt:?}"),
            Some(g) => prop_assert!(matching.contains(&g), "{g} not in {matching:?}"),
        }
        if disjoint {
            prop_assert!(matching.len() <= 1);
            prop_assert_eq!(got, matching.first().copied());
        }
        Ok(())
    };
    for op in ops {
        match op {
            Op::Clear => {
                cls.clear();
                model.clear();
                prop_assert_eq!(cls.len(), 0);
                prop_assert_eq!(cls.n_subtables(), 0);
            }
            Op::Insert { vals, mask, dense } => {
                let m = &masks[mask];
                let key = flow_of(&vals).to_key().masked(m);
                let same = model.iter().position(|r| r.key == key && r.mask == *m);
                if disjoint && same.is_none() && model.iter().any(|r| overlaps(r, &key, m)) {
                    continue;
                }
                let value = next;
                next += 1;
                let old =
                    if dense && same.is_none() && cls.lookup(&flow_of(&vals).to_key()).is_none() {
                        // What the miss path does: a lookup missed, so the
                        // rule is absent.
                        cls.insert_flow_absent(&flow_of(&vals), m, value);
                        None
                    } else if dense {
                        cls.insert_flow(&flow_of(&vals), m, value)
                    } else {
                        cls.insert(&key, m, value)
                    };
                match same {
                    Some(p) => {
                        prop_assert_eq!(old, Some(model[p].value));
                        model[p].value = value;
                    }
                    None => {
                        prop_assert_eq!(old, None);
                        model.push(Rule {
                            key,
                            mask: m.clone(),
                            value,
                        });
                    }
                }
            }
            Op::Delete(i) => {
                if model.is_empty() {
                    prop_assert_eq!(cls.len(), 0);
                    continue;
                }
                let r = model.swap_remove(i % model.len());
                prop_assert_eq!(cls.remove(&r.key, &r.mask), Some(r.value));
                prop_assert_eq!(cls.remove(&r.key, &r.mask), None);
            }
            Op::Lookup(v) => check(&mut cls, &model, &v)?,
            Op::Batch(vs) => {
                let flows: Vec<Flow> = vs.iter().map(flow_of).collect();
                let mut out = vec![u32::MAX; flows.len()];
                let todo = if flows.len() == 32 {
                    u32::MAX
                } else {
                    (1u32 << flows.len()) - 1
                };
                let left = cls.lookup_batch(&flows, todo, &mut out);
                for (i, f) in flows.iter().enumerate() {
                    let pkt = f.to_key();
                    let matching: Vec<u32> = model
                        .iter()
                        .filter(|r| pkt.matches(&r.key, &r.mask))
                        .map(|r| r.value)
                        .collect();
                    if left & (1 << i) != 0 {
                        prop_assert!(matching.is_empty());
                    } else {
                        prop_assert!(matching.contains(&out[i]));
                    }
                }
            }
            Op::Rank => cls.rank(),
        }
        prop_assert_eq!(cls.len(), model.len());
        let distinct_masks = {
            let mut v: Vec<&FlowKey> = Vec::new();
            for r in &model {
                if !v.contains(&&r.mask) {
                    v.push(&r.mask);
                }
            }
            v.len()
        };
        prop_assert_eq!(
            cls.n_subtables(),
            distinct_masks,
            "one subtable per distinct mask"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn classifier_matches_linear_scan(ops in ops(), masks in masks()) {
        run(ops, masks, false)?;
    }

    #[test]
    fn disjoint_megaflows_give_exactly_the_linear_scan_result(ops in ops(), masks in masks()) {
        run(ops, masks, true)?;
    }
}
