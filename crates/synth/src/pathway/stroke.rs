//! Acute ischaemic stroke: emergency room → head CT → stroke unit (an inpatient encounter part
//! of the emergency one, moving between locations) → transfer to a rehabilitation unit, which
//! for cross-border patients may be on the other side of the border; then secondary prevention.

use super::{every, onset};
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis};
use crate::fhir::{code, Code, ATC, LOINC, SNOMED};
use crate::org::{UNIT_ER, UNIT_REHAB, UNIT_STROKE};

const STROKE: Diagnosis = dx(
    "I63.9",
    "Cerebral infarction, unspecified",
    Some(("422504002", "Ischemic stroke")),
);
const ER: Code = code(SNOMED, "50849002", "Emergency room admission");
const ADMISSION: Code = code(SNOMED, "32485007", "Hospital admission");
const REHAB: Code = code(SNOMED, "52748007", "Rehabilitation");
const CT_HEAD: Act = Act {
    ccam: Some("ACQK001"),
    ops: Some("3-200"),
    display: "Computed tomography of head without contrast",
    snomed: Some("303653007"),
};
const STROKE_UNIT: Act = Act {
    ccam: None,
    ops: Some("8-981"),
    display: "Stroke unit care",
    snomed: Some("440418009"),
};

pub fn run(ctx: &mut Ctx) {
    let age = ctx.age_at(ctx.end);
    let p = match age {
        ..=54 => 0.003,
        55..=74 => 0.03,
        _ => 0.07,
    };
    if !ctx.chance(p) {
        return;
    }
    // An acute event: only strokes inside the care window are recorded.
    let Some(day) = onset(ctx, 50).filter(|d| *d >= ctx.start) else {
        return;
    };
    let hospital = ctx.hospital;
    let er = ctx.encounter(
        Class::Emergency,
        ER,
        hospital,
        day,
        0,
        Some(&STROKE),
        Some(UNIT_ER),
        None,
    );
    let age = ctx.age_at(day);
    super::vital_signs(ctx, &er, er.minute + 5, age);
    ctx.procedure(&er, day, &CT_HEAD);
    let los = every(ctx, 4, 12);
    let unit = ctx.encounter(
        Class::Inpatient,
        ADMISSION,
        hospital,
        day,
        los,
        Some(&STROKE),
        Some(UNIT_STROKE),
        Some(&er),
    );
    ctx.condition(&unit, &STROKE, "encounter-diagnosis", None);
    ctx.procedure(&unit, day, &STROKE_UNIT);
    for d in 0..unit.days.min(5) {
        let sbp = ctx.normal(165.0 - d as f64 * 6.0, 10.0);
        let dbp = ctx.normal(92.0 - d as f64 * 2.0, 6.0);
        ctx.blood_pressure(&unit, unit.minute + d as u32 * 1440 + 120, sbp, dbp);
    }
    super::lab_panels(ctx, &unit, unit.minute + 60, true);
    ctx.medication(
        &unit,
        code(ATC, "B01AC06", "acetylsalicylic acid"),
        "100 mg once daily",
        "active",
    );
    ctx.medication(
        &unit,
        code(ATC, "C10AA05", "atorvastatin"),
        "40 mg once daily",
        "active",
    );
    let rehab_country = if ctx.cross_border && ctx.chance(0.6) {
        ctx.country.other()
    } else {
        ctx.country
    };
    let rehab_site = ctx.pick_org(rehab_country, true);
    let rehab_days = every(ctx, 14, 35);
    let rehab = ctx.encounter(
        Class::Inpatient,
        REHAB,
        rehab_site,
        day + unit.days,
        rehab_days,
        Some(&STROKE),
        Some(UNIT_REHAB),
        Some(&unit),
    );
    for week in 0..(rehab.days / 7) {
        let minute = rehab.minute + (week * 7) as u32 * 1440 + 60;
        let barthel = (40.0 + week as f64 * 12.0 + ctx.normal(0.0, 5.0)).min(100.0);
        ctx.observation(
            &rehab,
            minute,
            "exam",
            code(LOINC, "96761-2", "Total score Barthel Index"),
            barthel,
            0,
            "{score}",
        );
    }
}
