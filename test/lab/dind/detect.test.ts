import { describe, expect, it } from "vitest";
import { chooseBackend, detectNetnsLab } from "../../../lab/detect.js";
import { dindDetection, dindOk, dindTitle } from "./dind-helpers.js";

describe.runIf(dindDetection !== undefined)(dindTitle("dind lab: detection and backend choice"), () => {
  it("reports each capability with a detail or a reason", () => {
    for (const [name, cap] of Object.entries(dindDetection?.caps ?? {})) {
      expect(cap.ok ? (cap.detail ?? "") : cap.reason, name).not.toBe("");
    }
    if (dindDetection?.ok) expect(dindDetection.caps.engine.ok && dindDetection.caps.engine.detail).toMatch(/machine's engine|private dockerd/);
    else expect(dindDetection?.reasons.length).toBeGreaterThan(0);
  });

  it.runIf(dindOk)("--backend dind is granted, with the engine it will use in the reason", async () => {
    const c = await chooseBackend("dind");
    expect(c).toMatchObject({ ok: true, backend: "dind" });
    if (c.ok) expect(c.why).toMatch(/^requested; .*(machine's engine|private dockerd)/);
  });

  it("--backend auto prefers netns where it works, else dind, and says why", async () => {
    const netns = await detectNetnsLab({ probeConsul: false });
    const c = await chooseBackend("auto");
    if (netns.ok) expect(c).toMatchObject({ ok: true, backend: "netns" });
    else if (dindOk) expect(c).toMatchObject({ ok: true, backend: "dind" });
    else expect(c.ok).toBe(false);
    expect(c.why).toMatch(/^auto: |^no lab backend works here: /);
  });
});
