//! Deterministic synthetic population of Moselle-Est (France) and Saarland (Germany) as FHIR R4
//! resources, streamed patient by patient.
//!
//! Architecture invariant: the output depends only on `SynthConfig`. Shared resources use RNG
//! stream 0 and patient `i` uses stream `i + 1` of a ChaCha8 generator seeded from
//! `SynthConfig::seed`, so patients are independent of each other and of the wall clock.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod consent;
mod ctx;
pub mod fhir;
pub mod ids;
pub mod names;
pub mod org;
pub mod output;
mod pathway;
pub mod patient;
pub mod places;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

pub use output::write_to_dir;

/// The country a patient lives in (and an establishment belongs to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    Fr,
    De,
}

impl Country {
    pub fn iso(self) -> &'static str {
        match self {
            Country::Fr => "FR",
            Country::De => "DE",
        }
    }

    pub fn other(self) -> Country {
        match self {
            Country::Fr => Country::De,
            Country::De => Country::Fr,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub patients: usize,
    pub seed: u64,
    /// First day of recorded care (inclusive), as (year, month, day).
    pub start: (i32, u32, u32),
    /// Last day of recorded care (inclusive); also the fixed "today" of the population.
    pub end: (i32, u32, u32),
    /// Share of patients living in Moselle-Est; the rest live in Saarland.
    pub french_share: f64,
    /// Scales routine care (visits, vital signs, lab panels). 1.0 gives about 1,000 resources
    /// per patient on average; 0.1 gives about a tenth of the routine volume.
    pub volume: f64,
    /// Probability that a patient also receives some care across the border.
    pub cross_border_share: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            patients: 100,
            seed: 42,
            start: (2015, 1, 1),
            end: (2026, 6, 30),
            french_share: 0.5,
            volume: 1.0,
            cross_border_share: 0.15,
        }
    }
}

/// How `write_to_dir` lays out the population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One `<ResourceType>.ndjson` file per type (Bulk Data style).
    Ndjson,
    /// One transaction Bundle per patient (`Bundle-<patient id>.json`) plus `Bundle-shared.json`,
    /// each entry a PUT of its stable id.
    Bundles,
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub resources: u64,
    pub by_type: BTreeMap<String, u64>,
    pub patients: usize,
}

