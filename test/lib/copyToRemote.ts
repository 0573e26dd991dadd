// A model of where pulumi-command's CopyToRemote puts what it uploads, written from its source
// (pulumi/pulumi-command v1.2.1, provider/pkg/provider/remote/copyController.go, `sftpCopy`/`copyDir`):
//
//   source | remotePath exists as dir | remotePath does not exist      | remotePath exists as file
//   dir    | remotePath/dir/…         | mkdir -p remotePath; …/dir/…   | error
//   dir/   | remotePath/…             | mkdir -p remotePath; …         | error
//   file   | remotePath/file          | mkdir -p parent; remotePath    | remotePath (overwritten)
//
// The unit tests compute the builder's file tree from the component's own CopyToRemote inputs with it, and
// compare `arch-ami build-local`'s staging of the uploads (src/local/build.ts stageUploads) against it.
import * as fs from "node:fs";
import * as path from "node:path";

/** The remote side: directories, and files with the local file each came from. */
export interface RemoteTree {
    dirs: Set<string>;
    files: Map<string, string>;
}

/** A fresh Debian builder: the admin user's home exists, nothing of ours does. */
export function freshBuilder(home = "/home/admin"): RemoteTree {
    const dirs = new Set<string>(["/"]);
    for (let d = home; d !== "/"; d = path.posix.dirname(d)) dirs.add(d);
    return { dirs, files: new Map() };
}

function mkdirAll(t: RemoteTree, dir: string): void {
    for (let d = dir; !t.dirs.has(d); d = path.posix.dirname(d)) {
        if (t.files.has(d)) throw new Error(`remote path ${d} exists but is not a directory`);
        t.dirs.add(d);
    }
}

function mkdir(t: RemoteTree, dir: string): void {
    if (!t.dirs.has(path.posix.dirname(dir))) throw new Error(`failed to create remote directory ${dir}: no parent`);
    if (t.files.has(dir)) throw new Error(`remote path ${dir} exists but is not a directory`);
    t.dirs.add(dir);
}

function copyFile(t: RemoteTree, src: string, dst: string): void {
    if (!t.dirs.has(path.posix.dirname(dst))) throw new Error(`failed to create remote file ${dst}: no parent directory`);
    if (t.dirs.has(dst)) throw new Error(`failed to create remote file ${dst}: is a directory`);
    t.files.set(dst, src);
}

function copyDir(t: RemoteTree, src: string, dst: string): void {
    const walk = (rel: string) => {
        const remote = rel ? path.posix.join(dst, rel) : dst;
        if (!t.dirs.has(remote)) mkdir(t, remote);
        for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const r = rel ? path.posix.join(rel, e.name) : e.name;
            if (e.isDirectory()) walk(r);
            else copyFile(t, path.join(src, r), path.posix.join(dst, r));
        }
    };
    walk("");
}

/** Applies one CopyToRemote of the local `sourcePath` to `remotePath` on `t`, as the provider does. */
export function copyToRemote(t: RemoteTree, sourcePath: string, remotePath: string): void {
    let dest = remotePath;
    const exists = t.dirs.has(dest) || t.files.has(dest);
    if (fs.statSync(sourcePath).isDirectory()) {
        if (t.files.has(dest)) throw new Error(`remote path ${dest} exists but is not a directory`);
        if (!exists) mkdirAll(t, dest);
        if (!sourcePath.endsWith("/")) {
            dest = path.posix.join(dest, path.basename(sourcePath));
            if (t.files.has(dest)) throw new Error(`remote path ${dest} exists but is not a directory`);
            if (!t.dirs.has(dest)) mkdir(t, dest);
        }
        copyDir(t, sourcePath, dest);
    } else {
        if (t.dirs.has(dest)) dest = path.posix.join(dest, path.basename(sourcePath));
        else if (!exists) mkdirAll(t, path.posix.dirname(dest));
        copyFile(t, sourcePath, dest);
    }
}
