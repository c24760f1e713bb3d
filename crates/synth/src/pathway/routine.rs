//! Routine care for everyone: family-doctor visits with vital signs, yearly lab panels,
//! hypertension, acute illnesses, emergency visits (some across the border), vaccinations and
//! allergies. This pathway carries most of the volume and scales with `SynthConfig::volume`.

use rand::Rng;

use super::every;
use crate::ctx::{dx, Class, Ctx, Diagnosis, Enc, Sex};
use crate::fhir::{code, Code, Day, ATC, CVX, LOINC, SNOMED};
use crate::org::{pick, UNIT_ER, UNIT_OUTPATIENT};

const CHECKUP: Code = code(SNOMED, "185349003", "Encounter for check up");
const CONSULT: Code = code(SNOMED, "11429006", "Consultation");
const ER_VISIT: Code = code(SNOMED, "50849002", "Emergency room admission");

const HTA: Diagnosis = dx(
    "I10",
    "Essential (primary) hypertension",
    Some(("38341003", "Hypertensive disorder")),
);

const ACUTE: &[Diagnosis] = &[
    dx(
        "J06.9",
        "Acute upper respiratory infection, unspecified",
        Some(("54150009", "Upper respiratory infection")),
    ),
    dx(
        "J20.9",
        "Acute bronchitis, unspecified",
        Some(("10509002", "Acute bronchitis")),
    ),
    dx(
        "N39.0",
        "Urinary tract infection, site not specified",
        Some(("68566005", "Urinary tract infectious disease")),
    ),
    dx(
        "J02.9",
        "Acute pharyngitis, unspecified",
        Some(("363746003", "Acute pharyngitis")),
    ),
    dx(
        "A09.9",
        "Gastroenteritis and colitis of unspecified origin",
        Some(("25374005", "Gastroenteritis")),
    ),
    dx(
        "M54.5",
        "Low back pain",
        Some(("279039007", "Low back pain")),
    ),
];

const INJURIES: &[Diagnosis] = &[
    dx(
        "S93.4",
        "Sprain and strain of ankle",
        Some(("44465007", "Sprain of ankle")),
    ),
    dx(
        "S52.5",
        "Fracture of lower end of radius",
        Some(("263199001", "Fracture of distal end of radius")),
    ),
    dx(
        "S01.0",
        "Open wound of scalp",
        Some(("283680004", "Laceration of scalp")),
    ),
];

const ALLERGENS: &[(Code, &str)] = &[
    (code(SNOMED, "764146007", "Penicillin"), "medication"),
    (code(SNOMED, "387458008", "Aspirin"), "medication"),
    (code(SNOMED, "256277009", "Grass pollen"), "environment"),
    (code(SNOMED, "260147004", "House dust mite"), "environment"),
    (code(SNOMED, "227493005", "Cashew nut"), "food"),
];

const FLU: Code = code(CVX, "141", "Influenza, seasonal, injectable");
const COVID: Code = code(CVX, "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose");
const TDAP: Code = code(CVX, "115", "Tdap");
const PNEUMO: Code = code(CVX, "133", "Pneumococcal conjugate PCV 13");

/// Chooses height, weight and hypertension before other pathways look at them.
pub fn baseline(ctx: &mut Ctx) {
    let (h, w) = match ctx.sex {
        Sex::Male => (ctx.normal(176.0, 7.0), ctx.normal(84.0, 14.0)),
        Sex::Female => (ctx.normal(164.0, 6.5), ctx.normal(70.0, 14.0)),
    };
    ctx.height = h;
    ctx.weight = w.max(45.0);
    let p = (ctx.age_at(ctx.end) as f64 - 30.0).max(0.0) / 100.0;
    if ctx.chance(p) {
        ctx.hypertension = super::onset(ctx, 35);
    }
}

