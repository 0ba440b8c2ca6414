/**
 * The one exit-code policy of src/cli/command.ts: final typed errors (fix what was given) are 2,
 * transient ones and Temporal's own failure kinds are 1, whatever the command; bad arguments print
 * the usage and are 2; `--help` is 0; a command's own result (1: a batch with failed cases) passes.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT, exitCodeFor, runCommand, type Command } from '../../src/cli/command';
import { ErrorCodes, MewmError, type ErrorCode } from '../../src/core/errors';

function captured() {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  return { out: () => stdout, err: () => stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('exitCodeFor', () => {
  it.each(Object.keys(ErrorCodes) as ErrorCode[])('%s → 2 when final, 1 when retryable', (code) => {
    expect(exitCodeFor(new MewmError(code, 'x'))).toBe(ErrorCodes[code].retryable ? 1 : 2);
  });

  it('reads the innermost typed failure of a Temporal chain; Temporal kinds and untyped errors are 1', () => {
    const inner = ApplicationFailure.create({ type: 'InvalidVolume', message: 'case SYN-1-0001 CT: is all-constant', nonRetryable: true });
    expect(exitCodeFor(new WorkflowFailedError('Workflow execution failed', inner, RetryState.NON_RETRYABLE_FAILURE))).toBe(2);
    expect(exitCodeFor(new WorkflowFailedError('Workflow execution failed', new TerminatedFailure('by the operator'), RetryState.NON_RETRYABLE_FAILURE))).toBe(
      1,
    );
    expect(exitCodeFor(ApplicationFailure.create({ type: 'SomethingElse', message: 'x' }))).toBe(1);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });
});

describe('runCommand', () => {
  const command = (run: Command<{ n: number }>['run']): Command<{ n: number }> => ({
    name: 'probe',
    usage: 'usage: mewm probe N',
    parse(argv) {
      if (argv.length !== 1 || !/^\d+$/.test(argv[0]!)) throw new Error('give one number');
      return { n: Number(argv[0]) };
    },
    run,
  });

  it('--help prints the usage and is 0; bad arguments print the reason and the usage and are 2', async () => {
    const io = captured();
    const probe = command(async () => EXIT.ok);
    expect(await runCommand(probe, ['--help'])).toBe(0);
    expect(io.out()).toBe('usage: mewm probe N\n');
    expect(await runCommand(probe, ['many'])).toBe(2);
    expect(io.err()).toBe('mewm probe: give one number\nusage: mewm probe N\n');
  });

  it("passes the command's own code and the env; a throw is one line with its code", async () => {
    const io = captured();
    expect(
      await runCommand(
        command(async ({ n }, { env }) => (n > 0 && env.X === '1' ? EXIT.failed : EXIT.ok)),
        ['3'],
        { X: '1' },
      ),
    ).toBe(1);
    expect(
      await runCommand(
        command(async () => Promise.reject(new MewmError('InvalidConfig', 'MEWM_BEAMS must be an integer'))),
        ['1'],
      ),
    ).toBe(2);
    expect(
      await runCommand(
        command(async () => Promise.reject(new MewmError('TemporalUnavailable', 'no Temporal server answers'))),
        ['1'],
      ),
    ).toBe(1);
    expect(io.err()).toBe('mewm: InvalidConfig: MEWM_BEAMS must be an integer\nmewm: TemporalUnavailable: no Temporal server answers\n');
  });
});
