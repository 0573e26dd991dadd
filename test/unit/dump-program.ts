// Runs the default program (program/index.ts) under mocks and prints every registered resource as the
// engine would see it (engine URN, inputs, lifecycle options) as JSON, sorted by URN. Environment:
// PULUMI_CONFIG (stack config), ARCH_AMI_TEST_STACK (stack name), ARCH_AMI_TEST_TARBALL_PATH (the file
// the tarball command reports) or ARCH_AMI_TEST_TARBALL_DIR (each tarball command writes its own file
// there), ARCH_AMI_TEST_REFRESHED=1 (AWS answers as after a refresh of the
// stopped builder). Used by determinism.test.ts and lifecycle.test.ts to compare whole runs.
import { capturedByTypeName, installMocks, registered, settle } from "./harness";

installMocks({
    tarballPath: process.env.ARCH_AMI_TEST_TARBALL_PATH,
    tarballDir: process.env.ARCH_AMI_TEST_TARBALL_DIR,
    stack: process.env.ARCH_AMI_TEST_STACK,
    refreshedStoppedBuilder: process.env.ARCH_AMI_TEST_REFRESHED === "1",
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
    await import("../../program");
    await settle();
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