pub fn run(ctx: &mut Ctx) {
    if let Some(onset) = ctx.hypertension {
        let day = onset.max(ctx.start);
        let practice = ctx.practice;
        let enc = ctx.encounter(
            Class::Ambulatory,
            CONSULT,
            practice,
            day,
            0,
            Some(&HTA),
            None,
            None,
        );
        ctx.condition(&enc, &HTA, "problem-list-item", None);
        let med = if ctx.chance(0.5) {
            code(ATC, "C09AA05", "ramipril")
        } else {
            code(ATC, "C08CA01", "amlodipine")
        };
        ctx.medication(&enc, med, "1 tablet once daily", "active");
    }
    if ctx.chance(0.15) {
        let day = ctx.rng.gen_range(ctx.start..=ctx.end);
        let practice = ctx.practice;
        let enc = ctx.encounter(
            Class::Ambulatory,
            CONSULT,
            practice,
            day,
            0,
            None,
            None,
            None,
        );
        let (substance, category) = pick(&mut ctx.rng, ALLERGENS);
        ctx.allergy(&enc, substance, category);
    }
    if ctx.cross_border {
        // Cross-border patients have one to three episodes on the other side of the border
        // (emergencies near the border, specialist care under cross-border agreements).
        for _ in 0..ctx.rng.gen_range(1..=3) {
            let day = ctx.rng.gen_range(ctx.start..=ctx.end);
            emergency(ctx, day, true);
        }
    }
    let mut day = ctx.start + every(ctx, 0, 120);
    let mut last_labs = ctx.start - 400;
    let mut last_tdap = ctx.start - ctx.rng.gen_range(0..3650);
    while day <= ctx.end {
        let age = ctx.age_at(day);
        let practice = ctx.practice;
        let sick = ctx.chance(0.3);
        let reason = if sick {
            Some(pick(&mut ctx.rng, ACUTE))
        } else {
            None
        };
        let kind = if sick { CONSULT } else { CHECKUP };
        let enc = ctx.encounter(
            Class::Ambulatory,
            kind,
            practice,
            day,
            0,
            reason.as_ref(),
            None,
            None,
        );
        if let Some(d) = reason {
            let healed = day + every(ctx, 5, 20);
            ctx.condition(&enc, &d, "encounter-diagnosis", Some(healed));
            if d.icd == "N39.0" || (d.icd == "J20.9" && ctx.chance(0.3)) {
                ctx.medication(
                    &enc,
                    code(ATC, "J01CA04", "amoxicillin"),
                    "1 g three times daily for 7 days",
                    "completed",
                );
            }
        }
        vital_signs(ctx, &enc, enc.minute + 5, age);
        if day - last_labs > 300 && age >= 18 {
            lab_panels(ctx, &enc, enc.minute + 20, true);
            last_labs = day;
        }
        if age >= 65 && matches!(crate::fhir::month_of(day), 10..=12) && ctx.chance(0.6) {
            ctx.immunization(&enc, FLU);
        }
        if age >= 65 && ctx.chance(0.02) {
            ctx.immunization(&enc, PNEUMO);
        }
        if (2021..=2022).contains(&crate::fhir::year_of(day)) && age >= 12 && ctx.chance(0.3) {
            ctx.immunization(&enc, COVID);
        }
        if day - last_tdap > 3650 && age >= 11 {
            ctx.immunization(&enc, TDAP);
            last_tdap = day;
        }
        // Visits get more frequent with age; volume scales the whole routine cadence.
        let per_year = (2.5 + age.max(0) as f64 / 12.0) * ctx.volume;
        let gap = if per_year > 0.0 {
            (365.0 / per_year) as i32
        } else {
            i32::MAX / 4
        };
        day += (gap / 2 + ctx.rng.gen_range(0..=gap.max(1))).max(1);
        if ctx.chance(0.04 * ctx.volume.min(1.0)) {
            emergency(ctx, day, false);
        }
    }
}

/// An emergency visit for an injury or acute illness; for cross-border patients, sometimes in
/// the other country (a French patient treated in Saarland, or the reverse).
fn emergency(ctx: &mut Ctx, day: Day, abroad: bool) {
    if day > ctx.end {
        return;
    }
    let country = if abroad {
        ctx.country.other()
    } else {
        ctx.country
    };
    let hospital = ctx.pick_org(country, true);
    let d = pick(&mut ctx.rng, INJURIES);
    let enc = ctx.encounter(
        Class::Emergency,
        ER_VISIT,
        hospital,
        day,
        0,
        Some(&d),
        Some(UNIT_ER),
        None,
    );
    ctx.condition(&enc, &d, "encounter-diagnosis", Some(day + 30));
    let age = ctx.age_at(day);
    vital_signs(ctx, &enc, enc.minute + 10, age);
    ctx.medication(
        &enc,
        code(ATC, "N02BE01", "paracetamol"),
        "1 g up to four times daily",
        "completed",
    );
    if abroad && ctx.chance(0.5) {
        let follow = ctx.encounter(
            Class::Ambulatory,
            CONSULT,
            hospital,
            day + 10,
            0,
            Some(&d),
            Some(UNIT_OUTPATIENT),
            None,
        );
        vital_signs(ctx, &follow, follow.minute + 5, age);
    }
}

