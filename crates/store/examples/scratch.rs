//! Scratch.
fn main() {
    let v = serde_json::json!({"resourceType": "Patient", "id": "a", "gender": "female", "name": [{"family": "Smith"}]});
    for e in crosscare_search::extract("Patient", &v) {
        println!("{e:?}");
    }
    println!("{:?}", crosscare_search::unsupported_expressions().len());
}
