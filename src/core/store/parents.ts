// Parent links: which tasks a task declared as its parents (`work ID --parent P`). A child's links are kept
// as long as its status is, and forgotten with it (see forgetParents).

/** A task and the tasks it declared as its parents. */
export interface ParentLink {
  readonly child: string;
  readonly parents: readonly string[];
  /**
   * The name of the token that made the link (whose watch or report declared the parents), so a cancel that
   * reaches the child through it can say so; absent when not known (links stored before it was kept).
   */
  readonly linkedBy?: string;
}

/** The reads of links a LinkCheck is given: they see every link written before the check began. */
export type LinkReader = Pick<ParentLinkStore, 'loadParents' | 'listChildren' | 'parentsAmong'>;

/**
 * Checks `links`, about to be written, against the links stored now (read through `reader`); throws to refuse
 * them. May be called more than once for one save (when another server wrote links meanwhile): it must
 * only read.
 */
export type LinkCheck = (links: readonly ParentLink[], reader: LinkReader) => Promise<void>;

/** Where parent links live. */
export interface ParentLinkStore {
  /**
   * Records `parents` as the direct parents of each link's child, replacing any it had; durable as statuses
   * are. With `check`, the check and the write are one step for every server sharing the store: no other
   * link is written between them (so two servers linking at once cannot both pass a check that the other's
   * link breaks, and store a cycle), and nothing is written when the check throws.
   */
  saveParents(links: readonly ParentLink[], check?: LinkCheck): Promise<void>;
  /** The direct parents of those of `ids` that have any. */
  loadParents(ids: readonly string[]): Promise<ParentLink[]>;
  /** Up to `limit` children of `parent` in id order, those after `after`. */
  listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Those of `ids` that are the parent of at least one task. */
  parentsAmong(ids: readonly string[]): Promise<string[]>;
  /** Forgets the links of those of `ids` that have no status (retention forgot it); resolves with how many links (child, parent) went. */
  forgetParents(ids: readonly string[]): Promise<number>;
}
