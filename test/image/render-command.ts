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
import { REMOTE, TARGET_DEVICE, provisionCommand, provisionDir, renderConfig } from "../../src/render";
import { scriptsLanding } from "../../src/build/upload";
import { resolveSettings } from "../../src/settings";
import { ArchAmiArgs } from "../../src/args";
import { testCustomization } from "./customization";

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
};
const settings = resolveSettings("test-image", args);
let config = renderConfig(settings.image, { volumeId: values["volume-id"] ?? "", deviceName: TARGET_DEVICE });
const corrupt = values["corrupt-config"];
if (corrupt) {
    const key = corrupt.split("=")[0];
    config = config.replace(new RegExp(`^${key}=.*$`, "m"), corrupt);
}
process.stdout.write(provisionCommand(config, scriptsLanding(provisionDir())) + "\n");
