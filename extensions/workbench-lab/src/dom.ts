/**
 * Tiny DOM helpers. Every piece of text goes in as a text node, never as
 * markup: names and messages come from user data.
 */

export type Child = Node | string | number | null | undefined | false;

export type Attributes = {
  [name: string]: string | number | boolean | null | undefined;
};

/**
 * An element with attributes and children. `class` sets the class name;
 * `true` sets a boolean attribute, `false`/`null`/`undefined` leave it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) {
      continue;
    }
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

/** Append children, strings as text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    parent.appendChild(
      typeof child === 'string' || typeof child === 'number'
        ? document.createTextNode(String(child))
        : child
    );
  }
}

/** A `<button type="button">` with `data-action` and an aria-label. */
export function actionButton(
  action: string,
  label: string,
  ariaLabel: string,
  options: { disabled?: boolean; title?: string; className?: string } = {}
): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: `jp-WorkbenchPanel-button${options.className ? ' ' + options.className : ''}`,
      'data-action': action,
      'aria-label': ariaLabel,
      title: options.title ?? ariaLabel,
      disabled: !!options.disabled
    },
    label
  );
}

/** A `<table>` from a header row and body rows, all as text. */
export function table(
  className: string,
  header: string[],
  rows: (string | number)[][]
): HTMLTableElement {
  return h(
    'table',
    { class: className },
    h('thead', {}, h('tr', {}, ...header.map(text => h('th', { scope: 'col' }, text)))),
    h(
      'tbody',
      {},
      ...rows.map(row => h('tr', {}, ...row.map(cell => h('td', {}, String(cell)))))
    )
  );
}
