//! `ofctl parse-pcap FILE`: not written yet.
pub fn run(_file: &str) -> anyhow::Result<i32> {
    anyhow::bail!("parse-pcap is not implemented yet")
}
