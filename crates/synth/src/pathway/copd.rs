//! COPD: diagnosis with spirometry (FEV1, FEV1/FVC), inhaled bronchodilators, yearly spirometry
//! with slow decline, and exacerbations treated in the emergency room or as inpatients.

use super::{every, onset};
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis};
use crate::fhir::{code, Code, ATC, LOINC, SNOMED};
use crate::org::{UNIT_ER, UNIT_OUTPATIENT, UNIT_WARD};

const COPD: Diagnosis = dx(
    "J44.9",
    "Chronic obstructive pulmonary disease, unspecified",
    Some(("13645005", "Chronic obstructive lung disease")),
);
const EXACERBATION: Diagnosis = dx(
    "J44.1",
    "Chronic obstructive pulmonary disease with acute exacerbation, unspecified",
    Some((
        "195951007",
        "Acute exacerbation of chronic obstructive airways disease",
    )),
);
const PNEUMO_CONSULT: Code = code(SNOMED, "11429006", "Consultation");
const ER: Code = code(SNOMED, "50849002", "Emergency room admission");
const ADMISSION: Code = code(SNOMED, "32485007", "Hospital admission");
const SPIRO: Act = Act {
    ccam: Some("GLQP012"),
    ops: Some("1-712"),
    display: "Spirometry",
    snomed: Some("127783003"),
};

pub fn run(ctx: &mut Ctx) {
    let age = ctx.age_at(ctx.end);
    let p = match age {
        ..=44 => 0.002,
        45..=64 => 0.05,
        _ => 0.1,
    };
    if !ctx.chance(p) {
        return;
    }
    let Some(start) = onset(ctx, 45) else { return };
    ctx.copd = Some(start);
    let hospital = ctx.hospital;
    let mut fev1 = ctx.normal(2.2, 0.4).max(0.9);
    let mut day = start.max(ctx.start);
    let first = ctx.encounter(
        Class::Ambulatory,
        PNEUMO_CONSULT,
        hospital,
        day,
        0,
        Some(&COPD),
        Some(UNIT_OUTPATIENT),
        None,
    );
    ctx.condition(&first, &COPD, "problem-list-item", None);
    ctx.medication(
        &first,
        code(ATC, "R03BB04", "tiotropium bromide"),
        "18 micrograms inhaled once daily",
        "active",
    );
    ctx.medication(
        &first,
        code(ATC, "R03AC02", "salbutamol"),
        "100 micrograms inhaled as needed",
        "active",
    );
    let mut enc = first;
    loop {
        ctx.procedure(&enc, enc.day, &SPIRO);
        ctx.observation(
            &enc,
            enc.minute + 30,
            "laboratory",
            code(LOINC, "20150-9", "FEV1"),
            fev1,
            2,
            "L",
        );
        let ratio = ctx.normal(58.0, 6.0).min(69.0);
        ctx.observation(
            &enc,
            enc.minute + 30,
            "laboratory",
            code(LOINC, "19926-5", "FEV1/FVC"),
            ratio,
            0,
            "%",
        );
        fev1 = (fev1 - ctx.normal(0.05, 0.02)).max(0.5);
        if ctx.chance(0.3) {
            let when = day + every(ctx, 30, 300);
            exacerbation(ctx, when);
        }
        day += every(ctx, 300, 420);
        if day > ctx.end {
            break;
        }
        enc = ctx.encounter(
            Class::Ambulatory,
            PNEUMO_CONSULT,
            hospital,
            day,
            0,
            Some(&COPD),
            Some(UNIT_OUTPATIENT),
            None,
        );
    }
}

fn exacerbation(ctx: &mut Ctx, day: i32) {
    if day > ctx.end {
        return;
    }
    let hospital = ctx.hospital;
    let er = ctx.encounter(
        Class::Emergency,
        ER,
        hospital,
        day,
        0,
        Some(&EXACERBATION),
        Some(UNIT_ER),
        None,
    );
    let age = ctx.age_at(day);
    super::vital_signs(ctx, &er, er.minute + 5, age);
    let enc = if ctx.chance(0.4) {
        let los = every(ctx, 3, 9);
        let stay = ctx.encounter(
            Class::Inpatient,
            ADMISSION,
            hospital,
            day,
            los,
            Some(&EXACERBATION),
            Some(UNIT_WARD),
            Some(&er),
        );
        super::lab_panels(ctx, &stay, stay.minute + 60, false);
        stay
    } else {
        er
    };
    ctx.condition(&enc, &EXACERBATION, "encounter-diagnosis", Some(day + 14));
    let crp = ctx.normal(45.0, 20.0).max(1.0);
    ctx.observation(
        &enc,
        enc.minute + 30,
        "laboratory",
        code(
            LOINC,
            "1988-5",
            "C reactive protein [Mass/volume] in Serum or Plasma",
        ),
        crp,
        0,
        "mg/L",
    );
    ctx.medication(
        &enc,
        code(ATC, "H02AB06", "prednisolone"),
        "40 mg once daily for 5 days",
        "completed",
    );
    ctx.medication(
        &enc,
        code(ATC, "J01CA04", "amoxicillin"),
        "1 g three times daily for 5 days",
        "completed",
    );
}
