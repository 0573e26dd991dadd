// Static properties of provision.sh that only AWS would otherwise show.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const script = fs.readFileSync(path.resolve(__dirname, "../../provision/provision.sh"), "utf8");

describe("provision.sh on the Debian builder", () => {
    it("waits for the dpkg lock (apt-daily at boot) in every apt-get call", () => {
        const calls = script.split("\n").filter((l) => /\bapt-get\b/.test(l) && !/^\s*#/.test(l));
        assert.ok(calls.length > 0);
        for (const l of calls) assert.match(l, /DPkg::Lock::Timeout=\d+|"\$\{apt\[@\]\}"/, l);
        assert.match(script, /apt=\(apt-get -o DPkg::Lock::Timeout=600\b/);
    });
});
