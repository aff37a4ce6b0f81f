// A few DOM helpers, so that the panels build their elements in one readable
// expression instead of a dozen createElement/setAttribute lines.

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  title?: string;
  /** Plain attributes (role, aria-*, data-*, type, ...). */
  attrs?: Record<string, string>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (event: HTMLElementEventMap[K]) => void }>;
}

/** `h("button", {class: "primary", text: "Save"})`, with children after the props. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.title) element.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const [type, listener] of Object.entries(props.on ?? {})) {
    element.addEventListener(type, listener as EventListener);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/** The element with this id, which index.html must have: a missing one is a bug, said loudly. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`viewer: index.html has no #${id}`);
  return element as T;
}

/** Calls `render` at most once per animation frame however often it is scheduled. */
export function frameScheduler(render: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  };
}

/** A quiet, self-removing message for things that went well (saved, deleted). */
export function toast(message: string): void {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: "toast", text: message });
  region.append(item);
  setTimeout(() => item.remove(), 3_000);
}
