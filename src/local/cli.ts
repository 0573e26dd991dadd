#!/usr/bin/env node
// arch-ami's command line: build and boot the image on this machine, offline of AWS.
//   arch-ami build-local [--args FILE | --stack NAME] --out IMAGE.raw …   (src/local/build.ts)
//   arch-ami boot-local IMAGE [--verify] …                               (src/local/boot.ts)
// Exit codes: those of provision/README.md (0 done, 1 a step failed, 2 usage or config error, 3 disk,
// 4 tarball, 5 customization); boot-local --verify exits with verify.sh's status.

import { UsageError } from "./prerequisites";

const USAGE = `usage: arch-ami <command> [options]

commands:
  build-local   build the image on this machine, through the same steps as on AWS (arch-ami build-local --help)
  boot-local    boot an image as an EC2 instance would see it (arch-ami boot-local --help)
`;

async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    switch (command) {
        case "build-local":
            return (await import("./build")).main(rest);
        case "boot-local":
            return (await import("./boot")).main(rest);
        case "-h":
        case "--help":
        case "help":
            process.stdout.write(USAGE);
            return 0;
        default:
            process.stderr.write(`arch-ami: ${command === undefined ? "no command given" : `unknown command "${command}"`}\n${USAGE}`);
            return 2;
    }
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (e: unknown) => {
        process.stderr.write(`arch-ami: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = e instanceof UsageError ? 2 : 1;
    },
);
