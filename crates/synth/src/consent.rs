//! Consent: French objections to secondary use of data (a minority of French patients) and the
//! MII broad consent for German patients, with its module-level permits and denies.

use rand::Rng;
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::fhir::{date, date_time, reference, LOINC};
use crate::Country;

/// The MII consent policy code system (Einwilligungsmanagement policy OIDs).
pub const MII_POLICY_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3";

/// Broad-consent modules: (code suffix, display). `MDAT_*` modules are the ones research
/// platforms check before using clinical data.
const MII_MODULES: &[(&str, &str)] = &[
    ("2", "IDAT erheben"),
    ("3", "IDAT speichern, verarbeiten"),
    ("4", "IDAT zusammenfuehren Dritte"),
    ("5", "IDAT bereitstellen EU DSGVO NIVEAU"),
    ("6", "MDAT erheben"),
    ("7", "MDAT speichern, verarbeiten"),
    ("8", "MDAT wissenschaftlich nutzen EU DSGVO NIVEAU"),
    ("9", "MDAT zusammenfuehren Dritte"),
];

/// Share of French patients who object to secondary use, and of German patients who are asked
/// for broad consent (those who are asked mostly agree).
const FR_OBJECTION_SHARE: f64 = 0.08;
const DE_ASKED_SHARE: f64 = 0.7;

pub fn emit(ctx: &mut Ctx) {
    match ctx.country {
        Country::Fr => french_objection(ctx),
        Country::De => mii_broad_consent(ctx),
    }
}

fn consent_base(ctx: &mut Ctx, scope: (&str, &str), category: Value, day: i32) -> (String, Value) {
    let id = ctx.next_id("consent");
    let org = ctx.org(ctx.hospital).id.clone();
    let v = json!({
        "resourceType": "Consent",
        "id": id,
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": scope.0, "display": scope.1}]},
        "category": [category],
        "patient": ctx.subject(),
        "dateTime": date_time(day, 10 * 60),
        "organization": [reference("Organization", &org)],
    });
    (id, v)
}

fn french_objection(ctx: &mut Ctx) {
    if !ctx.chance(FR_OBJECTION_SHARE) {
        return;
    }
    let day = ctx.rng.gen_range(ctx.start..=ctx.end);
    let research = ctx.chance(0.7);
    let scope = if research {
        ("research", "Research")
    } else {
        ("patient-privacy", "Privacy Consent")
    };
    let category =
        json!({"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]});
    let (_, mut c) = consent_base(ctx, scope, category, day);
    // An objection (opposition) to the reuse of data: a deny provision from the day it is made.
    c["policyRule"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "OPTOUT", "display": "opt-out"}]});
    c["provision"] = json!({
        "type": "deny",
        "period": {"start": date(day)},
        "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "code": "HRESCH", "display": "healthcare research"}],
    });
    ctx.push(c);
}

fn mii_broad_consent(ctx: &mut Ctx) {
    if !ctx.chance(DE_ASKED_SHARE) || ctx.age_at(ctx.end) < 18 {
        return;
    }
    let day = ctx
        .rng
        .gen_range(ctx.start.max(ctx.end - 6 * 365)..=ctx.end);
    let category = json!({"coding": [
        {"system": LOINC, "code": "57016-8", "display": "Privacy policy acknowledgment Document"},
        {"system": "https://www.medizininformatik-initiative.de/fhir/modul-consent/CodeSystem/mii-cs-consent-consent_category",
         "code": "2.16.840.1.113883.3.1937.777.24.2.184"},
    ]});
    let (_, mut c) = consent_base(ctx, ("research", "Research"), category, day);
    c["policy"] = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}]);
    let end = day + 30 * 365 + 7;
    // Refusals are module-wise: most agree to everything, some refuse the transfer to third
    // parties or scientific use.
    let refuse_third = ctx.chance(0.1);
    let refuse_all = ctx.chance(0.05);
    let provisions: Vec<Value> = MII_MODULES
        .iter()
        .map(|(suffix, display)| {
            let deny = refuse_all || (refuse_third && suffix.parse::<u32>().is_ok_and(|s| s == 4 || s == 9));
            json!({
                "type": if deny { "deny" } else { "permit" },
                "period": {"start": date(day), "end": date(end)},
                "code": [{"coding": [{"system": MII_POLICY_SYSTEM,
                    "code": format!("{MII_POLICY_SYSTEM_CODE_PREFIX}.{suffix}"), "display": display}]}],
            })
        })
        .collect();
    c["provision"] = json!({
        "type": "deny",
        "period": {"start": date(day), "end": date(end)},
        "provision": provisions,
    });
    ctx.push(c);
}

/// Codes in the MII policy system are the full OIDs of the modules.
const MII_POLICY_SYSTEM_CODE_PREFIX: &str = "2.16.840.1.113883.3.1937.777.24.5.3";
