// Runs before `npm start` and `npm test` under whatever Node the machine has
// (even 20): installs the locked dependencies when they are missing or stale.
// They include Node 24 from the npm registry (the `node` package), which npm
// scripts then use, since npm puts node_modules/.bin first on PATH.
// With `--browser` (before `npm test`) it also installs Debian's Chromium for
// the viewer's browser tests, since `npx playwright install` cannot work here.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  console.log("doozer-edge: installing dependencies (npm ci)...");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}

if (process.argv.includes("--browser")) {
  try {
    execSync("command -v chromium", { stdio: "ignore" });
  } catch {
    console.log("doozer-edge: installing Chromium (apt-get install chromium) for the browser tests...");
    const sudo = process.getuid?.() === 0 ? "" : "sudo ";
    execSync(`${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq chromium`, {
      stdio: "inherit",
      shell: "/bin/sh",
    });
  }
}
