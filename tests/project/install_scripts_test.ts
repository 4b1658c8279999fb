/**
 * A first `deno install` must print no "Ignored build scripts" warning: every installed npm
 * package that has a lifecycle script is decided on in deno.json's `allowScripts` (allowed, or
 * denied on purpose), so a new dependency with a build script makes this test fail until
 * someone reads what the script does.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { ROOT } from "./_scratch.ts";

const LIFECYCLE = ["preinstall", "install", "postinstall"];

/** `name` of every installed package (in node_modules/.deno) with a lifecycle script. */
async function packagesWithScripts(): Promise<string[]> {
  const found = new Set<string>();
  const store = join(ROOT, "node_modules", ".deno");
  for await (const version of Deno.readDir(store)) {
    if (!version.isDirectory) continue;
    const modules = join(store, version.name, "node_modules");
    // Only `<name>@<version>/node_modules` folders hold packages.
    if (!(await Deno.stat(modules).then((s) => s.isDirectory, () => false))) {
      continue;
    }
    const candidates: string[] = [];
    for await (const entry of Deno.readDir(modules)) {
      if (entry.name.startsWith("@") && entry.isDirectory) {
        for await (const scoped of Deno.readDir(join(modules, entry.name))) {
          candidates.push(join(modules, entry.name, scoped.name));
        }
      } else if (entry.isDirectory) {
        candidates.push(join(modules, entry.name));
      }
    }
    for (const dir of candidates) {
      const text = await Deno.readTextFile(join(dir, "package.json")).catch(
        () => null,
      );
      if (text === null) continue;
      const pkg = JSON.parse(text) as {
        name: string;
        scripts?: Record<string, string>;
      };
      if (LIFECYCLE.some((s) => pkg.scripts?.[s] !== undefined)) {
        found.add(pkg.name);
      }
    }
  }
  return [...found].sort();
}

Deno.test({
  name:
    "every npm package with a build script is allowed or denied in deno.json",
  ignore: await Deno.stat(join(ROOT, "node_modules", ".deno")).then(
    () => false,
    () => true,
  ),
  async fn() {
    const config = JSON.parse(
      await Deno.readTextFile(join(ROOT, "deno.json")),
    ) as { allowScripts?: { allow?: string[]; deny?: string[] } };
    const decided = [
      ...(config.allowScripts?.allow ?? []),
      ...(config.allowScripts?.deny ?? []),
    ].map((spec) => spec.replace(/^npm:/, "").replace(/(.)@.*$/, "$1"));
    const withScripts = await packagesWithScripts();
    assert(withScripts.length > 0, "core-js has a postinstall script");
    assertEquals(withScripts.filter((name) => !decided.includes(name)), []);
  },
});
