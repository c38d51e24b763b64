//! Appending frames to a pcap file (the classic format: a 24-byte file
//! header, then a 16-byte record header per frame), as OVS's dummy devices
//! do for `options:rxq_pcap=FILE`.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

const SNAPLEN: u32 = 1518;
const LINKTYPE_ETHERNET: u32 = 1;

/// Appends `frames` to `path`, writing the file header if the file is new
/// or empty.
pub fn append(path: &Path, frames: &[Vec<u8>]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut out = Vec::new();
    if f.metadata()?.len() == 0 {
        out.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        out.extend_from_slice(&2u16.to_ne_bytes());
        out.extend_from_slice(&4u16.to_ne_bytes());
        out.extend_from_slice(&0i32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&SNAPLEN.to_ne_bytes());
        out.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    for p in frames {
        let incl = p.len().min(SNAPLEN as usize);
        out.extend_from_slice(&(now.as_secs() as u32).to_ne_bytes());
        out.extend_from_slice(&now.subsec_micros().to_ne_bytes());
        out.extend_from_slice(&(incl as u32).to_ne_bytes());
        out.extend_from_slice(&(p.len() as u32).to_ne_bytes());
        out.extend_from_slice(&p[..incl]);
    }
    f.write_all(&out)
}
