//! ferrovs-ovsdb-server: serves OVSDB databases over JSON-RPC.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("ferrovs-ovsdb-server is not built yet")
}
