import { describe, expect, it } from "vitest";
import { REDACTED, redactEnv } from "../src/index.ts";

describe("environment snapshot redaction", () => {
  it("redacts secret-looking names and values, keeps the rest, sorted", () => {
    const env = {
      PATH: "/usr/bin:/bin",
      HOME: "/home/tech",
      PWD: "/home/tech",
      DB_PASSWORD: "hunter2",
      GITHUB_TOKEN: "x",
      AWS_SECRET_ACCESS_KEY: "abc",
      AZURE_CLIENT_SECRET: "abc",
      NPM_CONFIG__AUTH: "abc",
      HARMLESS: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      DATABASE_URL: "postgres://app:s3cret@db.internal/app",
      JWT_LOOKALIKE: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
      API_KEY: "k",
      USERNAME: "tech",
      PROCESSOR_ARCHITECTURE: "AMD64",
      UNSET: undefined,
    };
    expect(redactEnv(env)).toEqual({
      API_KEY: REDACTED,
      AWS_SECRET_ACCESS_KEY: REDACTED,
      AZURE_CLIENT_SECRET: REDACTED,
      DATABASE_URL: REDACTED,
      DB_PASSWORD: REDACTED,
      GITHUB_TOKEN: REDACTED,
      HARMLESS: REDACTED,
      HOME: "/home/tech",
      JWT_LOOKALIKE: REDACTED,
      NPM_CONFIG__AUTH: REDACTED,
      PATH: "/usr/bin:/bin",
      PROCESSOR_ARCHITECTURE: "AMD64",
      PWD: "/home/tech",
      USERNAME: "tech",
    });
    expect(Object.keys(redactEnv(env))).toEqual(Object.keys(redactEnv(env)).sort());
  });
});
