// Imported first by main.ts, before any library reads the browser's language.
//
// WebKitGTK takes `navigator.language` from the process's locale; started with LANG=C (a
// service, a bare X session, CI) it says «C», which `Intl` refuses as a language tag — and
// a library that builds a formatter at import time (uPlot does) then stops the whole
// bundle before the first screen appears. Such a language is replaced with Russian.

function valid(tag: string | undefined): boolean {
  if (!tag) return false;
  try {
    return Intl.getCanonicalLocales(tag).length > 0;
  } catch {
    return false;
  }
}

if (typeof navigator !== 'undefined' && !valid(navigator.language)) {
  const fallback = 'ru-RU';
  const languages = (navigator.languages ?? []).filter(valid);
  Object.defineProperty(navigator, 'language', { configurable: true, get: () => fallback });
  Object.defineProperty(navigator, 'languages', {
    configurable: true,
    get: () => (languages.length > 0 ? languages : [fallback]),
  });
}

export {};
