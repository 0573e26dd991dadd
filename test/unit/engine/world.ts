// The AWS account and the hosts the commands reach, as the providers see them: what each Create/Update
// stores after its closing Read (read-back), what a refresh reads, what a remote command can dial. The
// harness's mocks give the create response (ids, addresses, tarball files); the rules below add what AWS
// and the providers' Read functions do on top, each with its source.
import { createHash } from "node:crypto";
import { SECRET_SIG } from "../harness";

export type Obj = Record<string, unknown>;

export interface PhysicalObject {
    type: string;
    id: string;
    /** running/stopped/terminated for instances; available/deleted for the rest. */
    state: string;
    attrs: Obj;
}

export interface WorldState {
    /** `aws ec2 get-ebs-encryption-by-default`. */
    encryptionByDefault: boolean;
    /** `aws ec2 get-ebs-default-kms-key-id`. */
    defaultKmsKeyId: string;
    objects: Record<string, PhysicalObject>;
    /** SSM parameters by name: every version written, and how many of them validation has made readable. */
    parameters: Record<string, { versions: string[]; readable: number }>;
    /** Every remote command run and upload, in order: where it dialled. */
    remoteRuns: { urn: string; op: string; host: string; instanceId?: string; instanceState?: string; ok: boolean }[];
    seq: number;
    /** The images built now are broken: their verification fails (set per run by the test). */
    brokenImages?: boolean;
}

export const newWorld = (o: { encryptionByDefault?: boolean } = {}): WorldState => ({
    encryptionByDefault: o.encryptionByDefault ?? false,
    defaultKmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/aws-ebs-default",
    objects: {},
    parameters: {},
    remoteRuns: [],
    seq: 0,
});

