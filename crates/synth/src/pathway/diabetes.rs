//! Type 2 diabetes: diagnosis, HbA1c every 3–6 months with a treatment response, metformin
//! first and basal insulin when control fails, yearly retinopathy screening.

use super::{every, onset};
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis};
use crate::fhir::{code, Code, ATC, LOINC, SNOMED};
use crate::org::UNIT_OUTPATIENT;

const T2D: Diagnosis = dx(
    "E11.9",
    "Type 2 diabetes mellitus without complications",
    Some(("44054006", "Diabetes mellitus type 2")),
);
const RETINOPATHY: Diagnosis = dx(
    "E11.3",
    "Type 2 diabetes mellitus with ophthalmic complications",
    Some(("4855003", "Retinopathy due to diabetes mellitus")),
);
const FOLLOW_UP: Code = code(SNOMED, "390906007", "Follow-up encounter");
const EYE_EXAM: Code = code(SNOMED, "36228007", "Ophthalmic examination and evaluation");
const FUNDUS: Act = Act {
    ccam: Some("BGQP002"),
    ops: Some("3-300"),
    display: "Retinal examination (fundus imaging)",
    snomed: None,
};
const HBA1C: Code = code(LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood");

pub fn run(ctx: &mut Ctx) {
    let age = ctx.age_at(ctx.end);
    let p = match age {
        ..=39 => 0.005,
        40..=59 => 0.07,
        60..=74 => 0.16,
        _ => 0.2,
    };
    if !ctx.chance(p) {
        return;
    }
    let Some(start) = onset(ctx, 35) else { return };
    ctx.diabetes = Some(start);
    let practice = ctx.practice;
    let day = start.max(ctx.start);
    let enc = ctx.encounter(
        Class::Ambulatory,
        FOLLOW_UP,
        practice,
        day,
        0,
        Some(&T2D),
        None,
        None,
    );
    ctx.condition(&enc, &T2D, "problem-list-item", None);
    ctx.medication(
        &enc,
        code(ATC, "A10BA02", "metformin"),
        "850 mg twice daily",
        "active",
    );
    let mut hba1c = ctx.normal(8.4, 0.8);
    ctx.observation(&enc, enc.minute + 10, "laboratory", HBA1C, hba1c, 1, "%");
    let mut insulin = false;
    let mut day = day + every(ctx, 90, 180);
    let mut next_eye = day + every(ctx, 60, 365);
    let mut retinopathy = false;
    while day <= ctx.end {
        let enc = ctx.encounter(
            Class::Ambulatory,
            FOLLOW_UP,
            practice,
            day,
            0,
            Some(&T2D),
            None,
            None,
        );
        // Metformin brings HbA1c down; the disease drifts upward over years.
        hba1c += if insulin { -0.25 } else { 0.08 } + ctx.normal(-0.1, 0.3);
        hba1c = hba1c.clamp(5.8, 12.5);
        ctx.observation(&enc, enc.minute + 10, "laboratory", HBA1C, hba1c, 1, "%");
        if !insulin && hba1c > 8.5 {
            insulin = true;
            ctx.medication(
                &enc,
                code(ATC, "A10AE04", "insulin glargine"),
                "10 IU subcutaneously at bedtime, titrated",
                "active",
            );
        }
        if day >= next_eye {
            let hospital = ctx.hospital;
            let eye = ctx.encounter(
                Class::Ambulatory,
                EYE_EXAM,
                hospital,
                day + 7,
                0,
                Some(&T2D),
                Some(UNIT_OUTPATIENT),
                None,
            );
            ctx.procedure(&eye, eye.day, &FUNDUS);
            if !retinopathy && hba1c > 8.0 && ctx.chance(0.15) {
                retinopathy = true;
                ctx.condition(&eye, &RETINOPATHY, "encounter-diagnosis", None);
            }
            next_eye = day + every(ctx, 330, 400);
        }
        day += every(ctx, 90, 180);
    }
}
