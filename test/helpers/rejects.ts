import * as assert from 'uvu/assert';

/** Asserts that `promise` rejects and that `check` accepts the reason (uvu has no async throws). */
export async function rejects(promise: Promise<unknown>, check: RegExp | ((error: unknown) => boolean)): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    const ok = typeof check === 'function' ? check(error) : check.test(String((error as Error)?.message ?? error));
    assert.ok(ok, `rejected with an unexpected error: ${String((error as Error)?.stack ?? error)}`);
    return error;
  }
  assert.unreachable('expected the promise to reject');
}
