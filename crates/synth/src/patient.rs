//! One patient: identity (FR Core–shaped for Moselle-Est, MII Person–shaped for Saarland), then
//! the care pathways that apply to them, then consent.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::ctx::{Ctx, Emit, Sex};
use crate::fhir::{self, date, date_time, day_of, reference, Day};
use crate::org::{pick, Shared};
use crate::{consent, ids, names, pathway, places, Country, SynthConfig, SynthError};

/// The test OID for INS-NIR identifiers. The production OID (`…1.4.8`) is never emitted.
pub const INS_NIR_TEST_SYSTEM: &str = "urn:oid:1.2.250.1.213.1.4.10";
pub const KVID_SYSTEM: &str = "http://fhir.de/sid/gkv/kvid-10";

/// The stable id of patient `index`: `fr-p-000123` or `de-p-000123`.
pub fn patient_id(country: Country, index: usize) -> String {
    match country {
        Country::Fr => format!("fr-p-{index:06}"),
        Country::De => format!("de-p-{index:06}"),
    }
}

/// The country patient `index` lives in, drawn first from its RNG stream.
pub(crate) fn country_of(config: &SynthConfig, rng: &mut ChaCha8Rng) -> Country {
    if rng.gen_bool(config.french_share) {
        Country::Fr
    } else {
        Country::De
    }
}

/// Generates patient `index` and all their resources, the Patient first, into `sink`.
pub(crate) fn generate_patient(
    config: &SynthConfig,
    shared: &Shared,
    index: usize,
    mut rng: ChaCha8Rng,
    sink: &mut Emit,
) -> Result<(), SynthError> {
    let country = country_of(config, &mut rng);
    let sex = if rng.gen_bool(0.5) {
        Sex::Female
    } else {
        Sex::Male
    };
    let window_start = day_of(config.start.0, config.start.1, config.start.2);
    let window_end = day_of(config.end.0, config.end.1, config.end.2);
    // Ages skew older, as a hospital population does: born 1925–2024.
    let birth_year = 2024 - (rng.gen::<f64>().powf(0.8) * 99.0) as i32;
    let birth = day_of(birth_year, 1, 1) + rng.gen_range(0..365);
    let age_at_end = fhir::age_at(birth, window_end);
    // Deaths among the oldest, during the window.
    let death: Option<Day> = (age_at_end > 80 && rng.gen_bool(0.25))
        .then(|| window_end - rng.gen_range(0..(window_end - window_start).max(1)));
    let start = window_start.max(birth);
    let end = death.unwrap_or(window_end).max(start);
    let cross_border = rng.gen_bool(config.cross_border_share);
    let pid = patient_id(country, index);

    let mut ctx = Ctx::new(
        rng,
        pid,
        country,
        sex,
        birth,
        start,
        end,
        config.volume,
        cross_border,
        shared,
        sink,
    );
    let patient = patient_resource(&mut ctx, index, death);
    ctx.push(patient);
    pathway::run_all(&mut ctx);
    consent::emit(&mut ctx);
    match ctx.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn patient_resource(ctx: &mut Ctx, index: usize, death: Option<Day>) -> Value {
    let female = ctx.sex == Sex::Female;
    let (given, family) = match ctx.country {
        Country::Fr => (
            pick(
                &mut ctx.rng,
                if female {
                    names::FR_FEMALE
                } else {
                    names::FR_MALE
                },
            ),
            pick(&mut ctx.rng, names::FR_FAMILY),
        ),
        Country::De => (
            pick(
                &mut ctx.rng,
                if female {
                    names::DE_FEMALE
                } else {
                    names::DE_MALE
                },
            ),
            pick(&mut ctx.rng, names::DE_FAMILY),
        ),
    };
    let number = ctx.rng.gen_range(1..100);
    let gp = ctx.org(ctx.practice);
    let gp_practitioner = gp.practitioners[ctx.rng.gen_range(0..gp.practitioners.len())].clone();
    let mut p = match ctx.country {
        Country::Fr => {
            let home = &places::MOSELLE_EST[ctx.rng.gen_range(0..places::MOSELLE_EST.len())];
            // Most patients were born in Moselle-Est; the birth commune gives the NIR's place part.
            let born = &places::MOSELLE_EST[ctx.rng.gen_range(0..places::MOSELLE_EST.len())];
            let nir = ids::nir(
                if female { 2 } else { 1 },
                fhir::year_of(ctx.birth),
                fhir::month_of(ctx.birth),
                &born.insee[..2],
                &born.insee[2..],
                ctx.rng.gen_range(1..1000),
            );
            let street = pick(&mut ctx.rng, places::FR_STREETS);
            json!({
                "resourceType": "Patient",
                "id": ctx.pid,
                "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                    "valueAddress": {"city": born.name, "postalCode": born.postal, "country": "FR"}}],
                "identifier": [{
                    "use": "official",
                    "type": {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                        "code": "INS-NIR-TEST", "display": "NIR de test"}]},
                    "system": INS_NIR_TEST_SYSTEM,
                    "value": nir,
                }],
                "active": true,
                "name": [{"use": "official", "family": family, "given": [given]}],
                "telecom": [{"system": "phone", "value": format!("+33 3 87 {:02} {:02} {:02}",
                    ctx.rng.gen_range(0..100), ctx.rng.gen_range(0..100), index % 100), "use": "home"}],
                "gender": if female { "female" } else { "male" },
                "birthDate": date(ctx.birth),
                "address": [{"use": "home", "type": "physical", "line": [format!("{number} {street}")],
                    "city": home.name, "district": "Moselle", "postalCode": home.postal, "country": "FR"}],
            })
        }
        Country::De => {
            let home = &places::SAARLAND[ctx.rng.gen_range(0..places::SAARLAND.len())];
            let letter = (b'A' + ctx.rng.gen_range(0..26)) as char;
            let kvnr = ids::kvnr(letter, ctx.rng.gen_range(0..100_000_000));
            let insurer = ids::iknr(10, 83, ctx.rng.gen_range(0..10_000));
            let street = pick(&mut ctx.rng, places::DE_STREETS);
            json!({
                "resourceType": "Patient",
                "id": ctx.pid,
                "identifier": [{
                    "use": "official",
                    "type": {"coding": [{"system": "http://fhir.de/CodeSystem/identifier-type-de-basis",
                        "code": "GKV", "display": "Gesetzliche Krankenversicherung"}]},
                    "system": KVID_SYSTEM,
                    "value": kvnr,
                    "assigner": {"identifier": {"system": "http://fhir.de/sid/arge-ik/iknr", "value": insurer}},
                }],
                "active": true,
                "name": [{"use": "official", "family": family, "given": [given]}],
                "telecom": [{"system": "phone", "value": format!("+49 681 {:04}{:02}",
                    ctx.rng.gen_range(0..10_000), index % 100), "use": "home"}],
                "gender": if female { "female" } else { "male" },
                "birthDate": date(ctx.birth),
                "address": [{"use": "home", "type": "both", "line": [format!("{street} {number}")],
                    "city": home.name, "state": "Saarland", "postalCode": home.postal, "country": "DE"}],
            })
        }
    };
    p["generalPractitioner"] = json!([reference("Practitioner", &gp_practitioner)]);
    if let Some(d) = death {
        p["deceasedDateTime"] = json!(date_time(d, 6 * 60));
    }
    p
}
