/**
 * Snapshot files for the inspection charts: committed under test/snapshots/inspect/ and compared
 * exactly. A missing or different snapshot fails; `UPDATE_SNAPSHOTS=1` rewrites them (review the
 * diff before committing). Same contract as test/display/snapshot.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

/** test/snapshots/inspect in the source tree (this file runs from dist/test/inspect/). */
export const SNAPSHOT_DIR = path.resolve(__dirname, "..", "..", "..", "test", "snapshots", "inspect");

export function matchSnapshot(name: string, actual: string): void {
  const file = path.join(SNAPSHOT_DIR, name);
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, actual);
    fs.renameSync(tmp, file);
    return;
  }
  if (!fs.existsSync(file)) {
    assert.fail(`Snapshot ${path.relative(process.cwd(), file)} is missing. Run the tests with UPDATE_SNAPSHOTS=1 to create it, then review it.`);
  }
  assert.equal(actual, fs.readFileSync(file, "utf8"), `Output differs from snapshot ${name}. If the change is intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff.`);
}
