//! The per-patient generation context: RNG, identity, care window, and one emitter per
//! resource type so that pathways describe care, not JSON.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::fhir::{self, concept_of, date, date_time, quantity, reference, Code, Day};
use crate::org::{Org, Shared};
use crate::{Country, SynthError};

/// Receives each resource as soon as it is built.
pub type Emit<'s> = dyn FnMut(Value) -> Result<(), SynthError> + 's;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// An encounter already emitted, as later resources need it.
#[derive(Debug, Clone)]
pub struct Enc {
    pub id: String,
    pub day: Day,
    pub minute: u32,
    pub org: usize,
    pub practitioner: String,
    /// Length of stay in days after clamping to the end of care.
    pub days: i32,
    /// `{"reference": "Encounter/<id>"}`, built once.
    pub reference: Value,
}

/// Encounter class (v3-ActCode, required by the R4 binding's extensible value set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ambulatory,
    Emergency,
    Inpatient,
}

impl Class {
    fn coding(self) -> Value {
        let (code, display) = match self {
            Class::Ambulatory => ("AMB", "ambulatory"),
            Class::Emergency => ("EMER", "emergency"),
            Class::Inpatient => ("IMP", "inpatient encounter"),
        };
        json!({"system": fhir::ACT_CODE, "code": code, "display": display})
    }
}

/// A diagnosis with its ICD-10 code (shared by CIM-10 and ICD-10-GM at this granularity) and
/// an optional SNOMED CT equivalent.
#[derive(Debug, Clone, Copy)]
pub struct Diagnosis {
    pub icd: &'static str,
    pub display: &'static str,
    pub snomed: Option<(&'static str, &'static str)>,
}

pub const fn dx(
    icd: &'static str,
    display: &'static str,
    snomed: Option<(&'static str, &'static str)>,
) -> Diagnosis {
    Diagnosis {
        icd,
        display,
        snomed,
    }
}

/// A procedure with its French (CCAM) and German (OPS) codes and an optional SNOMED CT code.
#[derive(Debug, Clone, Copy)]
pub struct Act {
    pub ccam: Option<&'static str>,
    pub ops: Option<&'static str>,
    pub display: &'static str,
    pub snomed: Option<&'static str>,
}

pub struct Ctx<'a, 's> {
    pub rng: ChaCha8Rng,
    pub pid: String,
    pub country: Country,
    pub sex: Sex,
    pub birth: Day,
    /// First and last day of care for this patient (inclusive).
    pub start: Day,
    pub end: Day,
    pub volume: f64,
    pub cross_border: bool,
    pub shared: &'a Shared,
    sink: &'a mut Emit<'s>,
    /// The first sink error; later resources are dropped and the error is returned.
    pub error: Option<SynthError>,
    subject: Value,
    /// CodeableConcepts already built, keyed by the addresses of their static strings: cloning
    /// a built map is cheaper than hashing its keys again.
    concepts: HashMap<(usize, usize, usize), Value>,
    categories: HashMap<&'static str, Value>,
    /// The last rendered `dateTime`: the observations of one visit share it.
    last_date_time: (Day, u32, String),
    /// Index of the patient's usual practice and home hospital in `shared.orgs`.
    pub practice: usize,
    pub hospital: usize,
    /// Onset days of chronic conditions, read by routine care to shape lab values.
    pub diabetes: Option<Day>,
    pub heart_failure: Option<Day>,
    pub copd: Option<Day>,
    pub hypertension: Option<Day>,
    /// Adult height (cm) and baseline weight (kg).
    pub height: f64,
    pub weight: f64,
    seq: u32,
}

