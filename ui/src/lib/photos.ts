// Thumbnails for lists. Search results say only whether a person has a photo, so the
// picture is fetched per person (`get_person`), when its row scrolls into view, one at a
// time (every command shares the one workstation lock: a burst would delay the user's
// own clicks), and kept for the rest of the session.
import { run, type PersonDetail } from './api';

/** Photos kept in memory: a few classes' worth; the oldest are dropped first. */
const CACHE_ENTRIES_MAX = 600;

const cache = new Map<string, Promise<string | null>>();
let chain: Promise<unknown> = Promise.resolve();

export function photoOf(personId: string): Promise<string | null> {
  let entry = cache.get(personId);
  if (!entry) {
    entry = chain.then(
      () => run<PersonDetail>({ type: 'get_person', person_id: personId }).then((d) => d.photo),
      () => null,
    ).catch(() => null);
    chain = entry;
    cache.set(personId, entry);
    if (cache.size > CACHE_ENTRIES_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
  }
  return entry;
}

/** After a photo changes, the next `photoOf` shows the new one. */
export function rememberPhoto(personId: string, photo: string | null): void {
  cache.set(personId, Promise.resolve(photo));
}

/** Svelte action: calls `load` once the node is (nearly) on screen. */
export function whenVisible(node: HTMLElement, load: () => void) {
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        observer.disconnect();
        load();
      }
    },
    { rootMargin: '200px' },
  );
  observer.observe(node);
  return { destroy: () => observer.disconnect() };
}
