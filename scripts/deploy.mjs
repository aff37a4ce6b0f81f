// npm run deploy: the only way this repository deploys, and always as
// [env.production] of wrangler.toml, never the top level (which turns the
// fault switch on for the local cluster). docs/DEPLOY.md is the guide.
//
//   npm run deploy                          the steps, in order; deploys nothing
//   npm run deploy -- --yes                 checks, then `wrangler deploy --env production`
//   npm run deploy -- --dry-run [--outdir D] checks, then bundles without uploading (CI runs this)
//
// The top level's build step also runs `node scripts/deploy.mjs --local-build`,
// which fails a `wrangler deploy` or `wrangler versions upload` of the local
// configuration before anything is bundled, whoever types it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const environment = "production";

let options;
try {
  options = parseArgs({
    options: {
      yes: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      outdir: { type: "string" },
      "local-build": { type: "boolean", default: false },
    },
  }).values;
} catch (error) {
  console.error(`deploy: ${error.message}\nusage: npm run deploy [-- --yes | -- --dry-run [--outdir DIR]]`);
  process.exit(2);
}

if (options["local-build"]) {
  // Runs under whatever Node the build step finds, before any dependency is
  // loaded, so it must stay this small. `wrangler types` and `wrangler dev`
  // run the build too, and pass.
  const command = process.env.WRANGLER_COMMAND ?? "";
  if ((command === "deploy" || command.startsWith("versions")) && !uploadsNothing()) {
    console.error(
      `deploy: refused: \`wrangler ${command}\` of wrangler.toml's top level, the local cluster with the fault switch on (DOOZER_FAULTS). Deploy with \`npm run deploy\`, which uses [env.${environment}] (docs/DEPLOY.md).`,
    );
    process.exit(1);
  }
  process.exit(0);
}

/**
 * Whether the wrangler that runs this build was asked for a dry run, which
 * uploads nothing (the bench bundles the local configuration that way). Its
 * command line is the only place that says so; wrangler tells the build only
 * the command's name. Where it cannot be read (no /proc), this says no.
 */
function uploadsNothing() {
  try {
    let pid = process.ppid;
    for (let depth = 0; depth < 8 && pid > 1; depth++) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv.includes("deploy") || argv.includes("versions")) {
        return argv.some((a) => a === "--dry-run" || a === "--dryRun" || a === "--dry-run=true");
      }
      pid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    }
  } catch {
    // No /proc: refuse, as for an upload.
  }
  return false;
}

const require = createRequire(import.meta.url);
let wranglerBin;
let readConfig;
let tsImport;
try {
  wranglerBin = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  ({ unstable_readConfig: readConfig } = await import("wrangler"));
  ({ tsImport } = await import("tsx/esm/api"));
} catch {
  console.error("deploy: wrangler or tsx is not installed: run `npm ci` first.");
  process.exit(1);
}

const configPath = join(root, "wrangler.toml");
const production = readConfig({ config: configPath, env: environment }, { hideWarnings: true });
const local = readConfig({ config: configPath }, { hideWarnings: true });
const settings = checkConfiguration(
  production,
  local,
  await tsImport("../core/cluster-config.ts", import.meta.url),
);

printSteps(production.name, settings);

const faultsWarning = `(wrangler warns that DOOZER_FAULTS is not in env.${environment}.vars: that is deliberate, the fault switch stays off.)`;

if (options["dry-run"]) process.exit(dryRun(options.outdir ?? mkdtempSync(join(tmpdir(), "doozer-deploy-"))));
if (!options.yes) {
  console.log("\nNothing deployed: after steps 1 to 3, run `npm run deploy -- --yes`.");
  process.exit(1);
}
checkSecrets(production.name);
console.log(`\ndeploy: wrangler deploy --env ${environment}\n${faultsWarning}`);
process.exit(wrangler(["deploy", "--env", environment], "inherit").status ?? 1);

