// Small DOM helpers used as Svelte actions (`use:focusOnMount`).

/** Focuses (and selects) the element once it is on screen. */
export function focusOnMount(node: HTMLElement, enabled: boolean = true): void {
  if (!enabled) return;
  queueMicrotask(() => {
    node.focus();
    if (node instanceof HTMLInputElement) node.select();
  });
}

/** Calls `onEscape` for Esc pressed inside the node (and keeps Esc from closing outer views). */
export function escape(node: HTMLElement, onEscape: () => void) {
  let handler = onEscape;
  const listener = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      e.preventDefault();
      handler();
    }
  };
  node.addEventListener('keydown', listener);
  return {
    update(next: () => void) {
      handler = next;
    },
    destroy() {
      node.removeEventListener('keydown', listener);
    },
  };
}
