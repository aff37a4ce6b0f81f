// Runs before `npm start` and `npm test` under whatever Node the machine has
// (even 20): installs the locked dependencies when they are missing or stale.
// They include Node 24 from the npm registry (the `node` package), which npm
// scripts then use, since npm puts node_modules/.bin first on PATH.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  console.log("doozer-edge: installing dependencies (npm ci)...");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
