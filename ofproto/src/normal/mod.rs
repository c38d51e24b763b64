//! NORMAL: the bridge behaving as a learning L2 switch.
//!
//! [`MacTable`] (see [`mac_table`]) maps (VLAN, MAC) to the OpenFlow port
//! the MAC was last seen on, or was put on by `fdb/add`;
//! [`xlate_normal`](crate::normal::forward) uses it. [`format_fdb`] and
//! [`format_fdb_stats`] print it as OVS's `fdb/show` and `fdb/stats-show`.

pub mod forward;
pub mod mac_table;

pub use mac_table::{MacEntry, MacStats, MacTable, DEFAULT_AGING, DEFAULT_MAX_ENTRIES};

/// `fdb/show` text: a header, then one line per entry (port, VLAN, MAC,
/// age in seconds or `static`), as OVS prints it (`LOCAL` for the
/// bridge's port).
pub fn format_fdb(entries: &[MacEntry]) -> String {
    let mut s = String::from(" port  VLAN  MAC                Age\n");
    for e in entries {
        let port = if e.port == 0xfffe {
            "LOCAL".to_string()
        } else {
            e.port.to_string()
        };
        let b = e.mac.to_be_bytes();
        let age = match e.age {
            Some(a) => format!("{:>3}", a.as_secs()),
            None => "static".to_string(),
        };
        s.push_str(&format!(
            "{port:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {age}\n",
            e.vlan, b[2], b[3], b[4], b[5], b[6], b[7],
        ));
    }
    s
}

/// `fdb/stats-show BRIDGE` text, as OVS prints it.
pub fn format_fdb_stats(bridge: &str, t: &MacTable) -> String {
    let st = t.stats();
    format!(
        "Statistics for bridge \"{bridge}\":\n\
         \x20 Current/maximum MAC entries in the table: {}/{}\n\
         \x20 Current static MAC entries in the table : {}\n\
         \x20 Total number of learned MAC entries     : {}\n\
         \x20 Total number of expired MAC entries     : {}\n\
         \x20 Total number of evicted MAC entries     : {}\n\
         \x20 Total number of port moved MAC entries  : {}\n",
        t.len(),
        t.max_entries(),
        t.static_len(),
        st.learned,
        st.expired,
        st.evicted,
        st.moved
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn fdb_show_format() {
        let t0 = Instant::now();
        let t = MacTable::default();
        t.learn(0, 0x5054_0000_0001, 1, t0);
        t.learn(10, 0x5054_0000_0002, 0xfffe, t0);
        t.add_static(65535, 0x5054_0000_0003, 2, t0);
        assert_eq!(
            format_fdb(&t.entries(t0 + Duration::from_secs(3))),
            " port  VLAN  MAC                Age\n    1     0  50:54:00:00:00:01    3\n\
             LOCAL    10  50:54:00:00:00:02    3\n    2  65535  50:54:00:00:00:03  static\n"
        );
    }

    #[test]
    fn fdb_stats_format() {
        let t0 = Instant::now();
        let t = MacTable::default();
        t.learn(0, 0xa, 1, t0);
        t.learn(0, 0xa, 2, t0);
        t.add_static(0, 0xb, 1, t0);
        assert_eq!(
            format_fdb_stats("br0", &t),
            "Statistics for bridge \"br0\":\n\
             \x20 Current/maximum MAC entries in the table: 2/8192\n\
             \x20 Current static MAC entries in the table : 1\n\
             \x20 Total number of learned MAC entries     : 1\n\
             \x20 Total number of expired MAC entries     : 0\n\
             \x20 Total number of evicted MAC entries     : 0\n\
             \x20 Total number of port moved MAC entries  : 1\n"
        );
    }
}
