// Runs benches/cases.json (or only the case named by the first argument) with fhirpath.js (npm package `fhirpath`) for comparison with the
// criterion benchmark. Usage: NODE_PATH=/tmp/fpjs/node_modules node benches/fhirpath_js.js
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const dir = __dirname;
const only = process.argv[2];
const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')).filter((c) => !only || c.name === only);
for (const c of cases) {
  const input = JSON.parse(fs.readFileSync(path.join(dir, 'data', c.input), 'utf8'));
  const fn = fhirpath.compile(c.expression, r4);
  const warm = fn(input, { resource: input });
  const budgetNs = 3e9;
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(budgetNs)) {
    for (let i = 0; i < 100; i++) fn(input, { resource: input });
    n += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  const perEval = Number(elapsed) / n;
  console.log(`${c.name}\t${(perEval / 1000).toFixed(2)} us/eval\t${Math.round(1e9 / perEval)} evals/s\tresult=${JSON.stringify(warm).slice(0, 60)}`);
}
