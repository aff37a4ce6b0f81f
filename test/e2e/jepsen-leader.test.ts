// The short Jepsen-style run, writes proposed by the leader acceptor.
import { describeJepsen } from "./jepsen-suite";

describeJepsen("leader");
