// Runs the default program (program/index.ts) under mocks and prints every registered resource as the
// engine would see it (engine URN, inputs, lifecycle options) as JSON, sorted by URN. Environment:
// PULUMI_CONFIG (stack config), ARCH_AMI_TEST_STACK (stack name), ARCH_AMI_TEST_TARBALL_PATH (the file
// the tarball command reports) or ARCH_AMI_TEST_TARBALL_DIR (each tarball command writes its own file
// there), ARCH_AMI_TEST_REFRESHED=1 (AWS answers as after a refresh of the
// stopped builder). Used by determinism.test.ts and lifecycle.test.ts to compare whole runs.
//
// Engine mode (lifecycle.test.ts): ARCH_AMI_TEST_ENGINE_OUT=<file> runs this program as one `pulumi up`
// through the engine model (test/unit/engine/), starting from the checkpoint in ARCH_AMI_TEST_ENGINE_IN
// (absent: an empty stack in a new account; ARCH_AMI_TEST_EBS_DEFAULT_ENCRYPTION=1: with EBS encryption
// by default), with ARCH_AMI_TEST_FAIL (JSON, engine/world.ts Failure[]) injected and ARCH_AMI_TEST_REPLACE
// (JSON URNs, `pulumi up --replace`), and writes the steps,
// the new checkpoint and the stack outputs there.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Checkpoint, Deployment } from "./engine/engine";
import { newWorld, passTime } from "./engine/world";
import { capturedByTypeName, installMocks, registered, settle } from "./harness";

const engineOut = process.env.ARCH_AMI_TEST_ENGINE_OUT;
const prior: Checkpoint | undefined = process.env.ARCH_AMI_TEST_ENGINE_IN ? (JSON.parse(fs.readFileSync(process.env.ARCH_AMI_TEST_ENGINE_IN, "utf8")) as Checkpoint) : undefined;
const world = prior ? structuredClone(prior.world) : newWorld({ encryptionByDefault: process.env.ARCH_AMI_TEST_EBS_DEFAULT_ENCRYPTION === "1" });
passTime(world);
world.brokenImages = process.env.ARCH_AMI_TEST_BROKEN_IMAGES === "1";
const deployment = new Deployment(prior, world, JSON.parse(process.env.ARCH_AMI_TEST_FAIL || "[]"), JSON.parse(process.env.ARCH_AMI_TEST_REPLACE || "[]"));
if (engineOut) {
    // A failed step rejects the outputs that depend on it; the program's own error handling is the SDK's.
    process.on("unhandledRejection", (e) => { if (process.env.ARCH_AMI_TEST_DEBUG) console.error("rejection:", e); });
}

installMocks({
    tarballPath: process.env.ARCH_AMI_TEST_TARBALL_PATH,
    tarballDir: process.env.ARCH_AMI_TEST_TARBALL_DIR,
    stack: process.env.ARCH_AMI_TEST_STACK,
    refreshedStoppedBuilder: process.env.ARCH_AMI_TEST_REFRESHED === "1",
    // The preflight's data sources answer from the same account the engine model holds.
    ...(engineOut ? { encryptedByDefault: world.encryptionByDefault } : {}),
    ...(engineOut
        ? {
              engine: async (args, created, view) => {
                  const made = deployment.register(
                      {
                          urn: view.urn,
                          type: args.type,
                          name: args.name,
                          custom: view.custom ?? args.custom ?? true,
                          inputs: (await plain(args.inputs)) as Record<string, unknown>,
                          parent: view.parentUrn,
                          dependencies: view.dependencies ?? [],
                          propertyDependencies: view.propertyDependencies ?? {},
                          ignoreChanges: view.ignoreChanges,
                          replaceOnChanges: view.replaceOnChanges ?? [],
                          deleteBeforeReplace: view.deleteBeforeReplaceOption,
                          retainOnDelete: view.retainOnDelete,
                      },
                      created,
                  );
                  return { id: made.id, state: made.outputs };
              },
          }
        : {}),
});

/** Assets and archives as the engine receives them: their kind and resolved path or text. */
async function plain(v: unknown): Promise<unknown> {
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o.__pulumiAsset || o.__pulumiArchive) {
            return { kind: o.__pulumiAsset ? "asset" : "archive", path: await o.path, text: await o.text };
        }
        if (Array.isArray(v)) return Promise.all(v.map(plain));
        return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, x]) => [k, await plain(x)])));
    }
    return v;
}

void (async () => {
    let program: Record<string, unknown> = {};
    try {
        // ARCH_AMI_TEST_PROGRAM_ROOT: a copy of the package (another version of arch-ami, an upgrade).
        const root = process.env.ARCH_AMI_TEST_PROGRAM_ROOT;
        program = (await import(root ? path.join(root, "program/index.ts") : "../../program")) as Record<string, unknown>;
    } catch (e) {
        // The program itself failed (e.g. an argument refused before anything is registered).
        if (!engineOut) throw e;
        deployment.failure ??= `program: ${e instanceof Error ? e.message : String(e)}`;
    }
    await settle();
    if (engineOut) {
        // Stack outputs: those the program resolved. After a failed update the engine keeps the old outputs
        // and overwrites only those with new values (step_executor.go executeRegisterResourceOutputs:
        // "if finalizingStackOutputs && errored { outs = oldOuts.Copy(); maps.Copy(outs, e.Outputs()) }").
        const resolved: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(program)) {
            if (pulumi.Output.isInstance(v)) v.apply((x) => (resolved[k] = x));
        }
        await settle();
        deployment.finish();
        const outputs = deployment.failure ? { ...(prior?.outputs ?? {}), ...resolved } : resolved;
        const checkpoint: Checkpoint = { resources: deployment.state, outputs, world };
        fs.writeFileSync(engineOut, JSON.stringify({ steps: deployment.steps, failure: deployment.failure, checkpoint }, null, 1));
        process.exit(0);
    }
    const resources = (
        await Promise.all(
            registered.map(async (r) => {
                const c = capturedByTypeName.get(`${r.type}::${r.name}`);
                if (!c) throw new Error(`no engine view captured for ${r.type} ${r.name}`);
                return { ...c, type: r.type, name: r.name, inputs: (await plain(r.inputs)) as Record<string, unknown> };
            }),
        )
    ).sort((a, b) => a.urn.localeCompare(b.urn));
    process.stdout.write(JSON.stringify(resources, null, 1));
})();
