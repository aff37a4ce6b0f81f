// Builds what the repo ships besides the Worker: the CLI bundle and the viewer.
import { buildCli } from "./build-cli.mjs";
import { buildViewer } from "./build-viewer.mjs";

await Promise.all([buildCli(), buildViewer()]);
