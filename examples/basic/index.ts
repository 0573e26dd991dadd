import { ArchAmi } from "arch-ami";

// Defaults: 4 GiB ext4, linux kernel, UEFI-preferred, user "arch", SSH to the builder from this machine's IP.
const arch = new ArchAmi("arch", {});

export const amiId = arch.amiId;
