//! `ofproto/trace ... --format=json` (a ferrovs extension; OVS has only
//! the text): the same trace as a JSON object, so that integrators need
//! not parse the text.
//!
//! Built from the text trace's structure, which is fixed: `Flow:`, then
//! per bridge a `bridge("NAME")` line and a rule line per table visited
//! (`N. MATCH, priority P[, cookie C]`, indented four more spaces per
//! resubmit depth) followed by its action lines, then `Final flow:`,
//! `Megaflow:` and `Datapath actions:`. Shape:
//!
//! ```json
//! {"flow": "...", "bridges": [{"bridge": "br0", "tables": [
//!     {"table": 0, "depth": 0, "rule": "in_port=1, priority 100",
//!      "actions": ["output:2"]}]}],
//!  "final_flow": "unchanged", "megaflow": "...",
//!  "datapath_actions": "2", "error": null}
//! ```

use serde_json::{json, Map, Value};

/// The JSON form of an `ofproto/trace` text.
pub fn trace_to_json(text: &str) -> Value {
    let mut out = Map::new();
    let mut bridges: Vec<Value> = Vec::new();
    let mut error = Value::Null;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.chars().all(|c| c == '-') {
            continue;
        }
        if let Some(v) = line.strip_prefix("Flow: ") {
            out.insert("flow".into(), json!(v));
        } else if let Some(v) = line.strip_prefix("Final flow: ") {
            out.insert("final_flow".into(), json!(v));
        } else if let Some(v) = line.strip_prefix("Megaflow: ") {
            out.insert("megaflow".into(), json!(v));
        } else if let Some(v) = line.strip_prefix("Datapath actions: ") {
            out.insert("datapath_actions".into(), json!(v));
        } else if line.starts_with("Translation failed") {
            error = json!(line);
        } else if let Some(name) = trimmed
            .strip_prefix("bridge(\"")
            .and_then(|r| r.strip_suffix("\")"))
        {
            bridges.push(json!({"bridge": name, "tables": []}));
        } else if let Some((table, rule)) = rule_line(trimmed) {
            let indent = line.len() - line.trim_start().len();
            let entry = json!({
                "table": table,
                "depth": indent.saturating_sub(1) / 4,
                "rule": rule,
                "actions": [],
            });
            if bridges.is_empty() {
                bridges.push(json!({"bridge": null, "tables": []}));
            }
            if let Some(t) = bridges.last_mut().and_then(|b| b["tables"].as_array_mut()) {
                t.push(entry);
            }
        } else if let Some(acts) = bridges
            .last_mut()
            .and_then(|b| b["tables"].as_array_mut())
            .and_then(|t| t.last_mut())
            .and_then(|e| e["actions"].as_array_mut())
        {
            acts.push(json!(trimmed));
        }
    }
    out.insert("bridges".into(), Value::Array(bridges));
    out.insert("error".into(), error);
    Value::Object(out)
}

/// `N. REST` (a table's rule line) -> (N, REST).
fn rule_line(s: &str) -> Option<(u8, &str)> {
    let (n, rest) = s.split_once(". ")?;
    Some((n.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_of_a_trace() {
        let text = "Flow: in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00\n\
                    \n\
                    bridge(\"br0\")\n\
                    -------------\n\
                    \x200. in_port=1, priority 100\n\
                    \x20   resubmit(,1)\n\
                    \x20    1. priority 10\n\
                    \x20           output:2\n\
                    \n\
                    Final flow: unchanged\n\
                    Megaflow: recirc_id=0,eth,in_port=1,dl_type=0x0000\n\
                    Datapath actions: 2\n";
        let j = trace_to_json(text);
        assert_eq!(
            j["flow"],
            "in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00"
        );
        assert_eq!(j["bridges"][0]["bridge"], "br0");
        let t = &j["bridges"][0]["tables"];
        assert_eq!(t[0]["table"], 0);
        assert_eq!(t[0]["rule"], "in_port=1, priority 100");
        assert_eq!(t[0]["actions"][0], "resubmit(,1)");
        assert_eq!(t[1]["table"], 1);
        assert_eq!(t[1]["depth"], 1);
        assert_eq!(t[1]["actions"][0], "output:2");
        assert_eq!(j["final_flow"], "unchanged");
        assert_eq!(j["datapath_actions"], "2");
        assert_eq!(j["megaflow"], "recirc_id=0,eth,in_port=1,dl_type=0x0000");
        assert!(j["error"].is_null());
    }
}
