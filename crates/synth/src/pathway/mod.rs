//! Care pathways. Each pathway decides from age, sex and prevalence whether it applies, then
//! emits its encounters and clinical resources through `Ctx`.
//!
//! Chronic pathways run first so that their onset days are known when routine care draws lab
//! values and vital signs (diabetics have higher glucose, heart failure raises NT-proBNP).

mod cancer;
mod copd;
mod diabetes;
mod heart_failure;
mod pregnancy;
mod routine;
mod stroke;

use rand::Rng;

use crate::ctx::Ctx;
use crate::fhir::Day;

pub use routine::{lab_panels, vital_signs};

pub fn run_all(ctx: &mut Ctx) {
    routine::baseline(ctx);
    diabetes::run(ctx);
    heart_failure::run(ctx);
    copd::run(ctx);
    routine::run(ctx);
    stroke::run(ctx);
    cancer::run(ctx);
    pregnancy::run(ctx);
}

/// Picks an onset day for a chronic condition: before the window for prevalent cases, inside
/// it for incident ones. Returns `None` when the patient is not old enough in the window.
pub fn onset(ctx: &mut Ctx, min_age: i32) -> Option<Day> {
    let earliest = (ctx.birth + min_age * 365).max(ctx.start - 3 * 365);
    if earliest >= ctx.end {
        return None;
    }
    Some(ctx.rng.gen_range(earliest..=ctx.end))
}

/// Days between follow-ups: uniform in `min..=max`.
pub fn every(ctx: &mut Ctx, min: i32, max: i32) -> i32 {
    ctx.rng.gen_range(min..=max)
}