impl<'a, 's> Ctx<'a, 's> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rng: ChaCha8Rng,
        pid: String,
        country: Country,
        sex: Sex,
        birth: Day,
        start: Day,
        end: Day,
        volume: f64,
        cross_border: bool,
        shared: &'a Shared,
        sink: &'a mut Emit<'s>,
    ) -> Self {
        let subject = reference("Patient", &pid);
        let mut ctx = Ctx {
            rng,
            pid,
            country,
            sex,
            birth,
            start,
            end,
            volume,
            cross_border,
            shared,
            sink,
            error: None,
            subject,
            concepts: HashMap::new(),
            categories: HashMap::new(),
            last_date_time: (0, 0, String::new()),
            practice: 0,
            hospital: 0,
            diabetes: None,
            heart_failure: None,
            copd: None,
            hypertension: None,
            height: 170.0,
            weight: 70.0,
            seq: 0,
        };
        ctx.practice = ctx.pick_org(country, false);
        ctx.hospital = ctx.pick_org(country, true);
        ctx
    }

    pub fn pick_org(&mut self, country: Country, hospital: bool) -> usize {
        let candidates: Vec<usize> = if hospital {
            self.shared.hospitals(country).map(|(i, _)| i).collect()
        } else {
            self.shared.practices(country).map(|(i, _)| i).collect()
        };
        candidates[self.rng.gen_range(0..candidates.len())]
    }

    pub fn org(&self, idx: usize) -> &'a Org {
        &self.shared.orgs[idx]
    }

    /// A new id `<patient id>-<kind>-<n>`, unique within the population.
    pub fn next_id(&mut self, kind: &str) -> String {
        self.seq += 1;
        format!("{}-{kind}-{}", self.pid, self.seq)
    }

    pub fn age_at(&self, day: Day) -> i32 {
        fhir::age_at(self.birth, day)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    /// A normally distributed value (Box–Muller), for lab results and vital signs.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.gen();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn subject(&self) -> Value {
        self.subject.clone()
    }

    /// `code.concept()`, from the cache.
    pub fn concept(&mut self, code: Code) -> Value {
        let key = (
            code.system.as_ptr() as usize,
            code.code.as_ptr() as usize,
            code.display.as_ptr() as usize,
        );
        self.concepts
            .entry(key)
            .or_insert_with(|| code.concept())
            .clone()
    }

    /// The `category` array of an Observation.
    fn observation_category(&mut self, category: &str) -> Value {
        let (code, display) = category_display(category);
        self.categories
            .entry(code)
            .or_insert_with(|| {
                json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": code, "display": display}]}])
            })
            .clone()
    }

    /// `date_time(day, minute)`, reusing the previous rendering when it is the same instant.
    fn date_time(&mut self, day: Day, minute: u32) -> String {
        if self.last_date_time.0 != day
            || self.last_date_time.1 != minute
            || self.last_date_time.2.is_empty()
        {
            self.last_date_time = (day, minute, date_time(day, minute));
        }
        self.last_date_time.2.clone()
    }

    /// Hands a finished resource to the sink.
    pub fn push(&mut self, resource: Value) {
        if self.error.is_none() {
            if let Err(e) = (self.sink)(resource) {
                self.error = Some(e);
            }
        }
    }

    /// The diagnosis code in the patient's national coding (CIM-10 under the international
    /// ICD-10 URI for France, ICD-10-GM for Germany) plus SNOMED CT when known.
    pub fn diagnosis_concept(&self, d: &Diagnosis, org_country: Country) -> Value {
        let mut codes = Vec::with_capacity(2);
        match org_country {
            Country::Fr => codes.push(Code {
                system: fhir::ICD10,
                code: d.icd,
                display: d.display,
            }),
            Country::De => codes.push(Code {
                system: fhir::ICD10GM,
                code: d.icd,
                display: d.display,
            }),
        }
        if let Some((code, display)) = d.snomed {
            codes.push(Code {
                system: fhir::SNOMED,
                code,
                display,
            });
        }
        concept_of(&codes, d.display)
    }

    /// Emits an Encounter. `days` is the length of stay (0 for same-day care).
    #[allow(clippy::too_many_arguments)]
    pub fn encounter(
        &mut self,
        class: Class,
        kind: Code,
        org: usize,
        day: Day,
        days: i32,
        reason: Option<&Diagnosis>,
        unit: Option<usize>,
        part_of: Option<&Enc>,
    ) -> Enc {
        let id = self.next_id("enc");
        let o = self.org(org);
        let practitioner = o.practitioners[self.rng.gen_range(0..o.practitioners.len())].clone();
        let mut minute = match class {
            // Arrivals up to 19:00 keep the visit and its results on one calendar day.
            Class::Emergency => self.rng.gen_range(0..19 * 60),
            _ => self.rng.gen_range(8 * 60..17 * 60),
        };
        // A stay that continues another encounter on the same day starts after it.
        if let Some(parent) = part_of.filter(|p| p.day == day) {
            minute = (parent.minute + self.rng.gen_range(60..180)).min(19 * 60);
        }
        let end_minute = if days == 0 {
            minute + self.rng.gen_range(15..240)
        } else {
            10 * 60
        };
        let day = day.min(self.end);
        let end_day = (day + days).min(self.end);
        let status = "finished";
        let mut enc = json!({
            "resourceType": "Encounter",
            "id": id,
            "status": status,
            "class": class.coding(),
            "type": [kind.concept()],
            "subject": self.subject(),
            "participant": [{"individual": reference("Practitioner", &practitioner)}],
            "period": {"start": date_time(day, minute), "end": date_time(end_day, if end_day == day { end_minute.max(minute + 1) } else { end_minute })},
            "serviceProvider": reference("Organization", &o.id),
        });
        if let Some(d) = reason {
            enc["reasonCode"] = json!([self.diagnosis_concept(d, o.country)]);
        }
        if let (Some(u), false) = (unit, o.units.is_empty()) {
            enc["location"] = json!([{
                "location": reference("Location", &o.units[u]),
                "status": "completed",
                "period": enc["period"].clone(),
            }]);
        }
        if let Some(p) = part_of {
            enc["partOf"] = p.reference.clone();
        }
        if class == Class::Inpatient {
            enc["hospitalization"] = json!({"dischargeDisposition": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                "code": "home", "display": "Home"}]}});
        }
        self.push(enc);
        let reference = reference("Encounter", &id);
        Enc {
            reference,
            id,
            day,
            minute,
            org,
            practitioner,
            days: end_day - day,
        }
    }

    /// Emits a Condition recorded at `enc`, optionally resolved on `abated`.
    pub fn condition(
        &mut self,
        enc: &Enc,
        d: &Diagnosis,
        category: &str,
        abated: Option<Day>,
    ) -> String {
        let id = self.next_id("cond");
        let country = self.org(enc.org).country;
        let (clinical, display) = if abated.is_some() {
            ("resolved", "Resolved")
        } else {
            ("active", "Active")
        };
        let mut c = json!({
            "resourceType": "Condition",
            "id": id,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": clinical, "display": display}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "confirmed", "display": "Confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": category, "display": if category == "problem-list-item" { "Problem List Item" } else { "Encounter Diagnosis" }}]}],
            "code": self.diagnosis_concept(d, country),
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "onsetDateTime": date_time(enc.day, enc.minute),
            "recordedDate": date_time(enc.day, enc.minute),
        });
        if let Some(a) = abated {
            c["abatementDateTime"] = json!(date_time(
                a.max(enc.day + 1).min(self.end.max(enc.day + 1)),
                12 * 60
            ));
        }
        self.push(c);
        id
    }

    /// Emits a quantitative Observation (category `vital-signs` or `laboratory`).
    #[allow(clippy::too_many_arguments)]
    pub fn observation(
        &mut self,
        enc: &Enc,
        minute: u32,
        category: &str,
        loinc: Code,
        value: f64,
        decimals: u32,
        unit: &str,
    ) -> String {
        let id = self.next_id("obs");
        let category = self.observation_category(category);
        let code = self.concept(loinc);
        let effective = self.date_time(enc.day, minute);
        self.push(json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "category": category,
            "code": code,
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "effectiveDateTime": effective,
            "valueQuantity": quantity(value, decimals, unit),
        }));
        id
    }

    /// Emits a blood pressure panel (LOINC 85354-9) with systolic and diastolic components.
    pub fn blood_pressure(
        &mut self,
        enc: &Enc,
        minute: u32,
        systolic: f64,
        diastolic: f64,
    ) -> String {
        let id = self.next_id("obs");
        let effective = self.date_time(enc.day, minute);
        self.push(json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": {"coding": [{"system": fhir::LOINC, "code": "85354-9",
                "display": "Blood pressure panel with all children optional"}], "text": "Blood pressure"},
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "effectiveDateTime": effective,
            "component": [
                {"code": {"coding": [{"system": fhir::LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                 "valueQuantity": quantity(systolic, 0, "mm[Hg]")},
                {"code": {"coding": [{"system": fhir::LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                 "valueQuantity": quantity(diastolic, 0, "mm[Hg]")},
            ],
        }));
        id
    }

    /// Emits a DiagnosticReport whose results are the given Observations.
    pub fn report(&mut self, enc: &Enc, minute: u32, loinc: Code, results: &[String]) -> String {
        let id = self.next_id("dr");
        let result: Vec<Value> = results
            .iter()
            .map(|r| reference("Observation", r))
            .collect();
        let org = &self.org(enc.org).id;
        let effective = self.date_time(enc.day, minute);
        self.push(json!({
            "resourceType": "DiagnosticReport",
            "id": id,
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                "code": "LAB", "display": "Laboratory"}]}],
            "code": loinc.concept(),
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "effectiveDateTime": effective,
            "issued": date_time(enc.day, minute + 120),
            "performer": [reference("Organization", org)],
            "result": result,
        }));
        id
    }

    /// Emits a Procedure coded in CCAM (France) or OPS (Germany) by the performing site.
    pub fn procedure(&mut self, enc: &Enc, day: Day, act: &Act) -> String {
        let id = self.next_id("proc");
        let country = self.org(enc.org).country;
        let mut codes = Vec::with_capacity(2);
        match (country, act.ccam, act.ops) {
            (Country::Fr, Some(code), _) => codes.push(Code {
                system: fhir::CCAM,
                code,
                display: act.display,
            }),
            (Country::De, _, Some(code)) => codes.push(Code {
                system: fhir::OPS,
                code,
                display: act.display,
            }),
            _ => {}
        }
        if let Some(s) = act.snomed {
            codes.push(Code {
                system: fhir::SNOMED,
                code: s,
                display: act.display,
            });
        }
        self.push(json!({
            "resourceType": "Procedure",
            "id": id,
            "status": "completed",
            "code": concept_of(&codes, act.display),
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "performedDateTime": date_time(day.max(enc.day), enc.minute + 60),
            "performer": [{"actor": reference("Practitioner", &enc.practitioner)}],
        }));
        id
    }

    /// Emits a MedicationRequest for an ATC-coded medicine, `status` active or completed.
    pub fn medication(&mut self, enc: &Enc, atc: Code, dosage: &str, status: &str) -> String {
        let id = self.next_id("med");
        self.push(json!({
            "resourceType": "MedicationRequest",
            "id": id,
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": atc.concept(),
            "subject": self.subject(),
            "encounter": enc.reference.clone(),
            "authoredOn": date_time(enc.day, enc.minute + 30),
            "requester": reference("Practitioner", &enc.practitioner),
            "dosageInstruction": [{"text": dosage}],
        }));
        id
    }

    pub fn immunization(&mut self, enc: &Enc, vaccine: Code) -> String {
        let id = self.next_id("imm");
        self.push(json!({
            "resourceType": "Immunization",
            "id": id,
            "status": "completed",
            "vaccineCode": vaccine.concept(),
            "patient": self.subject(),
            "encounter": enc.reference.clone(),
            "occurrenceDateTime": date_time(enc.day, enc.minute + 10),
            "primarySource": true,
            "performer": [{"actor": reference("Practitioner", &enc.practitioner)}],
        }));
        id
    }

    pub fn allergy(&mut self, enc: &Enc, substance: Code, category: &str) -> String {
        let id = self.next_id("alg");
        self.push(json!({
            "resourceType": "AllergyIntolerance",
            "id": id,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active", "display": "Active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "code": "confirmed", "display": "Confirmed"}]},
            "type": "allergy",
            "category": [category],
            "criticality": "low",
            "code": substance.concept(),
            "patient": self.subject(),
            "encounter": enc.reference.clone(),
            "recordedDate": date_time(enc.day, enc.minute),
        }));
        id
    }

    /// Days between `from` and the end of care, or `None` when `from` is past it.
    pub fn remaining(&self, from: Day) -> Option<i32> {
        (from <= self.end).then_some(self.end - from)
    }

    pub fn date(&self, day: Day) -> String {
        date(day)
    }
}

fn category_display(category: &str) -> (&'static str, &'static str) {
    match category {
        "vital-signs" => ("vital-signs", "Vital Signs"),
        "procedure" => ("procedure", "Procedure"),
        "exam" => ("exam", "Exam"),
        _ => ("laboratory", "Laboratory"),
    }
}
