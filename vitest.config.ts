import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Lab tests own machine-wide resources (namespaces, bridges, dockerd); run files one at a time.
    fileParallelism: false,
    reporters: process.env.CI ? ["verbose"] : ["default"],
  },
});
