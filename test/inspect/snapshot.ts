/**
 * Snapshot files for the inspection charts, under test/snapshots/inspect/: the same contract and
 * code as the display tests' snapshots (test/display/snapshot.ts).
 */
import { matchSnapshot as match } from "../display/snapshot";

export function matchSnapshot(name: string, actual: string): void {
  match(name, actual, "inspect");
}
