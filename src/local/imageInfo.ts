// What build-local records next to an image (IMAGE.arch-ami.json) and boot-local reads: the login user and
// verify.sh's arguments as the AWS check would use them, so `boot-local --verify` checks what the AMI's
// check would.
import * as fs from "node:fs";

export interface ImageInfo {
    /** cloud-init's default user (`defaultUser`), the login boot-local prints and verify.sh runs as. */
    defaultUser: string;
    /** verify.sh's arguments (src/image/verify.ts verifyArgs). */
    verifyArgs: string[];
    /** The volume size the image was built for, GiB (`volumeSize`). */
    volumeSize: number;
    /** `bootMode` of the registration: boot-local boots UEFI unless it is legacy-bios. */
    bootMode: string;
}

/** Where the record of `image` is kept. */
export function imageInfoPath(image: string): string {
    return `${image}.arch-ami.json`;
}

export function writeImageInfo(image: string, info: ImageInfo): void {
    fs.writeFileSync(imageInfoPath(image), JSON.stringify(info, null, 2) + "\n");
}

/** The record of `image`, or undefined for an image build-local did not make. */
export function readImageInfo(image: string): ImageInfo | undefined {
    const p = imageInfoPath(image);
    return fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, "utf8")) as ImageInfo) : undefined;
}
