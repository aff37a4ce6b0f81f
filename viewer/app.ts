// The live web viewer's entry point.
import { connect } from "../client/index";

const doozer = connect(location.origin, { transport: "websocket" });
const app = document.getElementById("app");
if (app) app.textContent = `store rev ${await doozer.rev()}`;
