//! Cancer: breast cancer (women) or colon cancer, diagnosed in an outpatient visit, operated on
//! in an inpatient stay, then six chemotherapy cycles three weeks apart with a blood count
//! before each, then hormone therapy or surveillance.

use super::{every, onset};
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis, Sex};
use crate::fhir::{code, Code, ATC, SNOMED};
use crate::org::{UNIT_OUTPATIENT, UNIT_WARD};

const BREAST: Diagnosis = dx(
    "C50.9",
    "Malignant neoplasm of breast, unspecified",
    Some(("254837009", "Malignant neoplasm of breast")),
);
const COLON: Diagnosis = dx(
    "C18.9",
    "Malignant neoplasm of colon, unspecified",
    Some(("363406005", "Malignant neoplasm of colon")),
);
const CONSULT: Code = code(SNOMED, "11429006", "Consultation");
const ADMISSION: Code = code(SNOMED, "32485007", "Hospital admission");
const CHEMO_VISIT: Code = code(SNOMED, "185347001", "Encounter for problem");
const MASTECTOMY: Act = Act {
    ccam: Some("QEFA004"),
    ops: Some("5-870"),
    display: "Partial mastectomy",
    snomed: Some("64368001"),
};
const COLECTOMY: Act = Act {
    ccam: Some("HHFA009"),
    ops: Some("5-455"),
    display: "Partial resection of colon",
    snomed: Some("43075005"),
};
const CHEMO: Act = Act {
    ccam: None,
    ops: Some("8-542"),
    display: "Chemotherapy",
    snomed: Some("367336001"),
};

pub fn run(ctx: &mut Ctx) {
    let age = ctx.age_at(ctx.end);
    let p = match age {
        ..=44 => 0.004,
        45..=64 => 0.04,
        _ => 0.08,
    };
    if !ctx.chance(p) {
        return;
    }
    let Some(day) = onset(ctx, 40).filter(|d| *d >= ctx.start) else {
        return;
    };
    let breast = ctx.sex == Sex::Female && ctx.chance(0.6);
    let (diagnosis, surgery, drug) = if breast {
        (BREAST, MASTECTOMY, code(ATC, "L01DB03", "epirubicin"))
    } else {
        (COLON, COLECTOMY, code(ATC, "L01BC02", "fluorouracil"))
    };
    let hospital = ctx.hospital;
    let dx_enc = ctx.encounter(
        Class::Ambulatory,
        CONSULT,
        hospital,
        day,
        0,
        Some(&diagnosis),
        Some(UNIT_OUTPATIENT),
        None,
    );
    ctx.condition(&dx_enc, &diagnosis, "problem-list-item", None);
    let op_day = day + every(ctx, 14, 35);
    let los = every(ctx, 3, 9);
    let stay = ctx.encounter(
        Class::Inpatient,
        ADMISSION,
        hospital,
        op_day,
        los,
        Some(&diagnosis),
        Some(UNIT_WARD),
        None,
    );
    ctx.procedure(&stay, op_day + 1, &surgery);
    super::lab_panels(ctx, &stay, stay.minute + 30, false);
    let mut cycle_day = op_day + los + every(ctx, 21, 42);
    for _ in 0..6 {
        if cycle_day > ctx.end {
            return;
        }
        let enc = ctx.encounter(
            Class::Ambulatory,
            CHEMO_VISIT,
            hospital,
            cycle_day,
            0,
            Some(&diagnosis),
            Some(UNIT_OUTPATIENT),
            None,
        );
        super::lab_panels(ctx, &enc, enc.minute + 10, false);
        ctx.procedure(&enc, cycle_day, &CHEMO);
        ctx.medication(
            &enc,
            drug,
            "one cycle per protocol, dose by body surface area",
            "completed",
        );
        cycle_day += 21;
    }
    if breast && cycle_day <= ctx.end {
        let enc = ctx.encounter(
            Class::Ambulatory,
            CONSULT,
            hospital,
            cycle_day,
            0,
            Some(&diagnosis),
            Some(UNIT_OUTPATIENT),
            None,
        );
        ctx.medication(
            &enc,
            code(ATC, "L02BG03", "anastrozole"),
            "1 mg once daily for 5 years",
            "active",
        );
    }
}
