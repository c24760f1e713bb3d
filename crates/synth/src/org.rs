//! Shared resources emitted before any patient: the group's French establishments and German
//! partner hospitals (Organization), their units (Location), and their staff (Practitioner,
//! PractitionerRole).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::fhir::{reference, Code, SNOMED};
use crate::ids;
use crate::names;
use crate::Country;

/// An establishment of the synthetic network.
pub struct Org {
    pub id: String,
    pub country: Country,
    pub name: &'static str,
    pub city: &'static str,
    pub postal: &'static str,
    /// True for hospitals (emergency, wards); false for ambulatory practices and laboratories.
    pub hospital: bool,
    /// Location ids by unit, in the order of `UNITS`.
    pub units: Vec<String>,
    pub practitioners: Vec<String>,
}

/// Hospital units, each a Location typed from v3-ServiceDeliveryLocationRoleType.
pub const UNITS: &[(&str, &str, &str)] = &[
    ("er", "ER", "Emergency room"),
    ("ward", "HU", "Hospital unit"),
    ("stroke", "NCCS", "Neurology critical care and stroke unit"),
    ("rehab", "RHU", "Rehabilitation hospital unit"),
    ("cons", "HOSP", "Hospital"),
];

pub const UNIT_ER: usize = 0;
pub const UNIT_WARD: usize = 1;
pub const UNIT_STROKE: usize = 2;
pub const UNIT_REHAB: usize = 3;
pub const UNIT_OUTPATIENT: usize = 4;

const FR_ORGS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "fr-org-forbach",
        "Hôpital synthétique de Forbach",
        "Forbach",
        "57600",
        true,
    ),
    (
        "fr-org-sarreguemines",
        "Centre hospitalier synthétique de Sarreguemines",
        "Sarreguemines",
        "57200",
        true,
    ),
    (
        "fr-org-saint-avold",
        "Hôpital synthétique de Saint-Avold",
        "Saint-Avold",
        "57500",
        true,
    ),
    (
        "fr-org-mg-forbach",
        "Maison de santé synthétique de Forbach",
        "Forbach",
        "57600",
        false,
    ),
    (
        "fr-org-mg-bitche",
        "Maison de santé synthétique de Bitche",
        "Bitche",
        "57230",
        false,
    ),
];

const DE_ORGS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "de-org-saarbruecken",
        "Synthetisches Klinikum Saarbrücken",
        "Saarbrücken",
        "66111",
        true,
    ),
    (
        "de-org-homburg",
        "Synthetisches Universitätsklinikum Homburg",
        "Homburg",
        "66424",
        true,
    ),
    (
        "de-org-voelklingen",
        "Synthetisches Krankenhaus Völklingen",
        "Völklingen",
        "66333",
        true,
    ),
    (
        "de-org-praxis-saarlouis",
        "Synthetische Hausarztpraxis Saarlouis",
        "Saarlouis",
        "66740",
        false,
    ),
    (
        "de-org-praxis-neunkirchen",
        "Synthetische Hausarztpraxis Neunkirchen",
        "Neunkirchen",
        "66538",
        false,
    ),
];

const PRACTITIONERS_PER_ORG: usize = 6;

const ROLE_DOCTOR: Code = Code {
    system: SNOMED,
    code: "158965000",
    display: "Medical practitioner",
};

/// The shared part of the population, built from RNG stream 0.
pub struct Shared {
    pub orgs: Vec<Org>,
    pub resources: Vec<Value>,
}

impl Shared {
    pub fn hospitals(&self, country: Country) -> impl Iterator<Item = (usize, &Org)> {
        self.orgs
            .iter()
            .enumerate()
            .filter(move |(_, o)| o.hospital && o.country == country)
    }

    pub fn practices(&self, country: Country) -> impl Iterator<Item = (usize, &Org)> {
        self.orgs
            .iter()
            .enumerate()
            .filter(move |(_, o)| !o.hospital && o.country == country)
    }
}

pub fn build(rng: &mut ChaCha8Rng) -> Shared {
    let mut orgs = Vec::new();
    let mut resources = Vec::new();
    let all = FR_ORGS
        .iter()
        .map(|o| (Country::Fr, o))
        .chain(DE_ORGS.iter().map(|o| (Country::De, o)));
    for (n, (country, &(id, name, city, postal, hospital))) in all.enumerate() {
        let identifier = match country {
            Country::Fr => json!({"system": "https://finess.esante.gouv.fr",
                "value": ids::finess("57", 100 + n as u32 * 37)}),
            Country::De => json!({"system": "http://fhir.de/sid/arge-ik/iknr",
                "value": ids::iknr(26, 10, 100 + n as u32 * 13)}),
        };
        let country_code = country.iso();
        resources.push(json!({
            "resourceType": "Organization",
            "id": id,
            "identifier": [identifier],
            "active": true,
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                "code": "prov", "display": "Healthcare Provider"}]}],
            "name": name,
            "address": [{"use": "work", "city": city, "postalCode": postal, "country": country_code}],
        }));
        let mut units = Vec::new();
        if hospital {
            for (suffix, code, display) in UNITS {
                let loc_id = format!("{id}-loc-{suffix}");
                resources.push(json!({
                    "resourceType": "Location",
                    "id": loc_id,
                    "status": "active",
                    "name": format!("{name} – {display}"),
                    "mode": "instance",
                    "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": code, "display": display}]}],
                    "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                        "code": "wa", "display": "Ward"}]},
                    "managingOrganization": reference("Organization", id),
                }));
                units.push(loc_id);
            }
        }
        let mut practitioners = Vec::new();
        for k in 0..PRACTITIONERS_PER_ORG {
            let pr_id = format!("{id}-pr-{k}");
            let female = rng.gen_bool(0.5);
            let (given, family, identifier, prefix) = match country {
                Country::Fr => (
                    pick(
                        rng,
                        if female {
                            names::FR_FEMALE
                        } else {
                            names::FR_MALE
                        },
                    ),
                    pick(rng, names::FR_FAMILY),
                    json!({"system": "https://rpps.esante.gouv.fr",
                        "value": ids::rpps(rng.gen_range(0..100_000_000))}),
                    "Dr",
                ),
                Country::De => (
                    pick(
                        rng,
                        if female {
                            names::DE_FEMALE
                        } else {
                            names::DE_MALE
                        },
                    ),
                    pick(rng, names::DE_FAMILY),
                    json!({"system": "https://fhir.kbv.de/NamingSystem/KBV_NS_Base_ANR",
                        "value": ids::lanr(rng.gen_range(0..1_000_000), [1, 3, 8, 23, 50][k % 5])}),
                    "Dr. med.",
                ),
            };
            resources.push(json!({
                "resourceType": "Practitioner",
                "id": pr_id,
                "identifier": [identifier],
                "active": true,
                "name": [{"use": "official", "family": family, "given": [given], "prefix": [prefix]}],
                "gender": if female { "female" } else { "male" },
            }));
            resources.push(json!({
                "resourceType": "PractitionerRole",
                "id": format!("{pr_id}-role"),
                "active": true,
                "practitioner": reference("Practitioner", &pr_id),
                "organization": reference("Organization", id),
                "code": [ROLE_DOCTOR.concept()],
            }));
            practitioners.push(pr_id);
        }
        orgs.push(Org {
            id: id.to_string(),
            country,
            name,
            city,
            postal,
            hospital,
            units,
            practitioners,
        });
    }
    Shared { orgs, resources }
}

pub fn pick<T: Copy>(rng: &mut ChaCha8Rng, table: &[T]) -> T {
    table[rng.gen_range(0..table.len())]
}