/** Everything that can be known without the network, refused before anything is bundled or uploaded. */
function checkConfiguration(production, local, { parseClusterConfig }) {
  const problems = [];
  const vars = production.vars ?? {};
  if (!production.name || production.name === local.name) {
    problems.push(
      `[env.${environment}] needs a Worker name of its own (it has "${production.name}"; the local configuration is "${local.name}")`,
    );
  }
  if ("DOOZER_FAULTS" in vars) {
    problems.push(
      `DOOZER_FAULTS: must not be set in [env.${environment}.vars]; the fault switch is local only`,
    );
  }
  for (const secret of ["DOOZER_RWSECRET", "DOOZER_ROSECRET"]) {
    if (secret in vars)
      problems.push(
        `${secret}: is a plain variable in [env.${environment}.vars]; make it a secret (wrangler secret put)`,
      );
  }
  let settings;
  try {
    settings = parseClusterConfig(vars);
  } catch (error) {
    problems.push(error.message);
  }
  if (problems.length > 0) {
    console.error(
      `deploy: refused: wrangler.toml [env.${environment}]:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    process.exit(1);
  }
  return settings;
}

function printSteps(name, settings) {
  const at = settings.acceptors.map((a) => `${a.name}@${a.location}`).join(" ");
  const secret = (n) => `npx wrangler secret put ${n} --env ${environment}`;
  console.log(`doozer-edge deploys as the Worker "${name}" (wrangler.toml [env.${environment}]):
  ${settings.acceptors.length} acceptors: ${at}; ${settings.writeRoute} write route (leader ${settings.leader}); fault switch off.

In order (docs/DEPLOY.md):
  1. npx wrangler login                 once per machine (or set CLOUDFLARE_API_TOKEN)
  2. ${secret("DOOZER_RWSECRET")}   the read-write token(s), comma-separated; without it the Worker refuses all but /v1/health
  3. ${secret("DOOZER_ROSECRET")}   the read-only token (optional: without it reads need the read-write one)
  4. npm run deploy -- --yes             checks that step 2 was done, then wrangler deploy --env ${environment}
  5. curl -H "Authorization: Bearer <token>" https://${name}.<your-subdomain>.workers.dev/v1/cluster`);
}

/** `wrangler deploy --dry-run`: the bundle and its bindings as they would be uploaded, checked, offline. */
function dryRun(outdir) {
  console.log(
    `\ndeploy: wrangler deploy --dry-run --env ${environment} --outdir ${outdir}\n${faultsWarning}`,
  );
  const run = wrangler(["deploy", "--dry-run", "--env", environment, "--outdir", outdir], "pipe");
  process.stdout.write(run.stdout ?? "");
  if (run.status !== 0) return run.status ?? 1;
  const bindings = bindingLines(run.stdout ?? "");
  if (!bindings.some((line) => line.startsWith("env.ACCEPTOR "))) {
    console.error("deploy: the dry run listed no ACCEPTOR binding; the bundle would have no acceptors");
    return 1;
  }
  if (bindings.some((line) => line.startsWith("env.DOOZER_FAULTS"))) {
    console.error("deploy: the bundle binds DOOZER_FAULTS; the fault switch must not reach a deployment");
    return 1;
  }
  console.log(`deploy: dry run passed; the bundle is in ${outdir}`);
  return 0;
}

/** The rows of wrangler's "Your Worker has access to the following bindings" table. */
function bindingLines(output) {
  const lines = output.split("\n").map((line) => line.trim());
  const start = lines.findIndex((line) =>
    line.startsWith("Your Worker has access to the following bindings"),
  );
  if (start < 0) return [];
  const rest = lines.slice(start + 2);
  const end = rest.findIndex((line) => line === "" || line.startsWith("--dry-run"));
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * A deployed Worker without DOOZER_RWSECRET refuses every request but
 * /v1/health (unless DOOZER_OPEN = "1"), so the secret must exist before the
 * code that reads it: `wrangler secret put` on a Worker not
 * yet deployed creates it with the secret and no code.
 */
function checkSecrets(name) {
  const listed = wrangler(["secret", "list", "--env", environment, "--format", "json"], "pipe");
  let names;
  try {
    if (listed.status !== 0) throw new Error();
    names = JSON.parse(listed.stdout).map((s) => s.name);
  } catch {
    // wrangler's own error went to stderr above.
    console.error(`deploy: refused: could not list the secrets of "${name}" (steps 1 and 2 above).`);
    process.exit(1);
  }
  if (!names.includes("DOOZER_RWSECRET")) {
    console.error(
      `deploy: refused: "${name}" has no DOOZER_RWSECRET, so the deployed Worker would refuse every request (step 2).`,
    );
    process.exit(1);
  }
  if (!names.includes("DOOZER_ROSECRET"))
    console.log(
      "deploy: no DOOZER_ROSECRET: reads will need the read-write token (step 3 adds a read-only one).",
    );
}

function wrangler(args, stdio) {
  if (!existsSync(wranglerBin)) {
    console.error(`deploy: ${wranglerBin} is missing: run \`npm ci\` first.`);
    process.exit(1);
  }
  return spawnSync(process.execPath, [wranglerBin, ...args], {
    cwd: root,
    encoding: "utf8",
    stdio: stdio === "inherit" ? "inherit" : ["ignore", "pipe", "inherit"],
  });
}
