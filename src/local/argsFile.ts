// The component's arguments for build-local: from a JSON or YAML file, or from a stack's config file read
// the way `pulumi up` hands it to the program (argsFromStackConfig, the default program's reader).
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "../args";
import { argsFromStackConfig } from "../stackConfig";
import { UsageError } from "./prerequisites";

function readText(file: string, what: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (e) {
        throw new UsageError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
}

/** `--args FILE`: one JSON or YAML object, the component's arguments (JSON is YAML too). */
export function readArgsFile(file: string): ArchAmiArgs {
    const text = readText(file, "--args");
    let value: unknown;
    try {
        value = parseYaml(text);
    } catch (e) {
        throw new UsageError(`--args ${file}: not JSON or YAML: ${(e as Error).message}`);
    }
    if (value === null || value === undefined) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
        throw new UsageError(`--args ${file}: must hold one object of ArchAmi arguments, e.g. {"packages": ["vim"]}`);
    }
    return value as ArchAmiArgs;
}

/**
 * `--stack NAME`: the config of Pulumi.NAME.yaml in `projectDir`, as the Pulumi CLI gives it to a program
 * (the PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS variables: every value as text, structured values as JSON; @pulumi/pulumi
 * runtime/config.ts parseConfig), then argsFromStackConfig(namespace) as the default program reads it.
 * A `secure:` value is a secret, which argsFromStackConfig refuses by name.
 */
export function readStackArgs(projectDir: string, stack: string, namespace: string): ArchAmiArgs {
    const project = parseYaml(readText(path.join(projectDir, "Pulumi.yaml"), "--project: the project file")) as { name?: string } | null;
    const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
    const doc = parseYaml(readText(stackFile, "--stack: the stack file")) as { config?: Record<string, unknown> } | null;
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [rawKey, value] of Object.entries(doc?.config ?? {})) {
        // A key without a namespace belongs to the project ("name: value" in the project's namespace).
        const key = rawKey.includes(":") ? rawKey : `${project?.name ?? ""}:${rawKey}`;
        if (value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
            secretKeys.push(key);
            config[key] = "";
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    // What the language host does with the variables above (runtime/config.ts setAllConfig -> persistConfig).
    pulumi.runtime.setAllConfig(config, secretKeys);
    try {
        return argsFromStackConfig(namespace);
    } catch (e) {
        throw new UsageError(`--stack ${stack} (${stackFile}): ${(e as Error).message}`);
    }
}
