// Fake host programs for the local commands' unit tests (test/unit/local*.test.ts): one shell script, linked
// under each program's name in a temporary folder put first on PATH, that records every call (its name,
// working folder and arguments) and plays the program as the FAKE_* variables of the environment say. What
// src/local spawns by name (ip, qemu-system-x86_64, qemu-img, ssh, ssh-keyscan, bash) then runs here, in
// milliseconds, without root, KVM, network namespaces or a VM. `ip netns exec NS CMD…` runs CMD's part.
// A guest that powers itself off when the test says so: QEMU with FAKE_QEMU_UNTIL=FILE runs until FILE exists
// (30 s at most) and exits FAKE_QEMU_EXIT; ssh with FAKE_SSH_POWEROFF=FILE makes FILE after its command, as
// verify.sh's power-off does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SCRIPT = String.raw`#!/bin/sh
name=\${0##*/}
{ printf '%s\0' "$name" "$PWD" "$@"; printf '\001'; } >> "$FAKE_LOG"
if [ "$name" = ip ] && [ "$1" = netns ] && [ "$2" = exec ]; then
    shift 3
    name=\${1##*/}
    shift
fi
if [ -n "$FAKE_PGIDS" ]; then read -r _ _ _ _ pgid _ < /proc/$$/stat; echo "$name $$ $pgid" >> "$FAKE_PGIDS"; fi
case "$name" in
ip)
    if [ -n "$FAKE_IP_STATUS" ]; then echo "fake ip: refused" >&2; exit "$FAKE_IP_STATUS"; fi
    exit 0 ;;
python3)
    case "\${1##*/}" in
    listen.py)
        if [ -n "$FAKE_IMDS_EXIT" ]; then exit "$FAKE_IMDS_EXIT"; fi
        echo ready
        exec sleep 30 ;;
    relay.py)
        printf 'relay %s:' "$2"
        exec cat ;;
    esac
    exit 0 ;;
qemu-system-x86_64)
    serial=""; share=""; prev=""; disk=""
    for a in "$@"; do
        if [ "$prev" = -serial ]; then serial="$a"; fi
        if [ "$prev" = -drive ] && [ -z "$disk" ]; then case "$a" in file=*) disk=\${a#file=}; disk=\${disk%%,*} ;; esac; fi
        if [ "$prev" = -virtfs ]; then share=\${a#local,path=}; share=\${share%%,*}; fi
        prev="$a"
    done
    if [ -n "$share" ] && [ -n "$FAKE_CAPTURE" ]; then
        cp -r "$share/commands" "$FAKE_CAPTURE/commands"
        (cd "$share/home" && find . -type f | sort) > "$FAKE_CAPTURE/home"
        for r in $FAKE_RESULTS; do printf '%s\n' "\${r#*=}" > "$share/results/\${r%%=*}"; done
    fi
    if [ -n "$FAKE_DISK_COPY" ] && [ -n "$disk" ]; then cp "$disk" "$FAKE_DISK_COPY"; fi
    case "$serial" in
    file:*) printf "$FAKE_SERIAL" > "\${serial#file:}" ;;
    stdio) printf "$FAKE_SERIAL" ;;
    esac
    if [ -n "$FAKE_QEMU_STDERR" ]; then printf '%s' "$FAKE_QEMU_STDERR" >&2; fi
    if [ -n "$FAKE_QEMU_UNTIL" ]; then
        n=0; while [ ! -e "$FAKE_QEMU_UNTIL" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
        exit "\${FAKE_QEMU_EXIT:-0}"
    fi
    if [ -n "$FAKE_QEMU_RUN" ]; then exec sleep "$FAKE_QEMU_RUN"; fi
    if [ -n "$FAKE_QEMU_SLEEP" ]; then sleep "$FAKE_QEMU_SLEEP"; fi
    exit "\${FAKE_QEMU_EXIT:-0}" ;;
ssh)
    for a in "$@"; do last="$a"; done
    if [ "$last" = true ] && [ -n "$FAKE_FAILS" ] && [ -s "$FAKE_FAILS" ]; then
        n=$(cat "$FAKE_FAILS"); if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$FAKE_FAILS"; echo "not yet" >&2; exit 255; fi
    fi
    if [ "$last" = true ]; then printf '%s' "$FAKE_SSH_STDERR" >&2; exit "\${FAKE_SSH_TRUE_STATUS:-0}"; fi
    if [ -n "$FAKE_SSH_RUN" ]; then exec sleep "$FAKE_SSH_RUN"; fi
    printf '%s' "$FAKE_SSH_STDOUT"
    printf '%s' "$FAKE_SSH_STDERR" >&2
    if [ -n "$FAKE_SSH_POWEROFF" ]; then : > "$FAKE_SSH_POWEROFF"; fi
    exit "\${FAKE_SSH_STATUS:-0}" ;;
