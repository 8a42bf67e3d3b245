/**
 * Snapshot files: committed under test/snapshots/<suite>/ and compared exactly. A missing or different snapshot fails the test; `UPDATE_SNAPSHOTS=1` rewrites them
 * (review the diff before committing: the snapshots are the reviewed record of each chart).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

/** test/snapshots/<suite> in the source tree (this file runs from dist/test/display/). */
export const snapshotDir = (suite: string) => path.resolve(__dirname, "..", "..", "..", "test", "snapshots", suite);
export const SNAPSHOT_DIR = snapshotDir("display");

/** Compare `actual` with test/snapshots/<suite>/<name> (suite "display" by default). */
export function matchSnapshot(name: string, actual: string, suite = "display"): void {
  const dir = snapshotDir(suite);
  const file = path.join(dir, name);
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, actual);
    fs.renameSync(tmp, file);
    return;
  }
  if (!fs.existsSync(file)) {
    assert.fail(`Snapshot ${path.relative(process.cwd(), file)} is missing. Run the tests with UPDATE_SNAPSHOTS=1 to create it, then review it.`);
  }
  const expected = fs.readFileSync(file, "utf8");
  assert.equal(actual, expected, `Output differs from snapshot ${name}. If the change is intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff.`);
}