/// The vital-signs set of a visit: blood pressure panel, heart rate, respiratory rate,
/// temperature, SpO2, weight, height and BMI (children skip blood pressure).
pub fn vital_signs(ctx: &mut Ctx, enc: &Enc, minute: u32, age: i32) {
    let growth = if age < 18 {
        (age.max(1) as f64 / 18.0).powf(0.6)
    } else {
        1.0
    };
    let height = ctx.height * growth;
    let drift = ((enc.day - ctx.start) as f64 / 365.0) * 0.4;
    let hf = ctx.heart_failure.is_some_and(|d| enc.day >= d);
    let weight =
        (ctx.weight * growth.powi(2) + drift + ctx.normal(0.0, 1.2) + if hf { 3.0 } else { 0.0 })
            .max(3.0);
    if age >= 3 {
        let hta = ctx.hypertension.is_some_and(|d| enc.day >= d);
        let sbp = ctx.normal(
            if hta { 142.0 } else { 122.0 } + age.max(0) as f64 * 0.15,
            9.0,
        );
        let dbp = ctx
            .normal(if hta { 88.0 } else { 76.0 }, 6.0)
            .min(sbp - 20.0);
        ctx.blood_pressure(enc, minute, sbp, dbp);
    }
    let hr = ctx.normal(if hf { 84.0 } else { 72.0 }, 8.0);
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "8867-4", "Heart rate"),
        hr,
        0,
        "/min",
    );
    let rr = ctx.normal(15.0, 2.0);
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "9279-1", "Respiratory rate"),
        rr,
        0,
        "/min",
    );
    let t = ctx.normal(36.8, 0.3);
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "8310-5", "Body temperature"),
        t,
        1,
        "Cel",
    );
    let copd = ctx.copd.is_some_and(|d| enc.day >= d);
    let spo2 = ctx.normal(if copd { 92.0 } else { 97.5 }, 1.2).min(100.0);
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
        spo2,
        0,
        "%",
    );
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "29463-7", "Body weight"),
        weight,
        1,
        "kg",
    );
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "8302-2", "Body height"),
        height,
        1,
        "cm",
    );
    let bmi = weight / (height / 100.0).powi(2);
    ctx.observation(
        enc,
        minute,
        "vital-signs",
        code(LOINC, "39156-5", "Body mass index (BMI) [Ratio]"),
        bmi,
        1,
        "kg/m2",
    );
}

