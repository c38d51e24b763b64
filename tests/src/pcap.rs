//! Reading the pcap files dummy ports write (`options:rx_pcap`,
//! `options:tx_pcap`, `options:rxq_pcap`): little-endian classic pcap, a
//! 24-byte file header then a 16-byte header per record.

use std::path::Path;

/// The frames of `path` in order; a record cut short at the end (the switch
/// may be writing it) is left out.
pub fn frames(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let b = std::fs::read(path)?;
    let mut frames = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let incl = u32::from_le_bytes([b[i + 8], b[i + 9], b[i + 10], b[i + 11]]) as usize;
        if i + 16 + incl > b.len() {
            break;
        }
        frames.push(b[i + 16..i + 16 + incl].to_vec());
        i += 16 + incl;
    }
    Ok(frames)
}
