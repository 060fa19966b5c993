// Minimal history router: paths like /machines, /sessions/:id, /setup, /login.
import { useEffect, useState } from "preact/hooks";

const CHANGE = "caisey:navigate";

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  // Leaving a page drops its query (e.g. ?next= after sign-in).
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event(CHANGE));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return path;
}

/** Intercept plain left clicks on in-app links so they use pushState instead of a full load. */
export function linkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const anchor = event.currentTarget as HTMLAnchorElement;
  const href = anchor.getAttribute("href");
  if (!href?.startsWith("/")) return;
  event.preventDefault();
  navigate(href);
}