export const unwrap = (v: unknown): unknown => (v && typeof v === "object" && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
export const unwrapDeep = (v: unknown): unknown => {
    const u = unwrap(v);
    if (Array.isArray(u)) return u.map(unwrapDeep);
    if (u && typeof u === "object") return Object.fromEntries(Object.entries(u).map(([k, x]) => [k, unwrapDeep(x)]));
    return u;
};

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Between two `up`s time passes: SSM's asynchronous validation of aws:ec2:image values completes. */
export function passTime(w: WorldState): void {
    for (const p of Object.values(w.parameters)) p.readable = p.versions.length;
}

/** A new physical id: AWS never reuses one, so a resource created again gets a new id (and a new address). */
function allocate(w: WorldState, proposed: string): string {
    if (!(proposed in w.objects)) return proposed;
    return `${proposed}-${++w.seq}`;
}

function address(id: string, net: "public" | "private"): string {
    const d = digest(`${net}:${id}`);
    return net === "private" ? `10.0.${d[0]}.${(d[1] % 250) + 4}` : `198.51.${d[0]}.${(d[1] % 250) + 4}`;
}

/** Thrown when the provider call fails: the engine records the step as failed. */
export class ProviderError extends Error {}

export interface Failure {
    /** Regular expression on the resource name. */
    name: string;
    op: "create" | "update";
}

/**
 * The provider's Create: the mock's response (ids, addresses), then the closing Read (every bridged
 * Create ends with its Read: e.g. ec2_ami.go resourceAMICreate `return append(diags, resourceAMIRead(...))`).
 */
export function create(w: WorldState, urn: string, type: string, name: string, inputs: Obj, mock: { id: string; state: Obj }, failures: Failure[]): { id: string; outputs: Obj } {
    const failing = failures.find((f) => f.op === "create" && new RegExp(f.name).test(name));
    if (type === "command:remote:Command" || type === "command:remote:CopyToRemote") {
        dial(w, urn, "create", inputs, failing ? `${name}: Process exited with status 1` : undefined);
    } else if (failing) {
        throw new ProviderError(`${name}: create failed (injected)`);
    }
    const id = allocate(w, mock.id);
    const outputs: Obj = { ...mock.state };
    switch (type) {
        case "aws:ec2/instance:Instance": {
            // ec2_instance.go resourceInstanceRead: public_ip/private_ip from DescribeInstances; a new instance has
            // its own addresses. associate_public_ip_address is Optional+Computed, read back from the ENI.
            outputs.privateIp = address(id, "private");
            outputs.publicIp = inputs.associatePublicIpAddress === false ? "" : address(id, "public");
            w.objects[id] = { type, id, state: "running", attrs: { ...outputs, shutdownBehavior: inputs.instanceInitiatedShutdownBehavior ?? "stop" } };
            break;
        }
        case "aws:ebs/volume:Volume": {
            // ebs_volume.go resourceEBSVolumeRead: encrypted and kms_key_id (Optional+Computed) from DescribeVolumes;
            // EC2 encrypts a new volume when the account has encryption by default, with its default key.
            const encrypted = inputs.encrypted === true || w.encryptionByDefault;
            Object.assign(outputs, { encrypted, ...(encrypted ? { kmsKeyId: inputs.kmsKeyId ?? w.defaultKmsKeyId } : {}) });
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        }
        case "aws:ebs/snapshot:Snapshot": {
            // ebs_snapshot.go resourceEBSSnapshotRead: encrypted, kms_key_id from DescribeSnapshots (the volume's).
            const vol = w.objects[String(inputs.volumeId)]?.attrs ?? {};
            Object.assign(outputs, { encrypted: vol.encrypted === true, ...(vol.kmsKeyId ? { kmsKeyId: vol.kmsKeyId } : {}) });
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        }
        case "aws:ec2/ami:Ami":
            // ec2_ami.go resourceAMICreate: "can't set both 'snapshot_id' and 'encrypted'" for any mapping.
            for (const b of (inputs.ebsBlockDevices as Obj[] | undefined) ?? []) {
                if (b.snapshotId && b.encrypted === true) throw new ProviderError(`${name}: creating EC2 AMI: can't set both 'snapshot_id' and 'encrypted'`);
            }
            uniqueName(w, type, inputs);
            outputs.ebsBlockDevices = amiMappings(w, inputs.ebsBlockDevices);
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        case "aws:ec2/amiCopy:AmiCopy": {
            // ec2_ami_copy.go: CopyImage makes new snapshots (manage_ebs_snapshots); Read is resourceAMIRead
            // (ebs_block_device Computed from DescribeImages): the copy's own snapshot, encrypted when the
            // source is or `encrypted` was asked.
            uniqueName(w, type, inputs);
            const source = w.objects[String(inputs.sourceAmiId)]?.attrs.ebsBlockDevices as Obj[] | undefined;
            outputs.ebsBlockDevices = (source ?? []).map((b, i) => ({ ...b, snapshotId: `snap-${id}-${i}`, encrypted: b.encrypted === true || inputs.encrypted === true }));
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        }
        case "aws:ssm/parameter:Parameter": {
            // parameter.go resourceParameterRead: for a NEW aws:ec2:image parameter Read retries NotFound until
            // validation made it readable, so Create stores the value written.
            const pname = paramKey(inputs);
            // PutParameter with Overwrite false on an existing name: ParameterAlreadyExists (parameter.go
            // resourceParameterCreate, shouldUpdateParameter is false for a new resource without `overwrite`).
            if (w.parameters[pname]) throw new ProviderError(`creating SSM Parameter (${pname}): ParameterAlreadyExists`);
            w.parameters[pname] = { versions: [String(inputs.insecureValue ?? unwrap(inputs.value))], readable: 1 };
            outputs.insecureValue = w.parameters[pname].versions[0];
            w.objects[id] = { type, id, state: "available", attrs: { name: pname } };
            break;
        }
        case "aws:ec2transitgateway/instanceState:InstanceState":
            setInstanceState(w, String(inputs.instanceId), String(inputs.state));
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        case "aws:ec2/volumeAttachment:VolumeAttachment": {
            // AttachVolume: a volume attached to another instance is refused with VolumeInUse (EC2 API
            // AttachVolume errors; ec2_volume_attachment.go resourceVolumeAttachmentCreate returns it).
            const inUse = Object.values(w.objects).find((o) => o.type === type && o.state === "available" && o.attrs.volumeId === inputs.volumeId);
            if (inUse) throw new ProviderError(`attaching EBS Volume (${String(inputs.volumeId)}): VolumeInUse: attached to ${String(inUse.attrs.instanceId)}`);
            w.objects[id] = { type, id, state: "available", attrs: outputs };
            break;
        }
        default:
            w.objects[id] = { type, id, state: "available", attrs: outputs };
    }
    return { id, outputs };
}

/** ec2_ami.go flattenBlockDeviceMappingForAMIEBSBlockDevice: what DescribeImages reports per EBS mapping. */
function amiMappings(w: WorldState, asked: unknown): Obj[] {
    return ((asked as Obj[] | undefined) ?? []).map((b) => {
        const snap = w.objects[String(b.snapshotId)]?.attrs ?? {};
        const gp3 = b.volumeType === "gp3";
        return {
            ...b,
            // EC2 reports Encrypted for every EBS mapping: the snapshot's encryption (EC2 API EbsBlockDevice).
            encrypted: snap.encrypted === true,
            // gp3 mappings report their IOPS and throughput (the baseline when none was given).
            ...(gp3 ? { iops: b.iops ?? 3000, throughput: b.throughput ?? 125 } : {}),
        };
    });
}

/** SSM parameters are per region: `<region>:<name>` ("home": the provider's region). */
export const paramKey = (inputs: Obj) => `${String(inputs.region ?? "home")}:${String(inputs.name)}`;

/** AMI names are unique per account and region (RegisterImage/CopyImage: InvalidAMIName.Duplicate). */
function uniqueName(w: WorldState, type: string, inputs: Obj): void {
    const region = String(inputs.region ?? "home");
    const clash = Object.values(w.objects).find((o) => (o.type === "aws:ec2/ami:Ami" || o.type === "aws:ec2/amiCopy:AmiCopy") && o.state === "available" && o.attrs.name === inputs.name && String(o.attrs.region ?? "home") === region);
    if (clash) throw new ProviderError(`${type} ${String(inputs.name)}: InvalidAMIName.Duplicate (${clash.id} has this name)`);
}

function setInstanceState(w: WorldState, instanceId: string, state: string): void {
    const i = w.objects[instanceId];
    if (!i || i.state === "terminated") throw new ProviderError(`instance ${instanceId} is ${i ? i.state : "gone"}`);
    i.state = state;
    // A stopped instance has no public IPv4 (EC2 releases it on stop).
    if (state === "stopped") i.attrs.publicIp = "";
}

/**
 * A remote command or upload dials `connection.host`: only a running instance answers. A command that
 * powers the machine off ends with the instance stopped or, with instanceInitiatedShutdownBehavior
 * "terminate", terminated (EC2 instance-initiated shutdown behavior).
 */
function dial(w: WorldState, urn: string, op: string, inputs: Obj, failure?: string): void {
    const conn = unwrapDeep(inputs.connection) as { host?: string } | undefined;
    const host = conn?.host ?? "";
    const inst = Object.values(w.objects).find((o) => o.type === "aws:ec2/instance:Instance" && (o.attrs.publicIp === host || o.attrs.privateIp === host) && o.state !== "terminated");
    const run = { urn, op, host, instanceId: inst?.id, instanceState: inst?.state, ok: false };
    w.remoteRuns.push(run);
    if (!inst || inst.state !== "running") {
        throw new ProviderError(`${urn}: dial tcp ${host}:22: no running instance has this address (${inst ? inst.state : "none"})`);
    }
    // A broken image: every command on an instance launched from one of our AMIs fails (verify.sh exits 1).
    const onOurImage = w.objects[String(inst.attrs.ami)]?.type === "aws:ec2/ami:Ami";
    if (failure || (w.brokenImages && onOurImage)) throw new ProviderError(failure ?? `${urn}: verify.sh: Process exited with status 1`);
    run.ok = true;
    const cmd = String(inputs.create ?? "");
    if (/\b(systemctl\s+poweroff|poweroff|shutdown\s+(-h|-P|--poweroff)|halt\s+-p)\b/.test(cmd)) {
        inst.state = inst.attrs.shutdownBehavior === "terminate" ? "terminated" : "stopped";
        inst.attrs.publicIp = "";
    }
}

/** The provider's Update; bridged Updates end with Read (e.g. ssm/parameter.go resourceParameterUpdate). */
export function update(w: WorldState, urn: string, type: string, name: string, id: string, inputs: Obj, old: Obj, failures: Failure[]): Obj {
    if (failures.some((f) => f.op === "update" && new RegExp(f.name).test(name))) throw new ProviderError(`${name}: update failed (injected)`);
    const outputs: Obj = { ...old, ...inputs };
    switch (type) {
        case "command:remote:Command":
        case "command:remote:CopyToRemote":
            // commandController.go Update: runs create again with the new inputs, over their connection.
            dial(w, urn, "update", inputs);
            break;
        case "aws:ssm/parameter:Parameter": {
            // parameter.go resourceParameterUpdate: PutParameter, then resourceParameterRead, which retries
            // only for a NEW resource (`d.IsNewResource() && NotFound`): until validation of the new
            // aws:ec2:image value completes, GetParameter returns the previous version.
            const p = w.parameters[paramKey(inputs)];
            p.versions.push(String(inputs.insecureValue));
            outputs.insecureValue = p.versions[p.readable - 1];
            break;
        }
        case "aws:ec2/ami:Ami":
            outputs.ebsBlockDevices = old.ebsBlockDevices;
            break;
        case "aws:ec2transitgateway/instanceState:InstanceState":
            setInstanceState(w, String(inputs.instanceId), String(inputs.state));
            break;
        case "aws:ec2/instance:Instance": {
            // ec2_instance.go resourceInstanceUpdate ends with resourceInstanceRead, whose findInstanceByID treats a
            // terminated instance as NotFound (SetId("")); the bridge then fails the update
            // (pulumi-terraform-bridge pkg/tfbridge/provider.go Update: "did not exist while updating").
            if (!w.objects[id] || w.objects[id].state === "terminated") {
                throw new ProviderError(`${name}: resource provider reported that the resource did not exist while updating (instance ${id} is terminated)`);
            }
            // ec2_instance.go resourceInstanceUpdate: an instance_type or user_data change stops, modifies and
            // STARTS the instance (modifyInstanceAttributeWithStopStart).
            const i = w.objects[id];
            if (i && (inputs.instanceType !== old.instanceType || JSON.stringify(unwrap(inputs.userData)) !== JSON.stringify(unwrap(old.userData)))) {
                i.state = "running";
                i.attrs.publicIp = inputs.associatePublicIpAddress === false ? "" : address(`${id}:started`, "public");
            }
            if (i) Object.assign(outputs, { publicIp: i.attrs.publicIp, privateIp: i.attrs.privateIp });
            break;
        }
    }
    if (w.objects[id]) w.objects[id].attrs = { ...w.objects[id].attrs, ...outputs };
    return outputs;
}

/** The provider's Delete (never called for retainOnDelete). */
export function remove(w: WorldState, urn: string, type: string, id: string, inputs: Obj): void {
    if (type.startsWith("command:")) {
        // commandController.go Delete: nothing runs (and nothing dials) without a `delete` command.
        if (inputs.delete !== undefined) dial(w, urn, "delete", inputs);
        return;
    }
    const o = w.objects[id];
    if (!o) return;
    o.state = type === "aws:ec2/instance:Instance" ? "terminated" : "deleted";
    if (type === "aws:ssm/parameter:Parameter") delete w.parameters[String(o.attrs.name)];
}

/**
 * The provider's Read on refresh: what is there now, or `undefined` when the object is gone (the engine
 * then drops it from state: step.go RefreshStep.Apply, "If the ID is blank treat this as a delete").
 */
export function read(w: WorldState, type: string, id: string, outputs: Obj): Obj | undefined {
    const o = w.objects[id];
    switch (type) {
        case "aws:ec2/instance:Instance":
            // ec2_instance.go findInstanceByID: a terminated instance is NotFound -> removed from state;
            // a stopped one reads back without a public IP and associate_public_ip_address false
            // (terraform-provider-aws #33775).
            if (!o || o.state === "terminated") return undefined;
            return o.state === "stopped" ? { ...outputs, publicIp: "", associatePublicIpAddress: false } : { ...outputs, publicIp: o.attrs.publicIp };
        case "aws:ssm/parameter:Parameter": {
            const p = o && o.state !== "deleted" ? w.parameters[String(o.attrs.name)] : undefined;
            return p ? { ...outputs, insecureValue: p.versions[p.readable - 1] } : undefined;
        }
        default:
            if (type.startsWith("command:") || !type.startsWith("aws:")) return outputs; // no Read: state kept
            if (!o || o.state === "deleted") return undefined;
            return { ...outputs, ...("ebsBlockDevices" in o.attrs ? { ebsBlockDevices: o.attrs.ebsBlockDevices } : {}) };
    }
}
