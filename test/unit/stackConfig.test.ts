// argsFromStackConfig in-process, under the config the Pulumi CLI passes (the SDK's setAllConfig stores what
// PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS carry): numbers read strictly, unknown keys and secrets refused
// with the exact message. test/unit/args.test.ts runs the same in a fresh process, for every argument.
import { afterEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ARGUMENT_KINDS } from "../../src/argSpec";
import { argsFromStackConfig } from "../../src/stackConfig";

const saved = pulumi.runtime.allConfig();
afterEach(() => pulumi.runtime.setAllConfig(saved));

const withConfig = (config: Record<string, string>, secretKeys: string[] = []) => pulumi.runtime.setAllConfig(config, secretKeys);
const KNOWN = Object.keys(ARGUMENT_KINDS).join(", ");

describe("argsFromStackConfig", () => {
    it("reads the arguments under arch-ami: unless told another namespace", () => {
        withConfig({ "arch-ami:instanceType": "t3.large", "other:instanceType": "m6i.large", "aws:region": "eu-west-1" });
        assert.deepEqual(argsFromStackConfig(), { instanceType: "t3.large" });
        assert.deepEqual(argsFromStackConfig("other"), { instanceType: "m6i.large" });
    });

    it("reads a number written as one, spaces around it allowed", () => {
        for (const [text, n] of [["8", 8], [" 8 ", 8], ["-1", -1], ["12", 12], ["1.5", 1.5], ["1.25", 1.25], ["100", 100]] as const) {
            withConfig({ "arch-ami:volumeSize": text });
            assert.deepEqual(argsFromStackConfig(), { volumeSize: n }, JSON.stringify(text));
        }
    });

    it("refuses anything else for a number instead of reading its first digits", () => {
        for (const text of ["8GiB", "x8", "8x", "1.", ".5", "1.x", "1e3", "0x10", "", "--1"]) {
            withConfig({ "arch-ami:volumeSize": text });
            assert.throws(
                () => argsFromStackConfig(),
                (e: Error) => e.message === `stack config "arch-ami:volumeSize" must be a number, e.g. pulumi config set arch-ami:volumeSize 8 (got "${text}")`,
                JSON.stringify(text),
            );
        }
    });

    it("refuses keys that are no argument, naming each and the known ones", () => {
        withConfig({ "arch-ami:volumeSzie": "8", "arch-ami:volumeSize": "8", "arch-ami:tagz": "{}", "aws:region": "eu-west-1" });
        assert.throws(
            () => argsFromStackConfig(),
            (e: Error) =>
                e.message ===
                `unknown stack config "arch-ami:volumeSzie", "arch-ami:tagz": ArchAmi has no such argument. Known: ${KNOWN} (README "Configuration"). Fix it with pulumi config rm/set.`,
        );
        // An inherited property of an object is no argument either.
        withConfig({ "arch-ami:toString": "x" });
        assert.throws(() => argsFromStackConfig(), /unknown stack config "arch-ami:toString"/);
    });

    it("refuses a secret, which would be baked into the image, without printing it", () => {
        withConfig({ "arch-ami:hostname": "hunter2", "arch-ami:locale": "de_DE.UTF-8" }, ["arch-ami:hostname"]);
        assert.throws(
            () => argsFromStackConfig(),
            (e: Error) =>
                e.message ===
                'stack config "arch-ami:hostname" is a secret: arch-ami writes its arguments into the image (and the build\'s state), and everyone who can ' +
                    "launch the AMI can read every file in it. Set it without --secret if it is not one (pulumi config set arch-ami:hostname …), and fetch real " +
                    "secrets at boot (user data, SSM Parameter Store, Secrets Manager).",
        );
        withConfig({ "arch-ami:hostname": "box" }, ["other:hostname"]);
        assert.deepEqual(argsFromStackConfig(), { hostname: "box" });
    });
});
