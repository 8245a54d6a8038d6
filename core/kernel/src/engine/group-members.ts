import type { FormatResponse, GroupMembers, MemberResponse, RepositoryType, SubRequest } from '@registry-core/api';

/** Runs a sub-request against one member repository (bound to the current request). */
export type MemberDispatch = (member: string, request: SubRequest) => Promise<FormatResponse>;

/** A group's members, queried through their own format handlers, for one request. */
export class KernelGroupMembers implements GroupMembers {
  constructor(
    readonly names: readonly string[],
    private readonly typeOf: (member: string) => RepositoryType,
    private readonly dispatch: MemberDispatch,
  ) {}

  get list(): { name: string; type: RepositoryType }[] {
    return this.names.map((name) => ({ name, type: this.typeOf(name) }));
  }

  async all(request: SubRequest = {}): Promise<MemberResponse[]> {
    return Promise.all(this.names.map(async (name) => ({ member: { name, type: this.typeOf(name) }, response: await this.dispatch(name, request) })));
  }

  async first(request: SubRequest = {}): Promise<MemberResponse | undefined> {
    // In order, one at a time: a later proxy is not asked when an earlier member has it.
    for (const name of this.names) {
      const response = await this.dispatch(name, request);
      const status = response.status ?? 200;
      if (status >= 200 && status < 300) return { member: { name, type: this.typeOf(name) }, response };
    }
    return undefined;
  }

  forward(memberName: string, request: SubRequest = {}): Promise<FormatResponse> {
    if (!this.names.includes(memberName)) throw new Error(`${memberName} is not a member of this group`);
    return this.dispatch(memberName, request);
  }
}
