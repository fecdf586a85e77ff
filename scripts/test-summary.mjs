// Print the plain closing line CI reads ("N passed, N failed, N skipped") from vitest's JSON report.
// A run that could not produce a report (crash, config error) counts as one failure, never as a pass.
import { readFileSync } from 'node:fs';

const [file, statusArg] = process.argv.slice(2);
const status = Number(statusArg ?? 1);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // Suites that failed to load have no tests counted: count each as a failure.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed += 1;
  }
} catch (err) {
  console.error(`could not read vitest results from ${file}: ${err.message}`);
  failed = Math.max(failed, 1);
}
if (status !== 0 && failed === 0) failed = 1;
if (passed === 0 && failed === 0) {
  console.error('no test ran');
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
