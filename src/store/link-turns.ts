import type { LinkCheck, LinkReader, ParentLink } from '../core/store.ts';

/**
 * Link saves one at a time, for stores one server holds (memory, sqlite): a save's check reads the links
 * every save before it wrote, and no other save writes between its check and its write (see saveParents).
 */
export class LinkTurns {
  #last: Promise<unknown> = Promise.resolve();

  /** Checks `links` through `reader` (when there is a check), then writes them with `write`, after every save before. */
  save(links: readonly ParentLink[], check: LinkCheck | undefined, reader: LinkReader, write: () => Promise<void>): Promise<void> {
    const saved = this.#last.then(async () => {
      await check?.(links, reader);
      await write();
    });
    this.#last = saved.catch(() => {});
    return saved;
  }
}
