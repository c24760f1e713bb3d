//! Pregnancy: monthly prenatal visits with blood pressure, weight and fetal heart rate, first-
//! and third-trimester labs, folic acid, then a delivery stay (vaginal or caesarean).

use super::every;
use crate::ctx::{dx, Act, Class, Ctx, Diagnosis, Sex};
use crate::fhir::{code, Code, ATC, LOINC, SNOMED};
use crate::org::UNIT_WARD;

const PREGNANCY: Diagnosis = dx(
    "Z34.9",
    "Supervision of normal pregnancy, unspecified",
    Some(("77386006", "Pregnancy")),
);
const PRENATAL: Code = code(SNOMED, "424441002", "Prenatal initial visit");
const ADMISSION: Code = code(SNOMED, "32485007", "Hospital admission");
const VAGINAL: Act = Act {
    ccam: Some("JQGD010"),
    ops: Some("9-260"),
    display: "Normal delivery",
    snomed: Some("177184002"),
};
const CAESAREAN: Act = Act {
    ccam: Some("JQGA002"),
    ops: Some("5-740"),
    display: "Caesarean section",
    snomed: Some("11466000"),
};

pub fn run(ctx: &mut Ctx) {
    if ctx.sex != Sex::Female {
        return;
    }
    let mut day = ctx.start.max(ctx.birth + 18 * 365);
    let last = ctx.end.min(ctx.birth + 42 * 365) - 300;
    while day < last {
        // About one pregnancy every eight fertile years on average.
        day += every(ctx, 300, 5500);
        if day >= last {
            return;
        }
        if ctx.chance(0.5) {
            pregnancy(ctx, day);
            day += 400;
        }
    }
}

fn pregnancy(ctx: &mut Ctx, start: i32) {
    let practice = ctx.practice;
    let hospital = ctx.hospital;
    let first = ctx.encounter(
        Class::Ambulatory,
        PRENATAL,
        practice,
        start + 49,
        0,
        Some(&PREGNANCY),
        None,
        None,
    );
    let delivery_day = start + 280 + every(ctx, -14, 10);
    ctx.condition(&first, &PREGNANCY, "problem-list-item", Some(delivery_day));
    ctx.medication(
        &first,
        code(ATC, "B03BB01", "folic acid"),
        "0.4 mg once daily",
        "completed",
    );
    super::lab_panels(ctx, &first, first.minute + 15, false);
    let mut week = 7;
    while week < 39 {
        let day = start + week * 7;
        if day > ctx.end {
            return;
        }
        let enc = if week == 7 {
            first.clone()
        } else {
            ctx.encounter(
                Class::Ambulatory,
                PRENATAL,
                practice,
                day,
                0,
                Some(&PREGNANCY),
                None,
                None,
            )
        };
        let sbp = ctx.normal(114.0, 8.0);
        let dbp = ctx.normal(72.0, 6.0);
        ctx.blood_pressure(&enc, enc.minute + 5, sbp, dbp);
        let w = ctx.weight + week as f64 * 0.33;
        ctx.observation(
            &enc,
            enc.minute + 5,
            "vital-signs",
            code(LOINC, "29463-7", "Body weight"),
            w,
            1,
            "kg",
        );
        if week >= 12 {
            let fhr = ctx.normal(140.0, 8.0);
            ctx.observation(
                &enc,
                enc.minute + 10,
                "exam",
                code(LOINC, "55283-6", "Fetal Heart rate"),
                fhr,
                0,
                "/min",
            );
        }
        if week == 27 {
            let glucose = ctx.normal(110.0, 18.0);
            ctx.observation(
                &enc,
                enc.minute + 15,
                "laboratory",
                code(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
                glucose,
                0,
                "mg/dL",
            );
        }
        week += 4;
    }
    if delivery_day > ctx.end {
        return;
    }
    let los = every(ctx, 2, 5);
    let stay = ctx.encounter(
        Class::Inpatient,
        ADMISSION,
        hospital,
        delivery_day,
        los,
        Some(&PREGNANCY),
        Some(UNIT_WARD),
        None,
    );
    let act = if ctx.chance(0.2) { CAESAREAN } else { VAGINAL };
    ctx.procedure(&stay, delivery_day, &act);
    super::lab_panels(ctx, &stay, stay.minute + 300, false);
}
