//! The `crosscare` binary.

fn main() -> anyhow::Result<()> {
    Ok(())
}
