// Parent links: which tasks a task declared as its parents (`work ID --parent P`). A child's links are kept
// as long as its status is, and forgotten with it (see forgetParents).

/** A task and the tasks it declared as its parents. */
export interface ParentLink {
  readonly child: string;
  readonly parents: readonly string[];
}

/** Where parent links live. */
export interface ParentLinkStore {
  /** Records `parents` as the direct parents of each link's child, replacing any it had; durable as statuses are. */
  saveParents(links: readonly ParentLink[]): Promise<void>;
  /** The direct parents of those of `ids` that have any. */
  loadParents(ids: readonly string[]): Promise<ParentLink[]>;
  /** Up to `limit` children of `parent` in id order, those after `after`. */
  listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Those of `ids` that are the parent of at least one task. */
  parentsAmong(ids: readonly string[]): Promise<string[]>;
  /** Forgets the links of those of `ids` that have no status (retention forgot it); resolves with how many links (child, parent) went. */
  forgetParents(ids: readonly string[]): Promise<number>;
}
