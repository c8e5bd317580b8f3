import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { shellJoin } from "../../src/drivers/transport.js";
import { runArgv } from "../../src/drivers/transports/local-transport.js";
import { remoteCommand } from "../../src/drivers/transports/ssh-transport.js";
import { hostileWord, nulJoined, SEED } from "./ssh-helpers.js";

// The same property runs over real SSH in ssh-lab.test.ts; here a local `sh -c` stands in for the
// remote login shell, which is what sshd hands the command line to.
const RUNS = Number(process.env.FC_RUNS ?? 150);
const words = fc.array(hostileWord, { minLength: 1, maxLength: 8 });

describe(`remote command lines: every word literal (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  for (const shell of ["sh", "bash"]) {
    it(`${shell} -c prints hostile words byte-for-byte through shellJoin`, async () => {
      await fc.assert(
        fc.asyncProperty(words, async (ws) => {
          const r = await runArgv([shell, "-c", shellJoin(["printf", "%s\\0", ...ws])]);
          expect(r.code).toBe(0);
          expect(Buffer.from(r.stdout)).toEqual(Buffer.from(nulJoined(ws)));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("sh -c passes hostile env values and command words through remoteCommand unchanged", async () => {
    await fc.assert(
      fc.asyncProperty(words, hostileWord, async (ws, value) => {
        const line = remoteCommand(["sh", "-c", 'printf "%s\\0" "$CROSSHOST_V" "$@"', "sh", ...ws], { env: { CROSSHOST_V: value } });
        const r = await runArgv(["sh", "-c", line]);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(nulJoined([value, ...ws]));
      }),
      { numRuns: RUNS },
    );
  });

  it("quotes a word only when it has to, and never leaves a shell metacharacter bare", () => {
    fc.assert(
      fc.property(hostileWord, (w) => {
        const q = shellJoin([w]);
        if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) expect(q).toBe(w);
        else expect(q.startsWith("'") && q.endsWith("'")).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
