import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "./args";
import { ARGUMENT_KINDS } from "./argSpec";

/**
 * `ArchAmiArgs` from stack config under `namespace`: every argument by its own name (src/argSpec.ts,
 * generated from src/args.ts), text as is, numbers and true/false parsed, lists and objects as JSON
 * (`pulumi config set arch-ami:packages '["vim"]'`). A key that is no argument is an error naming the
 * known ones: a misspelt key would otherwise fall back to the default without a word.
 */
export function argsFromStackConfig(namespace = "arch-ami"): ArchAmiArgs {
    const cfg = new pulumi.Config(namespace);
    const read = {
        string: (k: string) => cfg.get(k),
        number: (k: string) => cfg.getNumber(k),
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
    return Object.fromEntries(
        Object.entries(ARGUMENT_KINDS)
            .map(([k, kind]) => [k, read[kind](k)])
            .filter(([, v]) => v !== undefined),
    ) as ArchAmiArgs;
}
