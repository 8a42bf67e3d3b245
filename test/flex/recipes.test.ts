import { test } from "node:test";
import assert from "node:assert/strict";
import { FLEX_RECIPES, flexRecipe, resolveRouterMargin } from "../../lib/flex/recipes";

test("resolveRouterMargin: an option overrides the recipe, false and weight 0 turn it off, the recipe's applies otherwise", () => {
  const lab = FLEX_RECIPES.lab.owner;
  const paper = FLEX_RECIPES.paper.owner;
  assert.deepEqual(resolveRouterMargin(undefined, lab, "x"), { weight: 0.5, boundary: -3 });
  assert.equal(resolveRouterMargin(undefined, paper, "x"), undefined);
  assert.equal(resolveRouterMargin(false, lab, "x"), undefined);
  assert.equal(resolveRouterMargin({ weight: 0, boundary: -3 }, lab, "x"), undefined);
  assert.deepEqual(resolveRouterMargin({ weight: 2, boundary: -1 }, paper, "x"), { weight: 2, boundary: -1 });
  // Extra keys are not carried into provenance or folder names.
  assert.deepEqual(resolveRouterMargin({ weight: 1, boundary: 0, extra: 1 } as never, paper, "x"), { weight: 1, boundary: 0 });
});

test("resolveRouterMargin refuses malformed options and names who asked", () => {
  const lab = FLEX_RECIPES.lab.owner;
  for (const bad of [{ weight: -1, boundary: -3 }, { weight: 1, boundary: Number.NaN }, { weight: "1", boundary: -3 }, null, 3]) {
    assert.throws(() => resolveRouterMargin(bad as never, lab, 'owner "math"'), /^Error: owner "math": routerMargin must be \{ weight: a number ≥ 0/);
  }
});

test("flexRecipe: names resolve, objects pass through, unknown names are refused", () => {
  assert.equal(flexRecipe("paper").name, "paper");
  assert.equal(flexRecipe(undefined).name, "lab");
  assert.equal(flexRecipe(FLEX_RECIPES.paper), FLEX_RECIPES.paper);
  assert.throws(() => flexRecipe("papr" as never), /papr/);
});
