// Thumbnails for lists. Search results say only whether a person has a photo; the
// pictures of the rows that scroll into view are asked for together (`get_photos`, one
// query for a batch), one batch at a time (every command shares the one workstation
// lock: a burst would delay the user's own clicks), and kept for the rest of the session.
import { run } from './api';

/** Photos kept in memory: a few classes' worth; the oldest are dropped first. */
const CACHE_ENTRIES_MAX = 600;
/** People asked for in one `get_photos` (the core takes up to 200): a screenful or two. */
const BATCH_PEOPLE_MAX = 60;
/** Rows that appear together (a search result painting) are gathered this long. */
const GATHER_MS = 30;

type Waiting = { resolve: (photo: string | null) => void };

const cache = new Map<string, Promise<string | null>>();
const waiting = new Map<string, Waiting>();
let chain: Promise<unknown> = Promise.resolve();
let gathering: ReturnType<typeof setTimeout> | null = null;

export function photoOf(personId: string): Promise<string | null> {
  let entry = cache.get(personId);
  if (!entry) {
    entry = new Promise<string | null>((resolve) => waiting.set(personId, { resolve }));
    cache.set(personId, entry);
    if (cache.size > CACHE_ENTRIES_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    gathering ??= setTimeout(flush, GATHER_MS);
  }
  return entry;
}

/** Sends what has gathered, in batches, each after the previous one answered. */
function flush(): void {
  gathering = null;
  while (waiting.size > 0) {
    const batch = [...waiting.entries()].slice(0, BATCH_PEOPLE_MAX);
    for (const [id] of batch) waiting.delete(id);
    chain = chain.then(async () => {
      let photos: Record<string, string> = {};
      try {
        photos = await run<Record<string, string>>({ type: 'get_photos', person_ids: batch.map(([id]) => id) });
      } catch {
        // A failed batch shows initials; the next search asks again.
        for (const [id] of batch) cache.delete(id);
      }
      for (const [id, w] of batch) w.resolve(photos[id] ?? null);
    });
  }
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
