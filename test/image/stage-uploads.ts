// Stages what the ArchAmi component uploads to its builder, for the local surrogate: runs the component
// under mocks (AWS stands in; the tarball command reports the test bootstrap tarball), takes its own
// CopyToRemote inputs, and lays the files out where pulumi-command would put them on a fresh builder
// (test/lib/copyToRemote.ts), never by copying folders with cp's rules. Remote paths under the admin
// user's home are written below --into. --local-package: a localPackages file, uploaded to
// localPackageRemotePath(). Usage: tsx stage-uploads.ts --tarball PATH --into DIR [--local-package PATH]
import { parseArgs } from "node:util";
import { installMocks, registered, settle } from "../unit/harness";
import { copyToRemote, freshBuilder, materialize } from "../lib/copyToRemote";
import { REMOTE, localPackageRemotePath } from "../../src/render";

const { values } = parseArgs({ options: { tarball: { type: "string" }, into: { type: "string" }, "local-package": { type: "string" } } });
if (!values.tarball || !values.into) {
    throw new Error("usage: stage-uploads.ts --tarball PATH --into DIR");
}
installMocks({ tarballPath: values.tarball });

void (async () => {
    const { ArchAmi } = await import("../../src");
    const localPackages = values["local-package"] ? [values["local-package"]] : [];
    new ArchAmi("test-image", { sshIngressCidrs: ["127.0.0.1/32"], localPackages });
    await settle(100);
    const home = `/home/${REMOTE.user}`;
    const builder = freshBuilder(home);
    for (const r of registered.filter((x) => x.type === "command:remote:CopyToRemote")) {
        const source = r.inputs.source as { path: Promise<string> | string };
        copyToRemote(builder, await source.path, String(r.inputs.remotePath));
    }
    // The component itself uploads each local package to where the config's LOCAL_PACKAGES says.
    for (const p of localPackages) {
        if (builder.files.get(localPackageRemotePath(p)) !== p) throw new Error(`the component did not upload ${p} to ${localPackageRemotePath(p)}`);
    }
    const outside = [...builder.files.keys()].filter((f) => !f.startsWith(`${home}/`));
    if (outside.length) throw new Error(`uploads outside ${home}: ${outside.join(" ")}`);
    // Re-root: remote <home>/x -> <into>/x.
    const rerooted = { dirs: new Set([...builder.dirs].filter((d) => d.startsWith(`${home}/`)).map((d) => d.slice(home.length))), files: new Map([...builder.files].map(([f, l]) => [f.slice(home.length), l])) };
    rerooted.dirs.add("/");
    materialize(rerooted, values.into!);
    for (const f of [...rerooted.files.keys()].sort()) process.stderr.write(`staged upload: ${home}${f}\n`);
})();
