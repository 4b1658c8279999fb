/**
 * Machine and site settings that are neither params nor part of any key: the remote store
 * (`PIPELINE_REMOTE=s3://bucket/prefix`, or `remote` in `pipeline.config.json`) and Slurm
 * settings (per-stage resources, partition, extra sbatch flags). Credentials never live here:
 * they come from the standard AWS variables.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "./errors.ts";
import { readTextOrUndefined } from "./fs.ts";
import type { RemoteStore } from "./store/mod.ts";
import { importLater } from "./lazy.ts";
import type { S3Hooks } from "./store/s3.ts";

/** File name of the site config, in the project root. */
export const CONFIG_FILE = "pipeline.config.json";

const Resources = z.strictObject({
  cpus: z.number().int().positive().optional(),
  memory: z.string().regex(/^\d+[KMGT]?$/).optional(),
  gpus: z.number().int().nonnegative().optional(),
  time: z.string().regex(/^(\d+-)?\d+(:\d\d){0,2}$/).optional(),
});

/** `pipeline.config.json`. */
export const SiteConfig = z.strictObject({
  remote: z.string().optional(),
  /** Seconds between uploads of a running worker's changed checkpoints to the remote. */
  checkpointUploadSeconds: z.number().positive().default(30),
  slurm: z.strictObject({
    partition: z.string().optional(),
    sbatchArgs: z.array(z.string()).default([]),
    resources: z.record(z.string(), Resources).default({}),
    pollSeconds: z.number().positive().default(2),
  }).default({ sbatchArgs: [], resources: {}, pollSeconds: 2 }),
});
/** The validated site config. */
export type SiteConfig = z.infer<typeof SiteConfig>;

/** Reads `pipeline.config.json` (all defaults when absent). */
export async function readSiteConfig(root: string): Promise<SiteConfig> {
  const path = join(root, CONFIG_FILE);
  const text = await readTextOrUndefined(path);
  if (text === undefined) return SiteConfig.parse({});
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      `${CONFIG_FILE} is not JSON (${
        (error as Error).message
      }); fix or delete it`,
    );
  }
  const parsed = SiteConfig.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(
      `${CONFIG_FILE}: ${
        issue.path.join(".") || "(top level)"
      }: ${issue.message}`,
    );
  }
  return parsed.data;
}

/** An environment variable, or undefined when unset or not readable under the task's permissions. */
export function envVar(name: string): string | undefined {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: name })
      .state;
    if (state !== "granted") return undefined;
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * The remote store of this project, if configured (`PIPELINE_REMOTE` wins over the config
 * file). Contacts nothing; {@link RemoteStore.check} does. Missing credentials fail here,
 * naming the variable to set.
 */
export async function openRemote(
  config: SiteConfig,
  hooks: S3Hooks = {},
): Promise<RemoteStore | undefined> {
  const fromEnv = envVar("PIPELINE_REMOTE");
  const url = fromEnv ?? config.remote;
  if (url === undefined) return undefined;
  const source = fromEnv !== undefined
    ? "PIPELINE_REMOTE"
    : `"remote" in ${CONFIG_FILE}`;
  const { parseS3Url, S3RemoteStore } = await importLater<
    typeof import("./store/s3.ts")
  >("./store/s3.ts", import.meta.url);
  const { bucket, prefix } = parseS3Url(url, source);
  const accessKeyId = envVar("AWS_ACCESS_KEY_ID");
  const secretAccessKey = envVar("AWS_SECRET_ACCESS_KEY");
  if (accessKeyId !== undefined && secretAccessKey === undefined) {
    throw new UserError(
      `AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set it to reach ${url}`,
    );
  }
  if (accessKeyId === undefined && envVar("AWS_PROFILE") === undefined) {
    throw new UserError(
      `the remote store ${url} (from ${source}) needs credentials: set AWS_ACCESS_KEY_ID and ` +
        `AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for a server other than AWS`,
    );
  }
  return new S3RemoteStore({
    bucket,
    prefix,
    endpoint: envVar("AWS_ENDPOINT_URL_S3") ?? envVar("AWS_ENDPOINT_URL"),
    region: envVar("AWS_REGION") ?? envVar("AWS_DEFAULT_REGION") ??
      "us-east-1",
    credentials: accessKeyId === undefined ? undefined : {
      accessKeyId,
      secretAccessKey: secretAccessKey as string,
      sessionToken: envVar("AWS_SESSION_TOKEN"),
    },
  }, hooks);
}
