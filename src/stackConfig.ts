import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "./args";
import { ARGUMENT_KINDS } from "./argSpec";

/**
 * Whether a config key was set with --secret: the SDK's own check (@pulumi/pulumi runtime/config.ts
 * isConfigSecret, marked internal, so not in its typings), which reads the keys the CLI passes in
 * PULUMI_CONFIG_SECRET_KEYS.
 */
function isSecret(key: string): boolean {
    return (pulumi.runtime as unknown as { isConfigSecret(k: string): boolean }).isConfigSecret(key);
}

/**
 * `ArchAmiArgs` from stack config under `namespace`: every argument by its own name (src/argSpec.ts,
 * generated from src/args.ts), text as is, numbers and true/false parsed, lists and objects as JSON
 * (`pulumi config set arch-ami:packages '["vim"]'`). A key that is no argument is an error naming the
 * known ones (a misspelt key would otherwise fall back to the default without a word), and so is a secret
 * (it would be baked into the image).
 */
export function argsFromStackConfig(namespace = "arch-ami"): ArchAmiArgs {
    const cfg = new pulumi.Config(namespace);
    const number = (k: string) => {
        const v = cfg.get(k);
        if (v !== undefined && !/^-?\d+(\.\d+)?$/.test(v.trim())) {
            throw new Error(`stack config "${namespace}:${k}" must be a number, e.g. pulumi config set ${namespace}:${k} 8 (got "${v}")`);
        }
        return v === undefined ? undefined : Number(v);
    };
    const read = {
        string: (k: string) => cfg.get(k),
        number,
        boolean: (k: string) => cfg.getBoolean(k),
        json: (k: string) => cfg.getObject<unknown>(k),
    };
    const unknown = Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(`${namespace}:`))
        .map((k) => k.slice(namespace.length + 1))
        .filter((k) => !Object.prototype.hasOwnProperty.call(ARGUMENT_KINDS, k));
    if (unknown.length > 0) {
        throw new Error(
            `unknown stack config ${unknown.map((k) => `"${namespace}:${k}"`).join(", ")}: ArchAmi has no such argument. ` +
                `Known: ${Object.keys(ARGUMENT_KINDS).join(", ")} (README "Configuration"). Fix it with pulumi config rm/set.`,
        );
    }
    const secret = Object.keys(ARGUMENT_KINDS).filter((k) => isSecret(`${namespace}:${k}`));
    if (secret.length > 0) {
        throw new Error(
            `stack config ${secret.map((k) => `"${namespace}:${k}"`).join(", ")} is a secret: arch-ami writes its arguments ` +
                "into the image (and the build's state), and everyone who can launch the AMI can read every file in it. Set it " +
                `without --secret if it is not one (pulumi config set ${namespace}:${secret[0]} …), and fetch real secrets at ` +
                "boot (user data, SSM Parameter Store, Secrets Manager).",
        );
    }
    return Object.fromEntries(
        Object.entries(ARGUMENT_KINDS)
            .map(([k, kind]) => [k, read[kind](k)])
            .filter(([, v]) => v !== undefined),
    ) as ArchAmiArgs;
}
