//! Parser and printer properties that need no switch: typed errors that
//! name the bad token, and printing as a fixed point (print -> parse ->
//! print gives the same text, also after normalization for each version).

use ferrovs_openflow::text::{
    normalize, parse_flow, FlowText, GroupText, MeterText, ParseError, WireVersion,
};

fn corpus(name: &str) -> Vec<String> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn printing_is_a_fixed_point_for_every_corpus_flow() {
    let flows = corpus("flows.txt");
    assert!(flows.len() >= 300);
    for f in &flows {
        let parsed = parse_flow(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        let text = parsed.format();
        let again = parse_flow(&text).unwrap_or_else(|e| panic!("reparse {text}: {e}"));
        assert_eq!(again.format(), text, "from {f}");
        for v in [WireVersion::Of10, WireVersion::Of13, WireVersion::Of15] {
            let mut n = parsed.clone();
            normalize(&mut n, v);
            let t = n.format();
            let mut n2 = parse_flow(&t).unwrap_or_else(|e| panic!("reparse {t}: {e}"));
            normalize(&mut n2, v);
            assert_eq!(n2.format(), t, "{v:?} from {f}");
        }
    }
}

#[test]
fn groups_and_meters_reparse() {
    for g in corpus("flows_groups.txt") {
        let p = GroupText::parse(&g).unwrap_or_else(|e| panic!("{g}: {e}"));
        let t = p.format();
        assert_eq!(GroupText::parse(&t).unwrap().format(), t);
    }
    for m in corpus("flows_meters.txt") {
        MeterText::parse(&m).unwrap_or_else(|e| panic!("{m}: {e}"));
    }
    let m = MeterText::parse("meter=2,pktps,burst,stats,band=type=drop,rate=1000,burst_size=100")
        .unwrap();
    assert_eq!(
        m.format(),
        "meter=2 pktps burst stats bands=\ntype=drop rate=1000 burst_size=100"
    );
}

#[test]
fn shorthands_and_canonical_names() {
    let f = parse_flow("dl_type=0x0800,nw_proto=6,tp_dst=80,actions=output:1").unwrap();
    assert_eq!(f.format(), "tcp,tp_dst=80 actions=output:1");
    let f = parse_flow("arp,nw_src=198.18.0.1,actions=drop").unwrap();
    assert_eq!(f.format(), "arp,arp_spa=198.18.0.1 actions=drop");
    let f = parse_flow("priority=32768,ipv6,nw_proto=58,actions=drop").unwrap();
    assert_eq!(f.format(), "icmp6 actions=drop");
    let f = parse_flow("table=5,cookie=0x1f,in_port=LOCAL,actions=CONTROLLER:128").unwrap();
    assert_eq!(
        f.format(),
        "cookie=0x1f, table=5, in_port=LOCAL actions=CONTROLLER:128"
    );
}

fn err(s: &str) -> ParseError {
    match FlowText::parse(s, true) {
        Ok(f) => panic!("{s} parsed as {f}"),
        Err(e) => e,
    }
}

#[test]
fn errors_name_the_bad_token() {
    assert_eq!(
        err("foo=1,actions=drop"),
        ParseError::UnknownKeyword("foo".into())
    );
    assert_eq!(
        err("ip,actions=frobnicate:3"),
        ParseError::UnknownAction("frobnicate:3".into())
    );
    assert_eq!(
        err("ip,nw_src=198.18.0.300,actions=drop").to_string(),
        "nw_src: bad value \"198.18.0.300\""
    );
    assert!(matches!(
        err("reg0=0x100000000,actions=drop"),
        ParseError::Overflow(_)
    ));
    assert!(matches!(
        err("in_port=1/1,actions=drop"),
        ParseError::NotMaskable(_)
    ));
    assert!(matches!(err("actions=output:bogus"), ParseError::BadPort(p) if p == "bogus"));
    assert!(matches!(
        err("actions=ct(commit"),
        ParseError::Unbalanced(_)
    ));
    assert_eq!(err("ip,nw_src=198.18.0.1"), ParseError::NoActions);
    assert!(matches!(
        err("actions=drop,output:1"),
        ParseError::Syntax(_)
    ));
    assert!(matches!(
        err("actions=move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..7]"),
        ParseError::Syntax(_)
    ));
    assert!(matches!(
        err("actions=load:1->NXM_NX_REG0[40..41]"),
        ParseError::BadValue { .. }
    ));
    assert!(matches!(
        err("actions=conjunction(1,3/2)"),
        ParseError::BadValue { .. }
    ));
    assert!(
        matches!(err("tcp,tcp_flags=+syn+bogus,actions=drop"), ParseError::BadValue { field, value } if field == "tcp_flags" && value == "bogus")
    );
    assert_eq!(
        err("priority=,actions=drop"),
        ParseError::MissingValue("priority".into())
    );
    assert!(matches!(
        GroupText::parse("type=all,bucket=output:1"),
        Err(ParseError::Syntax(_))
    ));
    assert!(matches!(
        MeterText::parse("meter=1,band=type=drop,rate=1"),
        Err(ParseError::Syntax(_))
    ));
}

#[test]
fn every_single_byte_truncation_is_handled() {
    // Cutting a valid flow anywhere yields a flow or a typed error, never a
    // panic (the fuzz target covers arbitrary strings).
    for f in corpus("flows.txt").iter().take(120) {
        for (i, _) in f.char_indices() {
            let _ = parse_flow(&f[..i]);
        }
    }
}
