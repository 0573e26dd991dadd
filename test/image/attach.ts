// Read-only look inside a raw disk image: loop device + partx (this kernel does not scan partitions on
// loop devices), the root filesystem mounted read-only, the ESP read with mtools (no vfat mounts here).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });

export interface Partition {
    number: number;
    startSector: number;
    endSector: number;
    code: string;
    name: string;
}

/** The GPT as sgdisk prints it. */
export function partitions(image: string): Partition[] {
    return sh("sgdisk", ["--print", image])
        .split("\n")
        .map((l) => /^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+([0-9A-F]{4})\s+(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ number: +m[1], startSector: +m[2], endSector: +m[3], code: m[4], name: m[5].trim() }));
}

export class AttachedImage {
    readonly loop: string;
    readonly root: string;
    private readonly image: string;

    constructor(image: string) {
        this.image = image;
        this.loop = sh("losetup", ["--find", "--show", "--read-only", image]).trim();
        sh("partx", ["-a", this.loop]);
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-root-"));
        const fstype = this.blkid(3, "TYPE");
        sh("mount", ["-o", fstype === "ext4" ? "ro,noload" : "ro", `${this.loop}p3`, this.root]);
    }

    /** A blkid tag (UUID, TYPE, LABEL) of partition n. */
    blkid(n: number, tag: string): string {
        return sh("blkid", ["-p", "-s", tag, "-o", "value", `${this.loop}p${n}`]).trim();
    }

    /** Path inside the image's root filesystem. */
    p(rel: string): string {
        return path.join(this.root, rel);
    }

    read(rel: string): string {
        return fs.readFileSync(this.p(rel), "utf8");
    }

    /** `mdir`-style listing of a folder on the ESP (partition 2). */
    espList(dir: string): string {
        const esp = partitions(this.image).find((x) => x.number === 2)!;
        return sh("mdir", ["-b", "-i", `${this.image}@@${esp.startSector * 512}`, `::${dir}`]);
    }

    detach(): void {
        try {
            sh("umount", [this.root]);
        } finally {
            sh("partx", ["-d", this.loop]);
            sh("losetup", ["-d", this.loop]);
            fs.rmSync(this.root, { recursive: true, force: true });
        }
    }
}

/** The root filesystem's UUID (partition 3) of an image. */
export function rootUuid(image: string): string {
    const img = new AttachedImage(image);
    try {
        return img.blkid(3, "UUID");
    } finally {
        img.detach();
    }
}
