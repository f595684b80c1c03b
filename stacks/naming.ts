import * as pulumi from '@pulumi/pulumi';
import { stackMark } from '../common/stack-names';

/**
 * Docker objects are global to a host, so every name carries project and stack: two stacks (dev
 * and staging, say) can then run side by side on one Docker host.
 */
export class Naming {
  constructor(
    readonly project: string,
    readonly stack: string,
  ) {}

  static current(): Naming {
    return new Naming(pulumi.getProject(), pulumi.getStack());
  }

  /** pronunciation-assistant-dev-postgres */
  docker(service: string): string {
    return `${this.project}-${this.stack}-${service}`;
  }

  /** The mark the stack leaves on the data it keeps (names.ts). */
  mark(): string {
    return stackMark(this.project, this.stack);
  }

  /** Labels that let `docker ps --filter label=...` find one stack's objects. */
  labels(service: string): { label: string; value: string }[] {
    return [
      { label: 'org.pronunciation-assistant.project', value: this.project },
      { label: 'org.pronunciation-assistant.stack', value: this.stack },
      { label: 'org.pronunciation-assistant.service', value: service },
    ];
  }
}
