//! Prints the index entries of one resource file:
//! `cargo run -p crosscare-search --example dump_entries -- <file.json>`.

use serde_json::Value;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_entries <resource.json>");
        std::process::exit(2);
    };
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("cannot read {path}");
        std::process::exit(2);
    };
    let Ok(resource) = serde_json::from_slice::<Value>(&bytes) else {
        eprintln!("{path} is not JSON");
        std::process::exit(2);
    };
    let rt = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for e in crosscare_search::extract(rt, &resource) {
        println!("{} {:?}", e.param, e.value);
    }
}