/// Blood count and basic metabolic panel, each a DiagnosticReport over its Observations;
/// `lipids` adds a lipid panel.
pub fn lab_panels(ctx: &mut Ctx, enc: &Enc, minute: u32, lipids: bool) {
    let anemic = ctx.sex == Sex::Female && ctx.chance(0.15);
    let hb = ctx.normal(
        if ctx.sex == Sex::Male {
            14.8
        } else if anemic {
            10.9
        } else {
            13.6
        },
        0.9,
    );
    let cbc = [
        (
            code(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood"),
            hb,
            1,
            "g/dL",
        ),
        (
            code(
                LOINC,
                "4544-3",
                "Hematocrit [Volume Fraction] of Blood by Automated count",
            ),
            hb * 2.95,
            1,
            "%",
        ),
        (
            code(
                LOINC,
                "6690-2",
                "Leukocytes [#/volume] in Blood by Automated count",
            ),
            ctx.normal(7.0, 1.6),
            1,
            "10*3/uL",
        ),
        (
            code(
                LOINC,
                "789-8",
                "Erythrocytes [#/volume] in Blood by Automated count",
            ),
            hb / 3.0,
            2,
            "10*6/uL",
        ),
        (
            code(LOINC, "787-2", "MCV [Entitic volume] by Automated count"),
            ctx.normal(if anemic { 78.0 } else { 89.0 }, 4.0),
            0,
            "fL",
        ),
        (
            code(
                LOINC,
                "777-3",
                "Platelets [#/volume] in Blood by Automated count",
            ),
            ctx.normal(260.0, 50.0),
            0,
            "10*3/uL",
        ),
    ];
    let ids: Vec<String> = cbc
        .iter()
        .map(|(c, v, d, u)| ctx.observation(enc, minute, "laboratory", *c, *v, *d, u))
        .collect();
    ctx.report(
        enc,
        minute,
        code(LOINC, "58410-2", "CBC panel - Blood by Automated count"),
        &ids,
    );

    let diabetic = ctx.diabetes.is_some_and(|d| enc.day >= d);
    let hf = ctx.heart_failure.is_some_and(|d| enc.day >= d);
    let age = ctx.age_at(enc.day).max(18) as f64;
    let creat = ctx
        .normal(0.75 + age * 0.004 + if hf { 0.4 } else { 0.0 }, 0.12)
        .max(0.3);
    let egfr = (141.0
        * (creat / 0.9).min(1.0).powf(-0.411)
        * (creat / 0.9).max(1.0).powf(-1.209)
        * 0.993f64.powf(age))
    .min(130.0);
    let bmp = [
        (code(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"), ctx.normal(if diabetic { 158.0 } else { 92.0 }, if diabetic { 30.0 } else { 9.0 }), 0, "mg/dL"),
        (code(LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"), creat, 2, "mg/dL"),
        (code(LOINC, "33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)"), egfr, 0, "mL/min/{1.73_m2}"),
        (code(LOINC, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"), ctx.normal(140.0, 2.0), 0, "mmol/L"),
        (code(LOINC, "2823-3", "Potassium [Moles/volume] in Serum or Plasma"), ctx.normal(4.2, 0.3), 1, "mmol/L"),
        (code(LOINC, "2075-0", "Chloride [Moles/volume] in Serum or Plasma"), ctx.normal(102.0, 2.0), 0, "mmol/L"),
        (code(LOINC, "3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma"), ctx.normal(14.0 + if hf { 8.0 } else { 0.0 }, 3.0), 0, "mg/dL"),
        (code(LOINC, "17861-6", "Calcium [Mass/volume] in Serum or Plasma"), ctx.normal(9.5, 0.3), 1, "mg/dL"),
    ];
    let ids: Vec<String> = bmp
        .iter()
        .map(|(c, v, d, u)| ctx.observation(enc, minute, "laboratory", *c, *v, *d, u))
        .collect();
    ctx.report(
        enc,
        minute,
        code(LOINC, "51990-0", "Basic metabolic panel - Blood"),
        &ids,
    );

    if lipids {
        let treated = diabetic || ctx.hypertension.is_some_and(|d| enc.day >= d);
        let ldl = ctx
            .normal(if treated { 105.0 } else { 125.0 }, 25.0)
            .max(40.0);
        let hdl = ctx
            .normal(if ctx.sex == Sex::Female { 60.0 } else { 48.0 }, 10.0)
            .max(20.0);
        let tg = ctx
            .normal(if diabetic { 190.0 } else { 120.0 }, 35.0)
            .max(40.0);
        let lipid = [
            (
                code(
                    LOINC,
                    "2093-3",
                    "Cholesterol [Mass/volume] in Serum or Plasma",
                ),
                ldl + hdl + tg / 5.0,
                0,
                "mg/dL",
            ),
            (
                code(
                    LOINC,
                    "2085-9",
                    "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
                ),
                hdl,
                0,
                "mg/dL",
            ),
            (
                code(
                    LOINC,
                    "18262-6",
                    "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
                ),
                ldl,
                0,
                "mg/dL",
            ),
            (
                code(
                    LOINC,
                    "2571-8",
                    "Triglyceride [Mass/volume] in Serum or Plasma",
                ),
                tg,
                0,
                "mg/dL",
            ),
        ];
        let ids: Vec<String> = lipid
            .iter()
            .map(|(c, v, d, u)| ctx.observation(enc, minute, "laboratory", *c, *v, *d, u))
            .collect();
        ctx.report(
            enc,
            minute,
            code(
                LOINC,
                "57698-3",
                "Lipid panel with direct LDL - Serum or Plasma",
            ),
            &ids,
        );
    }
}
