import type { ResourceValidationPolicy } from '@pulumi/policy';
import { Naming } from '../../stacks/naming';
import { BACKUPS } from '../../stacks/services';
import { list, onTypes, subject, TYPES, urnParts } from './common';

/** The restart policy every container has (README, "The containers"; stacks/containers/container.ts). */
export const RESTART_POLICY = 'unless-stopped';
/** Docker's `local` log driver, which rotates: a chatty container cannot fill the disk. */
export const LOG_DRIVER = 'local';
/**
 * The containers whose health `pulumi up` does not wait for: the backup container, whose first
 * backup can outlast any wait (stacks/containers/backups.ts, waitHealthy: false).
 */
const NOT_WAITED_FOR = [BACKUPS.alias];

export const serviceContainersComplete: ResourceValidationPolicy = {
  name: 'service-containers-complete',
  description: `Every container has a health check that \`pulumi up\` waits for (the backup container's excepted), a memory limit with no extra swap, restart policy ${RESTART_POLICY} and rotating logs (${LOG_DRIVER}).`,
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.container], (args, report) => {
    const props = args.props;
    const fix = 'serviceContainer in stacks/containers/container.ts gives it one';
    const tests = list<string>(props.healthcheck?.tests);
    if (tests.length < 2 || !['CMD', 'CMD-SHELL'].includes(tests[0])) {
      report(`${subject(args)} has no health check (healthcheck.tests must be CMD or CMD-SHELL and a command, not ${JSON.stringify(tests)}); ${fix}.`);
    }
    if (props.wait !== true && !NOT_WAITED_FOR.includes(args.name as (typeof NOT_WAITED_FOR)[number])) {
      report(`${subject(args)}: \`pulumi up\` does not wait for its health check (wait is not true), so the deployment would go on against a server that is not up; ${fix}.`);
    }
    const memory = props.memory;
    if (typeof memory !== 'number' || memory <= 0) report(`${subject(args)} has no memory limit (memory, in MiB); set it from the stack's <service>MemoryMb key.`);
    else if (props.memorySwap !== memory) report(`${subject(args)} may swap: memorySwap (${props.memorySwap ?? 'unset'}) must equal memory (${memory}); ${fix}.`);
    if (props.restart !== RESTART_POLICY) report(`${subject(args)} has restart policy ${JSON.stringify(props.restart ?? 'no')}, not ${RESTART_POLICY}: it would stay down after a crash or a reboot of the Docker host; ${fix}.`);
    if (props.logDriver !== LOG_DRIVER) report(`${subject(args)} logs with ${JSON.stringify(props.logDriver ?? "Docker's default")}, not the rotating ${LOG_DRIVER} driver; ${fix}.`);
  }),
};

export const dockerObjectsNamed: ResourceValidationPolicy = {
  name: 'docker-objects-named-per-stack',
  description:
    "Every container, volume and network is named after the project and stack and carries the labels org.pronunciation-assistant.project, .stack and .service, so stacks can share a Docker host and `docker ps --filter label=...` finds one stack's objects.",
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.container, TYPES.volume, TYPES.network], (args, report) => {
    const { project, stack } = urnParts(args.urn);
    const naming = new Naming(project, stack);
    const labels = new Map(list<{ label: string; value: string }>(args.props.labels).map((l) => [l.label, String(l.value)]));
    const name = String(args.props.name ?? '');
    if (!name.startsWith(naming.docker(''))) report(`${subject(args)} is named ${JSON.stringify(name)}, not after its project and stack (${naming.docker('<service>')}); name it with Naming.docker (stacks/naming.ts).`);
    // Naming.labels: the project's and stack's labels, then the service's, whose value is the object's own.
    const [projectLabel, stackLabel, serviceLabel] = naming.labels(labels.get(naming.labels('')[2].label) ?? '');
    for (const { label, value } of [projectLabel, stackLabel, serviceLabel]) {
      if (value === '' || labels.get(label) !== value) {
        report(`${subject(args)} lacks the label ${label}=${value || '<service>'} (it has ${JSON.stringify(labels.get(label) ?? null)}); give it Naming.labels (stacks/naming.ts).`);
      }
    }
  }),
};
