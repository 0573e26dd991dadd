// The verification's identity: the check's resources are named `<registration>-verify-<check12>`, where check12
// covers everything that defines the check as deployed (the command with verify.sh, its arguments and the whole
// wrapper; the user-data template; instance type, extra GiB, user, encryption, connection, shutdown behaviour).
// A changed check is therefore a new test instance and a new run, never an update of a command over an old one.
import { createHash } from "node:crypto";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { BASE_ARGS, installMocks, registered, settle, unwrapSecret, value } from "./harness";
import { checkId } from "../../src/identity";
import { INSTANCE_ID_PLACEHOLDER, checkDefinition } from "../../src/image/verify";

installMocks();

describe("check identity, from what is deployed", () => {
    let name: string;
    let create: string;
    let userData: string;
    let inst: Record<string, unknown>;
    let conn: Record<string, unknown>;
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("ident", { ...BASE_ARGS, volumeSize: 5, defaultUser: "ops", packages: ["vim"] });
        await value(a.amiId);
        await settle();
        const check = registered.find((r) => r.type === "command:remote:Command" && /^ident-[0-9a-f]{12}-verify-[0-9a-f]{12}-check$/.test(r.name))!;
        name = check.name.replace(/-check$/, "");
        inst = registered.find((r) => r.name === `${name}-instance`)!.inputs;
        create = String(check.inputs.create);
        conn = unwrapSecret(check.inputs.connection)[0] as Record<string, unknown>;
        userData = String(unwrapSecret(inst.userData)[0]);
    });

    it("is the hash of the deployed command, user data, instance and connection settings", () => {
        // Put the placeholders back where the instance id and the host key were filled in.
        const instanceId = `${name}-instance-id`;
        assert.ok(create.includes(instanceId), "the failure message names the test instance");
        const priv = /ed25519_private: \|\n((?: {4}.*\n)+)/.exec(userData)![1];
        const pub = /ed25519_public: (.*)\n/.exec(userData)![1];
        const template = userData.replace(priv, "    @@ARCH_AMI_HOST_KEY_PRIVATE@@\n").replace(pub, "@@ARCH_AMI_HOST_KEY_PUBLIC@@");
        const root = inst.rootBlockDevice as Record<string, unknown>;
        const deployed = {
            command: create.split(instanceId).join(INSTANCE_ID_PLACEHOLDER),
            userData: template,
            instanceType: inst.instanceType,
            extraGiB: (root.volumeSize as number) - 5,
            defaultUser: conn.user,
            encryption: { enabled: false, kmsKeyId: "" },
            connection: { associatePublicIp: inst.associatePublicIpAddress, dialErrorLimit: conn.dialErrorLimit, perDialTimeout: conn.perDialTimeout },
            shutdownBehavior: inst.instanceInitiatedShutdownBehavior,
        };
        const check12 = createHash("sha256").update(JSON.stringify(deployed)).digest("hex").slice(0, 12);
        assert.equal(name.slice(-12), check12);
        assert.equal(deployed.defaultUser, "ops");
        assert.match(deployed.command, /'--packages' 'base linux vim'/);
    });
});

describe("check identity, field by field", () => {
    const script = "#!/usr/bin/env bash\necho ok\n";
    const args = ["--packages", "base linux"];
    const base = checkDefinition(script, args, "arch", { enabled: false, kmsKeyId: "" }, true);
    const variants: [string, typeof base][] = [
        ["verify.sh", checkDefinition(`${script}# changed\n`, args, "arch", base.encryption, true)],
        ["its arguments", checkDefinition(script, ["--packages", "base linux vim"], "arch", base.encryption, true)],
        ["the wrapper around verify.sh", { ...base, command: base.command.replace("tail -n 20", "tail -n 30") }],
        ["the user-data template", { ...base, userData: base.userData.replace("#cloud-config", "#cloud-config\n# x") }],
        ["the default user", checkDefinition(script, args, "ops", base.encryption, true)],
        ["encryption", checkDefinition(script, args, "arch", { enabled: true, kmsKeyId: "" }, true)],
        ["the connection address (associatePublicIp)", checkDefinition(script, args, "arch", base.encryption, false)],
        ["the dial limit", { ...base, connection: { ...base.connection, dialErrorLimit: 10 } }],
        ["the instance type", { ...base, instanceType: "t3.micro" }],
        ["the extra GiB", { ...base, extraGiB: 3 }],
        ["the shutdown behaviour", { ...base, shutdownBehavior: "stop" }],
    ];
    const seen = new Map([[checkId(base), "base"]]);
    for (const [what, def] of variants) {
        it(`changes with ${what}`, () => {
            const id = checkId(def);
            assert.match(id, /^[0-9a-f]{12}$/);
            assert.ok(!seen.has(id), `${what} gives the id of ${seen.get(id)}`);
            seen.set(id, what);
        });
    }
    it("is stable for the same definition", () => {
        assert.equal(checkId(checkDefinition(script, args, "arch", { enabled: false, kmsKeyId: "" }, true)), checkId(base));
    });
});
