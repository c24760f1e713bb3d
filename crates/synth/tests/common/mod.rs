//! Helpers shared by the integration tests: a small population collected in memory.

use crosscare_synth::{generate, SynthConfig, SynthStats};
use serde_json::Value;

pub fn small_config(patients: usize, seed: u64) -> SynthConfig {
    SynthConfig {
        patients,
        seed,
        volume: 0.3,
        // Every patient crosses the border in the reference population so the test sees it.
        cross_border_share: 0.5,
        ..SynthConfig::default()
    }
}

pub fn collect(config: &SynthConfig) -> (Vec<Value>, SynthStats) {
    let mut all = Vec::new();
    let stats = generate(config, &mut |r| {
        all.push(r.clone());
        Ok(())
    })
    .unwrap();
    (all, stats)
}
