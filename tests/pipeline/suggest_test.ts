import { z } from "zod";
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  closest,
  editDistance,
  setFlag,
  shellQuote,
} from "../../pipeline/suggest.ts";
import { keysAt, loadParams } from "../../pipeline/plan/params.ts";
import { UserError } from "../../pipeline/errors.ts";

Deno.test("editDistance counts inserts, deletes, substitutions and swaps", () => {
  assertEquals(editDistance("alpah", "alpha"), 1); // swapped neighbours
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("seeds", "seeds"), 0);
});

Deno.test("closest picks a likely typo and nothing far away", () => {
  const train = ["epochs", "batchSize", "learningRate", "alpha", "backend"];
  assertEquals(closest("alpah", train), "alpha");
  assertEquals(closest("batchsize", train), "batchSize"); // case is not a typo
  assertEquals(closest("epoch", train), "epochs");
  assertEquals(closest("zzzzzz", train), undefined);
  assertEquals(closest("seed", ["seeds", "download"]), "seeds");
});

/** What `sh` makes of `text` as the arguments of printf: one line per argument. */
async function shellArgs(text: string, cwd: string): Promise<string[]> {
  const { stdout, success } = await new Deno.Command("sh", {
    args: ["-c", `printf '%s\\n' ${text}`],
    cwd,
    stdout: "piped",
  }).output();
  assert(success);
  return new TextDecoder().decode(stdout).split("\n").slice(0, -1);
}

Deno.test("shellQuote: the shell passes every argument through unchanged", async () => {
  const dir = await Deno.makeTempDir();
  // A file that the unquoted seeds=[0,1,2,3,4] matches as a glob (zsh fails on no match).
  await Deno.writeTextFile(join(dir, "seeds=0"), "");
  assertEquals(await shellArgs("seeds=[0,1,2,3,4]", dir), ["seeds=0"]);
  for (
    const arg of [
      "train.alpha=0.1",
      "seeds=[0,1,2,3,4]",
      'download.sources=["/data"]',
      "it's $HOME *",
    ]
  ) {
    assertEquals(await shellArgs(shellQuote(arg), dir), [arg]);
  }
  assertEquals(shellQuote("train.alpha=0.1"), "train.alpha=0.1");
  assertEquals(shellQuote("seeds=[0,1]"), "'seeds=[0,1]'");
  assertEquals(setFlag("seeds", [0, 7]), "--set 'seeds=[0,7]'");
  assertEquals(setFlag("train.backend", "wasm"), "--set train.backend=wasm");
  await Deno.remove(dir, { recursive: true });
});

const Schema = z.strictObject({
  seeds: z.array(z.number()).default([0]),
  train: z.strictObject({
    alpha: z.number().default(0.05),
    epochs: z.number().default(10),
    backend: z.enum(["cpu", "wasm"]).default("cpu"),
  }).prefault({}),
  data: z.strictObject({ limit: z.number().nullable().default(null) })
    .optional(),
});

Deno.test("keysAt looks through defaults, prefaults and optionals", () => {
  assertEquals(keysAt(Schema, []), ["seeds", "train", "data"]);
  assertEquals(keysAt(Schema, ["train"]), ["alpha", "epochs", "backend"]);
  assertEquals(keysAt(Schema, ["data"]), ["limit"]);
  assertEquals(keysAt(Schema, ["seeds"]), undefined);
});

Deno.test("an unknown key names the closest key and the keys of its section", async () => {
  const load = (path: string[]) =>
    assertRejects(
      () =>
        loadParams(Schema, "/nonexistent/params.json", {
          overrides: [{ path, value: 1 }],
          displayName: "params.json",
        }),
      UserError,
    );
  assertEquals(
    (await load(["train", "alpah"])).message,
    "invalid params (params.json and --set):\n" +
      "  unknown key train.alpah; did you mean train.alpha? keys of train: alpha, epochs, backend",
  );
  assertEquals(
    (await load(["seed"])).message.split("\n")[1],
    "  unknown key seed; did you mean seeds? keys of the params file: seeds, train, data",
  );
  assertEquals(
    (await load(["train", "zzzzzz"])).message.split("\n")[1],
    "  unknown key train.zzzzzz; keys of train: alpha, epochs, backend",
  );
});
