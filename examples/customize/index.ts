// An Arch Linux AMI for a small container host, customized at build time (README "Customizing"):
// packages from the repositories, two files, a script, the AWS SSM agent built from the AUR (so Session
// Manager works without opening SSH), an optional package of your own, a kernel parameter and services.
import * as pulumi from "@pulumi/pulumi";
import { ArchAmi } from "arch-ami";

const config = new pulumi.Config();
// Package files you built yourself (e.g. `makepkg` on an Arch machine), relative to this folder.
const localPackages = config.getObject<string[]>("localPackages") ?? [];

const host = new ArchAmi("container-host", {
    volumeSize: 8,
    packages: ["docker", "docker-compose", "htop"],
    files: [
        {
            path: "/etc/docker/daemon.json",
            content: JSON.stringify({ "log-driver": "journald", "live-restore": true }, null, 2) + "\n",
        },
        {
            // Not secret, but nobody but root needs to read it.
            path: "/etc/sysctl.d/90-container-host.conf",
            content: "vm.max_map_count = 262144\nnet.ipv4.ip_forward = 1\n",
            mode: "0600",
        },
    ],
    scripts: [
        {
            name: "journal-limits",
            content: [
                "mkdir -p /etc/systemd/journald.conf.d",
                "printf '[Journal]\\nSystemMaxUse=200M\\n' > /etc/systemd/journald.conf.d/90-size.conf",
                // Scripts run in arch-chroot with the image's pacman: check what earlier steps installed.
                "docker --version",
            ].join("\n"),
        },
    ],
    // Third-party build scripts, built unprivileged on the throwaway builder; pin a reviewed commit.
    aurPackages: ["amazon-ssm-agent-bin"],
    localPackages,
    services: ["docker.service", "amazon-ssm-agent.service", "fstrim.timer"],
    kernelParameters: ["systemd.unified_cgroup_hierarchy=1"],
});

export const amiId = host.amiId;
export const buildHash = host.buildHash;
