// The argument checks every validator is built from (src/validate.ts), called directly: the exact error a
// user sees for each kind of wrong value, and that a Pulumi Output is refused before its kind is looked at.
// Also in this file:
// argsFromStackConfig in-process, under the config the Pulumi CLI passes (the SDK's setAllConfig stores what
// PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS carry): numbers read strictly, unknown keys and secrets refused
// with the exact message. test/unit/args.test.ts runs the same in a fresh process, for every argument.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { installMocks } from "./harness";
import { PLAIN_VALUE_ADVICE, plainObject, plainString, stringList } from "../../src/validate";
import { afterEach, describe, it } from "node:test";
import { ARGUMENT_KINDS } from "../../src/argSpec";
import { argsFromStackConfig } from "../../src/stackConfig";

installMocks();

const invalid = (arg: string, got: string, expected: string) =>
    `ArchAmi "arch": argument "${arg}" is invalid: got ${got}; expected ${expected}. Fix "${arg}" and run again (nothing was created).`;

/** Runs F, which must throw a ResourceError with exactly MESSAGE and no stack trace (the user's mistake, not ours). */
function refuses(f: () => unknown, message: string) {
    assert.throws(f, (e: unknown) => {
        assert.ok(pulumi.ResourceError.isInstance(e), String(e));
        assert.equal((e as pulumi.ResourceError).message, message);
        assert.equal((e as pulumi.ResourceError).hideStack, true, "the CLI prints the message without our stack");
        return true;
    });
}

describe("validate: the building blocks", () => {
    it("explains why an Output cannot shape an image, never showing its value", () => {
        assert.equal(
            PLAIN_VALUE_ADVICE,
            "a plain value known before deployment. A Pulumi Output cannot be used: the build's identity is computed from it before anything " +
                "runs; and a secret must never be baked into an image, because everyone who can launch the AMI (and anyone it is shared with) " +
                "can read every file in it. Fetch secrets at boot instead (user data, SSM Parameter Store, Secrets Manager)",
        );
        const output = invalid("x", '"a Pulumi Output (possibly a secret)"', PLAIN_VALUE_ADVICE);
        refuses(() => stringList("arch", "x", pulumi.secret(["hunter2"])), output);
        refuses(() => plainString("arch", "x", pulumi.secret("hunter2")), output);
        refuses(() => plainObject("arch", "x", pulumi.output({ a: "1" })), output);
        refuses(() => stringList("arch", "x", ["a", pulumi.secret("hunter2")]), invalid("x[1]", '"a Pulumi Output (possibly a secret)"', PLAIN_VALUE_ADVICE));
    });

    it("stringList takes a list of strings and nothing else", () => {
        assert.deepEqual(stringList("arch", "x", ["a", "b"]), ["a", "b"]);
        assert.deepEqual(stringList("arch", "x", []), []);
        assert.equal(stringList("arch", "x", undefined), undefined);
        refuses(() => stringList("arch", "x", ["a", 1]), invalid("x", '["a",1]', "a list of strings"));
        refuses(() => stringList("arch", "x", "a"), invalid("x", '"a"', "a list of strings"));
    });

    it("plainString takes a string and nothing else", () => {
        assert.equal(plainString("arch", "x", "a"), "a");
        assert.equal(plainString("arch", "x", undefined), undefined);
        refuses(() => plainString("arch", "x", 1), invalid("x", "1", "a plain string (not an Output)"));
    });

    it("plainObject takes an object, not an array or null", () => {
        assert.deepEqual(plainObject("arch", "x", { a: 1 }), { a: 1 });
        assert.equal(plainObject("arch", "x", undefined), undefined);
        refuses(() => plainObject("arch", "x", ["a"]), invalid("x", '["a"]', "an object of plain values"));
        refuses(() => plainObject("arch", "x", null), invalid("x", "null", "an object of plain values"));
        refuses(() => plainObject("arch", "x", "a"), invalid("x", '"a"', "an object of plain values"));
    });
});


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

    it("reads true and false as booleans", () => {
        withConfig({ "arch-ami:associatePublicIp": "false", "arch-ami:retainImages": "true" });
        assert.deepEqual(argsFromStackConfig(), { associatePublicIp: false, retainImages: true });
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
        withConfig({ "arch-ami:hostname": "a", "arch-ami:locale": "b" }, ["arch-ami:hostname", "arch-ami:locale"]);
        assert.throws(() => argsFromStackConfig(), (e: Error) => e.message.startsWith('stack config "arch-ami:locale", "arch-ami:hostname" is a secret: '));
        withConfig({ "arch-ami:hostname": "box" }, ["other:hostname"]);
        assert.deepEqual(argsFromStackConfig(), { hostname: "box" });
    });
});
