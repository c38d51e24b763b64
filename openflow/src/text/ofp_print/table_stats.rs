//! Table statistics replies as OVS prints them. Each table shows its
//! counters and then its features (1.0: name, maximum entries, the fields
//! its wildcards allow); a table whose counters and features equal the
//! previous one's is a "ditto": inline after its name when it has one,
//! otherwise folded with its unnamed neighbours into one
//! `tables A...B: ditto` line, written when the run ends.

use std::fmt::Write;

use crate::message::multipart::TableStats;

/// OpenFlow 1.0 wildcard bits and the fields they free, in OVS's field order.
const FIELDS: [(u32, &str); 12] = [
    (1 << 0, "in_port"),
    (1 << 2, "eth_src"),
    (1 << 3, "eth_dst"),
    (1 << 4, "eth_type"),
    (1 << 1, "vlan_vid"),
    (1 << 20, "vlan_pcp"),
    (0x3f << 8, "ip_src"),
    (0x3f << 14, "ip_dst"),
    (1 << 5, "nw_proto"),
    (1 << 21, "nw_tos"),
    (1 << 6, "tcp_src"),
    (1 << 7, "tcp_dst"),
];

/// `eth_{src,dst,type}`: runs of fields with one prefix share it.
fn field_list(wildcards: u32) -> String {
    let names: Vec<&str> = FIELDS
        .iter()
        .filter(|(b, _)| wildcards & b != 0)
        .map(|x| x.1)
        .collect();
    let prefix = |n: &str| n.split_once('_').map_or(n.to_string(), |x| x.0.to_string());
    let mut out = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let p = prefix(names[i]);
        let mut j = i + 1;
        while j < names.len() && prefix(names[j]) == p {
            j += 1;
        }
        if j - i == 1 {
            out.push(names[i].to_string());
        } else {
            let rest: Vec<&str> = names[i..j].iter().map(|n| &n[p.len() + 1..]).collect();
            out.push(format!("{p}_{{{}}}", rest.join(",")));
        }
        i = j;
    }
    out.join(" ")
}

/// The name as OVS keeps it: at most 31 bytes, up to a NUL.
fn name(t: &TableStats) -> &str {
    let end = t.name.iter().position(|&b| b == 0).unwrap_or(31).min(31);
    std::str::from_utf8(&t.name[..end]).unwrap_or("")
}

/// What OVS compares as the table's features.
fn features(t: &TableStats) -> (u32, u32) {
    (
        t.wildcards & FIELDS.iter().fold(0, |a, f| a | f.0),
        t.max_entries,
    )
}

fn finish_run(s: &mut String, run: &mut Option<(u8, u8)>) {
    if let Some((a, b)) = run.take() {
        if a == b {
            let _ = writeln!(s, "\n  table {a}: ditto");
        } else {
            let _ = writeln!(s, "\n  tables {a}...{b}: ditto");
        }
    }
}

/// The body after the header line (which has no newline yet).
pub fn format(list: &[TableStats]) -> String {
    let mut s = String::new();
    let mut run: Option<(u8, u8)> = None;
    let mut prev: Option<&TableStats> = None;
    for t in list {
        let same_stats = prev.is_some_and(|p| {
            (p.active_count, p.lookup_count, p.matched_count)
                == (t.active_count, t.lookup_count, t.matched_count)
        });
        let same_features = prev.is_some_and(|p| features(p) == features(t));
        prev = Some(t);
        let n = name(t);
        if same_stats && same_features && n.is_empty() {
            run = Some((run.map_or(t.table_id, |r| r.0), t.table_id));
            continue;
        }
        finish_run(&mut s, &mut run);
        let _ = write!(s, "\n  table {}", t.table_id);
        if !n.is_empty() {
            let _ = write!(s, " (\"{n}\")");
        }
        s.push(':');
        if same_stats && same_features {
            s.push_str(" ditto");
            continue;
        }
        let _ = writeln!(
            s,
            "\n    active={}, lookup={}, matched={}",
            t.active_count, t.lookup_count, t.matched_count
        );
        let (wc, max) = features(t);
        if same_features {
            if wc != 0 || max != 0 {
                s.push_str("    (same features)\n");
            }
            continue;
        }
        if max != 0 {
            let _ = writeln!(s, "    max_entries={max}");
        }
        if wc != 0 {
            let _ = writeln!(
                s,
                "    matching:\n      exact match or wildcard: {}",
                field_list(wc)
            );
        }
    }
    finish_run(&mut s, &mut run);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
