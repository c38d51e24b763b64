//! OFPST_GROUP_FEATURES replies as OVS prints them: the type and
//! capability bitmaps in hex, then for each group type the switch
//! supports its maximum count and the actions it takes, named as OVS's
//! own actions in OVS's order (the OpenFlow action bits OVS has no action
//! for, such as copy_ttl_out, are left out, as OVS's decoder drops them).

use std::fmt::Write;

use crate::message::multipart::GroupFeatures;

use super::c_hex;

/// (OpenFlow 1.1+ action type bit, OVS's name), in the order OVS prints.
const ACTIONS: [(u32, &str); 12] = [
    (0, "output"),
    (22, "group"),
    (25, "set_field"),
    (18, "strip_vlan"),
    (17, "push_vlan"),
    (23, "mod_nw_ttl"),
    (24, "dec_ttl"),
    (15, "set_mpls_ttl"),
    (16, "dec_mpls_ttl"),
    (19, "push_mpls"),
    (20, "pop_mpls"),
    (21, "set_queue"),
];

const TYPES: [&str; 4] = ["all", "select", "indirect", "fast failover"];

/// The body after the header line, with its newline.
pub fn format(f: &GroupFeatures) -> String {
    let mut s = format!(
        "\n Group table:\n    Types:  {:#x}\n    Capabilities:  {:#x}\n",
        f.types, f.capabilities
    );
    for (i, name) in TYPES.iter().enumerate() {
        if f.types & (1 << i) == 0 {
            continue;
        }
        let acts: Vec<&str> = ACTIONS
            .iter()
            .filter(|(bit, _)| f.actions[i] & (1 << bit) != 0)
            .map(|x| x.1)
            .collect();
        let _ = writeln!(
            s,
            "    {name} group:\n       max_groups={}\n       actions: {}",
            c_hex(f.max_groups[i] as u64),
            if acts.is_empty() {
                "<none>".to_string()
            } else {
                acts.join(" ")
            }
        );
    }
    s
}
