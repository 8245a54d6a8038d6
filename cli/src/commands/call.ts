import { InvalidArgumentError, type Command } from 'commander';
import { createRegistry, load } from '../runtime.js';

/** `call`: run one of a repository's endpoints in this process as an administrator. */
export function registerCallCommand(program: Command): void {
  program
    .command('call <repository> <method> <path>')
    .description("run one of a repository's endpoints in this process as an administrator (a format's management API: e.g. call pypi-local POST /-/yank --json '{\"project\":\"x\",\"version\":\"1.0\"}')")
    .option('--json <data>', 'request body (JSON)')
    .option('--as <user>', 'the user named in the audit log', 'cli')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, method: string, requestPath: string, options: { json?: string; as: string; config?: string }) => {
      let body: unknown;
      if (options.json !== undefined) {
        try {
          body = JSON.parse(options.json);
        } catch {
          throw new InvalidArgumentError('--json is not valid JSON');
        }
      }
      const registry = await createRegistry(await load(options));
      try {
        const answer = await registry.call(repository, method, requestPath, { body, user: options.as });
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2);
        if (answer.status >= 400) {
          console.error(`${answer.status} ${text ?? ''}`);
          process.exitCode = 1;
        } else if (text !== undefined) console.log(text);
      } finally {
        await registry.stop();
      }
    });
}