ssh-keyscan)
    if [ -n "$FAKE_FAILS" ] && [ -s "$FAKE_FAILS" ]; then
        n=$(cat "$FAKE_FAILS"); if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$FAKE_FAILS"; exit 0; fi
    fi
    printf "$FAKE_KEYSCAN"
    exit 0 ;;
qemu-img)
    case "$1" in
    info) printf '%s' "$FAKE_QEMU_IMG_INFO" ;;
    *) for a in "$@"; do last="$a"; done; : > "$last" ;;
    esac
    exit 0 ;;
bash)
    case "$1" in
    *build-surrogate.sh)
        printf "$FAKE_SURROGATE_OUT"
        exit "\${FAKE_SURROGATE_STATUS:-0}" ;;
    esac
    exec /bin/bash "$@" ;;
esac
exit 0
`.replace(/\\\$\{/g, "${");

/** One recorded call. */
export interface Call {
    name: string;
    cwd: string;
    args: string[];
}

/** A folder of fake programs first on PATH, and the calls they saw. */
export class FakeBin {
    readonly dir: string;
    readonly log: string;
    private saved: NodeJS.ProcessEnv = {};

    /** Makes the folder (call in a before hook); `names`: the programs faked. */
    constructor(names: string[]) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-fake-bin-"));
        this.log = path.join(this.dir, "calls.log");
        const script = path.join(this.dir, "fake.sh");
        fs.writeFileSync(script, SCRIPT, { mode: 0o755 });
        for (const n of names) fs.symlinkSync(script, path.join(this.dir, n));
    }

    /** PATH with the fakes first and FAKE_LOG set; `env` on top (each FAKE_* a test sets goes through set()). */
    install(): void {
        this.saved = { ...process.env };
        process.env.PATH = `${this.dir}:${process.env.PATH ?? ""}`;
        process.env.FAKE_LOG = this.log;
    }

    /** Sets (or, with undefined, removes) variables for the next calls. */
    set(env: Record<string, string | undefined>): void {
        for (const [k, v] of Object.entries(env)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }

    /** Forgets the calls seen so far and every FAKE_* variable but FAKE_LOG. */
    reset(): void {
        fs.rmSync(this.log, { force: true });
        for (const k of Object.keys(process.env)) if (k.startsWith("FAKE_") && k !== "FAKE_LOG") delete process.env[k];
    }

    /** Every call so far, in order. */
    calls(): Call[] {
        if (!fs.existsSync(this.log)) return [];
        return fs
            .readFileSync(this.log, "utf8")
            .split("\x01")
            .filter((r) => r !== "")
            .map((r) => {
                const [name, cwd, ...args] = r.split("\0").slice(0, -1);
                return { name, cwd, args };
            });
    }

    /** Puts the environment back exactly as before install() and removes the folder. */
    uninstall(): void {
        for (const k of Object.keys(process.env)) if (!(k in this.saved)) delete process.env[k];
        Object.assign(process.env, this.saved);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Runs `f` with the timers of exactly the given delays (ms) shortened to the mapped ones: src/local's fixed waits. */
export async function withShortTimers<T>(delays: Record<number, number>, f: () => Promise<T>): Promise<T> {
    const real = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => real(fn, ms !== undefined && ms in delays ? delays[ms] : ms, ...rest)) as typeof setTimeout;
    try {
        return await f();
    } finally {
        globalThis.setTimeout = real;
    }
}
