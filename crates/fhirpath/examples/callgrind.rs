//! Fixed-count evaluation of one case of `benches/cases.json`, for instruction counts that stay
//! repeatable on a loaded machine (wall-clock timings do not).
//!
//! ```sh
//! cargo build --release -p crosscare-fhirpath --example callgrind
//! valgrind --tool=callgrind --toggle-collect='callgrind::batch' \
//!     target/release/examples/callgrind where_select 1000
//! ```
//!
//! The collected instruction count divided by the count given is the cost of one evaluation;
//! the warm-up evaluation (spec tables decoded, caches filled) runs outside `batch`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use crosscare_fhirpath::Expression;
use serde_json::Value;

#[inline(never)]
fn batch(expr: &Expression, input: &Value, n: usize) -> usize {
    let mut total = 0;
    for _ in 0..n {
        total += std::hint::black_box(expr.evaluate(std::hint::black_box(input)).unwrap()).len();
    }
    total
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().expect("usage: callgrind <case> [count]");
    let n: usize = args.next().map_or(1000, |s| s.parse().unwrap());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let case = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name.as_str())
        .expect("unknown case");
    let text =
        std::fs::read_to_string(dir.join("data").join(case["input"].as_str().unwrap())).unwrap();
    let input: Value = serde_json::from_str(&text).unwrap();
    let expr = Expression::compile(case["expression"].as_str().unwrap()).unwrap();
    expr.evaluate(&input).unwrap();
    println!("{name}\t{n} evaluations\t{} items", batch(&expr, &input, n));
}
