// The identities, recomputed here from their written definition (src/identity.ts TSDoc, README "Build
// identity"): sha256 over a canonical JSON of the settings, the provisioning scripts and the build code. The
// expectations are computed in this file with node:crypto, never by calling the component's own helpers, so a
// changed rule (a file left out, an order dropped, a field added) fails here even when the hash stays "stable".
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { amiNameFor, buildCodeDigest, buildHash, buildName, checkId, registrationSuffix, BUILD_NAME_HASH_LENGTH } from "../../src/identity";
import type { CheckDefinition } from "../../src/identity";
import { resolveSettings } from "../../src/settings";
import { BASE_ARGS } from "./harness";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function tree(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-ident-"));
    for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
    }
    return root;
}

// A provision/ folder: a nested file, the two files that are not part of a build, names whose order differs
// between insertion and sorting. Node lists a folder sorted by name already (libuv's scandir sorts), but a walk
// that descends into lib/ as it meets it puts lib/disk.sh before lib-extra.sh, which sorts first ("-" < "/").
const scripts = tree({
    "lib-extra.sh": "extra\n",
    "provision.sh": "#!/bin/bash\necho provision\n",
    "lib/disk.sh": "disk\n",
    "a-first.sh": "first\n",
    "verify.sh": "verify\n",
    "owned-paths": "/etc\n",
});
// A src/ folder: the two top-level build modules, the build stage, a declaration file, a non-code file,
// a sub-folder and another top-level module (registration code: not part of the build).
const src = tree({
    "identity.ts": "identity\n",
    "render.ts": "render\n",
    "archAmi.ts": "component\n",
    "build/b.ts": "b\n",
    "build/a.js": "a\n",
    "build/types.d.ts": "declare\n",
    "build/notes.md": "notes\n",
    "build/x.tsx": "tsx\n",
    "build/old.ts.orig": "orig\n",
    "build/nested/inner.ts": "inner\n",
});

/** buildCodeDigest's definition for `.ts` sources: identity, render and every .js/.ts directly in build/, no .d.ts. */
const codeDigest = sha(
    [
        ["identity.ts", "identity\n"],
        ["render.ts", "render\n"],
        ["build/b.ts", "b\n"],
        ["build/a.js", "a\n"],
    ]
        .map(([f, text]) => `${f} ${sha(text)}`)
        .sort()
        .join("\n"),
);

describe("build identity, recomputed from its definition", () => {
    it("the build code digest covers identity, render and build/*.{js,ts}, sorted, one `path sha256` line each", () => {
        assert.equal(buildCodeDigest(src, ".ts"), codeDigest);
    });

    it("the build code digest reads the modules with the running code's extension", () => {
        const js = tree({ "identity.js": "identity\n", "render.js": "render\n", "build/b.ts": "b\n" });
        assert.equal(buildCodeDigest(js, ".js"), sha([`build/b.ts ${sha("b\n")}`, `identity.js ${sha("identity\n")}`, `render.js ${sha("render\n")}`].join("\n")));
        assert.throws(() => buildCodeDigest(js, ".ts"), /ENOENT/);
    });

    const scriptsMap = {
        "a-first.sh": sha("first\n"),
        "lib-extra.sh": sha("extra\n"),
        "lib/disk.sh": sha("disk\n"),
        "provision.sh": sha("#!/bin/bash\necho provision\n"),
    };

    for (const [what, args] of [
        ["without encryption", {}],
        ["with encryption and a key", { encryption: { kmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/0a1b2c3d-1111-2222-3333-444455556666" } }],
    ] as const) {
        it(`is sha256 of {image (keys sorted), encryption when on, scripts, code}, ${what}`, () => {
            const settings = resolveSettings("arch", { ...BASE_ARGS, packages: ["vim"], ...args });
            const image = Object.fromEntries(Object.keys(settings.image).sort().map((k) => [k, (settings.image as unknown as Record<string, unknown>)[k]]));
            const canonical = JSON.stringify({
                image,
                ...(settings.encryption.enabled ? { encryption: settings.encryption } : {}),
                scripts: scriptsMap,
                code: codeDigest,
            });
            assert.equal(buildHash(settings, scripts, src), sha(canonical));
            // The image settings are not written in sorted order: the sort is what the canonical form adds.
            assert.notDeepEqual(Object.keys(settings.image), Object.keys(image));
        });
    }

    it("names a build `<name>-<first 12 hex of the hash>`", () => {
        assert.equal(BUILD_NAME_HASH_LENGTH, 12);
        assert.equal(buildName("arch", "0123456789abcdef"), "arch-0123456789ab");
    });
});

describe("registration identity and names, recomputed", () => {
    it("the suffix is 12 hex of sha256 over [project, stack, name, build hash, boot mode, TPM]", () => {
        const stack = { project: "p", stack: "s", resourceName: "r" };
        const expected = sha(JSON.stringify(["p", "s", "r", "h", "uefi", true])).slice(0, 12);
        assert.equal(registrationSuffix(stack, "h", { bootMode: "uefi", tpmSupport: true }), expected);
    });

    it("the AMI name is `<prefix>-` and 12 hex of sha256(`<suffix> <snapshot>`)", () => {
        assert.equal(amiNameFor("arch", "abc", "snap-1"), `arch-${sha("abc snap-1").slice(0, 12)}`);
    });

    it("the check id is 12 hex of sha256 over the definition's JSON", () => {
        const def: CheckDefinition = {
            command: "c",
            userData: "u",
            instanceType: "t3.small",
            extraGiB: 2,
            defaultUser: "arch",
            encryption: { enabled: false, kmsKeyId: "" },
            connection: { associatePublicIp: true, dialErrorLimit: 30, perDialTimeout: 10 },
            shutdownBehavior: "stop",
        };
        assert.equal(checkId(def), sha(JSON.stringify(def)).slice(0, 12));
    });
});
