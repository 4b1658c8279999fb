export * from "../assert.ts";
