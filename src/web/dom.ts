// Building DOM nodes. Strings always become text nodes: nothing from the server is ever parsed as HTML, so
// a task id like `<img src=x onerror=...>` shows as those characters.

export type Child = Node | string | false | null | undefined;

/** Attributes set with setAttribute (aria-*, data-*, for, ...); `class` and `text` are the usual shorthands. */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** An element with `attributes` and `children`; false, null and undefined children are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Appends `children` to `parent`, strings as text. */
export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces what `parent` holds with `children`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
