// The etcd datadriven layout: a command line, `----`, its expected output up to
// the next blank line. Lines starting with `#` between cases are comments.
// `rewrite` puts actual outputs in place of the expected ones and keeps
// everything else, so a run can both check a file and (with UPDATE=1) refresh it.

export interface Case {
  /** 1-based line of the command, for messages. */
  line: number;
  command: string;
  expected: string;
  /** Lines [outputStart, outputEnd) of the file hold the expected output. */
  outputStart: number;
  outputEnd: number;
}

export function parseCases(text: string, file: string): Case[] {
  const lines = text.split("\n");
  const cases: Case[] = [];
  let i = 0;
  while (i < lines.length) {
    const command = (lines[i] ?? "").trim();
    if (command === "" || command.startsWith("#")) {
      i++;
      continue;
    }
    if (lines[i + 1]?.trim() !== "----")
      throw new Error(`${file}:${i + 2}: expected ---- after "${command}"`);
    const outputStart = i + 2;
    let outputEnd = outputStart;
    while (outputEnd < lines.length && (lines[outputEnd] ?? "").trim() !== "") outputEnd++;
    cases.push({
      line: i + 1,
      command,
      expected: lines.slice(outputStart, outputEnd).join("\n"),
      outputStart,
      outputEnd,
    });
    i = outputEnd;
  }
  return cases;
}

export function rewrite(text: string, cases: readonly Case[], outputs: readonly string[]): string {
  const lines = text.split("\n");
  // From the last case back, so earlier line numbers stay valid.
  for (let k = cases.length - 1; k >= 0; k--) {
    const c = cases[k];
    const output = outputs[k];
    if (!c || output === undefined) continue;
    lines.splice(c.outputStart, c.outputEnd - c.outputStart, ...output.split("\n"));
  }
  return lines.join("\n");
}
