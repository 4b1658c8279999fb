/**
 * The real servers the integration suite runs against (started by `.ci/services/services.sh`):
 * Slurm (`SLURM_CONF`) and an S3 server (Ceph radosgw). Tests skip with a printed reason when
 * they are not running, unless `PIPELINE_INTEGRATION=required` (set by `deno task
 * test:integration`, which CI runs after starting them): then missing servers fail.
 *
 * @module
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";

/** Where the S3 server is and the test keys (defaults: services.sh's). */
export const S3 = {
  endpoint: Deno.env.get("PIPELINE_TEST_S3_ENDPOINT") ??
    "http://127.0.0.1:7480",
  bucket: Deno.env.get("PIPELINE_TEST_S3_BUCKET") ?? "pipeline-cache",
  accessKey: Deno.env.get("PIPELINE_TEST_S3_ACCESS_KEY") ?? "ci-access-key",
  secretKey: Deno.env.get("PIPELINE_TEST_S3_SECRET_KEY") ?? "ci-secret-key",
};

/** SLURM_CONF (services.sh's default location when unset). */
export const SLURM_CONF = Deno.env.get("SLURM_CONF") ??
  "/tmp/pipeline-services/slurm/slurm.conf";

/** A client for checking and tampering with the bucket. */
export const s3 = new S3Client({
  endpoint: S3.endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: S3.accessKey, secretAccessKey: S3.secretKey },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

async function s3Up(): Promise<string | undefined> {
  try {
    const response = await fetch(S3.endpoint, {
      signal: AbortSignal.timeout(3000),
    });
    await response.body?.cancel();
  } catch (error) {
    return `no S3 server at ${S3.endpoint} (${(error as Error).message})`;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: S3.bucket }));
  } catch (error) {
    const name = (error as Error).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") {
      return `S3 at ${S3.endpoint}: cannot create bucket ${S3.bucket} (${name})`;
    }
  }
  return undefined;
}

async function slurmUp(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("sinfo", {
      args: ["-h", "-o", "%t"],
      env: { SLURM_CONF },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const states = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !/idle|mix|alloc/.test(states)) {
      return `Slurm is not up (sinfo: ${
        states || new TextDecoder().decode(out.stderr).trim()
      })`;
    }
    return undefined;
  } catch (error) {
    return `no Slurm client (${(error as Error).message})`;
  }
}

const requested = Deno.env.get("PIPELINE_INTEGRATION");
const problems = requested === undefined
  ? ["not requested (run deno task test:integration with the servers up)"]
  : [await s3Up(), await slurmUp()].filter((p): p is string => p !== undefined);
if (problems.length > 0 && requested === "required") {
  throw new Error(
    `integration servers required but not running: ${problems.join("; ")}. ` +
      `Start them with: bash .ci/services/services.sh install && bash .ci/services/services.sh start`,
  );
}
if (problems.length > 0) {
  console.log(`integration tests skipped: ${problems.join("; ")}`);
}

/** Why the suite is skipped; undefined when the servers are up. */
export const skipReason: string | undefined = problems.length > 0
  ? problems.join("; ")
  : undefined;

/** Keys under `prefix` in the bucket. */
export async function listKeys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: S3.bucket,
        Prefix: prefix,
        ContinuationToken: token,
      }),
    );
    for (const item of page.Contents ?? []) out.push(item.Key as string);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out.sort();
}

/** Reads an object as text. */
export async function getText(key: string): Promise<string> {
  const response = await s3.send(
    new GetObjectCommand({ Bucket: S3.bucket, Key: key }),
  );
  return await response.Body!.transformToString();
}

/** Reads an object's bytes. */
export async function getBytes(key: string): Promise<Uint8Array> {
  const response = await s3.send(
    new GetObjectCommand({ Bucket: S3.bucket, Key: key }),
  );
  return await response.Body!.transformToByteArray();
}

/** Overwrites an object. */
export async function putBytes(key: string, data: Uint8Array): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: S3.bucket, Key: key, Body: data }),
  );
}

/** Deletes every key under `prefix`. */
export async function removePrefix(prefix: string): Promise<void> {
  const keys = await listKeys(prefix);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(
      keys.slice(i, i + 32).map((key) =>
        s3.send(new DeleteObjectCommand({ Bucket: S3.bucket, Key: key }))
      ),
    );
  }
}
