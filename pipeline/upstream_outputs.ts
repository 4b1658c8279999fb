/**
 * Typed access to upstream instances from inside a stage: by declaration name, with their
 * items, so no stage builds instance names (`train_${mode}@${seed}`) or parses them back.
 *
 * @module
 */
import { UserError } from "./errors.ts";
import { canonicalJson } from "./plan/hash.ts";
import type { Item, StageContext, UpstreamInfo } from "./types.ts";

/** One direct upstream instance as a stage sees it. */
export interface UpstreamInstance extends UpstreamInfo {
  /** Instance name (for messages only). */
  name: string;
  /** Absolute directory of the outputs of it that this stage reads. */
  dir: string;
}

/**
 * Every upstream instance of declaration `stage`, a direct dependency, in plan order. Only
 * direct upstream outputs are in a stage's key, so only they can be read: a transitive one is a
 * {@link UserError} naming the dependency to add.
 */
export function upstreamInstances(
  ctx: Pick<StageContext<unknown>, "upstream" | "name" | "inputs">,
  stage: string,
): UpstreamInstance[] {
  return Object.entries(ctx.upstream)
    .filter(([, info]) => info.stage === stage)
    .map(([name, info]) => {
      const dir = ctx.inputs[name];
      if (dir === undefined) {
        throw new UserError(
          `stage ${ctx.name} reads ${name}, which is not one of its deps (only direct upstream outputs are in its key); add ${stage} to its deps`,
        );
      }
      return { ...info, name, dir };
    });
}

/**
 * The one upstream instance of declaration `stage` whose item equals `item` (by value);
 * a wiring mistake (none or several) is a {@link UserError} naming both stages.
 */
export function upstreamInstance(
  ctx: Pick<StageContext<unknown>, "upstream" | "name" | "inputs">,
  stage: string,
  item: Item | undefined,
): UpstreamInstance {
  const wanted = canonicalJson(item ?? null);
  const found = upstreamInstances(ctx, stage).filter((other) =>
    canonicalJson(other.item ?? null) === wanted
  );
  if (found.length !== 1) {
    throw new UserError(
      `stage ${ctx.name}: expected one upstream ${stage} instance with item ${wanted}, found ${found.length}; check its deps`,
    );
  }
  return found[0];
}
