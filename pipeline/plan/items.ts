/**
 * Foreach items: resolving and checking them, and saying what is wrong with them in the words
 * of the param they come from (a declaration's `foreachParam`).
 *
 * @module
 */
import { z } from "zod";
import { UserError } from "../errors.ts";
import { setFlag } from "../suggest.ts";
import type { AnyStage, Item, JsonValue } from "../types.ts";

/** Schema of an {@link Item} as manifests and the lock file store it. */
export const ItemSchema: z.ZodType<Item> = z.union([
  z.string(),
  z.number(),
  z.record(z.string(), z.json()),
]) as z.ZodType<Item>;

/**
 * One named value of an item: `itemValue({ "train.alpha": 0.01, seed: 3 }, "seed")` is 3, and a
 * plain item (a stage no sweep touches) is its own foreach value: `itemValue(3, "seed")` is 3.
 */
export function itemValue(
  item: Item | undefined,
  name: string,
): JsonValue | undefined {
  if (item === undefined) return undefined;
  if (typeof item !== "object") return item;
  return item[name];
}

const ITEM = /^[A-Za-z0-9._+-]+$/;

/**
 * The foreach items of `stage` for these params, checked: a non-empty list of distinct numbers
 * or plain strings; undefined when the stage does not fan out.
 */
export function resolveItems(
  stage: AnyStage<unknown>,
  allParams: unknown,
): (string | number)[] | undefined {
  if (stage.foreach === undefined) return undefined;
  const items = stage.foreach(allParams);
  // Messages name the param the items come from when the declaration says which it is.
  const param = stage.foreachParam;
  if (!Array.isArray(items) || items.length === 0) {
    throw new UserError(
      param === undefined
        ? `stage ${stage.name}: foreach must give a non-empty list of strings or numbers`
        : `${param} must list at least one value (stage ${stage.name} runs once per value)`,
    );
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (
      (typeof item !== "string" && typeof item !== "number") ||
      !ITEM.test(String(item))
    ) {
      throw new UserError(
        `${param === undefined ? `stage ${stage.name}: foreach item` : param} ${
          JSON.stringify(item)
        } must be a number or a string of letters, digits, . _ + -`,
      );
    }
    if (seen.has(String(item))) {
      throw new UserError(
        param === undefined
          ? `stage ${stage.name}: foreach item ${
            JSON.stringify(item)
          } appears twice`
          : `${
            JSON.stringify(item)
          } appears twice in ${param}; list each value once (${
            setFlag(param, unique(items))
          })`,
      );
    }
    seen.add(String(item));
  }
  return [...items];
}

/**
 * Why `stage@item` names no instance, in the words of the param the items come from when the
 * declaration says which (`no seeds item 7 (seeds are [0]); add it with --set 'seeds=[0,7]'`).
 * `items` are the stage's items (empty when it does not fan out).
 */
export function unknownItemMessage(
  stage: AnyStage<unknown>,
  items: readonly Item[],
  item: string,
): string {
  if (items.length === 0) {
    return `stage ${stage.name} has no items (it does not fan out); name it without @${item}`;
  }
  const param = stage.foreachParam;
  const list = JSON.stringify(items);
  if (param === undefined) {
    return `stage ${stage.name} has no item ${item} (its items are ${list}); run "dag" to list instances`;
  }
  // The value as the params would hold it: a number when every item is one.
  const value = items.every((i) => typeof i === "number") &&
      Number.isFinite(Number(item))
    ? Number(item)
    : item;
  return `no ${param} item ${item} (${param} are ${list}); add it with ${
    setFlag(param, [...items, value])
  }`;
}

function unique(items: readonly Item[]): Item[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = String(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
