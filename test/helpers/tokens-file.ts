import * as assert from 'uvu/assert';
import { parseTokensFile, TokensFileError } from '../../src/server/auth.ts';

/** The TokensFileError that parseTokensFile refuses `text` with; the test fails if it is accepted or fails otherwise. */
export function refusalOf(text: string): TokensFileError {
  let refusal: unknown;
  try {
    parseTokensFile(text);
  } catch (error) {
    refusal = error;
  }
  if (refusal === undefined) assert.unreachable(`accepted: ${JSON.stringify(text)}`);
  assert.instance(refusal, TokensFileError);
  return refusal as TokensFileError;
}
