//! `bbchain --bench-feed`: a load test of a running master's work feed (being written).

/// Opens `connections` feed connections to `node` and measures job fan-out.
pub async fn run(node: &str, connections: usize) -> anyhow::Result<()> {
    let _ = (node, connections);
    anyhow::bail!("the feed benchmark is not built yet")
}
