//! Heart failure: diagnosis with echocardiography and NT-proBNP, diuretic, beta blocker and ACE
//! inhibitor, follow-up NT-proBNP, and decompensation admissions through the emergency room.

use super::{every, onset};
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis};
use crate::fhir::{code, Code, ATC, LOINC, SNOMED};
use crate::org::{UNIT_ER, UNIT_OUTPATIENT, UNIT_WARD};

const HF: Diagnosis = dx(
    "I50.9",
    "Heart failure, unspecified",
    Some(("84114007", "Heart failure")),
);
const DECOMP: Diagnosis = dx(
    "I50.1",
    "Left ventricular failure",
    Some(("42343007", "Congestive heart failure")),
);
const CARDIO: Code = code(SNOMED, "11429006", "Consultation");
const ER: Code = code(SNOMED, "50849002", "Emergency room admission");
const ADMISSION: Code = code(SNOMED, "32485007", "Hospital admission");
const ECHO: Act = Act {
    ccam: Some("DZQM006"),
    ops: Some("3-052"),
    display: "Echocardiography",
    snomed: Some("40701008"),
};
const NTPROBNP: Code = code(
    LOINC,
    "33762-6",
    "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
);

pub fn run(ctx: &mut Ctx) {
    let age = ctx.age_at(ctx.end);
    let p = match age {
        ..=59 => 0.003,
        60..=74 => 0.06,
        _ => 0.14,
    };
    if !ctx.chance(p) {
        return;
    }
    let Some(start) = onset(ctx, 55) else { return };
    ctx.heart_failure = Some(start);
    let hospital = ctx.hospital;
    let day = start.max(ctx.start);
    let enc = ctx.encounter(
        Class::Ambulatory,
        CARDIO,
        hospital,
        day,
        0,
        Some(&HF),
        Some(UNIT_OUTPATIENT),
        None,
    );
    ctx.condition(&enc, &HF, "problem-list-item", None);
    ctx.procedure(&enc, day, &ECHO);
    let mut bnp = ctx.normal(1800.0, 500.0).max(400.0);
    ctx.observation(
        &enc,
        enc.minute + 20,
        "laboratory",
        NTPROBNP,
        bnp,
        0,
        "pg/mL",
    );
    ctx.medication(
        &enc,
        code(ATC, "C03CA01", "furosemide"),
        "40 mg once daily",
        "active",
    );
    ctx.medication(
        &enc,
        code(ATC, "C07AB07", "bisoprolol"),
        "2.5 mg once daily, titrated",
        "active",
    );
    ctx.medication(
        &enc,
        code(ATC, "C09AA05", "ramipril"),
        "2.5 mg twice daily",
        "active",
    );
    let mut day = day + every(ctx, 90, 180);
    while day <= ctx.end {
        if ctx.chance(0.12) {
            decompensation(ctx, day);
            bnp *= 1.6;
        }
        let enc = ctx.encounter(
            Class::Ambulatory,
            CARDIO,
            hospital,
            day,
            0,
            Some(&HF),
            Some(UNIT_OUTPATIENT),
            None,
        );
        bnp = (bnp * ctx.normal(0.92, 0.12)).clamp(150.0, 30_000.0);
        ctx.observation(
            &enc,
            enc.minute + 20,
            "laboratory",
            NTPROBNP,
            bnp,
            0,
            "pg/mL",
        );
        if ctx.chance(0.25) {
            ctx.procedure(&enc, day, &ECHO);
        }
        day += every(ctx, 90, 180);
    }
}

/// Emergency room, then an inpatient stay as part of it, with daily weight and NT-proBNP.
fn decompensation(ctx: &mut Ctx, day: i32) {
    let hospital = ctx.hospital;
    let er = ctx.encounter(
        Class::Emergency,
        ER,
        hospital,
        day,
        0,
        Some(&DECOMP),
        Some(UNIT_ER),
        None,
    );
    let age = ctx.age_at(day);
    super::vital_signs(ctx, &er, er.minute + 5, age);
    let los = every(ctx, 4, 10);
    let stay = ctx.encounter(
        Class::Inpatient,
        ADMISSION,
        hospital,
        day,
        los,
        Some(&DECOMP),
        Some(UNIT_WARD),
        Some(&er),
    );
    ctx.condition(&stay, &DECOMP, "encounter-diagnosis", Some(day + los));
    let mut bnp = ctx.normal(6000.0, 1500.0).max(2000.0);
    for d in 0..stay.days.max(1) {
        let minute = stay.minute + d as u32 * 1440 + 60;
        bnp *= 0.8;
        ctx.observation(&stay, minute, "laboratory", NTPROBNP, bnp, 0, "pg/mL");
        let w = ctx.weight + 5.0 - d as f64 * 0.6;
        ctx.observation(
            &stay,
            minute,
            "vital-signs",
            code(LOINC, "29463-7", "Body weight"),
            w,
            1,
            "kg",
        );
    }
    super::lab_panels(ctx, &stay, stay.minute + 90, false);
    ctx.medication(
        &stay,
        code(ATC, "C03CA01", "furosemide"),
        "40 mg intravenously twice daily",
        "completed",
    );
}
