// Prints the command line the ArchAmi component's remote command runs, for the local surrogate: the same
// functions (resolveSettings -> renderConfig -> provisionCommand) the component uses, so the offline proof
// exercises the real interface. Usage: tsx render-command.ts --volume-id vol-… [--packages "a b"]
//   [--filesystem ext4|btrfs] [--hostname NAME|""] [--mirror URL] [--corrupt-config KEY=VALUE]
//   [--customize full|failing-script] [--aur-packages "a b@commit"] [--local-package PATH]
//   or: tsx render-command.ts --paths   (prints the upload layout as KEY=value lines)
// --corrupt-config replaces a line of the rendered config after validation: the negative tests use it to
// make provision.sh fail late (in "configure"), which the component's validation would never allow.
// --customize full is the customized test image (files, scripts, a service, a kernel parameter, the local
// and the "AUR" packages); failing-script has a second script that fails (exit 7).
import { parseArgs } from "node:util";
import { REMOTE, TARGET_DEVICE, localPackageRemotePath, provisionCommand, provisionDir, renderConfig } from "../../src/buildConfig";
import { scriptsLanding } from "../../src/build/upload";
import { resolveSettings } from "../../src/settings";
import { ArchAmiArgs } from "../../src/args";
import { TEST_AUR_URL, testCustomization } from "./customization";

const { values } = parseArgs({
    options: {
        "volume-id": { type: "string" },
        packages: { type: "string", default: "" },
        filesystem: { type: "string", default: "ext4" },
        hostname: { type: "string", default: "arch-test" },
        mirror: { type: "string", default: "file:///srv/arch-ami-test-repo/$repo/os/$arch" },
        "corrupt-config": { type: "string" },
        customize: { type: "string" },
        "aur-packages": { type: "string", default: "" },
        "local-package": { type: "string" },
        paths: { type: "boolean", default: false },
    },
});
if (values.paths) {
    process.stdout.write(`REMOTE_USER=${REMOTE.user}\nREMOTE_TARBALL=${REMOTE.tarball}\nREMOTE_PROVISION_DIR=${scriptsLanding(provisionDir())}\n`);
    process.exit(0);
}
const custom = testCustomization(values.customize, values["aur-packages"], values["local-package"]);
const args: ArchAmiArgs = {
    sshIngressCidrs: ["127.0.0.1/32"],
    packages: values.packages ? values.packages.split(" ") : [],
    filesystem: values.filesystem as ArchAmiArgs["filesystem"],
    hostname: values.hostname,
    mirror: values.mirror,
    ...custom,
} as ArchAmiArgs;
const settings = resolveSettings("test-image", args);
let config = renderConfig(settings.image, { volumeId: values["volume-id"] ?? "", deviceName: TARGET_DEVICE });
// Until renderConfig emits the customization keys (the component side of issue 10), render them here
// exactly as provision/README.md specifies.
if (!/^SERVICES=/m.test(config)) {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    config += [
        `SERVICES=${(custom.services ?? []).join(" ")}`,
        `KERNEL_PARAMETERS=${(custom.kernelParameters ?? []).join(" ")}`,
        `LOCAL_PACKAGES=${(custom.localPackages ?? []).map(localPackageRemotePath).join(" ")}`,
        `AUR_URL=${custom.aurUrl ?? TEST_AUR_URL}`,
        `AUR_PACKAGES=${(custom.aurPackages ?? []).join(" ")}`,
        ...(custom.files ?? []).map((f) => `FILE=${f.path} ${f.mode ?? "0644"} ${f.owner ?? "root:root"} ${b64(f.content)}`),
        ...(custom.scripts ?? []).map((s) => `SCRIPT=${s.name} ${b64(s.content)}`),
    ].join("\n") + "\n";
}
const corrupt = values["corrupt-config"];
if (corrupt) {
    const key = corrupt.split("=")[0];
    config = config.replace(new RegExp(`^${key}=.*$`, "m"), corrupt);
}
process.stdout.write(provisionCommand(config, scriptsLanding(provisionDir())) + "\n");
