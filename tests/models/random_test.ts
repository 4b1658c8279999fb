import { assert, assertEquals } from "../assert.ts";
import { createRng, deriveSeed, permutation } from "../../models/random.ts";

Deno.test("createRng is seeded, in [0, 1) and roughly uniform", () => {
  const a = createRng(42);
  const b = createRng(42);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) {
    const x = a();
    assertEquals(x, b());
    assert(x >= 0 && x < 1, `draw ${x} outside [0, 1)`);
    counts[Math.floor(x * 10)]++;
  }
  for (const c of counts) {
    assert(Math.abs(c - 2000) < 200, `bucket count ${c} far from 2000`);
  }
  assert(createRng(43)() !== createRng(42)(), "seeds 42 and 43 start the same");
});

Deno.test("deriveSeed separates its parts", () => {
  const seen = new Set<number>();
  for (let step = 0; step < 100; step++) {
    for (let layer = 0; layer < 3; layer++) {
      seen.add(deriveSeed(0, step, layer));
    }
  }
  assertEquals(seen.size, 300);
  assert(deriveSeed(1, 2, 3) !== deriveSeed(1, 3, 2), "order of parts ignored");
  assert(
    deriveSeed(2 ** 32, 1) !== deriveSeed(0, 1),
    "high bits of the seed ignored",
  );
});

Deno.test("permutation is a seeded permutation", () => {
  const p = permutation(1000, 5);
  assertEquals(
    Array.from(p).sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assertEquals(Array.from(permutation(1000, 5)), Array.from(p));
  assert(permutation(1000, 6).some((v, i) => v !== p[i]), "seed ignored");
  assert(p.some((v, i) => v !== i), "identity");
});
