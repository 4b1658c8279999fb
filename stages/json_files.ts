/**
 * JSON artifacts: validated on write (a bug surfaces where it is made) and on read (a
 * hand-edited or truncated file names itself and the fix).
 *
 * @module
 */
import type { z } from "zod";
import { writeFileAtomic } from "../pipeline/mod.ts";

/** A stage artifact that is missing, not JSON, or not of its schema. */
export class ArtifactError extends Error {
  /** The user can fix it: CLIs print the message alone, without a stack. */
  readonly userFacing = true;
  /** Creates the error; the message names the file and the fix. */
  constructor(message: string) {
    super(message);
    this.name = "ArtifactError";
  }
}

/** Validates `value` with `schema` and writes it as pretty JSON, atomically. */
export async function writeJson<S extends z.ZodType>(
  path: string,
  schema: S,
  value: z.input<S>,
): Promise<void> {
  const checked = schema.parse(value);
  await writeFileAtomic(
    path,
    new TextEncoder().encode(JSON.stringify(checked, null, 2) + "\n"),
  );
}

/** Reads `path` as JSON and validates it with `schema`. */
export async function readJson<S extends z.ZodType>(
  path: string,
  schema: S,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ArtifactError(
      `cannot read ${path} (${
        (error as Error).message
      }); rerun the stage that writes it`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArtifactError(
      `${path} is not valid JSON (${
        (error as Error).message
      }); rerun the stage that writes it (--force)`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) =>
      `${i.path.join(".") || "(root)"}: ${i.message}`
    );
    throw new ArtifactError(
      `${path} does not match its schema (${
        issues.join("; ")
      }); rerun the stage that writes it (--force)`,
    );
  }
  return parsed.data;
}
