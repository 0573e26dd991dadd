// The customizations the test image is built with (buildTestImage.ts) and that the image, boot and
// first-boot tests look for: one place, so what is built and what is checked cannot drift apart.

/** The stand-in AUR inside the test bootstrap root (test/image/build-test-bootstrap.sh). */
export const TEST_AUR_URL = "file:///srv/arch-ami-test-aur";
/** The kernel parameter the customized image appends. */
export const TEST_KERNEL_PARAMETER = "arch_ami_test=1";
/** The service the "AUR" package arch-ami-aur-demo ships, enabled through `services`. */
export const TEST_SERVICE = "arch-ami-aur-demo.service";
/** What the service writes (arch-ami-aur-lib-hello's output: the pinned 1.0, not the repository's head 2.0). */
export const TEST_SERVICE_MARKER = { path: "/var/lib/arch-ami-aur-demo/marker", content: "arch-ami-aur-lib 1.0\n" };
export const TEST_FILES = [
    { path: "/etc/arch-ami-test/secret.conf", content: "token=not-really-a-secret\n", mode: "0600", owner: "root:root" },
    { path: "/opt/arch-ami-test/notes/readme.txt", content: "written by the arch-ami image test\n", mode: "0640", owner: "root:wheel" },
];
/** A repository package nothing depends on, installed by the third script with the image's pacman. */
export const TEST_PACMAN_PACKAGE = "arch-ami-test-extra";
/** The second script reads what the first wrote (and a file), and extends it; the third runs pacman. */
export const TEST_SCRIPTS = [
    { name: "first-marker", content: "mkdir -p /var/lib/arch-ami-test\necho first >/var/lib/arch-ami-test/scripts.log\n" },
    {
        name: "second-extends",
        content: "grep -qx first /var/lib/arch-ami-test/scripts.log\ntest -s /etc/arch-ami-test/secret.conf\necho \"second saw: $(cat /var/lib/arch-ami-test/scripts.log)\" >>/var/lib/arch-ami-test/scripts.log\n",
    },
    {
        // The image's own pacman, checking the package's signature with the keyring the target has while
        // scripts run; then, as a script adding a third-party repository's key would, pacman-key signs a
        // key locally (which starts gpg-agent in the image's keyring).
        name: "pacman-install",
        content: `pacman -S --noconfirm ${TEST_PACMAN_PACKAGE}\ntest -f /usr/share/${TEST_PACMAN_PACKAGE}/README\npacman-key --lsign-key packager-2026@arch-ami.invalid\n`,
    },
];
/** A second script that fails under bash -e: the line after the failing command never runs. */
export const FAILING_SCRIPT = { name: "fails-on-purpose", content: "echo before-the-failure\n(exit 7)\necho after-the-failure-must-not-run\n" };

export interface TestCustomization {
    files?: { path: string; content: string; mode?: string; owner?: string }[];
    scripts?: { name: string; content: string }[];
    services?: string[];
    kernelParameters?: string[];
    localPackages?: string[];
    aurPackages?: string[];
    aurUrl?: string;
}

/** ArchAmiArgs fields for a variant: none, "full" (the customized image) or "failing-script". */
export function testCustomization(variant: string | undefined, aurPackages: string, localPackage: string | undefined): TestCustomization {
    if (variant === undefined) return {};
    if (variant === "failing-script") return { scripts: [TEST_SCRIPTS[0], FAILING_SCRIPT] };
    if (variant !== "full") throw new Error(`unknown --customize ${variant}`);
    if (!aurPackages || !localPackage) throw new Error("--customize full needs --aur-packages and --local-package");
    return {
        files: TEST_FILES,
        scripts: TEST_SCRIPTS,
        services: [TEST_SERVICE],
        kernelParameters: [TEST_KERNEL_PARAMETER],
        localPackages: [localPackage],
        aurPackages: aurPackages.split(" "),
        aurUrl: TEST_AUR_URL,
    };
}