impl SynthStats {
    fn count(&mut self, resource: &Value) {
        self.resources += 1;
        let ty = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        match self.by_type.get_mut(ty) {
            Some(n) => *n += 1,
            None => {
                self.by_type.insert(ty.to_string(), 1);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("JSON serialisation failed: {0}")]
    Json(#[from] serde_json::Error),
    /// Raised by a caller's sink to stop generation.
    #[error("sink failed: {0}")]
    Sink(String),
}

/// What the generator hands out, in order: `Begin` of a group (the shared resources, then each
/// patient), its resources one by one, then `End`. Only the resource being built is in memory.
pub(crate) enum Event {
    Begin(Group),
    Resource(Value),
    End,
}

pub(crate) enum Group {
    Shared,
    Patient(String),
}

fn validate(config: &SynthConfig) -> Result<(), SynthError> {
    let start = fhir::day_of(config.start.0, config.start.1, config.start.2);
    let end = fhir::day_of(config.end.0, config.end.1, config.end.2);
    if start == 0 || end == 0 || end <= start {
        return Err(SynthError::Config(
            "start and end must be valid dates, start before end".into(),
        ));
    }
    if !(0.0..=1.0).contains(&config.french_share)
        || !(0.0..=1.0).contains(&config.cross_border_share)
    {
        return Err(SynthError::Config("shares must lie between 0 and 1".into()));
    }
    if !(config.volume.is_finite() && config.volume >= 0.0 && config.volume <= 100.0) {
        return Err(SynthError::Config(
            "volume must lie between 0 and 100".into(),
        ));
    }
    Ok(())
}

/// The RNG of stream `stream` (0 = shared resources, `i + 1` = patient `i`).
fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Generates the population as a stream of events.
pub(crate) fn generate_events(
    config: &SynthConfig,
    on_event: &mut dyn FnMut(Event) -> Result<(), SynthError>,
) -> Result<SynthStats, SynthError> {
    validate(config)?;
    let mut stats = SynthStats::default();
    let shared = org::build(&mut stream_rng(config.seed, 0));
    on_event(Event::Begin(Group::Shared))?;
    for r in &shared.resources {
        stats.count(r);
        on_event(Event::Resource(r.clone()))?;
    }
    on_event(Event::End)?;
    for index in 0..config.patients {
        let rng = stream_rng(config.seed, index as u64 + 1);
        // The country (first draw of the stream) names the group before generation starts.
        let country = patient::country_of(config, &mut rng.clone());
        on_event(Event::Begin(Group::Patient(patient::patient_id(
            country, index,
        ))))?;
        patient::generate_patient(config, &shared, index, rng, &mut |r| {
            stats.count(&r);
            on_event(Event::Resource(r))
        })?;
        stats.patients += 1;
        on_event(Event::End)?;
    }
    Ok(stats)
}

/// Streams resources patient by patient (shared Organizations, Locations, Practitioners and
/// PractitionerRoles first), calling `sink` for each resource.
pub fn generate(
    config: &SynthConfig,
    sink: &mut dyn FnMut(&Value) -> Result<(), SynthError>,
) -> Result<SynthStats, SynthError> {
    generate_events(config, &mut |event| match event {
        Event::Resource(r) => sink(&r),
        Event::Begin(_) | Event::End => Ok(()),
    })
}

/// Convenience for tests and benchmarks: writes nothing, returns the counts.
pub fn count(config: &SynthConfig) -> Result<SynthStats, SynthError> {
    generate(config, &mut |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: SynthConfig, ok: bool) {
        assert_eq!(count(&config).is_ok(), ok, "{config:?}");
    }

    #[test]
    fn configuration_is_checked() {
        check(
            SynthConfig {
                patients: 0,
                ..SynthConfig::default()
            },
            true,
        );
        check(
            SynthConfig {
                patients: 2,
                volume: 0.0,
                ..SynthConfig::default()
            },
            true,
        );
        check(
            SynthConfig {
                end: (2014, 1, 1),
                ..SynthConfig::default()
            },
            false,
        );
        check(
            SynthConfig {
                start: (2015, 2, 30),
                ..SynthConfig::default()
            },
            false,
        );
        check(
            SynthConfig {
                french_share: 1.5,
                ..SynthConfig::default()
            },
            false,
        );
        check(
            SynthConfig {
                volume: f64::NAN,
                ..SynthConfig::default()
            },
            false,
        );
    }

    #[test]
    fn shared_resources_come_first_and_patients_follow() {
        let config = SynthConfig {
            patients: 2,
            volume: 0.05,
            ..SynthConfig::default()
        };
        let mut types = Vec::new();
        let stats = generate(&config, &mut |r| {
            types.push(r["resourceType"].as_str().unwrap_or("").to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(types[0], "Organization");
        let first_patient = types.iter().position(|t| t == "Patient").unwrap();
        assert!(types[..first_patient].iter().all(|t| [
            "Organization",
            "Location",
            "Practitioner",
            "PractitionerRole"
        ]
        .contains(&t.as_str())));
        assert_eq!(stats.patients, 2);
        assert_eq!(stats.resources as usize, types.len());
        // A sink error stops generation and is returned.
        let mut seen = 0;
        let err = generate(&config, &mut |_| {
            seen += 1;
            if seen == 50 {
                return Err(SynthError::Sink("full".into()));
            }
            Ok(())
        });
        assert!(matches!(err, Err(SynthError::Sink(_))));
        assert_eq!(seen, 50);
    }
}
