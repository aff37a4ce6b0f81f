// The short Jepsen-style run, writes proposed by the Worker (the long one: `npm run jepsen`).
import { describeJepsen } from "./jepsen-suite";

describeJepsen("worker");
